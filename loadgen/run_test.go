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
	cfg.Servers = []string{srv.URL}
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

// idleLegacyScenario holds users idle /socket sockets against srv.
func idleLegacyScenario(srv *servertest.Server, users int) Config {
	cfg := Defaults()
	cfg.Servers, cfg.Dialect = []string{srv.URL}, DialectSocket
	cfg.Users, cfg.Pairs, cfg.LocationEvery, cfg.ChatRate = users, 0, 0, 0
	cfg.Duration = time.Second
	cfg.HTTPRate, cfg.HTTPBurst = 10000, 10000 // servertest's limits
	return cfg
}

// TestLegacyIdleScenario holds idle sockets in the legacy dialect: every
// one dialled /socket and had its attach probe answered not-found, and no
// /ws frame was sent.
func TestLegacyIdleScenario(t *testing.T) {
	srv := servertest.Start(t)
	cfg := idleLegacyScenario(srv, 8)
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Pass {
		t.Errorf("run failed: %q", s.Failures)
	}
	if s.Scenario.Dialect != DialectSocket {
		t.Errorf("scenario dialect %q", s.Scenario.Dialect)
	}
	if ss := s.Sessions; ss.Connected != cfg.Users || ss.ConnectedAtEnd != cfg.Users || ss.ConnectFailed != 0 || ss.Dropped != 0 {
		t.Errorf("sessions %+v, want all %d connected", ss, cfg.Users)
	}
	if len(s.Errors) != 0 || len(s.Closes) != 0 {
		t.Errorf("errors %v, server closes %v", s.Errors, s.Closes)
	}
	ops := map[string]OpSummary{}
	for _, o := range s.Ops {
		ops[o.Type] = o
	}
	if o := ops["GET /socket (upgrade)"]; o.Sent != int64(cfg.Users) {
		t.Errorf("/socket upgrades %+v, want %d", o, cfg.Users)
	}
	if o := ops[labelProbe]; o.Sent != int64(cfg.Users) || o.Latency == nil || o.Latency.Count != uint64(cfg.Users) {
		t.Errorf("probes %+v (latency %+v), want %d answered", o, o.Latency, cfg.Users)
	}
	if o := ops[eventNotFound]; o.Received != int64(cfg.Users) {
		t.Errorf("not-found received %d, want one per probe", o.Received)
	}
	for _, typ := range []string{"GET /ws (upgrade)", typeSessionStart, typeSessionBootstrap} {
		if o, ok := ops[typ]; ok {
			t.Errorf("a /socket run used %s: %+v", typ, o)
		}
	}

	// The login answer names each user, which a legacy socket has no
	// bootstrap to learn from.
	r, err := newRunner(idleLegacyScenario(srv, 2), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.login(context.Background())
	for _, c := range r.clients {
		if !strings.HasPrefix(c.id(), "user_") {
			t.Errorf("user %d: id %q after login", c.idx, c.id())
		}
	}
}

// TestLegacyProbeRefused: a user the server will not serve chat events to
// (no name yet) is answered verification-required, not not-found, so its
// socket does not count as connected and the run says why.
func TestLegacyProbeRefused(t *testing.T) {
	srv := servertest.Start(t)
	named, nameless := srv.Login("legacy-named"), srv.Login("legacy-nameless")
	u, err := srv.Store.Users().Get(t.Context(), nameless.ID)
	if err != nil {
		t.Fatal(err)
	}
	u.Name = ""
	if err := srv.Store.Users().Put(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(path, []byte(named.AccessToken+"\n"+nameless.AccessToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := idleLegacyScenario(srv, 2)
	cfg.TokensFile = path
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if s.Sessions.Connected != 1 || s.Sessions.ConnectFailed != 1 {
		t.Errorf("sessions %+v, want the named user connected and the nameless one not", s.Sessions)
	}
	if s.Errors[eventVerificationRequired] == 0 || s.Pass {
		t.Errorf("pass %v, errors %v; want a verification-required failure", s.Pass, s.Errors)
	}
}
