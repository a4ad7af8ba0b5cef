package loadgen

import (
	"math"
	"slices"
	"sync"
	"time"
)

// serverClock estimates the server's clock from the timestamps of answers.
// The sample with the smallest round trip is the reference (its midpoint is
// closest to when the server stamped it); the clock speed is known.
type serverClock struct {
	speed float64

	mu          sync.Mutex
	ref         clockSample
	first, last clockSample
}

type clockSample struct {
	real   time.Time // midpoint of send and receive
	server time.Time
	rtt    time.Duration
	ok     bool
}

func (c *serverClock) observe(sent, recv time.Time, ts string) {
	if ts == "" {
		return
	}
	st, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return
	}
	rtt := recv.Sub(sent)
	s := clockSample{real: sent.Add(rtt / 2), server: st, rtt: rtt, ok: true}
	c.mu.Lock()
	defer c.mu.Unlock()
	// A newer sample replaces the reference when its round trip is nearly as
	// good, so a slightly wrong speed cannot drift the estimate for long.
	if !c.ref.ok || rtt <= c.ref.rtt || (s.real.Sub(c.ref.real) > 10*time.Second && rtt <= 2*c.ref.rtt+time.Millisecond) {
		c.ref = s
	}
	if !c.first.ok {
		c.first = s
	}
	if rtt <= 2*c.ref.rtt+5*time.Millisecond {
		c.last = s
	}
}

// now estimates the server's clock at real time t.
func (c *serverClock) at(t time.Time) (time.Time, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.ref.ok {
		return time.Time{}, false
	}
	return c.ref.server.Add(time.Duration(float64(t.Sub(c.ref.real)) * c.speed)), true
}

// observedSpeed is the server clock's pace against real time over the run,
// or 0 when the span is too short to tell.
func (c *serverClock) observedSpeed() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	span := c.last.real.Sub(c.first.real)
	if !c.first.ok || !c.last.ok || span < 5*time.Second {
		return 0
	}
	return float64(c.last.server.Sub(c.first.server)) / float64(span)
}

// sideTrack follows one participant's valid scans (start or heartbeat
// accepted by the server) in server-clock Unix seconds.
type sideTrack struct {
	scanned  bool
	lastSeen float64
	gaps     [][2]float64 // spans in which this side did not see its partner
	end      float64      // when it sent proximity.session.end; +Inf before
}

func newSideTrack() sideTrack { return sideTrack{end: math.Inf(1)} }

// scan records a valid scan at t. A side sees its partner for the heartbeat
// timeout after each valid scan, so a later scan leaves a gap.
func (s *sideTrack) scan(t, timeout float64) {
	if s.scanned && t > s.lastSeen+timeout {
		s.gaps = append(s.gaps, [2]float64{s.lastSeen + timeout, t})
	}
	if !s.scanned || t > s.lastSeen {
		s.lastSeen = t
	}
	s.scanned = true
}

// expectedTogether is the together-time the server should count, in
// seconds, for a run that became active at act, under the rules of
// SPEC-NOTES: time accrues while both sides see each other; a pause that
// lasts longer than grace ends the run (later scans do not count without a
// new handshake); the run stops at the first session.end or when a side's
// last scan times out.
func expectedTogether(act float64, a, b *sideTrack, timeout, grace float64) float64 {
	end := min(a.end, b.end, a.lastSeen+timeout, b.lastSeen+timeout)
	gaps := append(slices.Clone(a.gaps), b.gaps...)
	slices.SortFunc(gaps, func(x, y [2]float64) int {
		switch {
		case x[0] < y[0]:
			return -1
		case x[0] > y[0]:
			return 1
		}
		return 0
	})
	// Merge: the run is paused while either side does not see.
	var merged [][2]float64
	for _, g := range gaps {
		if n := len(merged); n > 0 && g[0] <= merged[n-1][1] {
			merged[n-1][1] = max(merged[n-1][1], g[1])
			continue
		}
		merged = append(merged, g)
	}
	total, cur := 0.0, act
	for _, g := range merged {
		if g[1] <= cur {
			continue
		}
		if g[0] >= end {
			break
		}
		start := max(g[0], cur)
		if g[1]-start > grace {
			end = start
			break
		}
		total += start - cur
		cur = g[1]
	}
	return total + max(end-cur, 0)
}
