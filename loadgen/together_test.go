package loadgen

import (
	"math"
	"testing"
	"time"
)

// beats returns a side that scanned at each of ts, and ended at end (0: never).
func beats(end float64, ts ...float64) *sideTrack {
	s := newSideTrack()
	for _, t := range ts {
		s.scan(t, 15)
	}
	if end > 0 {
		s.end = end
	}
	return &s
}

// every returns scans from start to stop (inclusive) every step seconds.
func every(start, stop, step float64) []float64 {
	var ts []float64
	for t := start; t <= stop+1e-9; t += step {
		ts = append(ts, t)
	}
	return ts
}

func TestExpectedTogether(t *testing.T) {
	tests := []struct {
		name string
		act  float64
		a, b *sideTrack
		want float64
	}{
		{
			name: "steady heartbeats, ended by session.end",
			act:  100, a: beats(400, every(99, 395, 5)...), b: beats(401, every(100, 395, 5)...),
			want: 300,
		},
		{
			name: "no session.end: counts until the first side's last scan times out",
			act:  0, a: beats(0, every(0, 100, 5)...), b: beats(0, every(0, 90, 5)...),
			want: 105,
		},
		{
			name: "a gap longer than the timeout pauses, the next scan resumes",
			// a: 0..50, silent until 80, then 80..200; pause from 65 to 80.
			act: 0, a: beats(200, append(every(0, 50, 5), every(80, 200, 5)...)...), b: beats(200, every(0, 200, 5)...),
			want: 200 - 15,
		},
		{
			name: "overlapping gaps of both sides merge",
			// a paused 65..80, b paused 70..90: together paused 65..90.
			act: 0, a: beats(200, append(every(0, 50, 5), every(80, 200, 5)...)...),
			b:    beats(200, append(every(0, 55, 5), every(90, 200, 5)...)...),
			want: 200 - 25,
		},
		{
			name: "a pause longer than the grace ends the run",
			// a silent from 65 to 120: paused 55 s > 30 s of grace, nothing after 65 counts.
			act: 0, a: beats(200, append(every(0, 50, 5), every(120, 200, 5)...)...), b: beats(200, every(0, 200, 5)...),
			want: 65,
		},
		{
			name: "the first side's scan timed out before the second started",
			// a scanned at 0 only until the run became active at 20; a's first heartbeat at 25.
			act: 20, a: beats(100, append([]float64{0}, every(25, 100, 5)...)...), b: beats(100, every(20, 100, 5)...),
			want: 75,
		},
		{
			name: "ended before it started",
			act:  50, a: beats(40, 0, 5), b: beats(40, 50),
			want: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expectedTogether(tt.act, tt.a, tt.b, 15, 30)
			if math.Abs(got-tt.want) > 1e-9 {
				t.Fatalf("expectedTogether = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSideTrackOutOfOrderScan(t *testing.T) {
	s := newSideTrack()
	s.scan(10, 15)
	s.scan(8, 15) // an answer that overtook another: must not move lastSeen back
	if s.lastSeen != 10 || len(s.gaps) != 0 {
		t.Fatalf("lastSeen %v gaps %v", s.lastSeen, s.gaps)
	}
}

func TestServerClock(t *testing.T) {
	c := &serverClock{speed: 60}
	real0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	stamp := func(realMid time.Time) string {
		return srv0.Add(time.Duration(float64(realMid.Sub(real0)) * 60)).Format(time.RFC3339Nano)
	}
	// A slow answer first, then a fast one, then one 10 s later.
	c.observe(real0, real0.Add(200*time.Millisecond), stamp(real0.Add(100*time.Millisecond)))
	c.observe(real0.Add(time.Second), real0.Add(time.Second+2*time.Millisecond), stamp(real0.Add(time.Second+time.Millisecond)))
	c.observe(real0.Add(10*time.Second), real0.Add(10*time.Second+2*time.Millisecond), stamp(real0.Add(10*time.Second+time.Millisecond)))
	got, ok := c.at(real0.Add(20 * time.Second))
	if want := srv0.Add(20 * time.Minute); !ok || got.Sub(want).Abs() > time.Millisecond {
		t.Fatalf("at = %v, want %v", got, want)
	}
	if s := c.observedSpeed(); math.Abs(s-60) > 0.01 {
		t.Fatalf("observed speed %v, want 60", s)
	}
	c.observe(real0, real0, "not a time")
	var empty serverClock
	if _, ok := empty.at(real0); ok || empty.observedSpeed() != 0 {
		t.Fatal("an empty clock knows nothing")
	}
}
