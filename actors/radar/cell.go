package radar

import (
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
)

// CellDeps are shared by every Cell grain of a node.
type CellDeps struct {
	Dir     *Directory
	Clock   clock.Clock
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// PresenceTTL: an entry older than this is not live; a fresh update of a
	// stale entry is news to watchers even when the position is unchanged.
	PresenceTTL time.Duration
	Watchers    *Watchers
	// Passivation: an empty cell stops after this long.
	Passivation time.Duration
	// Membership names the other members, whose radar mirrors get every
	// change of the cell (see Mirror). Nil, or no peers: a cluster of one,
	// nothing is sent.
	Membership *cluster.Membership

	mirrors *mirrorPIDs // set by NewCellKind: one per node
}

// NewCellKind returns the Cell cluster kind. A cell's identity is its H3
// index in hex (CellID).
func NewCellKind(d CellDeps) *pcluster.Kind {
	return pcluster.NewKind(cluster.KindCell, cellProps(d))
}

// cellProps are the Cell grain's props without the cluster's middleware,
// which tests running grains in a plain actor system cannot have.
func cellProps(d CellDeps) *actor.Props {
	if d.Passivation <= 0 {
		d.Passivation = 5 * time.Minute
	}
	d.mirrors = &mirrorPIDs{}
	return actor.PropsFromProducer(func() actor.Actor {
		return &cellGrain{deps: d, members: map[string]*Entry{}}
	})
}

// CellID is the grain identity of an H3 cell.
func CellID(c h3.Cell) string { return c.String() }

type cellGrain struct {
	deps    CellDeps
	cell    h3.Cell
	id      string // CellID(cell)
	members map[string]*Entry

	// Replication to the other members' mirrors: every change is a
	// CellDelta numbered seq within this activation's epoch.
	epoch     uint64
	seq       uint64
	announced bool // a full delta went to the peers: later changes go as deltas

	// Hand-over from a previous activation on another member (see
	// handover.go): while it may still come, removes of absent users are
	// remembered so it cannot bring them back.
	born    time.Time
	removed map[string]struct{}
}

func (g *cellGrain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "cell grain", func() proto.Message {
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainPresence, "internal error")}
	})
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.id = m.Identity.Identity
		g.cell = h3.Cell(h3.IndexFromString(g.id))
		g.epoch, g.born = newEpoch(), g.deps.Clock.Now()
		g.deps.Dir.hosted.add(g.cell, ctx.Self())
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindCell).Inc()
		ctx.SetReceiveTimeout(g.deps.Passivation)
	case *actor.ReceiveTimeout:
		if len(g.members) == 0 {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopped:
		g.deps.Dir.store(g.cell, nil)
		g.deps.Dir.hosted.remove(g.cell, ctx.Self())
		g.handOver(ctx)
		g.replicate(ctx, &grainpb.CellDelta{Stopped: true})
	case *grainpb.CellUpsert:
		g.upsert(ctx, m.Entry)
		ctx.Respond(&grainpb.Ack{})
	case *grainpb.CellRemove:
		if _, ok := g.members[m.UserId]; ok {
			delete(g.members, m.UserId)
			g.publish()
			g.notify(ctx, m.UserId)
			g.replicate(ctx, &grainpb.CellDelta{Removes: []string{m.UserId}})
		} else {
			g.tombstone(m.UserId)
		}
		ctx.Respond(&grainpb.Ack{})
	case *grainpb.CellResync:
		g.sendFull(ctx, m.Address)
	case *grainpb.CellDelta:
		// Sent to a Cell grain, a delta is a hand-over from the cell's
		// previous activation (handover.go).
		g.takeOver(ctx, m)
	}
}

func (g *cellGrain) upsert(ctx actor.Context, pe *grainpb.CellEntry) {
	if pe == nil || pe.UserId == "" {
		return
	}
	e := EntryFromProto(pe)
	old := g.members[e.UserID]
	g.members[e.UserID] = e
	g.publish()
	if old == nil || newsworthy(old, e, g.deps.Clock.Now(), g.deps.PresenceTTL) {
		g.notify(ctx, e.UserID)
	}
	// Even a refresh that wakes nobody goes out: the newer timestamp is
	// what keeps the entry live on the other members' radars.
	g.replicate(ctx, &grainpb.CellDelta{Upserts: []*grainpb.CellEntry{pe}})
}

// newsworthy reports whether watchers could see a difference: a position or
// profile change, or a stale entry coming back to life. A phone re-sending
// the same position only refreshes the timestamp and wakes nobody.
func newsworthy(old, e *Entry, now time.Time, ttl time.Duration) bool {
	if old.Lat != e.Lat || old.Lng != e.Lng || string(old.UserJSON) != string(e.UserJSON) || !slices.Equal(old.Interests, e.Interests) {
		return true
	}
	return now.Sub(old.UpdatedAt) >= ttl
}

// publish replaces the cell's snapshot. Entries are immutable and shared, so
// a publish copies pointers only.
func (g *cellGrain) publish() {
	entries := make([]*Entry, 0, len(g.members))
	for _, e := range g.members {
		entries = append(entries, e)
	}
	g.deps.Dir.store(g.cell, NewSnapshot(entries))
}

// notify wakes the users watching this cell, except the one who changed (it
// got its answer directly): the cost of a change is the number of users
// watching near it, never all users, and a watcher already woken is not
// sent another message.
func (g *cellGrain) notify(ctx actor.Context, mover string) {
	n := g.deps.Watchers.Wake(g.cell, mover, func(w *Watcher) {
		ctx.Send(w.PID, &grainpb.RadarDirty{})
	})
	g.deps.Metrics.RadarNotifications.Add(float64(n))
}

// replicate sends a change (d's upserts, removes or stopped) to the mirror
// of every other member. The first one this activation sends is the whole
// content instead, so the mirrors need not ask for it. With no peers,
// nothing is built or sent: a cluster of one pays nothing.
//
// It is sent with Request although no answer comes: the envelope then
// names this activation, which is where a mirror that lost track sends its
// CellResync, without a cluster lookup.
func (g *cellGrain) replicate(ctx actor.Context, d *grainpb.CellDelta) {
	if !d.Stopped {
		g.seq++
	}
	peers := g.deps.Membership.Peers()
	if len(peers) == 0 {
		return
	}
	if !g.announced && !d.Stopped {
		d, g.announced = g.full(), true
	} else {
		d.Cell, d.Owner, d.Epoch, d.Seq = g.id, g.deps.Membership.Self(), g.epoch, g.seq
	}
	// One message for every peer: it is only read from here on.
	for _, p := range peers {
		ctx.Request(g.deps.mirrors.get(p), d)
	}
}

// sendFull sends the whole content to the mirror at address, as of the last
// change sent (seq is not advanced, so the other mirrors see no gap).
func (g *cellGrain) sendFull(ctx actor.Context, address string) {
	if address != "" {
		ctx.Request(g.deps.mirrors.get(address), g.full())
	}
}

func (g *cellGrain) full() *grainpb.CellDelta {
	d := &grainpb.CellDelta{Cell: g.id, Owner: g.deps.Membership.Self(), Epoch: g.epoch, Seq: g.seq, Full: true}
	d.Upserts = make([]*grainpb.CellEntry, 0, len(g.members))
	for _, e := range g.members {
		d.Upserts = append(d.Upserts, EntryToProto(e))
	}
	return d
}

// newEpoch names an activation: random, so two activations of a cell (on
// one member or two) never share one, whatever their clocks say.
func newEpoch() uint64 {
	for {
		if e := rand.Uint64(); e != 0 {
			return e
		}
	}
}

// mirrorPIDs are the PIDs of the other members' radar mirrors, kept
// because a PID caches its route once used. One per node (actor system):
// that route belongs to the system that resolved it.
type mirrorPIDs struct{ m sync.Map } // address -> *actor.PID

func (c *mirrorPIDs) get(address string) *actor.PID {
	if pid, ok := c.m.Load(address); ok {
		return pid.(*actor.PID)
	}
	pid, _ := c.m.LoadOrStore(address, cluster.PeerPID(address, MirrorName))
	return pid.(*actor.PID)
}

// EntryToProto is the wire form of a published entry.
func EntryToProto(e *Entry) *grainpb.CellEntry {
	return &grainpb.CellEntry{
		UserId: e.UserID, Lat: e.Lat, Lng: e.Lng,
		AccuracyMeters: e.AccuracyMeters, Heading: e.Heading, Speed: e.Speed,
		UpdatedUnixMs: e.UpdatedAt.UnixMilli(), UserJson: e.UserJSON, Interests: e.Interests,
	}
}

// EntryFromProto builds a published entry from its wire form.
func EntryFromProto(pe *grainpb.CellEntry) *Entry {
	return NewEntry(Entry{
		UserID: pe.UserId, Lat: pe.Lat, Lng: pe.Lng,
		AccuracyMeters: pe.AccuracyMeters, Heading: pe.Heading, Speed: pe.Speed,
		UpdatedAt: time.UnixMilli(pe.UpdatedUnixMs).UTC(),
		UserJSON:  pe.UserJson, Interests: pe.Interests,
	})
}
