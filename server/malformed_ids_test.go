package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
)

// TestMalformedIDsAnswerTheirCode: an id no server could have issued (a NUL
// byte, or longer than any id) is answered with the frame's documented
// not-found code, never `internal` from a store refusing the key.
func TestMalformedIDsAnswerTheirCode(t *testing.T) {
	srv := servertest.Start(t)
	a := joinAs(t, srv, "malformed-ids")
	bad := map[string]string{"nul": "req_\x00abc", "long": strings.Repeat("x", 2048)}
	tests := []struct {
		typ, field, code string
	}{
		{"chat.message.read", "messageId", "not_found"},
		{"connection.close", "connectionId", "not_found"},
		{"connection.request.accept", "requestId", "request_not_found"},
		{"connection.request.cancel", "requestId", "request_not_found"},
	}
	for _, tt := range tests {
		for name, id := range bad {
			t.Run(tt.typ+"/"+name, func(t *testing.T) {
				rid := tt.typ + "-" + name
				a.ws.Send(tt.typ, map[string]any{tt.field: id}, rid)
				f := a.ws.Take(func(f *servertest.Frame) bool { return f.RequestID == rid }, 5*time.Second)
				if f == nil || f.Type != "error" || f.ErrorCode() != tt.code {
					var raw string
					if f != nil {
						raw = string(f.Raw)
					}
					t.Fatalf("%s with a %s %s answered %s, want error %s", tt.typ, name, tt.field, raw, tt.code)
				}
			})
		}
	}
}
