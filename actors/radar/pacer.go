package radar

import (
	"sync"
	"sync/atomic"
	"time"
)

// Pacer sets the interval between pushed radar updates for the whole node.
// Pushes are the one elastic load of a radar: every watcher gets one per
// interval while its neighbours move, so their cost grows with the users
// online, not with what anyone asked for. When the node falls behind, the
// answers users wait for (locations, heartbeats, chat) queue behind pushes
// nobody asked for, and the queue feeds itself until requests time out.
//
// So the Pacer watches how long client frames take from the socket to their
// first answer (sessions report it) and stretches the interval while that
// delay is above its target, then lets it shrink back to the configured
// interval once the node keeps up. (How late push timers are served was
// tried first and does not work: the scheduler runs a goroutine it just
// woke almost at once, so timers look punctual while requests queue.) The configured interval stays the floor: pushes are never
// more frequent than "at most one per radar interval" allows.
type Pacer struct {
	base     time.Duration
	target   time.Duration // answer delay above which pushes slow down
	interval atomic.Int64  // the interval in force, read by every grain

	mu      sync.Mutex
	lag     float64 // smoothed answer delay, ns
	stretch float64
	next    time.Time // the next adjustment
}

// Pacer tuning: the delay is smoothed over about the last 20 answers, and the
// stretch moves at most every 100 ms, by ×1.25 up and ÷1.1 down, so it
// reacts within a second and settles without oscillating.
const (
	pacerWeight   = 0.05
	pacerEvery    = 100 * time.Millisecond
	pacerUp       = 1.25
	pacerDown     = 1.1
	pacerMost     = 8
	pacerTargetMs = 10
)

// NewPacer returns a pacer whose floor is the configured interval.
func NewPacer(interval time.Duration) *Pacer {
	p := &Pacer{base: interval, target: pacerTargetMs * time.Millisecond, stretch: 1}
	p.interval.Store(int64(interval))
	return p
}

// Interval is the push interval in force.
func (p *Pacer) Interval() time.Duration {
	if p == nil {
		return 0
	}
	return time.Duration(p.interval.Load())
}

// Observe records that a client frame read from its socket at received was
// first answered at now.
func (p *Pacer) Observe(received, now time.Time) {
	lag := float64(now.Sub(received))
	if lag < 0 {
		lag = 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lag += pacerWeight * (lag - p.lag)
	if now.Before(p.next) {
		return
	}
	p.next = now.Add(pacerEvery)
	switch {
	case p.lag > float64(p.target):
		p.stretch = min(p.stretch*pacerUp, pacerMost)
	case p.lag < float64(p.target)/2:
		p.stretch = max(p.stretch/pacerDown, 1)
	default:
		return
	}
	p.interval.Store(int64(float64(p.base) * p.stretch))
}
