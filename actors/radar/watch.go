package radar

import (
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/uber/h3-go/v4"
)

var watchSeed = maphash.MakeSeed()

// Watcher is one user watching its radar: the User grain registers its own
// PID for the cells its radar covers.
type Watcher struct {
	UserID string
	PID    *actor.PID
	// dirty is set by the first cell that wakes the watcher and cleared by
	// the watcher when it recomputes, so at most one wake-up message is in
	// flight per watcher however many cells change meanwhile.
	dirty atomic.Bool
	id    uint64 // hash of UserID: skipping the mover must not cost a string compare per watcher
}

// NewWatcher returns a watcher for a user's grain.
func NewWatcher(userID string, pid *actor.PID) *Watcher {
	return &Watcher{UserID: userID, PID: pid, id: maphash.String(watchSeed, userID)}
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

// watchSet keeps a cell's watchers in a slice for fast iteration, with an
// index for O(1) removal.
type watchSet struct {
	list []*Watcher
	at   map[*Watcher]int
}

type watchShard struct {
	mu sync.RWMutex
	m  map[h3.Cell]*watchSet
}

// NewWatchers returns an empty index.
func NewWatchers() *Watchers {
	ws := &Watchers{}
	for i := range ws.shards {
		ws.shards[i].m = map[h3.Cell]*watchSet{}
	}
	return ws
}

// shard spreads cells by a multiplicative hash: watch cells end in unused
// digits (all ones), so their low bits cannot pick a shard.
func (ws *Watchers) shard(c h3.Cell) *watchShard {
	return &ws.shards[(uint64(c)*0x9E3779B97F4A7C15)>>58]
}

// Watches are kept one resolution coarser than the grid (watchCell): a
// radar's cover of ~67 cells then falls in ~15 parents, so a user who
// moves far (a new cover) changes ~15 registrations instead of ~67, and a
// move nearby still wakes only the watchers of one set. The price is a few
// more watchers woken per change (those whose cover touches the parent but
// not the cell), who recompute and find nothing new: no push is sent then.
// Once a node is busy every watcher is woken within each push interval
// anyway, so the extra wake-ups cost nothing there.

// watchCell is the parent of c one resolution up, by bit arithmetic on the
// H3 index (resolution field, and the unused digit set to 7), which costs
// nothing next to h3's cgo call.
func watchCell(c h3.Cell) h3.Cell {
	const resShift, digitBits = 52, 3
	x := uint64(c)
	res := int(x>>resShift) & 0xF
	if res == 0 {
		return c
	}
	x = x&^(uint64(0xF)<<resShift) | uint64(res-1)<<resShift
	return h3.Cell(x | uint64(7)<<((15-res)*digitBits))
}

// watchCells appends the distinct watch cells of cells to buf.
func watchCells(cells []h3.Cell, buf []h3.Cell) []h3.Cell {
	for _, c := range cells {
		if p := watchCell(c); !slices.Contains(buf, p) {
			buf = append(buf, p)
		}
	}
	return buf
}

// Move changes w's watched cells from those of cover old to those of
// cover next.
func (ws *Watchers) Move(w *Watcher, old, next []h3.Cell) {
	// Covers hold ~67 cells and ~15 parents: linear scans over arrays on
	// the stack beat maps here.
	var ob, nb [32]h3.Cell
	had, keep := watchCells(old, ob[:0]), watchCells(next, nb[:0])
	for _, c := range had {
		if !slices.Contains(keep, c) {
			ws.remove(c, w)
		}
	}
	for _, c := range keep {
		if !slices.Contains(had, c) {
			ws.add(c, w)
		}
	}
}

func (ws *Watchers) add(c h3.Cell, w *Watcher) {
	s := ws.shard(c)
	s.mu.Lock()
	set := s.m[c]
	if set == nil {
		set = &watchSet{at: map[*Watcher]int{}}
		s.m[c] = set
	}
	if _, ok := set.at[w]; !ok {
		set.at[w] = len(set.list)
		set.list = append(set.list, w)
	}
	s.mu.Unlock()
}

func (ws *Watchers) remove(c h3.Cell, w *Watcher) {
	s := ws.shard(c)
	s.mu.Lock()
	if set := s.m[c]; set != nil {
		if i, ok := set.at[w]; ok {
			last := len(set.list) - 1
			set.list[i] = set.list[last]
			set.at[set.list[i]] = i
			set.list[last] = nil
			set.list = set.list[:last]
			delete(set.at, w)
			if len(set.list) == 0 {
				delete(s.m, c)
			}
		}
	}
	s.mu.Unlock()
}

// Wake flags every watcher of cell (of its watch cell) except the user named skip, and calls
// send for each that was not flagged already. It returns how many it sent.
func (ws *Watchers) Wake(c h3.Cell, skip string, send func(*Watcher)) int {
	skipID := maphash.String(watchSeed, skip)
	c = watchCell(c)
	s := ws.shard(c)
	var woken []*Watcher
	s.mu.RLock()
	if set := s.m[c]; set != nil {
		for _, w := range set.list {
			// Most watchers of a busy cell are already flagged: test cheaply first.
			if w.dirty.Load() || (w.id == skipID && w.UserID == skip) {
				continue
			}
			if w.dirty.CompareAndSwap(false, true) {
				woken = append(woken, w)
			}
		}
	}
	s.mu.RUnlock()
	for _, w := range woken {
		send(w)
	}
	return len(woken)
}
