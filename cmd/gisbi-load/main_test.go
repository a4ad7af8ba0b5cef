package main

import (
	"bytes"
	"encoding/json"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/loadgen"
	"github.com/gisbi/engine/server/servertest"
)

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c loadgen.Config, o options)
		wantErr string
	}{
		{name: "defaults", args: nil, check: func(t *testing.T, c loadgen.Config, o options) {
			if c.Users != loadgen.Defaults().Users || !c.BLE || o.json || c.Dialect != loadgen.DialectWS {
				t.Errorf("defaults changed: %+v %+v", c, o)
			}
		}},
		{name: "the issue's command", args: []string{"--server", "http://127.0.0.1:8080", "--users", "2000", "--pairs", "500", "--duration", "60s"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.Users != 2000 || c.Pairs != 500 || c.Duration != time.Minute || !slices.Equal(c.Servers, []string{"http://127.0.0.1:8080"}) {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "radar and chat only, json", args: []string{"--ble=false", "--json", "--allow-errors", "rate_limited, timeout"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.BLE || !o.json || len(c.AllowErrors) != 2 || c.AllowErrors[1] != "timeout" {
					t.Errorf("parsed %+v %+v", c, o)
				}
			}},
		{name: "fast clock with a raised ws rate", args: []string{"--clock-speed", "60", "--ws-rate", "200", "--heartbeat", "10s", "--box", "1,2,3,4"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.ClockSpeed != 60 || c.WSRate != 200 || c.Heartbeat != 10*time.Second || c.Box != (loadgen.Box{MinLat: 1, MinLng: 2, MaxLat: 3, MaxLng: 4}) {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "tokens and remote", args: []string{"--server", "https://gisbi.example.com", "--tokens", "t.txt", "--local-addrs", "none"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.TokensFile != "t.txt" || c.LocalAddrs != "none" {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "idle legacy sockets", args: []string{"--dialect", "socket", "--pairs", "0", "--location-every", "0", "--chat-rate", "0"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.Dialect != loadgen.DialectSocket || c.Pairs != 0 || c.LocationEvery != 0 || c.ChatRate != 0 {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "explicit ws", args: []string{"--dialect", "ws"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.Dialect != loadgen.DialectWS {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "default server", args: nil, check: func(t *testing.T, c loadgen.Config, o options) {
			if !slices.Equal(c.Servers, []string{"http://127.0.0.1:8080"}) {
				t.Errorf("servers %q", c.Servers)
			}
		}},
		{name: "servers, comma-separated", args: []string{"--server", "http://127.0.0.1:8081, http://127.0.0.1:8082,"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if !slices.Equal(c.Servers, []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082"}) {
					t.Errorf("servers %q", c.Servers)
				}
			}},
		{name: "servers, repeated and mixed", args: []string{"--server", "http://a:1", "--server", "http://b:1,http://c:1"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if !slices.Equal(c.Servers, []string{"http://a:1", "http://b:1", "http://c:1"}) {
					t.Errorf("servers %q", c.Servers)
				}
			}},
		{name: "a bad server among good ones", args: []string{"--server", "http://a:1,b:1"}, wantErr: `server "b:1"`},
		{name: "a server twice", args: []string{"--server", "http://a:1", "--server", "http://a:1"}, wantErr: "given twice"},
		{name: "no server", args: []string{"--server", ""}, wantErr: "at least one"},
		{name: "legacy sockets with traffic", args: []string{"--dialect", "socket", "--pairs", "0", "--chat-rate", "0"}, wantErr: "set --location-every to 0"},
		{name: "legacy sockets with pairs", args: []string{"--dialect", "socket", "--location-every", "0", "--chat-rate", "0", "--ble=false"}, wantErr: "set --pairs to 0"},
		{name: "unknown dialect", args: []string{"--dialect", "legacy"}, wantErr: "want ws or socket"},
		{name: "fast clock over the ws rate", args: []string{"--clock-speed", "60"}, wantErr: "frames/s"},
		{name: "radar turns the mixed traffic off", args: []string{"--scenario", "radar", "--users", "10000", "--conns", "32", "--queries", "200000"},
			check: func(t *testing.T, c loadgen.Config, o options) {
				if c.Scenario != loadgen.ScenarioRadar || c.Users != 10000 || c.Conns != 32 || c.Queries != 200000 ||
					c.Pairs != 0 || c.LocationEvery != 0 || c.ChatRate != 0 || c.BLE {
					t.Errorf("parsed %+v", c)
				}
			}},
		{name: "radar refuses asked-for pairs", args: []string{"--scenario", "radar", "--pairs", "5"}, wantErr: "set --pairs to 0"},
		{name: "radar refuses asked-for chat", args: []string{"--scenario", "radar", "--chat-rate", "1"}, wantErr: "set --chat-rate to 0"},
		{name: "radar, more loops than users", args: []string{"--scenario", "radar", "--users", "8"}, wantErr: "conns must be between 1 and users (8)"},
		{name: "unknown scenario", args: []string{"--scenario", "tile38"}, wantErr: "want mixed or radar"},
		{name: "bad box", args: []string{"--box", "1,2"}, wantErr: "box"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "unknown flag"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "not a number", args: []string{"--users", "many"}, wantErr: "invalid argument"},
		{name: "pairs beyond users", args: []string{"--users", "10", "--pairs", "6"}, wantErr: "pairs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, o, err := parseFlags(tt.args, io.Discard)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, o)
		})
	}
}

func TestRunExitCodes(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"--users", "0"}, &out, &errOut); code != exitUsage {
		t.Errorf("bad flags: exit %d, want %d", code, exitUsage)
	}
	if code := run([]string{"--help"}, &out, &errOut); code != 0 || !strings.Contains(errOut.String(), "--clock-speed") {
		t.Errorf("--help: exit %d, usage %q", code, errOut.String())
	}
}

// TestRunJSON runs a tiny scenario against a real server: the summary
// alone on stdout as one JSON object, progress on stderr, exit 0.
func TestRunJSON(t *testing.T) {
	srv := servertest.Start(t)
	var out, errOut bytes.Buffer
	code := run([]string{"--server", srv.URL, "--users", "6", "--pairs", "2", "--ble=false", "--duration", "2s",
		"--location-every", "1s", "--chat-rate", "4", "--http-rate", "10000", "--http-burst", "10000", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var sum loadgen.Summary
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&sum); err != nil {
		t.Fatalf("stdout is not a JSON summary: %v", err)
	}
	if dec.More() {
		t.Fatal("stdout holds more than one JSON value")
	}
	if !sum.Pass || sum.Sessions.Connected != 6 || sum.Pairs.Formed != 2 {
		t.Fatalf("summary %+v", sum)
	}
	if !strings.Contains(errOut.String(), "sessions 6/6") {
		t.Errorf("no progress line on stderr: %q", errOut.String())
	}
}

// TestRunJSONLegacySockets holds a few idle /socket sessions, as the
// idle-memory measurement does: every socket connected on the legacy
// dialect, and the summary says which dialect was measured.
func TestRunJSONLegacySockets(t *testing.T) {
	srv := servertest.Start(t)
	var out, errOut bytes.Buffer
	code := run([]string{"--server", srv.URL, "--dialect", "socket", "--users", "5", "--pairs", "0", "--location-every", "0", "--chat-rate", "0",
		"--duration", "1s", "--http-rate", "10000", "--http-burst", "10000", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var sum loadgen.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not a JSON summary: %v", err)
	}
	if sum.Scenario.Dialect != loadgen.DialectSocket || !sum.Pass || sum.Sessions.Connected != 5 || sum.Sessions.ConnectedAtEnd != 5 {
		t.Fatalf("summary %+v", sum)
	}
	probes := map[string]int64{}
	for _, o := range sum.Ops {
		if o.Latency != nil {
			probes[o.Type] = int64(o.Latency.Count)
		}
	}
	if probes["GET /socket (upgrade)"] != 5 || probes["socket attach probe"] != 5 {
		t.Fatalf("answered: %v, want 5 /socket upgrades and 5 probes", probes)
	}
}

// TestRunJSONRadar runs a tiny radar scenario: the radar figures are in
// the JSON summary.
func TestRunJSONRadar(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) {
		c.WSRate, c.WSBurst = 1e6, 1_000_000
		c.RadarInterval = time.Hour
	})
	var out, errOut bytes.Buffer
	code := run([]string{"--server", srv.URL, "--scenario", "radar", "--users", "20", "--conns", "2", "--queries", "40",
		"--http-rate", "10000", "--http-burst", "10000", "--json"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var sum loadgen.Summary
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("stdout is not a JSON summary: %v", err)
	}
	rs := sum.Radar
	if !sum.Pass || sum.Scenario.Scenario != loadgen.ScenarioRadar || rs == nil || rs.Users != 20 || rs.Updates != 40 || rs.Latency == nil {
		t.Fatalf("summary %+v, radar %+v", sum, rs)
	}
}

// TestRunFailsAgainstNoServer exits 1: nobody logs in.
func TestRunFailsAgainstNoServer(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"--server", "http://127.0.0.1:1", "--users", "2", "--pairs", "0", "--chat-rate", "0", "--duration", "1s",
		"--local-addrs", "none", "--setup-timeout", "5s"}, &out, &errOut)
	if code != exitFail || !strings.Contains(out.String(), "FAIL") {
		t.Fatalf("exit %d\n%s", code, out.String())
	}
}
