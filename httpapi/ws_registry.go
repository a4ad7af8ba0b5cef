package httpapi

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/actors/session"
)

// pingSlots is the number of slots of the ping wheel: each tick, every
// pingInterval/pingSlots, pings one slot's sockets.
const pingSlots = 16

// Registry tracks live sockets: shutdown drains them and closes them with
// 1001 (CloseAll), and one goroutine pings them, a slot of its wheel per
// tick, where a timer per socket would cost every idle socket a timer and
// a closure.
type Registry struct {
	every time.Duration // ping interval

	mu       sync.Mutex
	wheel    [pingSlots][]*transport
	cur      int // the slot pinged last; new sockets join it
	n        int
	ticking  bool // the ping goroutine runs (while there are sockets)
	stopping bool
	wg       sync.WaitGroup
}

func newRegistry(pingEvery time.Duration) *Registry { return &Registry{every: pingEvery} }

func (r *Registry) add(t *transport) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return false
	}
	// Joining the slot just pinged puts the first ping a whole turn away.
	s := &r.wheel[r.cur]
	t.slot, t.pos = int32(r.cur), int32(len(*s))
	*s = append(*s, t)
	r.n++
	r.wg.Add(1)
	if !r.ticking && r.every > 0 {
		r.ticking = true
		go r.run()
	}
	return true
}

func (r *Registry) remove(t *transport) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &r.wheel[t.slot]
	i := int(t.pos)
	if i >= len(*s) || (*s)[i] != t {
		return
	}
	last := len(*s) - 1
	(*s)[i] = (*s)[last]
	(*s)[i].pos = int32(i)
	(*s)[last] = nil
	*s = (*s)[:last]
	r.n--
	r.wg.Done()
}

// run ticks until the registry is empty; add starts it again.
func (r *Registry) run() {
	tk := time.NewTicker(max(r.every/pingSlots, time.Millisecond))
	defer tk.Stop()
	var due []*transport
	for range tk.C {
		var more bool
		if due, more = r.tick(due[:0]); !more {
			return
		}
		for _, t := range due {
			t.ping()
		}
		clear(due)
	}
}

// tick moves the wheel one slot and returns that slot's sockets (appended
// to due); more is false when there are no sockets left and the ticker
// must stop.
func (r *Registry) tick(due []*transport) (_ []*transport, more bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == 0 {
		r.ticking = false
		return due, false
	}
	r.cur = (r.cur + 1) % pingSlots
	return append(due, r.wheel[r.cur]...), true
}

// Len is the number of open sockets.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// CloseAll refuses new sockets and closes the open ones with code, in an
// order that acknowledges every write committed for their clients: each
// socket stops forwarding frames, and its session, once it has answered
// every command it started, closes it (session.Drain), its answers going
// out ahead of the close frame. CloseAll returns once every handler has
// returned, or after timeout; the sockets still open when most of it has
// passed are cut (transport.cut), so the handlers are done in time. It
// reports how many sockets were cut before their close frame, and the
// frames that left unsent.
func (r *Registry) CloseAll(root *actor.RootContext, code int, reason string, timeout time.Duration) (cut, unsent int) {
	start := time.Now()
	m := &session.Drain{Code: code, Reason: reason}
	for _, t := range r.stop() {
		t.drain(root, m)
	}
	// The rest of the timeout is for the cuts (within a second each).
	if r.wait(start.Add(timeout - min(timeout/4, time.Second))) {
		return 0, 0
	}
	r.mu.Lock()
	for _, s := range r.wheel {
		for _, t := range s {
			n, open := t.cut(code, reason)
			unsent += n
			if open {
				cut++
			}
		}
	}
	r.mu.Unlock()
	r.wait(start.Add(timeout))
	return cut, unsent
}

// stop refuses new sockets and returns the open ones.
func (r *Registry) stop() []*transport {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping = true
	var all []*transport
	for _, s := range r.wheel {
		all = append(all, s...)
	}
	return all
}

// wait waits until every handler has returned (true) or until by (false).
func (r *Registry) wait(by time.Time) bool {
	done := make(chan struct{})
	go func() { r.wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(time.Until(by)):
		return false
	}
}
