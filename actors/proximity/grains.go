package proximity

import (
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Grains tracks the Proximity grains running on this node, for one job:
// shutdown stops them, so each writes its last snapshot while the store is
// still open (stopping the actor system alone would not stop them). Nothing
// reads it to decide anything else; the read models go to the store.
//
// It is node-local by design and stays correct with several nodes: each
// node stops the grains it hosts at its own shutdown, and a grain that
// moves to another node registers there on activation.
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

// Len is the number of live grains.
func (r *Grains) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pids)
}

// Stop stops every live grain after the messages already queued and waits
// up to timeout for them; each writes its final snapshot as it stops. It
// is the server's shutdown path and must never be called from an actor.
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
		_ = f.Wait() //nonblocking:allow server shutdown (Server.Shutdown), outside any actor's Receive
	}
}
