package server_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

func TestMetricsExposeTheEngine(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("metered")
	ws := u.Dial()
	ws.Start()
	ws.Send("nope", map[string]any{}, "")
	ws.ExpectError("unknown_type")
	u.Do(http.MethodPatch, "/users/profile", map[string]any{"name": "M"})
	body := string(srv.Do(http.MethodGet, "/metrics", "", nil).Body)
	for _, want := range []string{
		"gisbi_sockets_open 1",
		`gisbi_frames_in_total{type="session.start"} 1`,
		`gisbi_frames_in_total{type="unknown"} 1`,
		`gisbi_frames_out_total{type="session.bootstrap"} 1`,
		`gisbi_errors_total{code="unknown_type"} 1`,
		`gisbi_grain_activations_total{kind="User"}`,
		`gisbi_store_commit_seconds_count{op="users.put"}`,
		`gisbi_http_requests_total{route="/users/profile",status="200"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	srv := servertest.Start(t)
	if res := srv.Do(http.MethodGet, "/healthz", "", nil); res.Status != 200 {
		t.Fatalf("healthz: %d", res.Status)
	}
	if res := srv.Do(http.MethodGet, "/readyz", "", nil); res.Status != 200 {
		t.Fatalf("readyz: %d", res.Status)
	}
	srv.API.SetReady(false) // what shutdown does first
	if res := srv.Do(http.MethodGet, "/readyz", "", nil); res.Status != 503 {
		t.Fatalf("readyz while draining: %d", res.Status)
	}
	if res := srv.Do(http.MethodGet, "/no/such/route", "", nil); res.Status != 404 || res.Code() != "not_found" {
		t.Fatalf("unknown route: %d %s", res.Status, res.Body)
	}
}

func TestRESTLimits(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("limits")
	// The server answers 413 from the Content-Length alone and closes, so the
	// request is written by hand: a client still streaming 2 MiB would race
	// the close and see a reset instead of the answer.
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH /users/profile HTTP/1.1\r\nHost: gisbi\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"bio\":\"", u.AccessToken, 2<<20)
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: %d", res.StatusCode)
	}
	srv.Stop()
	limited := servertest.Start(t, func(c *config.Config) { c.HTTPRate, c.HTTPBurst = 1, 3 })
	v := limited.Login("hasty")
	got429 := false
	for i := 0; i < 10; i++ {
		if res := v.Do(http.MethodGet, "/users/me", nil); res.Status == 429 {
			if res.Code() != "rate_limited" {
				t.Fatalf("429 body: %s", res.Body)
			}
			got429 = true
			break
		}
	}
	if !got429 {
		t.Fatal("10 requests at a 3-request burst were never limited")
	}
}

// TestProfilerIsBehindTheOperatorToken: Go's profiler is served under
// /admin only, and only to the operator token.
func TestProfilerIsBehindTheOperatorToken(t *testing.T) {
	const token = "profiler-token-0123456789"
	srv := servertest.Start(t, func(c *config.Config) { c.AdminToken = token })
	u := srv.Login("curious")
	for _, tc := range []struct {
		bearer string
		want   int
	}{{token, http.StatusOK}, {u.AccessToken, http.StatusUnauthorized}, {"", http.StatusUnauthorized}} {
		if res := servertest.Do(t, srv.URL, http.MethodGet, "/admin/debug/pprof/heap?debug=1", tc.bearer, nil); res.Status != tc.want {
			t.Errorf("heap profile with %q: %d, want %d", tc.bearer, res.Status, tc.want)
		}
	}
	if res := u.Do(http.MethodGet, "/debug/pprof/", nil); res.Status != http.StatusNotFound {
		t.Errorf("/debug/pprof outside /admin: %d", res.Status)
	}
}

// A path served under other methods answers 405 with Allow, not 404.
func TestWrongMethodAnswers405(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("methods")
	tests := []struct {
		method, path string
		status       int
		code, allow  string
	}{
		{http.MethodDelete, "/users/me", 405, "method_not_allowed", "GET, HEAD"},
		{http.MethodGet, "/auth/refresh", 405, "method_not_allowed", "POST"},
		{http.MethodPut, "/connections/usr_x", 405, "method_not_allowed", "DELETE, POST"},
		{http.MethodGet, "/connections/usr_x/accept", 405, "method_not_allowed", "POST"},
		{http.MethodGet, "/no/such/route", 404, "not_found", ""},
		{http.MethodGet, "/users/me/extra", 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+u.AccessToken)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != tt.status || !strings.Contains(string(body), `"code":"`+tt.code+`"`) {
				t.Errorf("%d %s, want %d %s", res.StatusCode, body, tt.status, tt.code)
			}
			if got := res.Header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow %q, want %q", got, tt.allow)
			}
		})
	}
}

// GISBI_LOG_LEVEL=debug gives one line per request and per socket frame.
func TestDebugLogsEveryRequestAndFrame(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := servertest.StartLogged(t, t.TempDir(), logger)
	u := srv.Login("chatty")
	u.Do(http.MethodGet, "/users/me", nil)
	ws := u.Dial()
	ws.Start()
	ws.Send("radar.set_visible", map[string]any{"isOnRadar": true}, "vis-1")
	ws.ExpectReplyAny("vis-1")
	srv.Stop()
	out := buf.String()
	for _, want := range []string{
		`msg="rest: request" method=GET path=/users/me route=/users/me status=200`,
		`msg="session: frame"`, `type=session.start`, `type=radar.set_visible requestId=vis-1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug log lacks %q", want)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
