package radar

import (
	"slices"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/cluster/grainpb"
)

// replica is the mirror's copy of the cells other members host, built from
// the CellDeltas their Cell grains send. It is pure: the mirror actor feeds
// it deltas and topology changes, and publishes what it reports changed.
//
// A cell has one activation per owner at most, and normally one in all.
// While disthash moves the cell (a topology change) the old and the new
// owner both send for a moment; both are kept and published together (a
// query keeps a user's newest entry), until the old one's stopped delta,
// or its owner leaving, drops it. So no rule has to guess which owner is
// right.
//
// A member's messages to another arrive in the order sent, so within one
// activation (epoch) a delta that is not the next seq means messages were
// lost (a broken connection): the replica then keeps what it has and asks
// the grain for its whole content, ignoring deltas until that full delta
// comes. The same holds for an epoch it has not seen a full delta of (it
// joined, or missed the first message).
type replica struct {
	cells map[h3.Cell][]*activation
	ttl   time.Duration // PresenceTTL: a refreshed stale entry is news
}

// activation is one owner's activation of a cell.
type activation struct {
	owner   string
	epoch   uint64
	seq     uint64 // last delta applied
	entries map[string]*Entry
	// waiting for a full delta: deltas are ignored meanwhile. asked is the
	// seq of the delta that last made us ask, so a lost answer is asked
	// for again after reaskAfter more deltas.
	waiting bool
	asked   uint64
}

// reaskAfter deltas of a cell ignored while waiting for its full content,
// the replica asks again: the first request or its answer may have been
// lost with the connection that lost the delta.
const reaskAfter = 32

// applied is what a delta changed.
type applied struct {
	publish bool   // the cell's content changed: publish it
	wake    bool   // its watchers could see a difference
	mover   string // the only user that changed, if one did: it is not woken
	resync  bool   // ask the sender for its whole content (CellResync)
}

func newReplica(ttl time.Duration) *replica {
	return &replica{cells: map[h3.Cell][]*activation{}, ttl: ttl}
}

// apply applies a delta received at now. peers are the live members: a
// delta from any other owner is a late message of a member that left (or
// froze and was dropped) and is ignored, or it would resurrect what its
// leaving removed.
func (r *replica) apply(d *grainpb.CellDelta, peers []string, now time.Time) (h3.Cell, applied) {
	cell := h3.Cell(h3.IndexFromString(d.Cell))
	if !cell.IsValid() || !slices.Contains(peers, d.Owner) {
		return 0, applied{}
	}
	acts := r.cells[cell]
	i := slices.IndexFunc(acts, func(a *activation) bool { return a.owner == d.Owner })
	var a *activation
	if i >= 0 {
		a = acts[i]
	}
	switch {
	case d.Stopped:
		if a == nil || a.epoch != d.Epoch {
			return cell, applied{}
		}
		r.cells[cell] = slices.Delete(acts, i, i+1)
		if len(r.cells[cell]) == 0 {
			delete(r.cells, cell)
		}
		return cell, applied{publish: true, wake: len(a.entries) > 0}
	case d.Full:
		next := make(map[string]*Entry, len(d.Upserts))
		for _, pe := range d.Upserts {
			if pe != nil && pe.UserId != "" {
				next[pe.UserId] = EntryFromProto(pe)
			}
		}
		if a == nil {
			a = &activation{owner: d.Owner}
			r.cells[cell] = append(acts, a)
		}
		res := applied{publish: true}
		r.diff(&res, a.entries, next, now)
		a.epoch, a.seq, a.entries, a.waiting, a.asked = d.Epoch, d.Seq, next, false, 0
		return cell, res
	case a == nil:
		// An activation we never had the content of: ask for it.
		r.cells[cell] = append(acts, &activation{owner: d.Owner, epoch: d.Epoch, entries: map[string]*Entry{}, waiting: true, asked: d.Seq})
		return cell, applied{resync: true}
	case a.epoch != d.Epoch:
		// The owner's activation changed and its first (full) message was
		// lost. Keep the old content, the best we have, until the new one comes.
		a.epoch, a.waiting, a.asked = d.Epoch, true, d.Seq
		return cell, applied{resync: true}
	case a.waiting:
		if d.Seq >= a.asked+reaskAfter {
			a.asked = d.Seq
			return cell, applied{resync: true}
		}
		return cell, applied{}
	case d.Seq <= a.seq:
		return cell, applied{} // already applied (covered by a full delta)
	case d.Seq > a.seq+1:
		a.waiting, a.asked = true, d.Seq
		return cell, applied{resync: true}
	}
	a.seq = d.Seq
	res := applied{}
	changed := 0
	for _, pe := range d.Upserts {
		if pe == nil || pe.UserId == "" {
			continue
		}
		e := EntryFromProto(pe)
		old := a.entries[e.UserID]
		a.entries[e.UserID] = e
		res.publish = true
		if old == nil || newsworthy(old, e, now, r.ttl) {
			res.wake, res.mover = true, e.UserID
			changed++
		}
	}
	for _, id := range d.Removes {
		if _, ok := a.entries[id]; ok {
			delete(a.entries, id)
			res.publish, res.wake, res.mover = true, true, id
			changed++
		}
	}
	if changed != 1 {
		res.mover = ""
	}
	return cell, res
}

// diff records in res whether replacing old by next is news to watchers.
func (r *replica) diff(res *applied, old, next map[string]*Entry, now time.Time) {
	changed, mover := 0, ""
	for id, e := range next {
		if o := old[id]; o == nil || newsworthy(o, e, now, r.ttl) {
			changed, mover = changed+1, id
		}
	}
	for id := range old {
		if next[id] == nil {
			changed, mover = changed+1, id
		}
	}
	res.wake = changed > 0
	if changed == 1 {
		res.mover = mover
	}
}

// left drops every activation owned by member, which left the cluster, and
// returns the cells that lost entries.
func (r *replica) left(member string) []h3.Cell {
	var out []h3.Cell
	for cell, acts := range r.cells {
		i := slices.IndexFunc(acts, func(a *activation) bool { return a.owner == member })
		if i < 0 {
			continue
		}
		if len(acts[i].entries) > 0 {
			out = append(out, cell)
		}
		if acts = slices.Delete(acts, i, i+1); len(acts) == 0 {
			delete(r.cells, cell)
		} else {
			r.cells[cell] = acts
		}
	}
	return out
}

// snapshot is the cell's content as published: the entries of all its
// activations, nil when there are none.
func (r *replica) snapshot(cell h3.Cell) *Snapshot {
	acts := r.cells[cell]
	n := 0
	for _, a := range acts {
		n += len(a.entries)
	}
	if n == 0 {
		return nil
	}
	entries := make([]*Entry, 0, n)
	for _, a := range acts {
		for _, e := range a.entries {
			entries = append(entries, e)
		}
	}
	return NewSnapshot(entries)
}
