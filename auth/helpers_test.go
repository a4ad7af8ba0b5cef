package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
)

// fakeClock is the project's manually advanced clock.
type fakeClock = clock.Fake

func newFakeClock() *fakeClock { return clock.NewFake(time.Date(2026, 4, 17, 14, 0, 0, 0, time.UTC)) }

// splitToken returns the decoded header and payload of a JWT.
func splitToken(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	return decodeSegment(t, parts[0]), decodeSegment(t, parts[1])
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("decode segment: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("unmarshal segment: %v", err)
	}
	return m
}

// withPayload returns token with its payload replaced by payload and the
// original signature kept.
func withPayload(t *testing.T, token string, payload map[string]any) string {
	t.Helper()
	parts := strings.Split(token, ".")
	data, err := json.Marshal(payload)
	if err != nil {
		t.Fatalf("marshal payload: %v", err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(data)
	return strings.Join(parts, ".")
}
