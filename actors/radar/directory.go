package radar

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/uber/h3-go/v4"
)

// Directory holds the latest published snapshot of every active cell, on
// this node or any other. Cell grains publish their own cells and the radar
// mirror the cells other members host (see Mirror); radar queries read it
// without messaging the grains, which is what lets one query cover dozens
// of cells in microseconds.
//
// Each cell has a slot, created on first use and never removed, whose
// snapshot pointer is swapped atomically. A viewer resolves its cover to
// slots once (Slots) and then reads a query's snapshots with atomic loads
// only: no lock and no map lookup per cell, which at 67 cells per query
// cost as much as the query itself. A slot is a few words; the cells ever
// watched or occupied on a node are bounded by the area its users cover.
type Directory struct {
	shards [64]dirShard
	hosted hosted
}

// Slot is one cell's place in the Directory. It holds two snapshots, each
// nil while empty: the one the cell's activation on this node publishes,
// and the one the mirror publishes for activations on other members.
//
// Two writers, two pointers: while disthash moves a cell between members
// (a topology change), the old and the new activation both exist for a
// moment, one of them possibly here. Neither writer may then overwrite the
// other, and neither needs to know about the other: a reader takes both,
// and Query keeps the newest entry of a user found in both. Once the move
// settles one of them is empty. On a single node the remote pointer stays
// nil; it shares the cache line of the local one, so reading it is free.
type Slot struct {
	snap   atomic.Pointer[Snapshot]
	remote atomic.Pointer[Snapshot]
}

// Load returns the snapshot of the cell's activation on this node, nil when
// it is empty or inactive.
func (s *Slot) Load() *Snapshot { return s.snap.Load() }

// LoadRemote returns the snapshot of the cell's activations on other
// members, as the mirror replicates them; nil when there is none.
func (s *Slot) LoadRemote() *Snapshot { return s.remote.Load() }

type dirShard struct {
	mu sync.RWMutex
	m  map[h3.Cell]*Slot
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	d := &Directory{}
	for i := range d.shards {
		d.shards[i].m = map[h3.Cell]*Slot{}
	}
	return d
}

func (d *Directory) shard(c h3.Cell) *dirShard {
	// The low bits of an H3 index are the finest digits: they spread well.
	return &d.shards[uint64(c)%uint64(len(d.shards))]
}

// lookup returns c's slot, nil if it has none yet.
func (d *Directory) lookup(c h3.Cell) *Slot {
	s := d.shard(c)
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.m[c]
}

// slot returns c's slot, creating it if needed.
func (d *Directory) slot(c h3.Cell) *Slot {
	if sl := d.lookup(c); sl != nil {
		return sl
	}
	s := d.shard(c)
	s.mu.Lock()
	defer s.mu.Unlock()
	sl := s.m[c]
	if sl == nil {
		sl = &Slot{}
		s.m[c] = sl
	}
	return sl
}

// Load returns the snapshot of a cell's activation on this node, nil when
// it is empty or inactive here.
func (d *Directory) Load(c h3.Cell) *Snapshot {
	sl := d.lookup(c)
	if sl == nil {
		return nil
	}
	return sl.Load()
}

// LoadRemote returns the mirror's snapshot of a cell hosted on other
// members, nil when there is none.
func (d *Directory) LoadRemote(c h3.Cell) *Snapshot {
	sl := d.lookup(c)
	if sl == nil {
		return nil
	}
	return sl.LoadRemote()
}

// Slots appends the slots of cells to buf, in the same order. Keep them for
// as long as the cells are the ones to read: a slot stays valid forever.
func (d *Directory) Slots(cells []h3.Cell, buf []*Slot) []*Slot {
	for _, c := range cells {
		buf = append(buf, d.slot(c))
	}
	return buf
}

// SlotSnapshots appends the non-empty snapshots of slots to buf, local and
// remote.
func SlotSnapshots(slots []*Slot, buf []*Snapshot) []*Snapshot {
	for _, sl := range slots {
		if snap := sl.snap.Load(); snap != nil && len(snap.Entries) > 0 {
			buf = append(buf, snap)
		}
		if snap := sl.remote.Load(); snap != nil && len(snap.Entries) > 0 {
			buf = append(buf, snap)
		}
	}
	return buf
}

// store publishes the local activation's snapshot of c.
func (d *Directory) store(c h3.Cell, snap *Snapshot) { d.put(c, snap, false) }

// storeRemote publishes the mirror's snapshot of c.
func (d *Directory) storeRemote(c h3.Cell, snap *Snapshot) { d.put(c, snap, true) }

func (d *Directory) put(c h3.Cell, snap *Snapshot, remote bool) {
	if snap != nil && len(snap.Entries) == 0 {
		snap = nil
	}
	var sl *Slot
	if snap == nil {
		// An empty cell that was never published needs no slot.
		if sl = d.lookup(c); sl == nil {
			return
		}
	} else {
		sl = d.slot(c)
	}
	if remote {
		sl.remote.Store(snap)
	} else {
		sl.snap.Store(snap)
	}
}

// hosted is the node's registry of its own Cell activations. The mirror
// reads it to answer a member that asks for this node's cells
// (MirrorSync). It lives in the Directory because the Directory already is
// the node's radar index that cell grains and the mirror share.
type hosted struct {
	mu   sync.Mutex
	pids map[h3.Cell]*actor.PID
}

func (h *hosted) add(c h3.Cell, pid *actor.PID) {
	h.mu.Lock()
	if h.pids == nil {
		h.pids = map[h3.Cell]*actor.PID{}
	}
	h.pids[c] = pid
	h.mu.Unlock()
}

// remove forgets c's activation pid, unless a newer one replaced it.
func (h *hosted) remove(c h3.Cell, pid *actor.PID) {
	h.mu.Lock()
	if h.pids[c] == pid {
		delete(h.pids, c)
	}
	h.mu.Unlock()
}

// all appends the PIDs of every activation on this node to buf.
func (h *hosted) all(buf []*actor.PID) []*actor.PID {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, pid := range h.pids {
		buf = append(buf, pid)
	}
	return buf
}
