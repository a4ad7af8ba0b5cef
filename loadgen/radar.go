package loadgen

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The radar scenario measures the radar the way a geospatial server is
// measured, so it can stand next to one (bench/compare.sh runs it against
// Tile38 on the same points):
//
//   - load: every connected user sends one presence.location_update, user
//     i at the i-th point of NewRadarLoadPoints, and waits for its answer.
//     They are the live points, and they stay connected and watching.
//   - queries (the traffic phase): the first Conns users each run a closed
//     loop. Worker w sends a presence.location_update to the next point of
//     NewRadarQueryPoints(w), waits for the radar.nearby.updated that
//     carries its requestId, and sends the next. The Tile38 client instead
//     moves a random user there (SET) and asks NEARBY: a socket can only
//     move its own user. The number of live points stays N in both.
//
// Moves wake nearby watchers, who get pushed radars no more than once per
// the server's GISBI_RADAR_INTERVAL after the radar they last saw. The
// no-push baseline starts the server with an interval longer than the run
// (GISBI_RADAR_INTERVAL=1h); with the default 2 s the pushes are part of
// what is measured. Either way the generator discards pushes cheaply
// (skimmed, counted, not decoded) and reports how many came.
//
// A closed loop sends as fast as it is answered, far above the server's
// default 20 frames/s per socket: the server needs GISBI_WS_RATE and
// GISBI_WS_BURST raised (e.g. 1000000), or it answers rate_limited.

// radarState is the radar scenario's part of a run.
type radarState struct {
	loaded, loadFailed atomic.Int64
	loadSeconds        float64
	placed             []bool       // by user: its load update was answered
	answered           atomic.Int64 // query-phase updates answered, for the progress line

	results []radarResult // one per worker, each owned by its worker until the phase ends
	seconds float64
	pushes  int64
}

// radarResult is one worker's tally; workers never share one, so the hot
// path takes no lock.
type radarResult struct {
	hist     Histogram // update sent → its radar answer read
	answered int64     // answered with a radar
	failed   int64     // answered with an error, timed out, or not sent (socket down)
	nearby   int64     // nearby users in the answers
}

// RadarDefaults is Defaults for the radar scenario: no pairs, no walking,
// no chat.
func RadarDefaults() Config {
	c := Defaults()
	c.Scenario = ScenarioRadar
	c.Pairs, c.LocationEvery, c.ChatRate, c.BLE = 0, 0, 0, false
	return c
}

func (r *runner) isRadar() bool { return r.cfg.Scenario == ScenarioRadar }

// radarLoad places every connected user at its point.
func (r *runner) radarLoad(ctx context.Context) {
	r.setPhase("load")
	rs := &r.radar
	pts := NewRadarLoadPoints()
	points := make([][2]float64, len(r.clients))
	for i := range points {
		points[i][0], points[i][1] = pts.Next()
	}
	rs.placed = make([]bool, len(r.clients))
	start := time.Now()
	forEach(ctx, len(r.clients), r.cfg.ConnectConcurrency, func(i int) {
		c := r.clients[i]
		if !c.connected.Load() {
			return // counted as a connect failure already
		}
		_, err := c.call(ctx, typeLocationUpdate, locationPayload{Lat: points[i][0], Lng: points[i][1], AccuracyMeters: 5}, typeRadarNearby)
		if err != nil {
			rs.loadFailed.Add(1)
			return
		}
		rs.placed[i] = true // each i is one goroutine's; read after forEach returns
		rs.loaded.Add(1)
	})
	rs.loadSeconds = time.Since(start).Seconds()
}

// radarQueries runs the closed loops: Queries/Conns updates per worker (as
// the Tile38 client does), or until Duration when Queries is 0, or until
// ctx ends.
func (r *runner) radarQueries(ctx context.Context) {
	cfg := &r.cfg
	rs := &r.radar
	per := cfg.Queries / cfg.Conns
	deadline := time.Now().Add(cfg.Duration)
	rs.results = make([]radarResult, cfg.Conns)
	push0 := r.stats.Counter(ctrRadarPushes)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range cfg.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.radarWorker(ctx, w, per, deadline, &rs.results[w])
		}()
	}
	wg.Wait()
	rs.seconds = time.Since(start).Seconds()
	rs.pushes = r.stats.Counter(ctrRadarPushes) - push0
}

// radarWorker is one closed loop, on user w's socket.
func (r *runner) radarWorker(ctx context.Context, w, per int, deadline time.Time, res *radarResult) {
	c := r.clients[w]
	if !r.radar.placed[w] {
		// Its connect or its first location failed: it is not on the
		// radar and nothing will put it there, so its share fails at once.
		res.failed += int64(max(per, 1))
		return
	}
	pts := NewRadarQueryPoints(w, r.cfg.Users)
	ch := make(chan *inFrame, 1)
	done := func(f *inFrame) { ch <- f }
	for i := 0; per == 0 || i < per; i++ {
		if ctx.Err() != nil || (per == 0 && !time.Now().Before(deadline)) {
			return
		}
		lat, lng, _ := pts.NextUpdate()
		t0 := time.Now()
		if err := c.request(typeLocationUpdate, locationPayload{Lat: lat, Lng: lng, AccuracyMeters: 5}, typeRadarNearby, done); err != nil {
			// The socket is down: it reconnects by itself, unless it gave up.
			res.failed++
			if c.gaveUp.Load() || !r.sleep(100*time.Millisecond) {
				return
			}
			continue
		}
		var f *inFrame
		select {
		case f = <-ch: // the answer, an error, a timeout or a drop: always one
		case <-ctx.Done():
			return
		}
		d := time.Since(t0)
		if f.Type != typeRadarNearby {
			res.failed++ // Stats has its code
			continue
		}
		res.hist.Record(d)
		res.answered++
		res.nearby += int64(max(f.nearby, 0))
		r.radar.answered.Add(1)
	}
}

// RadarSummary is what the radar scenario measured.
type RadarSummary struct {
	Users       int     `json:"users"`      // live users: their load update was answered
	LoadFailed  int     `json:"loadFailed"` // connected users whose load update failed
	LoadSeconds float64 `json:"loadSeconds"`
	Conns       int     `json:"conns"`   // closed-loop sockets
	Queries     int     `json:"queries"` // updates asked for; 0 = for the duration
	Updates     int64   `json:"updates"` // answered with a radar during the query phase
	Failed      int64   `json:"failed"`  // answered with an error, timed out, or not sent
	Seconds     float64 `json:"seconds"` // the query phase
	// UpdatesPerSec is the throughput: answered updates per second over
	// the query phase.
	UpdatesPerSec float64  `json:"updatesPerSec"`
	Latency       *Latency `json:"latencyMs"`  // update sent → its radar answer read
	AvgResults    float64  `json:"avgResults"` // nearby users per answer
	// Pushes counts pushed radars received (and discarded) during the
	// query phase: 0 is the no-push baseline.
	Pushes int64 `json:"pushes"`
}

func (r *runner) radarSummary() *RadarSummary {
	rs := &r.radar
	s := &RadarSummary{Users: int(rs.loaded.Load()), LoadFailed: int(rs.loadFailed.Load()), LoadSeconds: rs.loadSeconds,
		Conns: r.cfg.Conns, Queries: r.cfg.Conns * (r.cfg.Queries / r.cfg.Conns), Seconds: rs.seconds, Pushes: rs.pushes}
	var h Histogram
	var nearby int64
	for i := range rs.results {
		res := &rs.results[i]
		h.Merge(&res.hist)
		s.Updates += res.answered
		s.Failed += res.failed
		nearby += res.nearby
	}
	s.Latency = latencyOf(&h)
	if s.Seconds > 0 {
		s.UpdatesPerSec = math.Round(float64(s.Updates)/s.Seconds*10) / 10
	}
	if s.Updates > 0 {
		s.AvgResults = math.Round(float64(nearby)/float64(s.Updates)*100) / 100
	}
	return s
}

// radarWarnings says what makes a radar run something other than asked.
func (r *runner) radarWarnings(s *RadarSummary) {
	if s.Pushes > 0 {
		r.warn(fmt.Sprintf("%d radar pushes arrived during the query phase: for the no-push baseline start the server with GISBI_RADAR_INTERVAL longer than the run (e.g. 1h)", s.Pushes))
	}
}

// writeRadarText is the radar part of the text report.
func writeRadarText(b *strings.Builder, rs *RadarSummary) {
	fmt.Fprintf(b, "radar: %d live users placed in %.1fs (%d failed); %d closed-loop sockets", rs.Users, rs.LoadSeconds, rs.LoadFailed, rs.Conns)
	if rs.Queries > 0 {
		fmt.Fprintf(b, ", %d updates asked", rs.Queries)
	}
	fmt.Fprintf(b, "\n  %d updates answered in %.1fs = %.0f updates/s, %d failed; %.1f nearby users per answer; %d pushes discarded\n",
		rs.Updates, rs.Seconds, rs.UpdatesPerSec, rs.Failed, rs.AvgResults, rs.Pushes)
	if l := rs.Latency; l != nil {
		fmt.Fprintf(b, "  update → radar answer: p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.1f ms, mean %.2f ms\n", l.P50, l.P95, l.P99, l.Max, l.Mean)
	}
	b.WriteString("\n")
}
