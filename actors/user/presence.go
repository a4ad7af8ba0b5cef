package user

import (
	"context"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/wireerr"
)

// This file carries out the presence rules of presence_state.go: it sends
// the cell writes, moves the watches, arms the timers and pushes the radar.
// Nothing here decides anything.

// presenceTimer is the self-message of a presence timer (local only).
type presenceTimer struct{ t Timer }

// cellAnswer is a Cell grain's answer to an upsert (seq > 0) or a remove,
// or the failure to get one.
type cellAnswer struct {
	cell   h3.Cell
	seq    uint64
	remove bool
	err    error
}

// apply carries out the effects of one presence call.
func (g *grain) apply(ctx actor.Context, fx []Effect) {
	if len(fx) == 0 {
		return
	}
	// fx is the state machine's buffer, reused by its next call: work on a
	// copy, on the stack for the usual few effects, so no grain keeps one.
	var small [4]Effect
	work := append(small[:0], fx...)
	for i := range work {
		e := &work[i]
		switch e.Op {
		case OpUpsert:
			g.writeCell(ctx, e.Cell, e.Seq, &grainpb.CellUpsert{Entry: g.entry()})
		case OpRemove:
			g.writeCell(ctx, e.Cell, 0, &grainpb.CellRemove{UserId: g.id})
		case OpWatch:
			if g.watcher == nil {
				g.watcher = radar.NewWatcher(g.id, ctx.Self())
			}
			g.deps.Watchers.Move(g.watcher, e.Old, e.Cover)
		case OpArm:
			g.armPresence(ctx, e.At, e.Timer)
		case OpPush:
			g.push(ctx)
		case OpOnline:
			g.announcePresence(ctx, protocol.EventUserOnline)
		case OpOffline:
			g.announcePresence(ctx, protocol.EventUserOffline)
		}
	}
}

// armPresence delivers a presence timer to the grain at clock time at.
func (g *grain) armPresence(ctx actor.Context, at time.Time, t Timer) {
	self, sys := ctx.Self(), ctx.ActorSystem()
	g.deps.Clock.AfterFunc(max(at.Sub(g.now()), 0), func() { sys.Root.Send(self, presenceTimer{t}) })
}

// writeCell sends a write to a Cell grain without waiting for it: the
// answer comes back through ReenterAfter while the grain serves other
// messages (the user's next update, a watcher's wake-up).
func (g *grain) writeCell(ctx actor.Context, cell h3.Cell, seq uint64, msg proto.Message) {
	cluster.Request(ctx, cluster.KindCell, radar.CellID(cell), msg, g.deps.CellTimeout, func(ack *grainpb.Ack, err error) {
		// A continuation runs outside Receive and its recover: a panic here
		// would restart the grain without its state.
		defer cluster.Recover(ctx, g.deps.Logger, "user grain: cell answer", nil)
		if err == nil {
			err = ack.Failure.Err()
		}
		g.cellAnswered(ctx, cellAnswer{cell: cell, seq: seq, remove: seq == 0, err: err})
	})
}

func (g *grain) cellAnswered(ctx actor.Context, a cellAnswer) {
	if errors.Is(a.err, actor.ErrDeadLetter) || errors.Is(a.err, remote.ErrDeadLetter) {
		// The cell stopped (it passivates only when empty): the next write
		// goes to a fresh activation, and a remove has nothing to do.
		pcluster.GetCluster(ctx.ActorSystem()).PidCache.Remove(radar.CellID(a.cell), cluster.KindCell)
		if a.remove {
			a.err = nil
		}
	}
	if a.err != nil {
		g.deps.Logger.Warn("user grain: cell write failed, will retry", "user", g.id, "cell", radar.CellID(a.cell), "remove", a.remove, "err", a.err)
	}
	now := g.now()
	if a.remove {
		g.apply(ctx, g.pres.Removed(now, a.cell, a.err != nil))
	} else {
		g.apply(ctx, g.pres.Upserted(now, a.cell, a.seq, a.err != nil))
	}
}

func (g *grain) entry() *grainpb.CellEntry {
	l := g.pres.Location()
	p := g.profile(g.now())
	return &grainpb.CellEntry{
		UserId: g.id, Lat: l.Lat, Lng: l.Lng, AccuracyMeters: l.AccuracyMeters, Heading: l.Heading, Speed: l.Speed,
		UpdatedUnixMs: g.pres.LocatedAt().UnixMilli(), UserJson: p.json, Interests: p.interests,
	}
}

func (g *grain) updateLocation(ctx actor.Context, m *grainpb.UpdateLocation) *grainpb.PresenceReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.PresenceReply{Failure: f}
	}
	now := g.now()
	g.apply(ctx, g.pres.Locate(now, &protocol.Location{
		Lat: m.Lat, Lng: m.Lng, AccuracyMeters: m.AccuracyMeters, Heading: m.Heading, Speed: m.Speed,
		UpdatedAt: protocol.FormatTime(now),
	}))
	return g.presenceReply(now)
}

func (g *grain) setVisible(ctx actor.Context, m *grainpb.SetVisible) *grainpb.PresenceReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.PresenceReply{Failure: f}
	}
	now := g.now()
	if g.state.User.HiddenFromRadar == m.Visible {
		next := g.state.User
		next.HiddenFromRadar, next.UpdatedAt = !m.Visible, now
		if err := g.deps.Store.Users().Put(context.Background(), &next); err != nil {
			if errors.Is(err, storage.ErrStale) {
				g.superseded(ctx, "save visibility", err)
				return &grainpb.PresenceReply{Failure: grainpb.Stale(protocol.DomainPresence)}
			}
			g.deps.Logger.Error("user grain: save visibility", "user", g.id, "err", err)
			return &grainpb.PresenceReply{Failure: wireerr.Failure(err, protocol.DomainPresence, "visibility could not be saved")}
		}
		g.setUser(next)
	}
	g.apply(ctx, g.pres.SetHidden(now, g.state.User.HiddenFromRadar))
	return g.presenceReply(now)
}

// presenceReply answers the sender with its presence and its radar, and
// counts that radar as shown so a wake-up right after does not repeat it.
func (g *grain) presenceReply(now time.Time) *grainpb.PresenceReply {
	hits, interests := g.nearby(now)
	g.pres.Shown(now, radar.Fingerprint(hits, interests))
	p := protocol.PresencePayload{UserID: g.id, Presence: g.presenceState(now)}
	return &grainpb.PresenceReply{
		PresenceJson: protocol.AppendPresencePayload(make([]byte, 0, 256), &p),
		NearbyFrame:  nearbyFrame(hits, interests, 2*protocol.MaxIDLength),
	}
}

// nearbyFrame writes a radar.nearby.updated frame up to the end of its
// payload, with room for the tail (and ids up to idRoom bytes) so that
// finishing it does not copy the ~16 KB payload again.
func nearbyFrame(hits []radar.Hit, interests []string, idRoom int) []byte {
	b := make([]byte, 0, 96+len(hits)*400+protocol.FrameTailMax+idRoom)
	b = protocol.AppendFrameHead(b, protocol.TypeRadarNearby)
	return radar.AppendNearbyPayload(b, hits, interests)
}

func (g *grain) presenceState(now time.Time) protocol.Presence {
	return protocol.Presence{IsLive: g.pres.Live(now), IsOnRadar: !g.state.User.HiddenFromRadar, Location: g.pres.Location()}
}

// nearby runs the viewer's radar query, returning the hits and the viewer's
// interests. A viewer with no fresh location sees nobody: distances from a
// stale point would mislead.
func (g *grain) nearby(now time.Time) ([]radar.Hit, []string) {
	interests := g.profile(now).interests
	if !g.pres.Fresh(now) {
		return nil, interests
	}
	l := g.pres.Location()
	// The cover's slots are resolved once per cell the user stands in: a
	// walker's queries then read their snapshots with atomic loads only.
	if cell := g.deps.Grid.Cell(l.Lat, l.Lng); cell != g.coverCell || g.coverSlots == nil {
		g.coverSlots = g.deps.Dir.Slots(g.deps.Grid.Cover(cell), g.coverSlots[:0])
		g.coverCell = cell
	}
	// The buffer is the grain's, reused by every query; cleared after, so
	// it does not keep replaced snapshots alive.
	g.snaps = radar.SlotSnapshots(g.coverSlots, g.snaps[:0])
	ttl := g.deps.PresenceTTL
	hits := radar.Query(l.Lat, l.Lng, g.deps.Grid.RadiusM, g.deps.RadarLimit, g.snaps, func(e *radar.Entry) bool {
		return e.UserID != g.id && !g.state.Hidden(e.UserID) && now.Sub(e.UpdatedAt) < ttl
	})
	clear(g.snaps)
	return hits, interests
}

// radarChanged wakes the user's own radar: something that decides what it
// sees (a block, its own vibe, a neighbour) changed.
func (g *grain) radarChanged(ctx actor.Context) {
	g.apply(ctx, g.pres.Wake(g.now()))
}

// announcePresence tells every user who shares an active chat with this
// one, and is not blocked either way, that it came online or went
// offline: user-online/-offline on their legacy sockets (the `/ws`
// dialect reads presence from the Connection model's isOnline instead).
// Chats are 1:1, so the chats two users share is the one of their pair.
func (g *grain) announcePresence(ctx actor.Context, event string) {
	c := context.Background()
	pairs, err := g.deps.Store.Pairs().Of(c, g.id)
	if err != nil {
		if !errors.Is(err, storage.ErrClosed) { // a grace that ran out during shutdown
			g.deps.Logger.Error("user grain: list pairs for presence", "user", g.id, "err", err)
		}
		return
	}
	me := protocol.ChatUserOf(Wire(&g.state.User, g.now()))
	for _, id := range pairs {
		p, err := g.deps.Store.Pairs().Get(c, id)
		if err != nil {
			g.deps.Logger.Error("user grain: read pair for presence", "user", g.id, "pair", id, "err", err)
			continue
		}
		other := p.UserA
		if other == g.id {
			other = p.UserB
		}
		if p.ActiveConnection() == nil || g.state.Hidden(other) {
			continue
		}
		chat := storage.ChatID(id)
		frame, err := protocol.EncodeLegacyFrame(event, protocol.LegacyPresence{User: me, Chats: []string{chat}, Chat: chat})
		if err != nil {
			continue
		}
		cluster.SendIn(ctx, cluster.KindUser, other, &grainpb.Deliver{LegacyFrame: frame, Type: event})
	}
}

// push sends radar.nearby.updated when the result differs from the last
// one the user saw.
func (g *grain) push(ctx actor.Context) {
	// Changes from here on wake us again.
	g.watcher.Clean()
	now := g.now()
	hits, interests := g.nearby(now)
	if !g.pres.Shown(now, radar.Fingerprint(hits, interests)) {
		return
	}
	frame := protocol.AppendFrameTail(nearbyFrame(hits, interests, 0), now, "", "")
	g.deps.Metrics.RadarPushes.Inc()
	g.deliver(ctx, protocol.TypeRadarNearby, frame, "")
}
