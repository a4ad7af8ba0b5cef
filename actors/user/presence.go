package user

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// presence is the User grain's live, in-memory view of where the user is.
// Nothing here is stored: after a restart users are simply not live until
// their phones send a location again.
type presence struct {
	loc      *protocol.Location // last location as reported, nil if none yet
	at       time.Time          // server time of that location
	cell     h3.Cell            // cell holding our entry; 0 when not on the radar
	cover    []h3.Cell          // cells we watch; nil when not watching
	watcher  *radar.Watcher     // our registration in the node's watcher index
	graceEnd time.Time          // when the last socket closed plus the reconnect grace

	staleArmed, graceArmed bool

	pushPending bool
	lastPush    time.Time
	lastFP      uint64
}

// Self-messages of the grain's timers (local only).
type (
	staleCheck struct{}
	graceCheck struct{}
	radarPush  struct{}
)

// connected: a socket is open, or closed less than the grace ago.
func (g *grain) connected(now time.Time) bool {
	return len(g.state.Sessions) > 0 || now.Before(g.pres.graceEnd)
}

func (g *grain) fresh(now time.Time) bool {
	return g.pres.loc != nil && now.Sub(g.pres.at) < g.deps.PresenceTTL
}

// live is SPEC-NOTES' definition: an open socket and a recent location.
func (g *grain) live(now time.Time) bool {
	return !g.state.User.Deleted() && g.connected(now) && g.fresh(now)
}

// after delivers msg to the grain itself once d of process-clock time passed.
func (g *grain) after(ctx actor.Context, d time.Duration, msg any) {
	self, sys := ctx.Self(), ctx.ActorSystem()
	g.deps.Clock.AfterFunc(d, func() { sys.Root.Send(self, msg) })
}

func (g *grain) updateLocation(ctx actor.Context, m *grainpb.UpdateLocation) *grainpb.PresenceReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.PresenceReply{Failure: f}
	}
	now := g.now()
	g.pres.loc = &protocol.Location{
		Lat: m.Lat, Lng: m.Lng, AccuracyMeters: m.AccuracyMeters, Heading: m.Heading, Speed: m.Speed,
		UpdatedAt: protocol.FormatTime(now),
	}
	g.pres.at = now
	if !g.pres.staleArmed {
		g.pres.staleArmed = true
		g.after(ctx, g.deps.PresenceTTL, staleCheck{})
	}
	if err := g.syncRadar(ctx, true); err != nil {
		g.deps.Logger.Error("user grain: radar sync", "user", g.id, "err", err)
		return &grainpb.PresenceReply{Failure: grainpb.Fail(protocol.CodeUnavailable, protocol.DomainPresence, "radar busy, try again")}
	}
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
			g.deps.Logger.Error("user grain: save visibility", "user", g.id, "err", err)
			return &grainpb.PresenceReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainPresence, "visibility could not be saved")}
		}
		g.state.User = next
	}
	if err := g.syncRadar(ctx, false); err != nil {
		g.deps.Logger.Error("user grain: radar sync", "user", g.id, "err", err)
		return &grainpb.PresenceReply{Failure: grainpb.Fail(protocol.CodeUnavailable, protocol.DomainPresence, "radar busy, try again")}
	}
	return g.presenceReply(now)
}

// presenceReply answers the sender with its presence and its radar, and
// counts that radar as pushed so a wake-up right after does not repeat it.
func (g *grain) presenceReply(now time.Time) *grainpb.PresenceReply {
	hits, interests := g.nearby(now)
	g.pres.lastFP, g.pres.lastPush = radar.Fingerprint(hits, interests), now
	return &grainpb.PresenceReply{PresenceJson: g.presenceJSON(now), NearbyJson: nearbyPayload(hits, interests)}
}

// nearbyPayload is the radar.nearby.updated payload.
func nearbyPayload(hits []radar.Hit, interests []string) []byte {
	b := make([]byte, 0, 64+len(hits)*400)
	b = append(b, `{"nearbyUsers":`...)
	b = radar.AppendNearby(b, hits, interests)
	return append(b, '}')
}

func (g *grain) presenceState(now time.Time) protocol.Presence {
	return protocol.Presence{IsLive: g.live(now), IsOnRadar: !g.state.User.HiddenFromRadar, Location: g.pres.loc}
}

func (g *grain) presenceJSON(now time.Time) []byte {
	b, _ := json.Marshal(protocol.PresencePayload{UserID: g.id, Presence: g.presenceState(now)})
	return b
}

// nearby runs the viewer's radar query, returning the hits and the viewer's
// interests. A viewer with no fresh location sees nobody: distances from a
// stale point would mislead.
func (g *grain) nearby(now time.Time) ([]radar.Hit, []string) {
	interests := g.interests(now)
	if !g.fresh(now) {
		return nil, interests
	}
	lat, lng := g.pres.loc.Lat, g.pres.loc.Lng
	cells := g.deps.Grid.Cover(g.deps.Grid.Cell(lat, lng))
	snaps := g.deps.Dir.Snapshots(cells, make([]*radar.Snapshot, 0, len(cells)))
	ttl := g.deps.PresenceTTL
	hits := radar.Query(lat, lng, g.deps.Grid.RadiusM, g.deps.RadarLimit, snaps, func(e *radar.Entry) bool {
		return e.UserID != g.id && !g.state.Hidden(e.UserID) && now.Sub(e.UpdatedAt) < ttl
	})
	return hits, interests
}

func (g *grain) interests(now time.Time) []string {
	w := Wire(&g.state.User, now)
	if w.Vibe == nil {
		return nil
	}
	return radar.Interests(*w.Vibe)
}

// syncRadar brings the cells in line with the user's state: the entry sits
// in the cell of its position while the user is live and visible, and the
// user watches the cells its radar covers while live. The new cell is
// written before the old one is cleared, so readers never miss the user.
func (g *grain) syncRadar(ctx actor.Context, entryChanged bool) error {
	now := g.now()
	live := g.live(now)
	var target, here h3.Cell
	if live {
		here = g.deps.Grid.Cell(g.pres.loc.Lat, g.pres.loc.Lng)
		if !g.state.User.HiddenFromRadar {
			target = here
		}
	}
	timeout := 5 * time.Second
	if target != 0 && (entryChanged || target != g.pres.cell) {
		rep, err := cluster.CallIn[*grainpb.Ack](ctx, timeout, cluster.KindCell, radar.CellID(target), &grainpb.CellUpsert{Entry: g.entry(now)})
		if err != nil {
			return err
		}
		if err := rep.Failure.Err(); err != nil {
			return err
		}
	}
	if g.pres.cell != 0 && g.pres.cell != target {
		if _, err := cluster.CallIn[*grainpb.Ack](ctx, timeout, cluster.KindCell, radar.CellID(g.pres.cell), &grainpb.CellRemove{UserId: g.id}); err != nil {
			return err
		}
	}
	g.pres.cell = target

	var cover []h3.Cell
	if live {
		cover = g.deps.Grid.Cover(here)
	}
	g.rewatch(ctx, cover)
	return nil
}

// rewatch moves the user's subscriptions from its old cover to the new one.
func (g *grain) rewatch(ctx actor.Context, cover []h3.Cell) {
	if slices.Equal(g.pres.cover, cover) {
		return
	}
	if g.pres.watcher == nil {
		g.pres.watcher = radar.NewWatcher(g.id, ctx.Self())
	}
	g.deps.Watchers.Move(g.pres.watcher, g.pres.cover, cover)
	g.pres.cover = cover
}

func (g *grain) entry(now time.Time) *grainpb.CellEntry {
	l := g.pres.loc
	return &grainpb.CellEntry{
		UserId: g.id, Lat: l.Lat, Lng: l.Lng, AccuracyMeters: l.AccuracyMeters, Heading: l.Heading, Speed: l.Speed,
		UpdatedUnixMs: g.pres.at.UnixMilli(), UserJson: g.userJSON(), Interests: g.interests(now),
	}
}

// radarChanged wakes the user's own radar: something that decides what it
// sees (a block, its own vibe) changed.
func (g *grain) radarChanged(ctx actor.Context) {
	if g.pres.cover == nil || g.pres.pushPending {
		return
	}
	g.pres.pushPending = true
	wait := g.pres.lastPush.Add(g.deps.RadarInterval).Sub(g.now())
	if wait < 0 {
		wait = 0
	}
	g.after(ctx, wait, radarPush{})
}

// push sends radar.nearby.updated when the result differs from the last
// one the user saw.
func (g *grain) push(ctx actor.Context) {
	g.pres.pushPending = false
	if g.pres.cover == nil {
		return
	}
	// Changes from here on wake us again.
	g.pres.watcher.Clean()
	now := g.now()
	hits, interests := g.nearby(now)
	fp := radar.Fingerprint(hits, interests)
	g.pres.lastPush = now
	if fp == g.pres.lastFP {
		return
	}
	g.pres.lastFP = fp
	frame := protocol.EncodeRawFrame(protocol.TypeRadarNearby, nearbyPayload(hits, interests), now, "", "")
	g.deps.Metrics.RadarPushes.Inc()
	g.deliver(ctx, protocol.TypeRadarNearby, frame, "")
}

func (g *grain) onStaleCheck(ctx actor.Context) {
	g.pres.staleArmed = false
	if g.pres.loc == nil {
		return
	}
	if left := g.pres.at.Add(g.deps.PresenceTTL).Sub(g.now()); left > 0 {
		g.pres.staleArmed = true
		g.after(ctx, left, staleCheck{})
		return
	}
	g.resync(ctx)
}

func (g *grain) onGraceCheck(ctx actor.Context) {
	g.pres.graceArmed = false
	if len(g.state.Sessions) > 0 || g.pres.graceEnd.IsZero() {
		return
	}
	if left := g.pres.graceEnd.Sub(g.now()); left > 0 {
		g.pres.graceArmed = true
		g.after(ctx, left, graceCheck{})
		return
	}
	g.pres.graceEnd = time.Time{}
	g.resync(ctx)
}

// lastSessionLeft starts the reconnect grace: the user stays on radars a
// little longer so a flaky network does not make it blink out and back.
func (g *grain) lastSessionLeft(ctx actor.Context) {
	g.pres.graceEnd = g.now().Add(g.deps.ReconnectGrace)
	if g.deps.ReconnectGrace <= 0 {
		g.pres.graceEnd = time.Time{}
		g.resync(ctx)
		return
	}
	if !g.pres.graceArmed {
		g.pres.graceArmed = true
		g.after(ctx, g.deps.ReconnectGrace, graceCheck{})
	}
}

// resync is syncRadar where a failure can only be logged; the next location
// update or timer repairs it.
func (g *grain) resync(ctx actor.Context) {
	if err := g.syncRadar(ctx, false); err != nil {
		g.deps.Logger.Warn("user grain: radar sync", "user", g.id, "err", err)
	}
}
