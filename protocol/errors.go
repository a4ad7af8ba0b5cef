package protocol

import (
	"errors"
	"fmt"
	"net/http"
)

// Code is a stable snake_case error code sent to clients.
type Code string

// Core and feature error codes. They are part of the contract with mobile
// clients: add codes, never rename them.
const (
	CodeInvalidJSON              Code = "invalid_json"
	CodeUnknownType              Code = "unknown_type"
	CodeInvalidPayload           Code = "invalid_payload"
	CodeRateLimited              Code = "rate_limited"
	CodeUnauthorized             Code = "unauthorized"
	CodeTokenExpired             Code = "token_expired"
	CodeNotFound                 Code = "not_found"
	CodeForbidden                Code = "forbidden"
	CodeInternal                 Code = "internal"
	CodeAccountDeleted           Code = "account_deleted"
	CodeProviderDisabled         Code = "provider_disabled"
	CodeProviderUnavailable      Code = "provider_unavailable"
	CodePayloadTooLarge          Code = "payload_too_large"
	CodeHeadersTooLarge          Code = "headers_too_large"
	CodeUsernameTaken            Code = "username_taken"
	CodeUserNotFound             Code = "user_not_found"
	CodeMissingUserID            Code = "missing_userId"
	CodeMissingRecipientID       Code = "missing_recipientId"
	CodeActiveConnectionRequired Code = "active_connection_required"
	CodeInvalidLocation          Code = "invalid_location"
	CodeRequestExpired           Code = "request_expired"
	CodePeerGiftsDisabled        Code = "peer_gifts_disabled"
	CodeUnavailable              Code = "unavailable"
	CodeSelfRequest              Code = "self_request"
	CodeBlocked                  Code = "blocked"
	CodeRequestExists            Code = "request_exists"
	CodeAlreadyConnected         Code = "already_connected"
	CodeRequestNotFound          Code = "request_not_found"
	CodeVibeRequired             Code = "vibe_required"
	CodeInvalidToken             Code = "invalid_token"
	CodeRSSIOutOfRange           Code = "rssi_out_of_range"
	CodeLocationMismatch         Code = "location_mismatch"
	CodeMethodNotAllowed         Code = "method_not_allowed"
	CodeGiftNotClaimable         Code = "gift_not_claimable"
	CodeCodeExpired              Code = "code_expired"
	CodeAlreadyRedeemed          Code = "already_redeemed"
	CodeProximityRequired        Code = "proximity_required"
	// CodeVerificationRequired: the account has no name yet (legacy
	// clients finish sign-up before they chat).
	CodeVerificationRequired Code = "verification_required"
	// CodeAccountTerminated: an operator terminated the account.
	CodeAccountTerminated Code = "account_terminated"
	// CodeClientMessageIDConflict: the sender already used this
	// clientMessageId in the conversation, within 24 h, for another content.
	CodeClientMessageIDConflict Code = "client_message_id_conflict"
)

// Domains name the feature area of an error.
const (
	DomainAuth        = "auth"
	DomainSession     = "session"
	DomainPresence    = "presence"
	DomainConnections = "connections"
	DomainProximity   = "proximity"
	DomainChat        = "chat"
	DomainGifts       = "gifts"
	DomainSafety      = "safety"
	DomainUsers       = "users"
)

// Error is a reply error: the request failed and the client may fix its input
// or retry. It is the only error type that reaches the wire with its message;
// anything else is answered as internal.
type Error struct {
	Code    Code
	Message string
	Domain  string
	// Details is optional structured context (for example the existing
	// request on request_exists); encoded as payload.details.
	Details any
}

func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf builds a reply error.
func Errorf(code Code, domain, format string, args ...any) *Error {
	return &Error{Code: code, Domain: domain, Message: fmt.Sprintf(format, args...)}
}

// AsError extracts the reply error from err, or reports false for an internal error.
func AsError(err error) (*Error, bool) {
	var pe *Error
	if errors.As(err, &pe) {
		return pe, true
	}
	return nil, false
}

// HTTPStatus maps a code to the REST status that fits it. This is the one
// place where codes meet HTTP.
func HTTPStatus(c Code) int {
	switch c {
	case CodeInvalidJSON, CodeInvalidPayload, CodeUnknownType, CodeMissingUserID, CodeSelfRequest,
		CodeMissingRecipientID, CodeInvalidLocation, CodeRSSIOutOfRange:
		return http.StatusBadRequest
	case CodeUnauthorized, CodeTokenExpired, CodeAccountDeleted:
		return http.StatusUnauthorized
	case CodeForbidden, CodeProviderDisabled, CodeActiveConnectionRequired, CodeBlocked, CodeVerificationRequired, CodeAccountTerminated:
		return http.StatusForbidden
	case CodeNotFound, CodeUserNotFound, CodeRequestNotFound:
		return http.StatusNotFound
	case CodeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case CodeUsernameTaken, CodeRequestExists, CodeAlreadyConnected, CodeVibeRequired,
		CodeInvalidToken, CodeLocationMismatch, CodeGiftNotClaimable, CodeAlreadyRedeemed, CodeProximityRequired,
		CodeClientMessageIDConflict:
		return http.StatusConflict
	case CodeRequestExpired, CodePeerGiftsDisabled, CodeCodeExpired:
		return http.StatusGone
	case CodePayloadTooLarge:
		return http.StatusRequestEntityTooLarge
	case CodeHeadersTooLarge:
		return http.StatusRequestHeaderFieldsTooLarge
	case CodeRateLimited:
		return http.StatusTooManyRequests
	case CodeProviderUnavailable, CodeUnavailable:
		return http.StatusServiceUnavailable
	default:
		if len(c) > 0 && c != CodeInternal {
			// Feature codes are rule violations on well-formed input.
			return http.StatusConflict
		}
		return http.StatusInternalServerError
	}
}

// Close codes of the WebSocket. 1xxx are RFC 6455; 4xxx are ours and
// documented in docs/protocol.md. Reconnects tells which ones a client
// should reconnect after.
const (
	CloseNormal         = 1000
	CloseGoingAway      = 1001 // server shutting down: reconnect elsewhere or later
	ClosePolicy         = 1008 // the session could not attach: log in again
	CloseTooBig         = 1009 // a frame over the size limit
	CloseInternal       = 1011 // our failure: reconnect with backoff
	CloseTokenExpired   = 4001 // access token expired and was not refreshed
	CloseAccountDeleted = 4003 // account deleted or terminated
	CloseSlowConsumer   = 4008 // outbound queue overflowed: reconnect and bootstrap
	CloseSessionLimit   = 4009 // too many sockets for this user; the oldest is closed
	CloseAbuse          = 4029 // rate limit exceeded persistently
)

// Reconnect says what a client should do after a close code.
type Reconnect int

const (
	// ReconnectNo: do not reconnect automatically (the account is gone,
	// another device took the slot, or the user must act).
	ReconnectNo Reconnect = iota
	// ReconnectYes: reconnect with backoff and send session.start with
	// lastSeenAt to catch up.
	ReconnectYes
	// ReconnectAfterAuth: get a fresh access token (refresh, or log in
	// again) first, then reconnect.
	ReconnectAfterAuth
)

// Reconnects classifies a close code for clients; unknown codes are
// treated as ReconnectYes with backoff, the safe default for a network.
func Reconnects(code int) Reconnect {
	switch code {
	case CloseNormal, CloseAccountDeleted, CloseSessionLimit, CloseTooBig:
		return ReconnectNo
	case ClosePolicy, CloseTokenExpired:
		return ReconnectAfterAuth
	}
	return ReconnectYes
}

// Disconnect is the second error kind: the socket must be closed with Code.
// A handler returns it (possibly wrapped) as its error; the session closes
// the socket after sending what is queued.
type Disconnect struct {
	Code   int
	Reason string
	// Last is an error frame to send before the close frame, if any.
	Last *Error
}

// NewDisconnect builds a disconnect.
func NewDisconnect(code int, reason string) *Disconnect {
	return &Disconnect{Code: code, Reason: reason}
}

func (d *Disconnect) Error() string { return fmt.Sprintf("disconnect %d: %s", d.Code, d.Reason) }
