package pair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// ReminderExpire names the request-expiry reminder of a pair.
const ReminderExpire = "expire"

// Deps are shared by every Pair grain of a node.
type Deps struct {
	Store      storage.Store
	Clock      clock.Clock
	Reminders  user.Reminders
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	RequestTTL time.Duration
	// Online reports whether a user has an open socket (Connection.isOnline).
	Online func(userID string) bool
	// Notify pushes to users with no open socket; nil when push is off.
	Notify Notifier
	// Progress reads a connection's verified together-time for viewer:
	// accumulated minutes and the next milestone (nil when none is left).
	// Nil leaves 0 and the first of Milestones.
	Progress func(ctx context.Context, c *storage.Connection, viewer string) (int, *int)
	// Milestones are the together-time milestones in minutes, ascending.
	Milestones []int
}

// together fills a Connection view's together-time. A connection just
// accepted has none yet, so it needs no question to proximity.
func (d Deps) together(ctx context.Context, v *ConnectionView, c *storage.Connection, viewer string, fresh bool) {
	if d.Progress != nil && !fresh {
		v.AccumulatedMinutes, v.NextMilestoneMinutes = d.Progress(ctx, c, viewer)
		return
	}
	if len(d.Milestones) > 0 {
		first := d.Milestones[0]
		v.NextMilestoneMinutes = &first
	}
}

// NewKind returns the Pair cluster kind.
func NewKind(d Deps) *pcluster.Kind {
	return pcluster.NewKind(cluster.KindPair, actor.PropsFromProducer(func() actor.Actor { return &grain{deps: d} }))
}

type grain struct {
	deps    Deps
	state   *State
	loadErr error
	lastSeq uint64   // last message number of the conversation; 0 = read it from the store
	queue   []queued // messages numbered, waiting for the writer
	writing bool     // a batch commit is in flight
}

func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "pair grain", func() proto.Message {
		return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainConnections, "internal error")}
	})
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.load(m.Identity.Identity)
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindPair).Inc()
		ctx.SetReceiveTimeout(5 * time.Minute)
	case *actor.ReceiveTimeout:
		if !g.writing && len(g.queue) == 0 {
			ctx.Poison(ctx.Self())
		}
	case *grainpb.PairCommand:
		if m.Op == "message" {
			g.queueMessage(ctx, m) // answered once stored
			return
		}
		ctx.Respond(g.command(ctx, m))
	case appendDone:
		g.appended(ctx, m)
	case *grainpb.EndPair:
		g.command(ctx, &grainpb.PairCommand{Op: "end", ActorId: m.ActorId, Reason: m.Reason})
	case *grainpb.ReminderFired:
		rep := g.command(ctx, &grainpb.PairCommand{Op: "expire"})
		ctx.Respond(&grainpb.Ack{Failure: rep.Failure})
	}
}

func (g *grain) load(id string) {
	a, b, ok := strings.Cut(id, "|")
	if !ok || a == "" || b == "" || storage.PairID(a, b) != id {
		g.loadErr = fmt.Errorf("pair grain: bad identity %q", id)
		return
	}
	p, err := g.deps.Store.Pairs().Get(context.Background(), id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g.state = New(a, b)
	case err != nil:
		g.loadErr = err
		g.deps.Logger.Error("pair grain: load", "pair", id, "err", err)
	default:
		g.state = &State{Pair: *p}
	}
}

func (g *grain) command(ctx actor.Context, m *grainpb.PairCommand) *grainpb.PairReply {
	if g.loadErr != nil {
		g.loadErr = nil
		g.load(ctx.Self().Id) // retry on the next command
		if g.state == nil {
			return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainConnections, "pair unavailable")}
		}
	}
	now := g.deps.Clock.Now()
	before := g.snapshot()
	var (
		evs    []Event
		perr   *protocol.Error
		answer func(viewer string) any
	)
	switch m.Op {
	case "send":
		guards, err := g.guards(m.ActorId, m.TargetId)
		if err != nil {
			return internal(err)
		}
		var r *storage.Request
		r, evs, perr = g.state.Send(m.ActorId, m.TargetId, guards, now, g.deps.RequestTTL)
		if perr == nil {
			answer = func(v string) any { return g.payload(ctx, Event{Type: protocol.TypeRequestSend, Request: r}, v) }
		}
	case "accept":
		loc := g.meetingPoint(ctx)
		_, evs, perr = g.state.Accept(m.ActorId, m.RequestId, loc, now)
		if perr == nil {
			ev := evs[len(evs)-1]
			answer = func(v string) any { return g.payload(ctx, ev, v) }
		}
	case "reject", "cancel":
		if m.Op == "reject" {
			_, evs, perr = g.state.Reject(m.ActorId, m.RequestId, now)
		} else {
			_, evs, perr = g.state.Cancel(m.ActorId, m.RequestId, now)
		}
		if perr == nil {
			ev := evs[len(evs)-1]
			answer = func(v string) any { return g.payload(ctx, ev, v) }
		}
	case "close":
		_, evs, perr = g.state.Close(m.ActorId, m.ConnectionId, m.Reason, now)
		if perr == nil {
			ev := evs[len(evs)-1]
			answer = func(v string) any { return g.payload(ctx, ev, v) }
		}
	case "ring":
		if _, perr = g.state.Ring(m.ActorId, now); perr == nil {
			from := g.profile(m.ActorId, now)
			to := g.state.Other(m.ActorId)
			g.deliverTo(ctx, to, protocol.TypeConnectionRing, map[string]any{"fromUserId": m.ActorId, "recipientId": to, "fromUser": from}, "")
			answer = func(string) any {
				return map[string]any{"status": "sent", "fromUserId": m.ActorId, "recipientId": to, "fromUser": from}
			}
		}
	case "read":
		return g.read(ctx, m)
	case "relay":
		return g.relay(ctx, m)
	case "end":
		evs = g.state.End(m.ActorId, m.Reason, now)
	case "expire":
		evs = g.state.Expire(now)
	default:
		return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInvalidPayload, protocol.DomainConnections, "unknown pair operation")}
	}

	// Store before anyone hears of it: an acknowledged change survives a crash.
	if changed := g.snapshot() != before; changed {
		if err := g.deps.Store.Pairs().Save(context.Background(), &g.state.Pair); err != nil {
			g.deps.Logger.Error("pair grain: save", "pair", g.state.ID, "err", err)
			g.load(g.state.ID) // drop the unsaved change
			return internal(err)
		}
	}
	g.reminder(now)
	for _, ev := range evs {
		if ev.Type == protocol.TypeConnClose {
			// Proximity ends with the connection and retires its tokens. A
			// message lost to a crash is made up when the grain next loads.
			cluster.SendIn(ctx, cluster.KindProximity, ev.Connection.ID, &grainpb.ConnectionClosed{})
		}
	}

	// Events the actor caused reach its other sockets; its own socket gets
	// the answer. Side events (a request found missed) reach every socket.
	for _, ev := range evs {
		for _, u := range []string{g.state.UserA, g.state.UserB} {
			except := ""
			if u == m.ActorId && answer != nil && ev.By == m.ActorId {
				except = m.OriginSessionId
			}
			g.deliverTo(ctx, u, ev.Type, g.payload(ctx, ev, u), except)
		}
	}
	if perr == nil {
		g.pushOffline(m, evs, now)
	}
	if perr != nil {
		rep := failReply(perr)
		if r, ok := perr.Details.(*storage.Request); ok {
			rep.DetailsJson, _ = json.Marshal(ViewRequest(r, m.ActorId, g.profile(g.state.Other(m.ActorId), now)))
		}
		return rep
	}
	rep := &grainpb.PairReply{}
	if answer != nil {
		rep.PayloadJson, _ = json.Marshal(answer(m.ActorId))
	}
	return rep
}

// pushOffline notifies the other user when it has no socket open: a new
// request, an accepted request, a ring.
func (g *grain) pushOffline(m *grainpb.PairCommand, evs []Event, now time.Time) {
	if g.deps.Notify == nil {
		return
	}
	to := g.state.Other(m.ActorId)
	if g.deps.Online != nil && g.deps.Online(to) {
		return
	}
	name := g.profile(m.ActorId, now).Name
	switch {
	case m.Op == "ring":
		g.deps.Notify(to, "ring", name, name+" is ringing you", map[string]string{"fromUserId": m.ActorId})
	case m.Op == "send" && len(evs) > 0 && evs[len(evs)-1].Type == protocol.TypeRequestSend:
		g.deps.Notify(to, "request", name, name+" wants to connect", map[string]string{"requestId": evs[len(evs)-1].Request.ID})
	case m.Op == "accept" && len(evs) > 0 && evs[len(evs)-1].Type == protocol.TypeRequestAccept:
		g.deps.Notify(to, "accepted", name, name+" accepted your request", map[string]string{"connectionId": evs[len(evs)-1].Connection.ID})
	}
}

func internal(err error) *grainpb.PairReply {
	return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainConnections, "internal error")}
}

// snapshot is a cheap fingerprint of the stored part of the state.
func (g *grain) snapshot() string {
	b, _ := json.Marshal(&g.state.Pair)
	return string(b)
}

// reminder keeps one expiry reminder per pair while a request is pending.
func (g *grain) reminder(now time.Time) {
	c := context.Background()
	if p := g.state.Pending(); p != nil {
		if err := g.deps.Reminders.Set(c, storage.Reminder{Kind: cluster.KindPair, Identity: g.state.ID, Name: ReminderExpire, DueAt: p.ExpiresAt}); err != nil {
			g.deps.Logger.Error("pair grain: set expiry reminder", "pair", g.state.ID, "err", err)
		}
		return
	}
	if err := g.deps.Reminders.Delete(c, cluster.KindPair, g.state.ID, ReminderExpire); err != nil {
		g.deps.Logger.Error("pair grain: delete expiry reminder", "pair", g.state.ID, "err", err)
	}
}

// guards reads the facts a send depends on from the store: whether the
// target exists and whether either user blocked the other.
func (g *grain) guards(from, to string) (SendGuards, error) {
	c := context.Background()
	var sg SendGuards
	u, err := g.deps.Store.Users().Get(c, to)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Deleted()) {
		sg.TargetMissing = true
		return sg, nil
	}
	if err != nil {
		return sg, err
	}
	for _, pair := range [][2]string{{from, to}, {to, from}} {
		blocks, err := g.deps.Store.Safety().BlockedBy(c, pair[0])
		if err != nil {
			return sg, err
		}
		for _, b := range blocks {
			if b.BlockedID == pair[1] {
				sg.Blocked = true
			}
		}
	}
	return sg, nil
}

// meetingPoint is the midpoint of both users' live locations, or nil when
// either is unknown or stale. Users never call pairs synchronously, so
// asking them from here cannot deadlock.
func (g *grain) meetingPoint(ctx actor.Context) *storage.LatLng {
	var pts []*grainpb.LocationReply
	for _, u := range []string{g.state.UserA, g.state.UserB} {
		rep, err := cluster.CallIn[*grainpb.LocationReply](ctx, time.Second, cluster.KindUser, u, &grainpb.GetLocation{})
		if err != nil || !rep.Fresh {
			return nil
		}
		pts = append(pts, rep)
	}
	return &storage.LatLng{Lat: (pts[0].Lat + pts[1].Lat) / 2, Lng: (pts[0].Lng + pts[1].Lng) / 2}
}

func (g *grain) profile(id string, now time.Time) protocol.User {
	return user.Profile(context.Background(), g.deps.Store.Users(), id, now)
}

// payload renders an event for one viewer.
func (g *grain) payload(ctx actor.Context, ev Event, viewer string) any {
	now := g.deps.Clock.Now()
	other := g.profile(g.state.Other(viewer), now)
	switch ev.Type {
	case protocol.TypeRequestSend:
		return map[string]any{"request": ViewRequest(ev.Request, viewer, other)}
	case protocol.TypeConnClose:
		c := ev.Connection
		recipient := g.state.Other(deref(c.ClosedByUserID))
		return map[string]any{
			"connectionId": c.ID, "type": "connection", "status": StatusClosed,
			"closedByUserId": c.ClosedByUserID, "closureReason": c.ClosureReason,
			"closedAt": fmtPtr(c.ClosedAt), "recipientId": recipient,
		}
	}
	r := ev.Request
	p := map[string]any{
		"requestId": r.ID, "fromUserId": r.FromUserID, "toUserId": r.ToUserID,
		"direction": direction(r.FromUserID, viewer), "resolvedAt": fmtPtr(r.ResolvedAt),
		"request": ViewRequest(r, viewer, other),
	}
	switch ev.Type {
	case protocol.TypeRequestAccept:
		online := g.deps.Online != nil && g.deps.Online(other.ID)
		cv := ViewConnection(ev.Connection, viewer, other, online)
		g.deps.together(context.Background(), &cv, ev.Connection, viewer, true)
		p["connection"] = cv
	case protocol.TypeRequestReject:
		p["status"] = LegacyRejected
	case protocol.TypeRequestMissed:
		p["status"] = StatusMissed
	case protocol.TypeRequestCancel:
		p["status"] = r.Status
	}
	return p
}

func (g *grain) deliverTo(ctx actor.Context, userID, typ string, payload any, except string) {
	frame, err := protocol.EncodeFrame(typ, payload, g.deps.Clock.Now(), "", "")
	if err != nil {
		g.deps.Logger.Error("pair grain: encode", "type", typ, "err", err)
		return
	}
	cluster.SendIn(ctx, cluster.KindUser, userID, &grainpb.Deliver{WsFrame: frame, Type: typ, ExceptSessionId: except})
}
