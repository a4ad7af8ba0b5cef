package proximity

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Deps are shared by every Proximity grain of a node.
type Deps struct {
	Store  storage.Store
	Clock  clock.Clock
	Config Config
	// SnapshotEvery bounds what a crash loses of an active run.
	SnapshotEvery time.Duration
	// UpdateEvery spaces the periodic proximity.session.updated of an active run.
	UpdateEvery time.Duration
	// LocationTimeout bounds an ask for a participant's GPS fix (1 s by
	// default); a User grain that does not answer in time counts as "no
	// fix", and the scans waiting for it go on without.
	LocationTimeout time.Duration
	// Online reports whether a user has an open socket: tokens rotate only
	// for owners who can receive the next one.
	Online func(userID string) bool
	// Grains, when set, lets shutdown stop this node's grains before the
	// store closes.
	Grains *Grains
	// Milestone records, durably and before the milestone is announced,
	// that a connection crossed one, for the reward campaigns; nil when
	// nothing listens.
	Milestone func(ctx context.Context, pairID, connectionID string, minutes int, now time.Time) error
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
}

// NewKind returns the Proximity cluster kind; a grain's identity is the
// connection id.
func NewKind(d Deps) *pcluster.Kind {
	if d.SnapshotEvery <= 0 {
		d.SnapshotEvery = 5 * time.Second
	}
	if d.UpdateEvery <= 0 {
		d.UpdateEvery = 30 * time.Second
	}
	if d.LocationTimeout <= 0 {
		d.LocationTimeout = time.Second
	}
	return pcluster.NewKind(cluster.KindProximity, actor.PropsFromProducer(func() actor.Actor {
		return &grain{deps: d, w: &writer{}}
	}))
}

// grain owns the proximity state of one connection: it feeds the state
// machine commands and time, persists its snapshots and sends its events.
type grain struct {
	deps    Deps
	connID  string
	state   *State
	missing bool // no such connection
	loadErr error

	timer  clock.Timer
	wakeAt time.Time

	// origin is the socket whose command is being handled; the reply to
	// proximity.session.end is the updated frame, so that socket is spared
	// the same frame as a push.
	origin origin

	// Persistence: version counts the snapshots asked for, saving is the one
	// write in flight; held are events (milestones and whatever followed
	// them) that wait until the snapshot recording them is durable.
	w          *writer
	version    uint64
	saving     bool
	savedAt    time.Time // server time of the last snapshot asked for
	savedMark  mark
	held       []heldEvent
	lastUpdate time.Time

	// unrecorded are milestones the reward campaigns have not been told of
	// yet (recording failed); emit retries them.
	unrecorded []int

	locs [2]cachedLoc
	// queue holds the commands that wait, in mailbox order, for a
	// participant's first GPS fix (see request).
	queue []queued

	// stale: the store refused a snapshot write as stale (another
	// activation of this connection wrote since this one loaded). The
	// grain is stopping: it answers nothing but a retryable failure and
	// sends nothing (see superseded).
	stale bool
}

// queued is a command waiting in the queue: run serves it, refuse answers
// it with a failure instead.
type queued struct {
	run, refuse func()
}

type origin struct{ user, session string }

type heldEvent struct {
	version uint64
	ev      Event
}

// tick wakes the grain for time-driven work (pause, grace, milestone,
// rotation, snapshot, periodic update).
type tick struct{}

func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "proximity grain", func() proto.Message {
		return &grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainProximity, "internal error")}
	})
	if g.stale && g.refuseStale(ctx) {
		return
	}
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.connID = m.Identity.Identity
		g.deps.Grains.add(g.connID, ctx.Self())
		g.load(ctx)
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindProximity).Inc()
		ctx.SetReceiveTimeout(5 * time.Minute)
	case *actor.ReceiveTimeout:
		// An active run keeps ticking, so a timeout means nothing happened
		// for minutes; stay only while a snapshot is unwritten.
		if !g.saving && len(g.held) == 0 && len(g.queue) == 0 && !g.unsaved() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		g.stopping(ctx)
	case *actor.Stopped:
		g.deps.Grains.remove(g.connID, ctx.Self())
	case *grainpb.ConnectionClosed:
		g.onClosed(ctx)
	case *grainpb.ProximityIssueToken:
		g.request(ctx, m.ActorId, answerNow, func(now time.Time) *grainpb.ProximityReply {
			t, perr := g.state.IssueToken(m.ActorId, now)
			return g.answer(ctx, now, nil, perr, t)
		})
	case *grainpb.ProximityStart:
		g.request(ctx, m.ActorId, afterFixes, func(now time.Time) *grainpb.ProximityReply {
			ack, evs, perr := g.state.Start(m.ActorId, m.Token, int(m.Rssi), now, g.locations())
			g.countScan("start", perr)
			return g.answer(ctx, now, evs, perr, protocol.ProximityStartAck{
				SessionActive: ack.SessionActive, YourTokenReceived: ack.YourTokenReceived, WaitingForPartner: ack.WaitingForPartner,
			})
		})
	case *grainpb.ProximityHeartbeat:
		g.request(ctx, m.ActorId, afterFixes, func(now time.Time) *grainpb.ProximityReply {
			ack, evs, perr := g.state.Heartbeat(m.ActorId, m.Token, int(m.Rssi), now, g.locations())
			g.countScan("heartbeat", perr)
			return g.answer(ctx, now, evs, perr, protocol.ProximityHeartbeatAck{
				SessionActive: ack.SessionActive, AccumulatedSeconds: ack.AccumulatedSeconds,
			})
		})
	case *grainpb.ProximityEnd:
		g.request(ctx, m.ActorId, inTurn, func(now time.Time) *grainpb.ProximityReply {
			return g.end(ctx, m, now)
		})
	case *grainpb.ProximityGetSession:
		g.request(ctx, m.ActorId, answerNow, func(now time.Time) *grainpb.ProximityReply {
			if m.IssueToken && !g.state.Closed() {
				_, _ = g.state.IssueToken(m.ActorId, now)
			}
			return g.answer(ctx, now, nil, nil, g.state.Session(m.ActorId, now))
		})
	case *grainpb.ProximityGetFacts:
		if f := g.unavailable(ctx); f != nil {
			ctx.Respond(&grainpb.ProximityFacts{Failure: f})
			return
		}
		ctx.Respond(g.facts(ctx, g.deps.Clock.Now()))
	case *grainpb.ProximityGetSummary:
		g.request(ctx, m.ActorId, answerNow, func(now time.Time) *grainpb.ProximityReply {
			return g.answer(ctx, now, nil, nil, g.state.Summary(now))
		})
	case tick:
		g.wakeAt = time.Time{}
		g.onTick(ctx)
	case saved:
		g.onSaved(ctx, m)
	}
}

// refuseStale answers what reaches a stale grain before it stops: a
// retryable failure for every call, nothing for the rest. It reports false
// for the messages the grain still handles (its own stop).
func (g *grain) refuseStale(ctx actor.Context) bool {
	switch ctx.Message().(type) {
	case *actor.Stopping, *actor.Stopped:
		return false
	case *grainpb.ProximityGetFacts:
		ctx.Respond(&grainpb.ProximityFacts{Failure: grainpb.Stale(protocol.DomainProximity)})
	case *grainpb.ProximityIssueToken, *grainpb.ProximityStart, *grainpb.ProximityHeartbeat,
		*grainpb.ProximityEnd, *grainpb.ProximityGetSession, *grainpb.ProximityGetSummary:
		if ctx.Sender() != nil {
			ctx.Respond(&grainpb.ProximityReply{Failure: grainpb.Stale(protocol.DomainProximity)})
		}
	}
	return true
}

// superseded stops the grain once the store refused its snapshot as stale:
// another activation of this connection has written since this one loaded
// (a node that froze and came back), so everything this one holds is out
// of date. What waited for the refused snapshot is dropped unsent (held
// milestones and the events behind them), commands waiting for a location
// are answered with a retryable failure, and the grain stops; the next
// message activates a fresh grain that loads the newer snapshot. Answers
// already given stand: proximity answers before its snapshot is durable
// (a crash loses up to SnapshotEvery of a run), only milestones wait.
func (g *grain) superseded(ctx actor.Context, err error) {
	if g.stale {
		return
	}
	g.stale = true
	g.deps.Logger.Warn("proximity grain: snapshot refused as stale, another activation wrote since; stopping", "connection", g.connID, "err", err)
	g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindProximity).Inc()
	g.held = nil
	g.stopTimer()
	q := g.queue
	g.queue = nil
	for _, c := range q {
		c.refuse()
	}
	ctx.Poison(ctx.Self())
}

// stopping writes the last snapshot as the grain stops (passivation or
// shutdown). Milestones that were waiting for their snapshot are on disk
// then: they are announced, or they never would be.
func (g *grain) stopping(ctx actor.Context) {
	g.stopTimer()
	if g.stale {
		return // superseded: nothing of this activation's is written or sent
	}
	if len(g.queue) > 0 {
		g.deps.Logger.Warn("proximity grain: stopped with commands waiting for a location", "connection", g.connID, "commands", len(g.queue))
	}
	if g.flushSync() {
		now := g.deps.Clock.Now()
		for _, h := range g.held {
			g.send(ctx, h.ev, now, origin{})
		}
		g.held = nil
	}
}

// load reads the connection and its snapshot. A connection the pair closed
// while this grain was not running (the close message died with a crash)
// is closed here, so its tokens never verify again.
func (g *grain) load(ctx actor.Context) {
	c := context.Background()
	g.loadErr, g.missing = nil, false
	pairID, err := g.deps.Store.Pairs().ByConnection(c, g.connID)
	if errors.Is(err, storage.ErrNotFound) {
		g.missing = true
		return
	}
	if err != nil {
		g.loadErr = err
		return
	}
	p, err := g.deps.Store.Pairs().Get(c, pairID)
	if err != nil {
		g.loadErr = err
		return
	}
	var conn *storage.Connection
	for i := range p.Connections {
		if p.Connections[i].ID == g.connID {
			conn = &p.Connections[i]
		}
	}
	if conn == nil {
		g.missing = true
		return
	}
	ps, stored, err := snapshot(c, g.deps.Store, g.connID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g.state = New(g.connID, p.UserA, p.UserB, g.deps.Config, nil)
	case err != nil:
		g.loadErr = err
		return
	default:
		g.state = Restore(*ps, g.deps.Config, nil)
	}
	// The snapshot's stored version fences this activation's writes.
	g.w.loaded(stored)
	now := g.deps.Clock.Now()
	g.savedMark, g.savedAt = g.mark(), now
	if conn.Status == "closed" && !g.state.Closed() {
		g.emit(ctx, g.state.Close(now), now, true)
		return
	}
	if ps != nil && ps.Live != nil {
		// The run recorded as live did not survive its grain: say so on
		// disk, so the read models stop counting it.
		g.emit(ctx, nil, now, true)
	}
	g.refreshLocations(ctx, now, true, false)
}

func (g *grain) unavailable(ctx actor.Context) *grainpb.Failure {
	if g.loadErr != nil {
		g.deps.Logger.Error("proximity grain: load", "connection", g.connID, "err", g.loadErr)
		g.load(ctx) // retry on every command until the store answers
	}
	switch {
	case g.loadErr != nil:
		return grainpb.Fail(protocol.CodeInternal, protocol.DomainProximity, "proximity unavailable")
	case g.missing:
		return grainpb.Fail(protocol.CodeNotFound, protocol.DomainProximity, "connection not found")
	}
	return nil
}

// order says whether a command may wait for a participant's first GPS fix.
type order int

const (
	// answerNow: reads and token issues answer at once, even while scans wait.
	answerNow order = iota
	// inTurn: proximity.session.end runs after the scans already waiting,
	// so an end is never overtaken by the heartbeat sent before it.
	inTurn
	// afterFixes: start and heartbeat wait for every participant's first answer.
	afterFixes
)

// request serves a participant's command: op runs at once, or, when it is
// a scan and a participant's first GPS fix is still being fetched, after
// that answer; scans and ends that arrive meanwhile queue behind it, in the
// order sent. The answer goes to the sender captured now, since a queued
// op runs while another message is being handled.
func (g *grain) request(ctx actor.Context, actorID string, o order, op func(now time.Time) *grainpb.ProximityReply) {
	sender := ctx.Sender()
	reply := func(rep *grainpb.ProximityReply) {
		if sender != nil {
			ctx.Send(sender, rep)
		}
	}
	if f := g.unavailable(ctx); f != nil {
		reply(&grainpb.ProximityReply{Failure: f})
		if g.missing {
			ctx.Poison(ctx.Self()) // an unknown id must not hold memory
		}
		return
	}
	if !g.state.Has(actorID) {
		reply(&grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeForbidden, protocol.DomainProximity, "this connection is not yours")})
		return
	}
	run := func() { reply(op(g.deps.Clock.Now())) }
	if o == afterFixes {
		g.refreshLocations(ctx, g.deps.Clock.Now(), false, true)
	}
	if (o != answerNow && len(g.queue) > 0) || (o == afterFixes && g.unknownFix()) {
		g.queue = append(g.queue, queued{run: run, refuse: func() {
			reply(&grainpb.ProximityReply{Failure: grainpb.Stale(protocol.DomainProximity)})
		}})
		return
	}
	run()
}

// drain runs the queued commands once no first fix is awaited. An answer
// that left a participant unknown (a miss at activation is not kept) asks
// again, keeping the miss this time, so the queue always moves on.
func (g *grain) drain(ctx actor.Context) {
	if g.state == nil || len(g.queue) == 0 || g.stale {
		return
	}
	if g.unknownFix() {
		g.refreshLocations(ctx, g.deps.Clock.Now(), false, true)
		if g.unknownFix() {
			return
		}
	}
	q := g.queue
	g.queue = nil
	for _, c := range q {
		c.run()
	}
}

// answer persists and sends evs (a failed scan still changes the risk
// counters, which are persisted), then encodes the reply.
func (g *grain) answer(ctx actor.Context, now time.Time, evs []Event, perr *protocol.Error, out any) *grainpb.ProximityReply {
	g.emit(ctx, evs, now, false)
	rep := &grainpb.ProximityReply{RunStatus: g.state.Status()}
	if perr != nil {
		rep.Failure = grainpb.Fail(perr.Code, perr.Domain, perr.Message)
		return rep
	}
	b, err := json.Marshal(out)
	if err != nil {
		g.deps.Logger.Error("proximity grain: encode reply", "connection", g.connID, "err", err)
		rep.Failure = grainpb.Fail(protocol.CodeInternal, protocol.DomainProximity, "internal error")
		return rep
	}
	rep.PayloadJson = b
	return rep
}

func (g *grain) countScan(op string, perr *protocol.Error) {
	result := "ok"
	if perr != nil {
		result = string(perr.Code)
	}
	g.deps.Metrics.ProximityScans.WithLabelValues(op, result).Inc()
}

// end pauses the run for the ender. The spec answers proximity.session.end
// with the session as it now is, so the ender's socket is spared the same
// frame as a push.
func (g *grain) end(ctx actor.Context, m *grainpb.ProximityEnd, now time.Time) *grainpb.ProximityReply {
	g.origin = origin{user: m.ActorId, session: m.OriginSessionId}
	defer func() { g.origin = origin{} }()
	evs, perr := g.state.End(m.ActorId, now)
	var out any
	if perr == nil {
		out = g.state.Current(now).Payload
	}
	return g.answer(ctx, now, evs, perr, out)
}

// onClosed ends everything: the pair closed the connection.
func (g *grain) onClosed(ctx actor.Context) {
	if g.unavailable(ctx) != nil {
		if g.missing {
			ctx.Poison(ctx.Self())
		}
		return
	}
	now := g.deps.Clock.Now()
	g.emit(ctx, g.state.Close(now), now, true)
}

func (g *grain) onTick(ctx actor.Context) {
	if g.state == nil {
		return
	}
	now := g.deps.Clock.Now()
	var evs []Event
	if g.state.Status() == StatusActive && !now.Before(g.lastUpdate.Add(g.deps.UpdateEvery)) {
		evs = g.state.Report(now)
	} else {
		evs = g.state.Advance(now)
	}
	for _, u := range g.state.DueRotations(now) {
		if g.deps.Online == nil || g.deps.Online(u) {
			evs = append(evs, g.state.Rotate(u, now)...)
		}
	}
	g.emit(ctx, evs, now, false)
}

func (g *grain) send(ctx actor.Context, ev Event, now time.Time, o origin) {
	frame, err := protocol.EncodeFrame(ev.Type, ev.Payload, now, "", "")
	if err != nil {
		g.deps.Logger.Error("proximity grain: encode", "type", ev.Type, "err", err)
		return
	}
	for _, u := range ev.To {
		except := ""
		if u == o.user && ev.Type == protocol.TypeProximityUpdated {
			except = o.session
		}
		cluster.SendIn(ctx, cluster.KindUser, u, &grainpb.Deliver{WsFrame: frame, Type: ev.Type, ExceptSessionId: except})
	}
}

// arm schedules the next tick: the state machine's next deadline, the next
// snapshot of a running total and the next periodic update.
func (g *grain) arm(ctx actor.Context, now time.Time) {
	at := g.state.NextWake(now)
	soon := func(t time.Time) {
		if at.IsZero() || t.Before(at) {
			at = t
		}
	}
	if g.state.Status() == StatusActive {
		soon(g.lastUpdate.Add(g.deps.UpdateEvery))
	}
	if g.unsaved() {
		soon(g.savedAt.Add(g.deps.SnapshotEvery))
	}
	if at.IsZero() || (!g.wakeAt.IsZero() && !at.Before(g.wakeAt) && g.timer != nil) {
		return // nothing to do, or an earlier tick is already armed
	}
	g.stopTimer()
	if !at.After(now) {
		at = now.Add(time.Millisecond)
	}
	g.wakeAt = at
	self, sys := ctx.Self(), ctx.ActorSystem()
	g.timer = g.deps.Clock.AfterFunc(at.Sub(now), func() { sys.Root.Send(self, tick{}) })
}

func (g *grain) stopTimer() {
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	g.wakeAt = time.Time{}
}
