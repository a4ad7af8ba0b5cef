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

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/wireerr"
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
	// Rewards records accepts and closes for the reward campaigns; nil
	// when rewards are off (tests of other features).
	Rewards *rewards.Triggers
	// Score tells the users' Score grains of the requests, accepts and
	// messages they count (score.go); off in tests of other features.
	Score bool
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
	deps     Deps
	state    *State
	loadErr  error
	lastSeq  uint64                 // last message number of the conversation; 0 = read it from the store
	queue    []queued               // messages numbered, waiting for the writer
	keyed    map[sendKey]*keyedSend // keyed messages numbered and not yet answered by the store
	flushing bool                   // a flushQueue is on its way
	inFlight int                    // batches handed to the store and not yet answered
	epoch    uint64                 // raised when a batch fails: answers of later batches are stale
	locating int                    // accepts waiting for the users' locations
	// stale: the store refused a Save as stale (another activation wrote
	// the pair since this one loaded it). The grain refuses everything
	// and stops once nothing it started is outstanding (see superseded).
	stale, stopping bool
}

func pairFailure() proto.Message {
	return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainConnections, "internal error")}
}

// Receive is a switch over one message per operation. Every operation but
// PostMessage and AcceptRequest is answered before the next message: those
// two answer later (a message once stored, an accept once both users said
// where they are) while the grain keeps serving.
func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "pair grain", pairFailure)
	if g.stale && g.refuseStale(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.load(m.Identity.Identity)
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindPair).Inc()
		ctx.SetReceiveTimeout(5 * time.Minute)
	case *actor.ReceiveTimeout:
		if g.inFlight == 0 && len(g.queue) == 0 && g.locating == 0 {
			ctx.Poison(ctx.Self())
		}
	case *grainpb.SendRequest:
		ctx.Respond(g.sendRequest(ctx, m))
	case *grainpb.AcceptRequest:
		g.acceptRequest(ctx, m)
	case *grainpb.RejectRequest:
		ctx.Respond(g.resolve(ctx, act{m.ActorId, m.OriginSessionId}, m.RequestId, false))
	case *grainpb.CancelRequest:
		ctx.Respond(g.resolve(ctx, act{m.ActorId, m.OriginSessionId}, m.RequestId, true))
	case *grainpb.CloseConnection:
		ctx.Respond(g.closeConnection(ctx, m))
	case *grainpb.RingUser:
		ctx.Respond(g.ring(ctx, m))
	case *grainpb.PostMessage:
		g.queueMessage(ctx, m)
	case *grainpb.MarkRead:
		ctx.Respond(g.read(ctx, m))
	case *grainpb.RelayToPartner:
		ctx.Respond(g.relay(ctx, m))
	case flushQueue:
		g.flushQueued(ctx)
	case appendDone:
		g.appended(ctx, m)
	case *grainpb.EndPair:
		g.apply(ctx, act{by: m.ActorId}, func(now time.Time) (result, error) {
			return result{evs: g.state.End(m.ActorId, m.Reason, now)}, nil
		})
	case *grainpb.ReminderFired:
		rep := g.apply(ctx, act{}, func(now time.Time) (result, error) {
			return result{evs: g.state.Expire(now)}, nil
		})
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

// ready retries a failed load; false means the pair cannot serve now.
func (g *grain) ready(ctx actor.Context) bool {
	if g.loadErr != nil {
		g.loadErr = nil
		g.load(ctx.Self().Id)
	}
	return g.state != nil && g.loadErr == nil
}

func unavailable() *grainpb.PairReply {
	return &grainpb.PairReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainConnections, "pair unavailable")}
}

// act is who acts and the socket that asked (its echo is skipped).
type act struct {
	by, origin string
}

// result is what one operation did to the pair.
type result struct {
	evs []Event
	err *protocol.Error
	// answer renders the actor's answer; nil answers an empty payload.
	answer func(viewer string) any
	// request is the request created or resolved, for REST answers.
	request string
	// push notifies the other user, when it has no socket open.
	push func(to, actorName string)
}

// apply runs op on the state, then stores the change before anyone hears
// of it (an acknowledged change survives a crash), keeps the expiry
// reminder, delivers the events and builds the actor's reply.
func (g *grain) apply(ctx actor.Context, a act, op func(now time.Time) (result, error)) *grainpb.PairReply {
	if !g.ready(ctx) {
		return unavailable()
	}
	now := g.deps.Clock.Now()
	before := g.snapshot()
	res, err := op(now)
	if err != nil {
		g.deps.Logger.Error("pair grain: operation", "pair", g.state.ID, "err", err)
		return internal(err)
	}
	triggers, err := g.recordTriggers(res.evs, now)
	if err != nil {
		g.deps.Logger.Error("pair grain: record reward trigger", "pair", g.state.ID, "err", err)
		g.load(g.state.ID) // drop the unsaved change: without its trigger it must not happen
		return internal(err)
	}
	if g.snapshot() != before {
		// Save writes from the version this activation loaded or last
		// wrote (g.state.Pair.Version) and moves it on.
		if err := g.deps.Store.Pairs().Save(context.Background(), &g.state.Pair); err != nil {
			if errors.Is(err, storage.ErrStale) {
				// Another activation wrote the pair since: nothing of this
				// change is told to anyone, the actor is asked to retry.
				// Triggers recorded above fire harmlessly: the Rewards
				// grain checks the change against the store.
				g.superseded(ctx, err)
				return &grainpb.PairReply{Failure: grainpb.Stale(protocol.DomainConnections)}
			}
			g.deps.Logger.Error("pair grain: save", "pair", g.state.ID, "err", err)
			g.load(g.state.ID) // drop the unsaved change
			return internal(err)
		}
	}
	g.reminder(now)
	g.scoreEvents(ctx, res.evs)
	for _, r := range triggers {
		cluster.SendIn(ctx, cluster.KindRewards, g.state.ID, rewards.Fire(r))
	}
	for _, ev := range res.evs {
		if ev.Type == protocol.TypeConnClose {
			// Proximity ends with the connection and retires its tokens. A
			// message lost to a crash is made up when the grain next loads.
			cluster.SendIn(ctx, cluster.KindProximity, ev.Connection.ID, &grainpb.ConnectionClosed{})
		}
	}
	// Events the actor caused reach its other sockets; its own socket gets
	// the answer. Side events (a request found missed) reach every socket.
	for _, ev := range res.evs {
		for _, u := range []string{g.state.UserA, g.state.UserB} {
			except := ""
			if u == a.by && res.answer != nil && ev.By == a.by {
				except = a.origin
			}
			g.deliverEvent(ctx, u, ev, except)
		}
	}
	if res.err != nil {
		rep := failReply(res.err)
		if r, ok := res.err.Details.(*storage.Request); ok {
			rep.DetailsJson, _ = json.Marshal(ViewRequest(r, a.by, g.profile(g.state.Other(a.by), now)))
		}
		return rep
	}
	if res.push != nil && g.deps.Notify != nil {
		if to := g.state.Other(a.by); g.deps.Online == nil || !g.deps.Online(to) {
			res.push(to, g.profile(a.by, now).Name)
		}
	}
	rep := &grainpb.PairReply{RequestId: res.request}
	if res.answer != nil {
		rep.PayloadJson, _ = json.Marshal(res.answer(a.by))
	}
	return rep
}

// recordTriggers records accepts and closes for the reward campaigns
// before the change is stored, so that no accept is ever stored without
// its grants to come; apply hands them over once it is (see
// rewards.Triggers).
func (g *grain) recordTriggers(evs []Event, now time.Time) ([]storage.Reminder, error) {
	if g.deps.Rewards == nil {
		return nil, nil
	}
	var out []storage.Reminder
	for _, ev := range evs {
		var (
			r   storage.Reminder
			err error
		)
		switch {
		case ev.Type == protocol.TypeRequestAccept && ev.Connection != nil:
			r, err = g.deps.Rewards.Accepted(context.Background(), g.state.ID, ev.Connection.ID, now)
		case ev.Type == protocol.TypeConnClose && ev.Connection != nil:
			r, err = g.deps.Rewards.Closed(context.Background(), g.state.ID, ev.Connection.ID, deref(ev.Connection.ClosureReason), now)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// answerEvent answers the actor with the last event as it sees it.
func (g *grain) answerEvent(evs []Event) func(string) any {
	ev := evs[len(evs)-1]
	return func(v string) any { return g.payload(ev, v) }
}

func (g *grain) sendRequest(ctx actor.Context, m *grainpb.SendRequest) *grainpb.PairReply {
	return g.apply(ctx, act{m.ActorId, m.OriginSessionId}, func(now time.Time) (result, error) {
		guards, err := g.guards(m.ActorId, m.TargetId, m.RequireVibe)
		if err != nil {
			return result{}, err
		}
		r, evs, perr := g.state.Send(m.ActorId, m.TargetId, guards, now, g.deps.RequestTTL)
		res := result{evs: evs, err: perr}
		if perr == nil {
			res.answer, res.request = g.answerEvent(evs), r.ID
			res.push = func(to, name string) {
				g.deps.Notify(to, "request", name, name+" wants to connect", map[string]string{"requestId": r.ID})
			}
		}
		return res, nil
	})
}

// acceptRequest asks both users where they are (the connection's meeting
// point) without waiting: the grain serves other messages meanwhile, so the
// accept is checked again, on the state as it is then, when it applies.
// An accept that cannot succeed is answered at once.
func (g *grain) acceptRequest(ctx actor.Context, m *grainpb.AcceptRequest) {
	a := act{m.ActorId, m.OriginSessionId}
	if !g.ready(ctx) || !g.state.CanAccept(m.ActorId, m.RequestId, g.deps.Clock.Now()) {
		ctx.Respond(g.accept(ctx, a, m.RequestId, nil))
		return
	}
	g.locating++
	g.meetingPoint(ctx, func(at *storage.LatLng) {
		g.locating--
		if g.stale {
			ctx.Respond(&grainpb.PairReply{Failure: grainpb.Stale(protocol.DomainConnections)})
		} else {
			ctx.Respond(g.accept(ctx, a, m.RequestId, at))
		}
		g.stopWhenIdle(ctx)
	})
}

func (g *grain) accept(ctx actor.Context, a act, requestID string, at *storage.LatLng) *grainpb.PairReply {
	return g.apply(ctx, a, func(now time.Time) (result, error) {
		c, evs, perr := g.state.Accept(a.by, requestID, at, now)
		res := result{evs: evs, err: perr}
		if perr == nil {
			res.answer, res.request = g.answerEvent(evs), requestID
			res.push = func(to, name string) {
				g.deps.Notify(to, "accepted", name, name+" accepted your request", map[string]string{"connectionId": c.ID})
			}
		}
		return res, nil
	})
}

// resolve rejects (receiver) or cancels (sender) a pending request.
func (g *grain) resolve(ctx actor.Context, a act, requestID string, cancel bool) *grainpb.PairReply {
	return g.apply(ctx, a, func(now time.Time) (result, error) {
		resolve := g.state.Reject
		if cancel {
			resolve = g.state.Cancel
		}
		_, evs, perr := resolve(a.by, requestID, now)
		res := result{evs: evs, err: perr}
		if perr == nil {
			res.answer, res.request = g.answerEvent(evs), requestID
		}
		return res, nil
	})
}

func (g *grain) closeConnection(ctx actor.Context, m *grainpb.CloseConnection) *grainpb.PairReply {
	return g.apply(ctx, act{m.ActorId, m.OriginSessionId}, func(now time.Time) (result, error) {
		_, evs, perr := g.state.Close(m.ActorId, m.ConnectionId, m.Reason, now)
		res := result{evs: evs, err: perr}
		if perr == nil {
			res.answer = g.answerEvent(evs)
		}
		return res, nil
	})
}

func (g *grain) ring(ctx actor.Context, m *grainpb.RingUser) *grainpb.PairReply {
	return g.apply(ctx, act{m.ActorId, m.OriginSessionId}, func(now time.Time) (result, error) {
		target, err := g.readUser(m.TargetId)
		if err != nil {
			return result{}, err
		}
		if _, perr := g.state.Ring(m.ActorId, m.TargetId, target == nil, now); perr != nil {
			return result{err: perr}, nil
		}
		ring := protocol.Ring{FromUser: g.profile(m.ActorId, now), FromUserID: m.ActorId, RecipientID: m.TargetId}
		g.deliverTo(ctx, m.TargetId, protocol.TypeConnectionRing, ring, "")
		return result{
			answer: func(string) any {
				sent := ring
				sent.Status = "sent"
				return sent
			},
			push: func(to, name string) {
				g.deps.Notify(to, "ring", name, name+" is ringing you", map[string]string{"fromUserId": m.ActorId})
			},
		}, nil
	})
}

// refuseStale answers what reaches a stale grain before it stops: a
// retryable failure for every call, nothing for the rest. It reports false
// for the messages the grain still handles: the answers of the message
// batches it handed to the store before (stored messages do not depend on
// the pair's record; they are acked and delivered as usual).
func (g *grain) refuseStale(ctx actor.Context) bool {
	switch ctx.Message().(type) {
	case appendDone:
		return false
	case *grainpb.SendRequest, *grainpb.AcceptRequest, *grainpb.RejectRequest, *grainpb.CancelRequest,
		*grainpb.CloseConnection, *grainpb.RingUser:
		ctx.Respond(&grainpb.PairReply{Failure: grainpb.Stale(protocol.DomainConnections)})
	case *grainpb.PostMessage, *grainpb.MarkRead, *grainpb.RelayToPartner:
		ctx.Respond(&grainpb.PairReply{Failure: grainpb.Stale(protocol.DomainChat)})
	case *grainpb.ReminderFired:
		// The reminder stays and fires again (its claim lapses), at a
		// fresh activation.
		if ctx.Sender() != nil {
			ctx.Respond(&grainpb.Ack{Failure: grainpb.Stale(protocol.DomainConnections)})
		}
	}
	return true
}

// superseded starts the stop of a grain whose Save the store refused as
// stale: another activation of the pair has written since this one loaded
// (a node that froze and came back), so this one's state is out of date.
// It acknowledges and delivers nothing more that depends on its state:
// messages numbered and not yet handed to the store are refused, and it
// stops as soon as the batches and accepts it already started are
// answered. The next message to the pair activates a fresh grain that
// loads the newer state.
func (g *grain) superseded(ctx actor.Context, err error) {
	g.deps.Logger.Warn("pair grain: save refused as stale, another activation wrote since; stopping", "pair", g.state.ID, "err", err)
	g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindPair).Inc()
	g.stale = true
	for _, q := range g.queue {
		g.settle(q)
		answerQueued(ctx, q, &grainpb.PairReply{Failure: grainpb.Stale(protocol.DomainChat)})
	}
	g.queue = nil
	g.stopWhenIdle(ctx)
}

// stopWhenIdle stops a stale grain once nothing it started waits for an
// answer: a stopped grain would leave those callers to time out.
func (g *grain) stopWhenIdle(ctx actor.Context) {
	if g.stale && !g.stopping && g.inFlight == 0 && g.locating == 0 {
		g.stopping = true
		ctx.Poison(ctx.Self())
	}
}

// internal answers a failed operation: `internal`, or the code wireerr
// gives err (a full disk is `unavailable`, retry).
func internal(err error) *grainpb.PairReply {
	return &grainpb.PairReply{Failure: wireerr.Failure(err, protocol.DomainConnections, "internal error")}
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

// readUser reads a user from the store; nil when deleted or unknown.
func (g *grain) readUser(id string) (*storage.User, error) {
	u, err := g.deps.Store.Users().Get(context.Background(), id)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Deleted()) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pair grain: read user %s: %w", id, err)
	}
	return u, nil
}

// guards reads the facts a send depends on from the store: whether the
// target exists and whether either user blocked the other.
func (g *grain) guards(from, to string, requireVibe bool) (SendGuards, error) {
	sg := SendGuards{RequireVibe: requireVibe}
	target, err := g.readUser(to)
	if err != nil || target == nil {
		sg.TargetMissing = err == nil
		return sg, err
	}
	sg.TargetHasVibe = user.Wire(target, g.deps.Clock.Now()).Vibe != nil
	for _, pair := range [][2]string{{from, to}, {to, from}} {
		blocks, err := g.deps.Store.Safety().BlockedBy(context.Background(), pair[0])
		if err != nil {
			return sg, fmt.Errorf("pair grain: read blocks: %w", err)
		}
		for _, b := range blocks {
			if b.BlockedID == pair[1] {
				sg.Blocked = true
			}
		}
	}
	return sg, nil
}

// LocationTimeout bounds the wait for the users' locations on accept; an
// answer later than that makes the meeting point unknown (null).
const LocationTimeout = time.Second

// meetingPoint asks both User grains for their live location at once and
// calls then with the midpoint, or nil when either is unknown, stale or
// slow. It returns at once: the answers come back as continuations on the
// grain's own goroutine.
func (g *grain) meetingPoint(ctx actor.Context, then func(*storage.LatLng)) {
	var fixes [2]*grainpb.LocationReply
	left := 2
	for i, u := range []string{g.state.UserA, g.state.UserB} {
		cluster.Request(ctx, cluster.KindUser, u, &grainpb.GetLocation{}, LocationTimeout, func(r *grainpb.LocationReply, err error) {
			if err == nil && r.Fresh {
				fixes[i] = r
			}
			if left--; left == 0 {
				defer cluster.Recover(ctx, g.deps.Logger, "pair grain", pairFailure)
				then(midpoint(fixes[0], fixes[1]))
			}
		})
	}
}

// midpoint is the point halfway between two live locations, nil when
// either is missing.
func midpoint(a, b *grainpb.LocationReply) *storage.LatLng {
	if a == nil || b == nil {
		return nil
	}
	return &storage.LatLng{Lat: (a.Lat + b.Lat) / 2, Lng: (a.Lng + b.Lng) / 2}
}

func (g *grain) profile(id string, now time.Time) protocol.User {
	return user.Profile(context.Background(), g.deps.Store.Users(), id, now)
}

// payload renders an event for one viewer.
func (g *grain) payload(ev Event, viewer string) any {
	now := g.deps.Clock.Now()
	other := g.profile(g.state.Other(viewer), now)
	switch ev.Type {
	case protocol.TypeRequestSend:
		return protocol.RequestSent{Request: ViewRequest(ev.Request, viewer, other)}
	case protocol.TypeConnClose:
		c := ev.Connection
		return protocol.ConnectionClosed{
			ClosedAt: protocol.FormatTimePtr(c.ClosedAt), ClosedByUserID: c.ClosedByUserID, ClosureReason: c.ClosureReason,
			ConnectionID: c.ID, RecipientID: g.state.Other(deref(c.ClosedByUserID)), Status: StatusClosed, Type: "connection",
		}
	}
	r := ev.Request
	p := protocol.RequestResolved{
		Direction: direction(r.FromUserID, viewer), FromUserID: r.FromUserID, Request: ViewRequest(r, viewer, other),
		RequestID: r.ID, ResolvedAt: protocol.FormatTimePtr(r.ResolvedAt), ToUserID: r.ToUserID,
	}
	switch ev.Type {
	case protocol.TypeRequestAccept:
		online := g.deps.Online != nil && g.deps.Online(other.ID)
		cv := ViewConnection(ev.Connection, viewer, other, online)
		g.deps.together(context.Background(), &cv, ev.Connection, viewer, true)
		p.Connection = &cv
	case protocol.TypeRequestReject:
		p.Status = LegacyRejected
	case protocol.TypeRequestMissed:
		p.Status = StatusMissed
	case protocol.TypeRequestCancel:
		p.Status = r.Status
	}
	return p
}

// deliverTo sends a `/ws` event, with its legacy counterparts if it has
// any, to every socket of a user but except.
func (g *grain) deliverTo(ctx actor.Context, userID, typ string, payload any, except string, legacy ...[]byte) {
	frame, err := protocol.EncodeFrame(typ, payload, g.deps.Clock.Now(), "", "")
	if err != nil {
		g.deps.Logger.Error("pair grain: encode", "type", typ, "err", err)
		return
	}
	deliverFrames(ctx, userID, typ, frame, legacy, except)
}

// deliverFrames hands a user grain one event: its `/ws` frame and the
// legacy events it means, each encoded once. The first legacy frame rides
// with the `/ws` one; further ones follow in order (one sender, one
// mailbox: they arrive in order).
func deliverFrames(ctx actor.Context, userID, typ string, ws []byte, legacy [][]byte, except string) {
	var first []byte
	if len(legacy) > 0 {
		first, legacy = legacy[0], legacy[1:]
	}
	cluster.SendIn(ctx, cluster.KindUser, userID, &grainpb.Deliver{WsFrame: ws, LegacyFrame: first, Type: typ, ExceptSessionId: except})
	for _, f := range legacy {
		cluster.SendIn(ctx, cluster.KindUser, userID, &grainpb.Deliver{LegacyFrame: f, Type: typ, ExceptSessionId: except})
	}
}

// deliverEvent sends one pair event to a user in both dialects.
func (g *grain) deliverEvent(ctx actor.Context, userID string, ev Event, except string) {
	now := g.deps.Clock.Now()
	legacy := LegacyEvents(ev, userID, func(id string) protocol.User { return g.profile(id, now) })
	g.deliverTo(ctx, userID, ev.Type, g.payload(ev, userID), except, legacy...)
}
