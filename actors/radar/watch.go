package radar

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/uber/h3-go/v4"
)

// Watcher is one user watching its radar: the User grain registers its own
// PID for the cells its radar covers.
type Watcher struct {
	UserID string
	PID    *actor.PID
	// dirty is set by the first cell that wakes the watcher and cleared by
	// the watcher when it recomputes, so at most one wake-up message is in
	// flight per watcher however many cells change meanwhile.
	dirty atomic.Bool
}

// Clean marks the watcher as having seen every change so far; call it
// before recomputing the radar, so changes after it wake the watcher again.
func (w *Watcher) Clean() { w.dirty.Store(false) }

// Watchers is the node's index of who watches which cell. It lives beside
// the Directory for the same reason: watching must not cost a message per
// cell, and a cell must not be activated just to be watched.
type Watchers struct {
	shards [64]watchShard
}

type watchShard struct {
	mu sync.RWMutex
	m  map[h3.Cell]map[*Watcher]struct{}
}

// NewWatchers returns an empty index.
func NewWatchers() *Watchers {
	ws := &Watchers{}
	for i := range ws.shards {
		ws.shards[i].m = map[h3.Cell]map[*Watcher]struct{}{}
	}
	return ws
}

func (ws *Watchers) shard(c h3.Cell) *watchShard { return &ws.shards[uint64(c)%uint64(len(ws.shards))] }

// Move changes w's watched cells from old to next.
func (ws *Watchers) Move(w *Watcher, old, next []h3.Cell) {
	keep := make(map[h3.Cell]bool, len(next))
	for _, c := range next {
		keep[c] = true
	}
	had := make(map[h3.Cell]bool, len(old))
	for _, c := range old {
		had[c] = true
		if !keep[c] {
			s := ws.shard(c)
			s.mu.Lock()
			if set := s.m[c]; set != nil {
				delete(set, w)
				if len(set) == 0 {
					delete(s.m, c)
				}
			}
			s.mu.Unlock()
		}
	}
	for _, c := range next {
		if had[c] {
			continue
		}
		s := ws.shard(c)
		s.mu.Lock()
		set := s.m[c]
		if set == nil {
			set = map[*Watcher]struct{}{}
			s.m[c] = set
		}
		set[w] = struct{}{}
		s.mu.Unlock()
	}
}

// Wake flags every watcher of cell except the one named skip, and calls
// send for each that was not flagged already. It returns how many it sent.
func (ws *Watchers) Wake(c h3.Cell, skip string, send func(*Watcher)) int {
	s := ws.shard(c)
	s.mu.RLock()
	var woken []*Watcher
	for w := range s.m[c] {
		if w.UserID != skip && w.dirty.CompareAndSwap(false, true) {
			woken = append(woken, w)
		}
	}
	s.mu.RUnlock()
	for _, w := range woken {
		send(w)
	}
	return len(woken)
}
