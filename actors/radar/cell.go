package radar

import (
	"log/slog"
	"slices"
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
}

// NewCellKind returns the Cell cluster kind. A cell's identity is its H3
// index in hex (CellID).
func NewCellKind(d CellDeps) *pcluster.Kind {
	if d.Passivation <= 0 {
		d.Passivation = 5 * time.Minute
	}
	return pcluster.NewKind(cluster.KindCell, actor.PropsFromProducer(func() actor.Actor {
		return &cellGrain{deps: d, members: map[string]*Entry{}}
	}))
}

// CellID is the grain identity of an H3 cell.
func CellID(c h3.Cell) string { return c.String() }

type cellGrain struct {
	deps    CellDeps
	cell    h3.Cell
	members map[string]*Entry
}

func (g *cellGrain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "cell grain", func() proto.Message {
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainPresence, "internal error")}
	})
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.cell = h3.Cell(h3.IndexFromString(m.Identity.Identity))
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindCell).Inc()
		ctx.SetReceiveTimeout(g.deps.Passivation)
	case *actor.ReceiveTimeout:
		if len(g.members) == 0 {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopped:
		g.deps.Dir.store(g.cell, nil)
	case *grainpb.CellUpsert:
		g.upsert(ctx, m.Entry)
		ctx.Respond(&grainpb.Ack{})
	case *grainpb.CellRemove:
		if _, ok := g.members[m.UserId]; ok {
			delete(g.members, m.UserId)
			g.publish()
			g.notify(ctx, m.UserId)
		}
		ctx.Respond(&grainpb.Ack{})
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
	if old == nil || g.newsworthy(old, e) {
		g.notify(ctx, e.UserID)
	}
}

// newsworthy reports whether watchers could see a difference: a position or
// profile change, or a stale entry coming back to life. A phone re-sending
// the same position only refreshes the timestamp and wakes nobody.
func (g *cellGrain) newsworthy(old, e *Entry) bool {
	if old.Lat != e.Lat || old.Lng != e.Lng || string(old.UserJSON) != string(e.UserJSON) || !slices.Equal(old.Interests, e.Interests) {
		return true
	}
	return g.deps.Clock.Now().Sub(old.UpdatedAt) >= g.deps.PresenceTTL
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

// EntryFromProto builds a published entry from its wire form.
func EntryFromProto(pe *grainpb.CellEntry) *Entry {
	return NewEntry(Entry{
		UserID: pe.UserId, Lat: pe.Lat, Lng: pe.Lng,
		AccuracyMeters: pe.AccuracyMeters, Heading: pe.Heading, Speed: pe.Speed,
		UpdatedAt: time.UnixMilli(pe.UpdatedUnixMs).UTC(),
		UserJSON:  pe.UserJson, Interests: pe.Interests,
	})
}
