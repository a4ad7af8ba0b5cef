package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gisbi/engine/server/servertest"
)

// TestOversizedRequestLineAndHeaders: a URL or headers too long for the
// server's read buffer are answered 431 headers_too_large, never 500.
func TestOversizedRequestLineAndHeaders(t *testing.T) {
	srv := servertest.Start(t)
	long := strings.Repeat("a", 5000)
	tests := []struct {
		name   string
		path   string
		header string
	}{
		{"url", "/users/" + long, ""},
		{"query", "/healthz?x=" + long, ""},
		{"header", "/healthz", long},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.header != "" {
				req.Header.Set("X-Padding", tt.header)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			var body struct{ Code string }
			_ = json.NewDecoder(res.Body).Decode(&body)
			if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge || body.Code != "headers_too_large" {
				t.Fatalf("status %d code %q, want 431 headers_too_large", res.StatusCode, body.Code)
			}
		})
	}
}
