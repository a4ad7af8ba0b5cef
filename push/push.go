package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Kinds of notification, also sent to the app as data["kind"] so it can
// route a tap to the right screen.
const (
	KindMessage  = "message"  // a chat message arrived
	KindRequest  = "request"  // a connection request arrived
	KindAccepted = "accepted" // a connection request was accepted
	KindRing     = "ring"     // connection.ring
)

// Notification is one alert for a user, independent of the provider.
type Notification struct {
	Kind  string // KindMessage, KindRequest, KindAccepted or KindRing
	Title string
	Body  string
	// Data is delivered to the app alongside the alert. "kind" is added from
	// Kind unless set; the key "aps" is reserved by APNs and not sent there.
	Data map[string]string
	// CollapseKey lets a newer notification replace an undelivered or
	// displayed older one with the same key (android.collapse_key,
	// apns-collapse-id; APNs allows at most 64 bytes).
	CollapseKey string
}

// data is n.Data with "kind" filled in.
func (n Notification) data() map[string]string {
	out := make(map[string]string, len(n.Data)+1)
	for k, v := range n.Data {
		out[k] = v
	}
	if _, ok := out["kind"]; !ok && n.Kind != "" {
		out["kind"] = n.Kind
	}
	return out
}

// Sender delivers a notification to one device token of one provider.
//
// Errors match ErrUnregistered when the token is dead (the device must be
// deactivated) and ErrTransient when the same request may succeed later;
// anything else is permanent for this notification.
type Sender interface {
	Send(ctx context.Context, token string, n Notification) error
}

var (
	// ErrUnregistered: the provider says the token is invalid or no longer
	// registered. Retrying is pointless; the device must be deactivated.
	ErrUnregistered = errors.New("push: device token unregistered")
	// ErrTransient: the provider or the network failed in a way that may
	// pass (throttling, 5xx, connection errors). The send may be retried.
	ErrTransient = errors.New("push: transient failure")
)

// Error is a provider's refusal of one send. It unwraps to ErrUnregistered,
// ErrTransient or nothing (permanent), so callers use errors.Is.
type Error struct {
	Provider   string // "fcm" or "apns"
	StatusCode int    // HTTP status
	Reason     string // provider code: UNREGISTERED, BadDeviceToken, ...
	Message    string // provider's human-readable text, if any
	// RetryAfter is the provider's Retry-After, 0 when absent.
	RetryAfter time.Duration
	kind       error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "push: %s: HTTP %d", e.Provider, e.StatusCode)
	if e.Reason != "" {
		b.WriteString(" " + e.Reason)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.kind }

// classify picks the sentinel for a status that carries no better reason.
func classify(status int) error {
	if status == http.StatusTooManyRequests || status >= 500 {
		return ErrTransient
	}
	return nil
}

// transportError marks a failed round trip as transient unless our own
// context ended it, in which case retrying is pointless.
func transportError(ctx context.Context, provider string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("push: %s: %w", provider, err)
	}
	return fmt.Errorf("push: %s: %w: %w", provider, ErrTransient, err)
}

// retryAfter parses a Retry-After header in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// maxErrorBody bounds how much of a provider's error answer is read.
const maxErrorBody = 64 << 10

// defaultHTTPTimeout bounds one request to a provider when the caller's
// context does not.
const defaultHTTPTimeout = 30 * time.Second

// redact shortens a device token for logs and errors: enough to correlate,
// not enough to push to it.
func redact(token string) string {
	if len(token) <= 8 {
		return "…"
	}
	return token[:8] + "…"
}
