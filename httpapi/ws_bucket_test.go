package httpapi

import (
	"testing"
	"time"
)

func TestBucket(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	type step struct {
		at   time.Duration // since t0
		want bool
	}
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		steps []step
	}{
		{"burst then empty", 1, 3, []step{{0, true}, {0, true}, {0, true}, {0, false}}},
		{"refills at rate", 2, 1, []step{{0, true}, {0, false}, {250 * time.Millisecond, false}, {500 * time.Millisecond, true}, {500 * time.Millisecond, false}}},
		{"refill capped at burst", 10, 2, []step{{0, true}, {0, true}, {time.Hour, true}, {time.Hour, true}, {time.Hour, false}}},
		{"clock going back changes nothing", 1, 1, []step{{time.Second, true}, {0, false}, {time.Second, false}, {2 * time.Second, true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBucket(tc.rate, tc.burst, t0)
			for i, s := range tc.steps {
				if got := b.allow(t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d (at %v): allow = %v, want %v", i, s.at, got, s.want)
				}
			}
		})
	}
}
