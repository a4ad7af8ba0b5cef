package loadgen

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// logWriter sends the progress lines to the test log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// smallScenario is 50 users and 10 pairs against srv for a few seconds.
func smallScenario(srv *servertest.Server, speed float64) Config {
	cfg := Defaults()
	cfg.Server = srv.URL
	cfg.Users, cfg.Pairs = 50, 10
	cfg.Duration = 5 * time.Second
	cfg.ClockSpeed = speed
	cfg.LocationEvery = time.Duration(float64(2*time.Second) * speed) // one update per real 2 s
	cfg.ChatRate = 10
	cfg.HTTPRate, cfg.HTTPBurst = 10000, 10000 // servertest's limits
	return cfg
}

// checkCommon asserts what every scenario must show: everyone connected,
// every pair formed, traffic of each kind answered, nothing unexpected.
func checkCommon(t *testing.T, s *Summary, cfg Config) {
	t.Helper()
	if s.Sessions.Connected != cfg.Users || s.Sessions.LoggedIn != cfg.Users || s.Sessions.ConnectedAtEnd != cfg.Users {
		t.Errorf("sessions %+v, want all %d connected", s.Sessions, cfg.Users)
	}
	if s.Pairs.Formed != cfg.Pairs || s.Pairs.FormFailed != 0 {
		t.Errorf("pairs %+v, want %d formed", s.Pairs, cfg.Pairs)
	}
	if len(s.Unexpected) != 0 || len(s.Closes) != 0 {
		t.Errorf("unexpected errors %v, server closes %v", s.Unexpected, s.Closes)
	}
	ops := map[string]OpSummary{}
	for _, o := range s.Ops {
		ops[o.Type] = o
	}
	for _, typ := range []string{typeSessionStart, typeLocationUpdate, typeRequestSend, typeRequestAccept, typeChatMessage} {
		o := ops[typ]
		if o.Sent == 0 || o.Latency == nil || o.Latency.Count == 0 {
			t.Errorf("%s: sent %d, latency %+v; want answered requests", typ, o.Sent, o.Latency)
		}
	}
	if s.Counters[ctrChatDelivered] == 0 || ops[typeDelivered].Latency == nil {
		t.Errorf("no chat message was delivered: counters %v", s.Counters)
	}
	if s.Generator.CPUSeconds <= 0 || s.Generator.RSSBytes <= 0 {
		t.Errorf("generator cost not measured: %+v", s.Generator)
	}
	if !s.Pass {
		t.Errorf("run failed: %q", s.Failures)
	}
}

// TestRadarChatScenario runs radar and chat, without BLE, against a real
// in-process server.
func TestRadarChatScenario(t *testing.T) {
	srv := servertest.Start(t)
	cfg := smallScenario(srv, 1)
	cfg.BLE = false
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, s, cfg)
	if s.Proximity != nil {
		t.Errorf("proximity measured with --ble=false: %+v", s.Proximity)
	}
}

// TestProximityScenario adds BLE proximity on a fast clock: 10 s of real
// time are 100 s of together-time per pair, which the server must report.
func TestProximityScenario(t *testing.T) {
	const speed = 10
	srv := servertest.Start(t, func(c *config.Config) { c.ClockSpeed = speed })
	cfg := smallScenario(srv, speed)
	cfg.Duration = 10 * time.Second
	// The race detector and a shared machine delay answers; the run checks
	// the accounting, not the machine's timing.
	cfg.TogetherTolerance = 20 * time.Second
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, s, cfg)
	if s.Pairs.Active != cfg.Pairs || s.Pairs.NeverActive != 0 {
		t.Errorf("pairs %+v, want all %d active", s.Pairs, cfg.Pairs)
	}
	p := s.Proximity
	if p == nil || p.Measured+p.Uncertain != cfg.Pairs || p.SummaryFailed != 0 || p.Measured == 0 {
		t.Fatalf("proximity %+v, want every pair measured", p)
	}
	if p.ReportedMean <= 0 || p.ExpectedMean <= 0 {
		t.Errorf("no together-time: expected %v, reported %v", p.ExpectedMean, p.ReportedMean)
	}
	if s.Counters[ctrConfirmed] != int64(2*cfg.Pairs) {
		t.Errorf("partner.confirmed %d, want one per user of each pair", s.Counters[ctrConfirmed])
	}
}

// TestTokensFileScenario logs in from a tokens file, as against a server
// without dev login: JSON objects with refresh tokens and a bare token.
func TestTokensFileScenario(t *testing.T) {
	srv := servertest.Start(t)
	var lines []string
	for i := range 6 {
		u := srv.Login("tok-" + strconv.Itoa(i))
		if i%2 == 0 {
			lines = append(lines, u.AccessToken)
			continue
		}
		b, _ := json.Marshal(Credentials{AccessToken: u.AccessToken, RefreshToken: u.RefreshToken})
		lines = append(lines, string(b))
	}
	path := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := smallScenario(srv, 1)
	cfg.Users, cfg.Pairs, cfg.BLE, cfg.Duration = 6, 2, false, 2*time.Second
	cfg.TokensFile = path
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	checkCommon(t, s, cfg)
	if s.Scenario.Logins != "tokens file" {
		t.Errorf("logins %q", s.Scenario.Logins)
	}
	for _, o := range s.Ops {
		if strings.Contains(o.Type, "social-login") {
			t.Errorf("logged in over REST with a tokens file: %+v", o)
		}
	}
}

// TestRunRefusesBadConfig never reaches a server.
func TestRunRefusesBadConfig(t *testing.T) {
	cfg := Defaults()
	cfg.Users = 0
	if _, err := Run(context.Background(), cfg, nil); err == nil {
		t.Fatal("Run accepted 0 users")
	}
	cfg = Defaults()
	cfg.TokensFile = t.TempDir() + "/missing"
	if _, err := Run(context.Background(), cfg, nil); err == nil {
		t.Fatal("Run accepted a missing tokens file")
	}
}
