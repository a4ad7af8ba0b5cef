package proximity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
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

// SnapshotKind names proximity state in the Snapshots store.
const SnapshotKind = "proximity"

// stored restores a connection's state from its last snapshot;
// storage.ErrNotFound when it never had one.
func stored(ctx context.Context, store storage.Store, id string, cfg Config) (*State, error) {
	data, err := store.Snapshots().Get(ctx, SnapshotKind, id)
	if err != nil {
		return nil, err
	}
	var ps Persisted
	if err := json.Unmarshal(data, &ps); err != nil {
		return nil, fmt.Errorf("proximity: snapshot of %s: %w", id, err)
	}
	return Restore(ps, cfg, nil), nil
}

// locationTTL is how long the grain reuses a participant's GPS fix for the
// plausibility check: heartbeats come every few seconds and a phone's
// position does not move 250 m in that time, so asking the user grain on
// every heartbeat would only add latency.
const locationTTL = 5 * time.Second

// retryDelay spaces snapshot writes after a failed one.
const retryDelay = time.Second

// Deps are shared by every Proximity grain of a node.
type Deps struct {
	Store  storage.Store
	Clock  clock.Clock
	Config Config
	// SnapshotEvery bounds what a crash loses of an active run.
	SnapshotEvery time.Duration
	// UpdateEvery spaces the periodic proximity.session.updated of an active run.
	UpdateEvery time.Duration
	// Online reports whether a user has an open socket: tokens rotate only
	// for owners who can receive the next one.
	Online func(userID string) bool
	// Grains, when set, lets shutdown stop the grains before the store closes.
	Grains  *Grains
	Metrics *metrics.Metrics
	Logger  *slog.Logger
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

	locs [2]cachedLoc
}

type origin struct{ user, session string }

type heldEvent struct {
	version uint64
	ev      Event
}

type cachedLoc struct {
	at      time.Time // when the answer (a fix or none) was fetched; zero: ask at the next scan
	loc     *storage.LatLng
	pending bool // a fetch is in flight
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

// tick wakes the grain for time-driven work (pause, grace, milestone,
// rotation, snapshot, periodic update).
type tick struct{}

// saved reports a finished snapshot write.
type saved struct {
	version uint64
	err     error
}

// writer serialises snapshot writes of one grain across goroutines, so an
// older snapshot can never land after a newer one (the shutdown path writes
// synchronously while an asynchronous write may still be in flight).
type writer struct {
	mu      sync.Mutex
	written uint64
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
	if version <= w.written {
		return nil
	}
	if err := s.Put(context.Background(), SnapshotKind, id, data); err != nil {
		return err
	}
	w.written = version
	return nil
}

func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "proximity grain", func() proto.Message {
		return &grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainProximity, "internal error")}
	})
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
		if !g.saving && len(g.held) == 0 && !g.unsaved() {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		g.stopTimer()
		if g.flushSync() {
			// Milestones that were waiting for their snapshot are on disk
			// now: announce them, or they would never be.
			now := g.deps.Clock.Now()
			for _, h := range g.held {
				g.send(ctx, h.ev, now, origin{})
			}
			g.held = nil
		}
	case *actor.Stopped:
		g.deps.Grains.remove(g.connID, ctx.Self())
	case *grainpb.ConnectionClosed:
		g.command(ctx, &grainpb.ProximityCommand{Op: "close"})
	case *grainpb.ProximityCommand:
		rep := g.command(ctx, m)
		if ctx.Sender() != nil {
			ctx.Respond(rep)
		}
		if g.missing {
			ctx.Poison(ctx.Self()) // an unknown id must not hold memory
		}
	case tick:
		g.wakeAt = time.Time{}
		g.onTick(ctx)
	case saved:
		g.onSaved(ctx, m)
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
	g.state, err = stored(c, g.deps.Store, g.connID, g.deps.Config)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g.state = New(g.connID, p.UserA, p.UserB, g.deps.Config, nil)
	case err != nil:
		g.loadErr = err
		return
	}
	now := g.deps.Clock.Now()
	g.savedMark, g.savedAt = g.mark(), now
	if conn.Status == "closed" && !g.state.Closed() {
		g.emit(ctx, g.state.Close(now), now, true)
		return
	}
	g.refreshLocations(ctx, now, true)
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

func (g *grain) command(ctx actor.Context, m *grainpb.ProximityCommand) *grainpb.ProximityReply {
	if f := g.unavailable(ctx); f != nil {
		return &grainpb.ProximityReply{Failure: f}
	}
	if m.Op == "close" {
		now := g.deps.Clock.Now()
		g.emit(ctx, g.state.Close(now), now, true)
		return &grainpb.ProximityReply{}
	}
	if !g.state.Has(m.ActorId) {
		return &grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeForbidden, protocol.DomainProximity, "this connection is not yours")}
	}
	now := g.deps.Clock.Now()
	var (
		out  any
		evs  []Event
		perr *protocol.Error
	)
	switch m.Op {
	case "token":
		var t Token
		t, perr = g.state.IssueToken(m.ActorId, now)
		out = t
	case "start", "heartbeat":
		locs := g.locations(ctx, now)
		var ack Ack
		if m.Op == "start" {
			ack, evs, perr = g.state.Start(m.ActorId, m.Token, int(m.Rssi), now, locs)
		} else {
			ack, evs, perr = g.state.Heartbeat(m.ActorId, m.Token, int(m.Rssi), now, locs)
		}
		result := "ok"
		if perr != nil {
			result = string(perr.Code)
		}
		g.deps.Metrics.ProximityScans.WithLabelValues(m.Op, result).Inc()
		out = ack
	case "end":
		g.origin = origin{user: m.ActorId, session: m.OriginSessionId}
		defer func() { g.origin = origin{} }()
		evs, perr = g.state.End(m.ActorId, now)
		if perr == nil {
			// The spec answers session.end with the session as it now is.
			out = g.state.Current(now).Payload
		}
	case "session":
		if m.IssueToken && !g.state.Closed() {
			_, _ = g.state.IssueToken(m.ActorId, now)
		}
		out = g.state.Session(m.ActorId, now)
	case "summary", "progress":
		out = g.state.Summary(now)
	default:
		return &grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeInvalidPayload, protocol.DomainProximity, "unknown proximity operation")}
	}
	// A failed scan still changes the risk counters, which are persisted.
	g.emit(ctx, evs, now, false)
	if perr != nil {
		return &grainpb.ProximityReply{Failure: grainpb.Fail(perr.Code, perr.Domain, perr.Message)}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return &grainpb.ProximityReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainProximity, "internal error")}
	}
	return &grainpb.ProximityReply{PayloadJson: b}
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

// emit persists what must be persisted and sends evs. Milestones are sent
// only once the snapshot that records them is durable, so a crash can never
// make one fire twice; events after a held one wait with it to keep order.
func (g *grain) emit(ctx actor.Context, evs []Event, now time.Time, force bool) {
	milestone := false
	for _, ev := range evs {
		if ev.Type == protocol.TypeProximityMilestone {
			milestone = true
			g.deps.Metrics.ProximityMilestones.Inc()
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
	if g.saving {
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
	if err != nil {
		g.deps.Logger.Error("proximity grain: final snapshot", "connection", g.connID, "err", err)
		return false
	}
	return true
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

// locations returns both participants' GPS fixes for the plausibility
// check. What was fetched (a fix, or "none") is reused and refreshed in the
// background once older than locationTTL, so a scan does not wait on a User
// grain busy pushing radars; the check then runs on a fix a few seconds old.
// Only a user never asked yet is asked synchronously. Users never call a
// Proximity grain, so that ask cannot deadlock.
func (g *grain) locations(ctx actor.Context, now time.Time) *Locations {
	g.refreshLocations(ctx, now, false)
	for i, u := range []string{g.state.UserA, g.state.UserB} {
		if l := &g.locs[i]; l.at.IsZero() {
			rep, err := cluster.CallIn[*grainpb.LocationReply](ctx, time.Second, cluster.KindUser, u, &grainpb.GetLocation{})
			l.set(rep, err, now, true)
		}
	}
	return &Locations{A: g.locs[0].loc, B: g.locs[1].loc}
}

// refreshLocations starts a background fetch of every stale answer. At
// activation it fetches both so the first scans find fixes; a miss then is
// not kept, because the phones usually send their locations just before
// they start scanning.
func (g *grain) refreshLocations(ctx actor.Context, now time.Time, activation bool) {
	c := pcluster.GetCluster(ctx.ActorSystem())
	for i, u := range []string{g.state.UserA, g.state.UserB} {
		l := &g.locs[i]
		if l.pending || (!activation && (l.at.IsZero() || now.Sub(l.at) < locationTTL)) {
			continue
		}
		pid := c.Get(u, cluster.KindUser)
		if pid == nil {
			continue
		}
		l.pending = true
		fut := ctx.RequestFuture(pid, &grainpb.GetLocation{}, time.Second)
		ctx.ReenterAfter(fut, func(res any, err error) {
			l.pending = false
			rep, _ := res.(*grainpb.LocationReply)
			l.set(rep, err, g.deps.Clock.Now(), !activation)
		})
	}
}

// set records an answer; keepMiss says whether "no fix" is kept for
// locationTTL or asked again at the next scan.
func (l *cachedLoc) set(rep *grainpb.LocationReply, err error, now time.Time, keepMiss bool) {
	if err != nil || rep == nil || !rep.Fresh {
		l.loc, l.at = nil, time.Time{}
		if keepMiss {
			l.at = now
		}
		return
	}
	l.at, l.loc = now, &storage.LatLng{Lat: rep.Lat, Lng: rep.Lng}
}
