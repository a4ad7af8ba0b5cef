// Package servertest starts real engine servers for tests: in-process on
// 127.0.0.1 with a random port and a temp data directory, or as a separate
// process (for SIGKILL tests), with helpers that log in and open sockets in
// one line.
package servertest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server"
)

// Server is a running in-process server.
type Server struct {
	*server.Server
	URL  string // http://127.0.0.1:port, or https:// when the config sets a TLS certificate
	Dir  string // data directory
	t    testing.TB
	stop bool
}

// Option edits the config before start.
type Option func(*config.Config)

// Config returns the test defaults: dev mode, loopback, a temp data dir and
// limits loose enough not to trip on test traffic.
func Config(t testing.TB, dir string, opts ...Option) *config.Config {
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.Addr = "127.0.0.1:0"
	cfg.DataDir = dir
	cfg.Store = StoreURL(t, dir)
	cfg.HTTPRate, cfg.HTTPBurst = 10000, 10000
	cfg.ShutdownTimeout = 5 * time.Second
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("servertest: config: %v", err)
	}
	return &cfg
}

// Start runs a server on a fresh temp data directory.
func Start(t testing.TB, opts ...Option) *Server {
	return StartIn(t, t.TempDir(), opts...)
}

// running allows one in-process server at a time: protoactor-go's
// remote.Start writes gRPC's global logger without a lock while a running
// member's gRPC server reads it, so two members in one process race (a
// library bug that production, one member per process, never meets).
var running sync.Mutex

// StartIn runs a server on dir, e.g. to restart on the same data.
func StartIn(t testing.TB, dir string, opts ...Option) *Server {
	t.Helper()
	return StartLogged(t, dir, slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})), opts...)
}

// StartLogged runs a server on dir that logs to logger, for tests that read
// what the server logs.
func StartLogged(t testing.TB, dir string, logger *slog.Logger, opts ...Option) *Server {
	t.Helper()
	if !running.TryLock() {
		t.Fatal("servertest: another in-process server is running; Stop it first (protoactor's remote races on gRPC's global logger)")
	}
	cfg := Config(t, dir, opts...)
	srv, err := server.New(cfg, logger)
	if err != nil {
		running.Unlock()
		t.Fatalf("servertest: new server: %v", err)
	}
	if err := srv.Start(); err != nil {
		_ = srv.Shutdown(context.Background())
		running.Unlock()
		t.Fatalf("servertest: start: %v", err)
	}
	scheme := "http://"
	if cfg.TLSCertFile != "" {
		scheme = "https://"
	}
	s := &Server{Server: srv, URL: scheme + srv.Addr(), Dir: dir, t: t}
	t.Cleanup(func() { s.Stop() })
	return s
}

// Stop shuts the server down gracefully; calling it twice is harmless.
func (s *Server) Stop() {
	if s.stop {
		return
	}
	s.stop = true
	defer running.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		s.t.Errorf("servertest: shutdown: %v", err)
	}
}

// testWriter routes server logs into the test log, where they show on failure.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Response is a decoded REST answer.
type Response struct {
	Status int
	Body   []byte
}

// JSON decodes the body into a map.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %v: %s", r.Status, err, r.Body)
	}
	return m
}

// Code is the error code of a REST error body.
func (r *Response) Code() string {
	var e struct {
		Code string `json:"code"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Code
}

// Do sends a REST request to base; body may be nil, a []byte or a value to encode.
func Do(t testing.TB, base, method, path, token string, body any) *Response {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	recordExchange(method, path, res, b)
	return &Response{Status: res.StatusCode, Body: b}
}

// Do sends a REST request to this server.
func (s *Server) Do(method, path, token string, body any) *Response {
	s.t.Helper()
	return Do(s.t, s.URL, method, path, token, body)
}

// User is a logged-in test user.
type User struct {
	ID           string
	AccessToken  string
	RefreshToken string
	Login        map[string]any
	base         string
	t            testing.TB
}

// Login signs in with the dev provider as handle.
func (s *Server) Login(handle string) *User {
	s.t.Helper()
	return LoginAt(s.t, s.URL, "dev", handle)
}

// LoginAt signs in against base with any provider.
func LoginAt(t testing.TB, base, provider, idToken string) *User {
	t.Helper()
	res := Do(t, base, http.MethodPost, "/auth/social-login", "", map[string]string{"provider": provider, "idToken": idToken})
	if res.Status != http.StatusOK {
		t.Fatalf("login %s/%s: %d %s", provider, idToken, res.Status, res.Body)
	}
	m := res.JSON(t)
	u := &User{AccessToken: m["accessToken"].(string), RefreshToken: m["refreshToken"].(string), Login: m, base: base, t: t}
	u.ID = m["user"].(map[string]any)["id"].(string)
	return u
}

// Do sends an authenticated REST request as u.
func (u *User) Do(method, path string, body any) *Response {
	u.t.Helper()
	return Do(u.t, u.base, method, path, u.AccessToken, body)
}

// WaitReady polls /readyz until it answers 200.
func WaitReady(t testing.TB, base string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server at %s not ready after %v", base, timeout)
}

// At is u signed in at another server of the same cluster: the same tokens,
// its requests and sockets going to base.
func (u *User) At(base string) *User {
	c := *u
	c.base = base
	return &c
}

// Base is the server u talks to.
func (u *User) Base() string { return u.base }
