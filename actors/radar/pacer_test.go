package radar

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	base := 2 * time.Second
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		// lags observed one per 10 ms, in phases
		phases []struct {
			lag time.Duration
			n   int
		}
		wantMin, wantMax time.Duration
	}{
		{"keeping up stays at the configured interval", []struct {
			lag time.Duration
			n   int
		}{{time.Millisecond, 500}}, base, base},
		{"falling behind stretches up to the cap", []struct {
			lag time.Duration
			n   int
		}{{200 * time.Millisecond, 1000}}, base * pacerMost, base * pacerMost},
		{"recovering shrinks back to the floor, never below", []struct {
			lag time.Duration
			n   int
		}{{200 * time.Millisecond, 300}, {0, 2000}}, base, base},
		{"a lag between half the target and the target holds the stretch", []struct {
			lag time.Duration
			n   int
		}{{200 * time.Millisecond, 100}, {7 * time.Millisecond, 3000}}, base + time.Second, base * pacerMost},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := NewPacer(base)
			now := t0
			for _, ph := range c.phases {
				for range ph.n {
					now = now.Add(10 * time.Millisecond)
					p.Observe(now.Add(-ph.lag), now)
				}
			}
			if got := p.Interval(); got < c.wantMin || got > c.wantMax {
				t.Fatalf("interval %v, want %v..%v", got, c.wantMin, c.wantMax)
			}
		})
	}
}

func TestPacerIgnoresEarlyTimers(t *testing.T) {
	p := NewPacer(time.Second)
	now := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	for range 1000 {
		now = now.Add(10 * time.Millisecond)
		p.Observe(now.Add(time.Second), now) // served before due: no lag
	}
	if p.Interval() != time.Second {
		t.Fatalf("interval %v", p.Interval())
	}
	var nilPacer *Pacer
	if nilPacer.Interval() != 0 {
		t.Fatal("a nil pacer has an interval")
	}
}
