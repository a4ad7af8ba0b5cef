package loadgen

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// radarServer is an in-process server set up as the radar scenario needs:
// no frame limit a closed loop would hit, and no pushes during the run.
func radarServer(t *testing.T) *servertest.Server {
	return servertest.Start(t, func(c *config.Config) {
		c.WSRate, c.WSBurst = 1e6, 1_000_000
		c.RadarInterval = time.Hour
	})
}

// TestRadarScenario runs the radar scenario end to end, small: 200 live
// users, 4 closed loops, 200 updates.
func TestRadarScenario(t *testing.T) {
	srv := radarServer(t)
	cfg := RadarDefaults()
	cfg.Servers = []string{srv.URL}
	cfg.Users, cfg.Conns, cfg.Queries = 200, 4, 200
	cfg.HTTPRate, cfg.HTTPBurst = 10000, 10000 // servertest's limits
	s, err := Run(context.Background(), cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if !s.Pass || len(s.Errors) != 0 || len(s.Closes) != 0 {
		t.Fatalf("pass %v, failures %q, errors %v, closes %v", s.Pass, s.Failures, s.Errors, s.Closes)
	}
	rs := s.Radar
	if rs == nil {
		t.Fatal("no radar summary")
	}
	if rs.Users != cfg.Users || rs.LoadFailed != 0 {
		t.Errorf("live users %d (failed %d), want %d", rs.Users, rs.LoadFailed, cfg.Users)
	}
	if rs.Updates != int64(cfg.Queries) || rs.Failed != 0 || rs.Queries != cfg.Queries || rs.Conns != cfg.Conns {
		t.Errorf("updates %d of %d asked (failed %d, conns %d), want %d", rs.Updates, rs.Queries, rs.Failed, rs.Conns, cfg.Queries)
	}
	// 200 users in 400 km² leave about 1.5 within a kilometre: some
	// answers list someone.
	if rs.AvgResults <= 0 || rs.UpdatesPerSec <= 0 || rs.Latency == nil || rs.Latency.Count != uint64(cfg.Queries) {
		t.Errorf("results %v, rate %v, latency %+v", rs.AvgResults, rs.UpdatesPerSec, rs.Latency)
	}
	if rs.Pushes != 0 {
		t.Errorf("%d pushes with a one-hour radar interval", rs.Pushes)
	}
	if s.Scenario.Scenario != ScenarioRadar {
		t.Errorf("scenario %q", s.Scenario.Scenario)
	}
}

// TestDecodeFrameCountsRealRadarAnswers reads radar answers as the server
// really writes them (it writes radar frames in place, not through
// encoding/json): the skim must find type and requestId and count what
// encoding/json counts.
func TestDecodeFrameCountsRealRadarAnswers(t *testing.T) {
	srv := radarServer(t)
	const users = 4
	var socks []*servertest.WS
	for i := range users {
		ws := srv.Login("real-radar-" + strconv.Itoa(i)).Dial()
		ws.Start()
		socks = append(socks, ws)
	}
	for i, ws := range socks {
		reqID := "loc-" + strconv.Itoa(i)
		ws.Send(typeLocationUpdate, locationPayload{Lat: 6.5 + float64(i)*1e-4, Lng: 3.4, AccuracyMeters: 5}, reqID)
		ws.Expect("presence.updated")
		raw := ws.Expect(typeRadarNearby).Raw
		var f inFrame
		if err := decodeFrame(raw, &f); err != nil {
			t.Fatalf("decodeFrame(%s): %v", raw, err)
		}
		var want struct {
			Payload struct {
				NearbyUsers []json.RawMessage `json:"nearbyUsers"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		// User i sees the i users placed before it.
		if f.Type != typeRadarNearby || f.RequestID != reqID || f.nearby != len(want.Payload.NearbyUsers) || f.nearby != i {
			t.Fatalf("skim of %s: type %q requestId %q nearby %d; encoding/json counts %d, want %d", raw, f.Type, f.RequestID, f.nearby, len(want.Payload.NearbyUsers), i)
		}
	}
}
