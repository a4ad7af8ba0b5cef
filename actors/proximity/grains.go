package proximity

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Grains tracks a node's live Proximity grains by connection id: shutdown
// stops them (and so writes their last snapshots) while the store is still
// open, and views of idle connections read the stored snapshot instead of
// waking a grain per connection.
type Grains struct {
	mu   sync.Mutex
	pids map[string]*actor.PID
}

// NewGrains returns an empty registry.
func NewGrains() *Grains { return &Grains{pids: map[string]*actor.PID{}} }

func (r *Grains) add(id string, pid *actor.PID) {
	if r != nil {
		r.mu.Lock()
		r.pids[id] = pid
		r.mu.Unlock()
	}
}

func (r *Grains) remove(id string, pid *actor.PID) {
	if r != nil {
		r.mu.Lock()
		if r.pids[id] == pid {
			delete(r.pids, id)
		}
		r.mu.Unlock()
	}
}

// Live reports whether the connection's grain runs on this node. A nil
// registry knows nothing, so everything counts as live.
func (r *Grains) Live(id string) bool {
	if r == nil {
		return true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pids[id]
	return ok
}

// Len is the number of live grains.
func (r *Grains) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pids)
}

// Stop stops every live grain after the messages already queued and waits
// up to timeout for them; each writes its final snapshot as it stops.
func (r *Grains) Stop(sys *actor.ActorSystem, timeout time.Duration) {
	r.mu.Lock()
	futs := make([]*actor.Future, 0, len(r.pids))
	for _, pid := range r.pids {
		futs = append(futs, sys.Root.PoisonFuture(pid))
	}
	r.mu.Unlock()
	deadline := time.Now().Add(timeout)
	for _, f := range futs {
		if time.Now().After(deadline) {
			return
		}
		_ = f.Wait()
	}
}
