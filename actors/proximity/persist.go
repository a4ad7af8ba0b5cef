package proximity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// SnapshotKind names proximity state in the Snapshots store.
const SnapshotKind = "proximity"

// retryDelay spaces snapshot writes after a failed one.
const retryDelay = time.Second

// snapshot reads a connection's last snapshot and its stored version (which
// fences the next write); storage.ErrNotFound when it never had one.
func snapshot(ctx context.Context, store storage.Store, id string) (*Persisted, uint64, error) {
	snap, err := store.Snapshots().Get(ctx, SnapshotKind, id)
	if err != nil {
		return nil, 0, err
	}
	var ps Persisted
	if err := json.Unmarshal(snap.Data, &ps); err != nil {
		return nil, 0, fmt.Errorf("proximity: snapshot of %s: %w", id, err)
	}
	return &ps, snap.Version, nil
}

// mark is what decides that a snapshot is due at once rather than at the
// next interval: anything but the running total changing.
type mark struct {
	status           string
	runs, milestones int
	closed           bool
	risk             Risk
	accumulated      time.Duration // compared apart: it may wait for the interval
}

// saved reports a finished snapshot write.
type saved struct {
	version uint64
	err     error
}

// writer serialises snapshot writes of one grain across goroutines, so an
// older snapshot can never land after a newer one (the shutdown path writes
// synchronously while an asynchronous write may still be in flight). It
// also keeps the snapshot's stored version, which fences every write
// (storage.ErrStale): the version read at activation, then the one each
// write returned. Since writes are serialised here, each one carries the
// version the previous one left.
type writer struct {
	mu      sync.Mutex
	written uint64 // the grain's own count (grain.version) of the newest snapshot on disk
	stored  uint64 // the store's version of the snapshot; 0 when none is stored
	stale   bool   // a write was refused as stale: this activation writes nothing more
}

// loaded records the stored version read at activation (0: no snapshot).
func (w *writer) loaded(stored uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stored = stored
}

// done is the newest version on disk.
func (w *writer) done() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.written
}

func (w *writer) put(s storage.Snapshots, id string, version uint64, data []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stale {
		return fmt.Errorf("proximity: snapshot of %s: an earlier write was refused: %w", id, storage.ErrStale)
	}
	if version <= w.written {
		return nil
	}
	snap := &storage.Snapshot{Kind: SnapshotKind, ID: id, Data: data, Version: w.stored}
	if err := s.Put(context.Background(), snap); err != nil {
		if errors.Is(err, storage.ErrStale) {
			w.stale = true
		}
		return err
	}
	w.stored = snap.Version
	w.written = version
	return nil
}

// emit persists what must be persisted and sends evs. Milestones are sent
// only once the snapshot that records them is durable, so a crash can never
// make one fire twice; events after a held one wait with it to keep order.
func (g *grain) emit(ctx actor.Context, evs []Event, now time.Time, force bool) {
	if g.stale {
		return // superseded: this activation writes and sends nothing more
	}
	milestone := false
	if len(g.unrecorded) > 0 {
		g.recordMilestones(now)
	}
	for _, ev := range evs {
		if ev.Type == protocol.TypeProximityMilestone {
			milestone = true
			g.deps.Metrics.ProximityMilestones.Inc()
			g.recordMilestone(ev, now)
		}
	}
	mk := g.mark()
	due := force || milestone || mk.changedFrom(g.savedMark) ||
		(g.state.Accumulated() != g.savedMark.accumulated && !now.Before(g.savedAt.Add(g.deps.SnapshotEvery)))
	if due {
		g.version++
		g.savedMark, g.savedAt = mk, now
		g.save(ctx)
	}
	for _, ev := range evs {
		if ev.Type == protocol.TypeProximityUpdated {
			// Counted when made, not when sent: an update held behind a
			// milestone must not make every tick think one is overdue.
			g.lastUpdate = now
		}
		if milestone || len(g.held) > 0 {
			g.held = append(g.held, heldEvent{version: g.version, ev: ev})
			continue
		}
		g.send(ctx, ev, now, g.origin)
	}
	g.arm(ctx, now)
}

func (g *grain) mark() mark {
	return mark{
		status: g.state.Status(), runs: g.state.RunCount(), milestones: len(g.state.Unlocked()),
		closed: g.state.Closed(), risk: g.state.Risk(), accumulated: g.state.Accumulated(),
	}
}

func (m mark) changedFrom(o mark) bool {
	return m.status != o.status || m.runs != o.runs || m.milestones != o.milestones || m.closed != o.closed || m.risk != o.risk
}

// unsaved reports accumulated time not yet asked to be written.
func (g *grain) unsaved() bool {
	return g.state != nil && g.state.Accumulated() != g.savedMark.accumulated
}

// save starts the write of the current snapshot unless one is in flight;
// onSaved starts the next one when the version moved meanwhile.
func (g *grain) save(ctx actor.Context) {
	if g.saving || g.stale {
		return
	}
	data, err := json.Marshal(g.state.Snapshot())
	if err != nil {
		g.deps.Logger.Error("proximity grain: encode snapshot", "connection", g.connID, "err", err)
		return
	}
	g.saving = true
	version, self, sys, w, store, id := g.version, ctx.Self(), ctx.ActorSystem(), g.w, g.deps.Store.Snapshots(), g.connID
	go func() {
		err := w.put(store, id, version, data)
		sys.Root.Send(self, saved{version: version, err: err})
	}()
}

func (g *grain) onSaved(ctx actor.Context, m saved) {
	if errors.Is(m.err, storage.ErrStale) {
		// Never retried: another activation wrote since this one loaded.
		g.saving = false
		g.superseded(ctx, m.err)
		return
	}
	if errors.Is(m.err, errRetry) {
		g.saving = false
		g.save(ctx)
		return
	}
	if errors.Is(m.err, storage.ErrClosed) {
		return // shutting down: the final snapshot was written by Stopping
	}
	if m.err != nil {
		// Keep saving set so nothing overlaps the retry; held events wait.
		g.deps.Logger.Error("proximity grain: save snapshot", "connection", g.connID, "err", m.err)
		self, sys := ctx.Self(), ctx.ActorSystem()
		g.deps.Clock.AfterFunc(retryDelay, func() { sys.Root.Send(self, saved{err: errRetry}) })
		return
	}
	g.saving = false
	now := g.deps.Clock.Now()
	n := 0
	for _, h := range g.held {
		if h.version > m.version {
			break
		}
		g.send(ctx, h.ev, now, origin{})
		n++
	}
	g.held = g.held[n:]
	if m.version < g.version {
		g.save(ctx)
	}
}

var errRetry = errors.New("retry")

// flushSync writes the latest state before the grain stops (passivation
// or shutdown) so a graceful stop loses nothing.
// It reports whether everything is on disk.
func (g *grain) flushSync() bool {
	if g.state == nil || (!g.unsaved() && g.w.done() >= g.version) {
		return true
	}
	g.version++
	data, err := json.Marshal(g.state.Snapshot())
	if err == nil {
		err = g.w.put(g.deps.Store.Snapshots(), g.connID, g.version, data)
	}
	if errors.Is(err, storage.ErrStale) {
		// The grain is stopping already; what waited for this write is
		// dropped (see superseded).
		g.stale = true
		g.deps.Logger.Warn("proximity grain: final snapshot refused as stale, another activation wrote since", "connection", g.connID, "err", err)
		g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindProximity).Inc()
		g.held = nil
		return false
	}
	if err != nil {
		g.deps.Logger.Error("proximity grain: final snapshot", "connection", g.connID, "err", err)
		return false
	}
	return true
}

// recordMilestone hands a milestone to the reward campaigns before its
// snapshot is written: once recorded it grants even if this node dies
// before the snapshot lands. A milestone lost with such a crash is
// crossed again and recorded again; the grant is once per pair anyway.
func (g *grain) recordMilestone(ev Event, now time.Time) {
	m, ok := ev.Payload.(protocol.ProximityMilestone)
	if !ok || g.deps.Milestone == nil {
		return
	}
	g.unrecorded = append(g.unrecorded, m.Milestone)
	g.recordMilestones(now)
}

// recordMilestones records the milestones not recorded yet. One that fails
// (the store is failing) is tried again at the next emit, so a passing
// store error delays a grant rather than losing it.
func (g *grain) recordMilestones(now time.Time) {
	pairID := storage.PairID(g.state.UserA, g.state.UserB)
	left := g.unrecorded[:0]
	for _, m := range g.unrecorded {
		if err := g.deps.Milestone(context.Background(), pairID, g.connID, m, now); err != nil {
			g.deps.Logger.Error("proximity grain: record milestone for rewards, will retry", "connection", g.connID, "milestone", m, "err", err)
			left = append(left, m)
		}
	}
	g.unrecorded = left
}
