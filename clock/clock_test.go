package clock

import (
	"testing"
	"time"
)

func TestFakeRunsTimersInDueOrder(t *testing.T) {
	c := NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var got []string
	c.AfterFunc(3*time.Second, func() { got = append(got, "c") })
	c.AfterFunc(1*time.Second, func() { got = append(got, "a") })
	stopped := c.AfterFunc(2*time.Second, func() { got = append(got, "x") })
	c.AfterFunc(2*time.Second, func() {
		got = append(got, "b")
		c.AfterFunc(500*time.Millisecond, func() { got = append(got, "b2") })
	})
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer should report true")
	}
	c.Advance(2500 * time.Millisecond)
	c.Advance(time.Second)
	want := []string{"a", "b", "b2", "c"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if !c.Now().Equal(time.Date(2026, 1, 1, 0, 0, 3, 500e6, time.UTC)) {
		t.Fatalf("now = %v", c.Now())
	}
}

func TestRealSpeedScalesDurations(t *testing.T) {
	tests := []struct {
		speed float64
		in    time.Duration
		want  time.Duration
	}{
		{1, time.Minute, time.Minute},
		{60, time.Minute, time.Second},
		{0, time.Second, time.Second},
		{2, -time.Second, -time.Second},
	}
	for _, tt := range tests {
		if got := NewReal(tt.speed).RealDuration(tt.in); got != tt.want {
			t.Errorf("speed %v: RealDuration(%v) = %v, want %v", tt.speed, tt.in, got, tt.want)
		}
	}
}

func TestRealFastClockMovesForward(t *testing.T) {
	c := NewReal(1000)
	a := c.Now()
	time.Sleep(5 * time.Millisecond)
	if d := c.Now().Sub(a); d < 5*time.Second {
		t.Fatalf("1000x clock advanced only %v over 5ms of real time", d)
	}
}

func TestRealAtStartsAtTheGivenInstant(t *testing.T) {
	kolkata := time.FixedZone("IST", 5*3600+1800)
	start := time.Date(2001, 3, 4, 23, 59, 0, 0, kolkata)
	for _, speed := range []float64{1, 60} {
		c := NewRealAt(start, speed)
		a := c.Now()
		if a.Before(start) || a.Location() != time.UTC {
			t.Fatalf("speed %v: first reading %v, want %v or later, in UTC", speed, a, start.UTC())
		}
		// Hours of real time would have to pass for the reading to leave
		// 2001: it is the shifted clock, not the wall clock.
		if a.Year() != 2001 {
			t.Fatalf("speed %v: reading %v is not near the start %v", speed, a, start)
		}
		time.Sleep(5 * time.Millisecond)
		if d := c.Now().Sub(a); d < time.Duration(5*speed)*time.Millisecond {
			t.Fatalf("speed %v: clock advanced %v over 5ms of real time", speed, d)
		}
		if c.Speed() != speed {
			t.Fatalf("Speed() = %v, want %v", c.Speed(), speed)
		}
	}
	if got := NewRealAt(start, 0).Speed(); got != 1 {
		t.Fatalf("speed 0 is treated as %v, want 1", got)
	}
}
