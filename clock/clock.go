package clock

import (
	"sync"
	"time"
)

// Clock is the one source of time for the process: every "now" and every
// timer of the engine goes through it, so a dev-mode speed-up or a test's
// fake clock moves all of them together.
type Clock interface {
	Now() time.Time
	// AfterFunc runs f in its own goroutine once d of clock time has passed.
	AfterFunc(d time.Duration, f func()) Timer
	// Speed is how many clock seconds pass per real second.
	Speed() float64
}

// Timer is a stoppable pending call.
type Timer interface {
	// Stop prevents the call; it reports whether it did.
	Stop() bool
}

// Real is the wall clock, optionally running faster. The epoch is anchored at
// construction so a sped-up clock starts at the true current time and drifts
// forward from there.
type Real struct {
	speed    float64
	baseWall time.Time
	baseReal time.Time // carries the monotonic reading
	shifted  bool      // baseWall is not the wall time at construction
}

// NewReal returns a clock running speed times faster than the wall clock.
// speed <= 0 is treated as 1.
func NewReal(speed float64) *Real {
	if speed <= 0 {
		speed = 1
	}
	now := time.Now()
	return &Real{speed: speed, baseWall: now.Round(0), baseReal: now}
}

// NewRealAt returns a clock that reads start at construction and runs
// speed times faster than the wall clock from there. It lets a dev server
// begin just before a moment worth watching (a midnight in the day zone)
// instead of waiting for it; speed <= 0 is treated as 1.
func NewRealAt(start time.Time, speed float64) *Real {
	c := NewReal(speed)
	c.baseWall, c.shifted = start.UTC().Round(0), true
	return c
}

// Now returns the clock time in UTC, without a monotonic reading so that
// stored and compared values behave the same.
func (c *Real) Now() time.Time {
	if c.speed == 1 && !c.shifted {
		return time.Now().UTC().Round(0)
	}
	elapsed := time.Since(c.baseReal)
	return c.baseWall.Add(time.Duration(float64(elapsed) * c.speed)).UTC()
}

// AfterFunc scales d to real time.
func (c *Real) AfterFunc(d time.Duration, f func()) Timer {
	return time.AfterFunc(c.RealDuration(d), f)
}

// RealDuration converts a clock duration into the wall time it takes.
func (c *Real) RealDuration(d time.Duration) time.Duration {
	if c.speed == 1 || d <= 0 {
		return d
	}
	return time.Duration(float64(d) / c.speed)
}

// Speed implements Clock.
func (c *Real) Speed() float64 { return c.speed }

// Fake is a manually advanced clock for tests: timers fire, synchronously and
// in due order, inside Advance.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

// NewFake returns a fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start.UTC()} }

type fakeTimer struct {
	c    *Fake
	due  time.Time
	f    func()
	done bool
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Now implements Clock.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Speed implements Clock.
func (c *Fake) Speed() float64 { return 1 }

// AfterFunc implements Clock.
func (c *Fake) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, due: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

// Advance moves the clock forward, running every timer that falls due, in order.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.done && !t.due.After(target) && (next == nil || t.due.Before(next.due)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.done = true
		if next.due.After(c.now) {
			c.now = next.due
		}
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = target
	live := c.timers[:0]
	for _, t := range c.timers {
		if !t.done {
			live = append(live, t)
		}
	}
	c.timers = live
	c.mu.Unlock()
}
