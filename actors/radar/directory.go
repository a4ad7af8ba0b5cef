package radar

import (
	"sync"

	"github.com/uber/h3-go/v4"
)

// Directory holds the latest published snapshot of every active cell on this
// node. Cell grains are its only writers; radar queries read it without
// messaging the grains, which is what lets one query cover dozens of cells
// in microseconds. Sharded so readers of different cells do not contend.
type Directory struct {
	shards [64]dirShard
}

type dirShard struct {
	mu sync.RWMutex
	m  map[h3.Cell]*Snapshot
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	d := &Directory{}
	for i := range d.shards {
		d.shards[i].m = map[h3.Cell]*Snapshot{}
	}
	return d
}

func (d *Directory) shard(c h3.Cell) *dirShard {
	// The low bits of an H3 index are the finest digits: they spread well.
	return &d.shards[uint64(c)%uint64(len(d.shards))]
}

// Load returns a cell's snapshot, nil when the cell is empty or inactive.
func (d *Directory) Load(c h3.Cell) *Snapshot {
	s := d.shard(c)
	s.mu.RLock()
	snap := s.m[c]
	s.mu.RUnlock()
	return snap
}

// Snapshots appends the non-empty snapshots of cells to buf.
func (d *Directory) Snapshots(cells []h3.Cell, buf []*Snapshot) []*Snapshot {
	for _, c := range cells {
		if snap := d.Load(c); snap != nil && len(snap.Entries) > 0 {
			buf = append(buf, snap)
		}
	}
	return buf
}

func (d *Directory) store(c h3.Cell, snap *Snapshot) {
	s := d.shard(c)
	s.mu.Lock()
	if snap == nil || len(snap.Entries) == 0 {
		delete(s.m, c)
	} else {
		s.m[c] = snap
	}
	s.mu.Unlock()
}
