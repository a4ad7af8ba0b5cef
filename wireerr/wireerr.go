// Package wireerr is the one place where a Go error becomes what a client
// sees: a reply error with a wire code (socket error frames and REST bodies),
// its HTTP status, or a disconnect with a WebSocket close code.
//
// Handlers return errors; they never pick codes for errors that are not
// theirs. A *protocol.Error passes through with its code and message; the
// sentinel errors of our packages map to their documented codes; a
// *protocol.Disconnect closes the socket; anything else is `internal`, and
// the caller logs it with the request id without leaking it.
package wireerr

import (
	"errors"
	"net/http"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Reply maps err to the reply error a client sees. It never returns nil
// for a non-nil err.
func Reply(err error) *protocol.Error {
	if pe, ok := protocol.AsError(err); ok && pe != nil {
		return pe
	}
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return protocol.Errorf(protocol.CodeTokenExpired, protocol.DomainAuth, "access token expired")
	case errors.Is(err, auth.ErrInvalidToken), errors.Is(err, auth.ErrInvalidIDToken):
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "invalid token")
	case errors.Is(err, auth.ErrProviderUnavailable):
		return protocol.Errorf(protocol.CodeProviderUnavailable, protocol.DomainAuth, "identity provider unavailable, try again")
	case errors.Is(err, cluster.ErrUnavailable):
		return protocol.Errorf(protocol.CodeUnavailable, "", "service busy, try again")
	case errors.Is(err, storage.ErrUnavailable):
		return protocol.Errorf(protocol.CodeUnavailable, "", "storage unavailable, nothing was saved, try again")
	}
	return protocol.Errorf(protocol.CodeInternal, "", "internal error")
}

// Failure is a grain's answer to an operation that failed with err: the
// code Reply gives err, in the grain's domain. For an internal error it
// carries message, which must not leak err; for any other it carries
// Reply's message, so a full disk answers `unavailable` whichever grain
// met it.
func Failure(err error, domain, message string) *grainpb.Failure {
	pe := Reply(err)
	if pe.Code == protocol.CodeInternal {
		return grainpb.Fail(protocol.CodeInternal, domain, message)
	}
	if pe.Domain != "" {
		domain = pe.Domain
	}
	return grainpb.Fail(pe.Code, domain, pe.Message)
}

// FromHTTP maps a status the HTTP framework produced by itself (no route,
// wrong method, oversized body) to a reply error, so that
// REST clients get the same JSON error body for those as for ours. ok is
// false for statuses that carry no error.
func FromHTTP(status int, message string) (pe *protocol.Error, ok bool) {
	switch status {
	case http.StatusNotFound:
		return protocol.Errorf(protocol.CodeNotFound, "", "no such route"), true
	case http.StatusMethodNotAllowed:
		return protocol.Errorf(protocol.CodeMethodNotAllowed, "", "method not allowed on this route"), true
	case http.StatusRequestEntityTooLarge:
		return protocol.Errorf(protocol.CodePayloadTooLarge, "", "request body too large"), true
	case http.StatusRequestHeaderFieldsTooLarge:
		// fasthttp reads the request line and the headers into one buffer,
		// so a long URL and long headers overflow alike.
		return protocol.Errorf(protocol.CodeHeadersTooLarge, "", "request line and headers too large"), true
	case http.StatusTooManyRequests:
		return protocol.Errorf(protocol.CodeRateLimited, "", "too many requests"), true
	case http.StatusUpgradeRequired:
		return protocol.Errorf(protocol.CodeInvalidPayload, "", "websocket upgrade required"), true
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return protocol.Errorf(protocol.CodeInvalidPayload, "", "%s", message), true
	}
	return nil, false
}

// Disconnect extracts the disconnect err asks for: a handler that wants its
// socket closed returns a *protocol.Disconnect (possibly wrapped) instead of
// closing anything itself.
func Disconnect(err error) (*protocol.Disconnect, bool) {
	var d *protocol.Disconnect
	if errors.As(err, &d) && d != nil {
		return d, true
	}
	return nil, false
}

// ForFailure is the disconnect that follows a refused attach: a deleted
// account is told not to come back, any other refusal is a policy close.
func ForFailure(pe *protocol.Error) *protocol.Disconnect {
	switch pe.Code {
	case protocol.CodeAccountDeleted, protocol.CodeAccountTerminated:
		d := protocol.NewDisconnect(protocol.CloseAccountDeleted, string(pe.Code))
		d.Last = pe
		return d
	}
	return protocol.NewDisconnect(protocol.ClosePolicy, pe.Message)
}
