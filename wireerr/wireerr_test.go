package wireerr

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

func TestReply(t *testing.T) {
	own := protocol.Errorf(protocol.CodeBlocked, protocol.DomainConnections, "blocked")
	tests := []struct {
		name   string
		err    error
		code   protocol.Code
		status int
	}{
		{"reply error kept", own, protocol.CodeBlocked, http.StatusForbidden},
		{"wrapped reply error", fmt.Errorf("pair: %w", own), protocol.CodeBlocked, http.StatusForbidden},
		{"expired token", fmt.Errorf("verify: %w", auth.ErrTokenExpired), protocol.CodeTokenExpired, http.StatusUnauthorized},
		{"invalid token", auth.ErrInvalidToken, protocol.CodeUnauthorized, http.StatusUnauthorized},
		{"invalid id token", auth.ErrInvalidIDToken, protocol.CodeUnauthorized, http.StatusUnauthorized},
		{"provider down", auth.ErrProviderUnavailable, protocol.CodeProviderUnavailable, http.StatusServiceUnavailable},
		{"grain unavailable", fmt.Errorf("%w: User/x", cluster.ErrUnavailable), protocol.CodeUnavailable, http.StatusServiceUnavailable},
		{"store out of space", fmt.Errorf("boltdb: messages.append: %w: no space left on device", storage.ErrUnavailable), protocol.CodeUnavailable, http.StatusServiceUnavailable},
		{"anything else is internal", errors.New("disk on fire"), protocol.CodeInternal, http.StatusInternalServerError},
		{"typed nil reply error is internal", (*protocol.Error)(nil), protocol.CodeInternal, http.StatusInternalServerError},
		{"a disconnect is no reply", protocol.NewDisconnect(protocol.CloseAbuse, "x"), protocol.CodeInternal, http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Reply(tt.err); got == nil || got.Code != tt.code {
				t.Fatalf("Reply = %v, want code %s", got, tt.code)
			}
			if got := protocol.HTTPStatus(Reply(tt.err).Code); got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
		})
	}
}

func TestFromHTTP(t *testing.T) {
	tests := []struct {
		status int
		code   protocol.Code
		ok     bool
	}{
		{http.StatusNotFound, protocol.CodeNotFound, true},
		{http.StatusMethodNotAllowed, protocol.CodeMethodNotAllowed, true},
		{http.StatusRequestEntityTooLarge, protocol.CodePayloadTooLarge, true},
		{http.StatusTooManyRequests, protocol.CodeRateLimited, true},
		{http.StatusBadRequest, protocol.CodeInvalidPayload, true},
		{http.StatusUnprocessableEntity, protocol.CodeInvalidPayload, true},
		{http.StatusTeapot, "", false},
	}
	for _, tt := range tests {
		pe, ok := FromHTTP(tt.status, "m")
		if ok != tt.ok || (ok && pe.Code != tt.code) {
			t.Errorf("FromHTTP(%d) = %v, %v; want %s, %v", tt.status, pe, ok, tt.code, tt.ok)
		}
		if ok && protocol.HTTPStatus(pe.Code) != tt.status && tt.status != http.StatusUnprocessableEntity {
			t.Errorf("FromHTTP(%d) gives a code whose status is %d", tt.status, protocol.HTTPStatus(pe.Code))
		}
	}
}

func TestDisconnect(t *testing.T) {
	d := protocol.NewDisconnect(protocol.CloseSlowConsumer, "slow")
	if got, ok := Disconnect(fmt.Errorf("send: %w", d)); !ok || got != d {
		t.Errorf("wrapped disconnect not found: %v %v", got, ok)
	}
	if _, ok := Disconnect(errors.New("x")); ok {
		t.Error("a plain error is no disconnect")
	}
	if _, ok := Disconnect((*protocol.Disconnect)(nil)); ok {
		t.Error("a typed nil is no disconnect")
	}
	tests := []struct {
		code protocol.Code
		want int
	}{
		{protocol.CodeAccountDeleted, protocol.CloseAccountDeleted},
		{protocol.CodeAccountTerminated, protocol.CloseAccountDeleted},
		{protocol.CodeUserNotFound, protocol.ClosePolicy},
		{protocol.CodeInternal, protocol.ClosePolicy},
	}
	for _, tt := range tests {
		if got := ForFailure(protocol.Errorf(tt.code, "", "m")); got.Code != tt.want {
			t.Errorf("ForFailure(%s) = %d, want %d", tt.code, got.Code, tt.want)
		}
	}
}

func TestFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   protocol.Code
		domain string
		msg    string
	}{
		{"store out of space", fmt.Errorf("pair: %w", storage.ErrUnavailable), protocol.CodeUnavailable, protocol.DomainConnections, "storage unavailable, nothing was saved, try again"},
		{"a reply error keeps its own domain", protocol.Errorf(protocol.CodeBlocked, protocol.DomainSafety, "blocked"), protocol.CodeBlocked, protocol.DomainSafety, "blocked"},
		{"anything else is the grain's internal message", errors.New("decode: unexpected EOF"), protocol.CodeInternal, protocol.DomainConnections, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := Failure(tt.err, protocol.DomainConnections, "internal error")
			if protocol.Code(f.Code) != tt.code || f.Domain != tt.domain || f.Message != tt.msg {
				t.Fatalf("Failure = %+v, want %s/%s/%q", f, tt.code, tt.domain, tt.msg)
			}
		})
	}
}
