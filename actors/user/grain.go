package user

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/wireerr"
)

// Reminders is the part of the reminders service the grain uses.
type Reminders interface {
	Set(ctx context.Context, r storage.Reminder) error
	Delete(ctx context.Context, kind, identity, name string) error
}

// Deps are what every User grain shares.
type Deps struct {
	Store     storage.Store
	Clock     clock.Clock
	Reminders Reminders
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// MaxSessions per user; the oldest socket is closed beyond it.
	MaxSessions int
	// Passivation: an idle grain with no sockets stops after this long.
	Passivation time.Duration

	// Radar.
	Grid          *radar.Grid
	Dir           *radar.Directory
	Watchers      *radar.Watchers
	RadarLimit    int
	PresenceTTL   time.Duration
	RadarInterval time.Duration
	// Pacer stretches RadarInterval while the node is behind; may be nil.
	Pacer          *radar.Pacer
	ReconnectGrace time.Duration
	// CellTimeout bounds the wait for a Cell grain's answer to a write; the
	// grain does not wait meanwhile. Default 5 s.
	CellTimeout time.Duration

	// Online is the node's index of users with open sockets; may be nil.
	Online *Online
}

// NewKind returns the User cluster kind.
func NewKind(d Deps) *pcluster.Kind {
	if d.Passivation <= 0 {
		d.Passivation = 10 * time.Minute
	}
	if d.CellTimeout <= 0 {
		d.CellTimeout = 5 * time.Second
	}
	// One copy for every grain: each grain points at it rather than
	// carrying its own (Deps is about 600 bytes; an idle user's grain
	// lives as long as its socket). Likewise the lock-free mailbox, a
	// queue head and a stub node, where the default one starts with a
	// 10-slot ring.
	deps := &d
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
		return &grain{deps: deps}
	}, actor.WithMailbox(actor.UnboundedLockfree())))
}

// cellRetry is how soon a failed cell write is tried again.
const cellRetry = time.Second

type grain struct {
	deps    *Deps
	id      string
	state   State
	missing bool // no such user: every call answers user_not_found
	loadErr error
	prof    profileCache

	pres    Presence
	watcher *radar.Watcher // the user's entry in the node's watcher index
	// passivating: the grain poisoned itself and must not arm passivation again.
	passivating bool
	// stale: the store refused a Put as stale (another activation wrote
	// the user since this one loaded it); the grain is stopping and
	// refuses everything (see superseded).
	stale bool

	snaps []*radar.Snapshot

	coverCell  h3.Cell       // the cell whose cover coverSlots hold
	coverSlots []*radar.Slot // the Directory slots of the radar's cover
}

// profileCache is the user's wire profile, encoded once per change while
// the user is on the radar: every location update sends it to a cell and
// answers with it.
type profileCache struct {
	valid     bool
	json      []byte    // shared with cell entries and replies: never modified
	interests []string  // radar.Interests of the vibe shown
	until     time.Time // when the vibe shown expires; zero if none shown
}

// profile returns the wire profile at now. A vibe expires on read (Wire),
// so the cache lasts until the vibe shown in it does.
func (g *grain) profile(now time.Time) *profileCache {
	p := &g.prof
	if p.valid && (p.until.IsZero() || now.Before(p.until)) {
		return p
	}
	if g.pres.Location() == nil {
		// Off the radar, the profile is read now and then (attach,
		// bootstrap, profile reads), not on every update: an idle user's
		// grain does not keep it.
		p = &profileCache{}
	}
	w := Wire(&g.state.User, now)
	p.json, _ = json.Marshal(w)
	p.interests, p.until = nil, time.Time{}
	if w.Vibe != nil {
		p.interests = radar.Interests(*w.Vibe)
		if g.state.User.VibeExpiresAt != nil {
			p.until = *g.state.User.VibeExpiresAt
		}
	}
	p.valid = true
	return p
}

// setUser replaces the user's record after it was stored.
func (g *grain) setUser(u storage.User) {
	g.state.User = u
	g.prof.valid = false
}

func (g *grain) now() time.Time { return g.deps.Clock.Now() }

func (g *grain) Receive(ctx actor.Context) {
	// A bug in one message must not cost the grain its state: the library
	// would restart the actor without its identity and session list.
	defer cluster.Recover(ctx, g.deps.Logger, "user grain", func() proto.Message {
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "internal error")}
	})
	// Whatever the message did to the sockets, passivation follows them.
	defer g.armPassivation(ctx)
	if g.stale {
		g.refuseStale(ctx)
		return
	}
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.id = m.Identity.Identity
		g.load()
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindUser).Inc()
	case *actor.ReceiveTimeout:
		if len(g.state.Sessions) == 0 && g.pres.Idle() {
			g.passivating = true
			ctx.Poison(ctx.Self())
		}
	case *grainpb.AttachSession:
		ctx.Respond(g.attach(ctx, m))
	case *grainpb.DetachSession:
		g.detach(ctx, g.state.Session(m.SessionId))
	case *actor.Terminated:
		// A watched session stopped without detaching: its node died (or
		// lost the connection to this one), or it stopped while its
		// attach was on the way. It no longer counts as online.
		ref := g.state.SessionAt(m.Who.Address, m.Who.Id)
		g.detach(ctx, ref)
		if ref != nil && m.Why == actor.TerminatedReason_AddressTerminated {
			// Only this node's connection to the socket's node is known to
			// have failed: should the session live on, it would get no
			// events. Closed with "try again", its socket reconnects.
			ctx.Send(sessionPID(ref), &grainpb.CloseSession{Code: protocol.CloseInternal, Reason: "try again"})
		}
	case *actor.Stopping:
		g.stopping(ctx)
	case *grainpb.GetLocation:
		rep := &grainpb.LocationReply{Fresh: g.pres.Fresh(g.now())}
		if rep.Fresh {
			l := g.pres.Location()
			rep.Lat, rep.Lng = l.Lat, l.Lng
		}
		ctx.Respond(rep)
	case *grainpb.GetAdminView:
		ctx.Respond(g.adminView())
	case *grainpb.GetUser:
		ctx.Respond(g.getUser())
	case *grainpb.ExistsQuery:
		rep := &grainpb.ExistsReply{
			Exists:     g.loadErr == nil && !g.missing && !g.state.User.Deleted(),
			Terminated: g.loadErr == nil && !g.missing && g.state.User.Terminated(),
			Unknown:    g.missing,
		}
		if g.loadErr != nil {
			// Not "deleted": a client told so would sign its user out.
			rep.Failure = grainpb.Fail(protocol.CodeUnavailable, protocol.DomainUsers, "user could not be loaded")
		}
		ctx.Respond(rep)
	case *grainpb.UpdateProfile:
		ctx.Respond(g.updateProfile(ctx, m))
	case *grainpb.GetBootstrap:
		ctx.Respond(g.bootstrap())
	case *grainpb.BlockUser:
		ctx.Respond(g.block(ctx, m))
	case *grainpb.BlockedBy:
		if m.Unblock {
			delete(g.state.Blockers, m.BlockerId)
		} else {
			g.state.Blockers[m.BlockerId] = true
		}
		g.radarChanged(ctx)
	case *grainpb.ReportUser:
		ctx.Respond(g.report(m))
	case *grainpb.DeleteAccount:
		ctx.Respond(g.deleteAccount(ctx, m))
	case *grainpb.TerminateAccount:
		ctx.Respond(g.terminate(ctx, m))
	case *grainpb.Deliver:
		g.deliverDialects(ctx, m.Type, m.WsFrame, m.LegacyFrame, m.ExceptSessionId)
	case *grainpb.ReminderFired:
		ctx.Respond(g.reminder(ctx, m))
	case *grainpb.UpdateLocation:
		ctx.Respond(g.updateLocation(ctx, m))
	case *grainpb.SetVisible:
		ctx.Respond(g.setVisible(ctx, m))
	case *grainpb.RadarDirty:
		g.radarChanged(ctx)
	case presenceTimer:
		g.apply(ctx, g.pres.Fired(g.now(), m.t))
	}
}

func (g *grain) load() {
	g.state = State{Blocked: map[string]time.Time{}, Blockers: map[string]bool{}}
	g.pres = NewPresence(PresenceConfig{
		TTL: g.deps.PresenceTTL, RadarInterval: g.deps.RadarInterval, Pace: g.deps.Pacer.Interval, ReconnectGrace: g.deps.ReconnectGrace, Retry: cellRetry,
	}, g.deps.Grid, false)
	c := context.Background()
	u, err := g.deps.Store.Users().Get(c, g.id)
	if errors.Is(err, storage.ErrNotFound) {
		g.missing = true
		return
	}
	if err != nil {
		g.loadErr = err
		g.deps.Logger.Error("user grain: load failed", "user", g.id, "err", err)
		return
	}
	g.setUser(*u)
	// Nothing is held yet: these answer no effects.
	g.pres.SetHidden(g.now(), u.HiddenFromRadar)
	if u.Deleted() {
		g.pres.Deleted(g.now())
	}
	blocks, err := g.deps.Store.Safety().BlockedBy(c, g.id)
	if err != nil {
		g.loadErr = err
		return
	}
	for _, b := range blocks {
		g.state.Blocked[b.BlockedID] = b.CreatedAt
	}
	blockers, err := g.deps.Store.Safety().BlockersOf(c, g.id)
	if err != nil {
		g.loadErr = err
		return
	}
	for _, id := range blockers {
		g.state.Blockers[id] = true
	}
}

// refuseStale answers what reaches a stale grain before it stops: a
// retryable failure for every call (Stale), nothing for the rest. Only the
// probe has no failure to carry; it is answered from the store, which is
// current, not from this grain's state.
func (g *grain) refuseStale(ctx actor.Context) {
	f := func(domain string) *grainpb.Failure { return grainpb.Stale(domain) }
	switch ctx.Message().(type) {
	case *grainpb.AttachSession:
		ctx.Respond(&grainpb.AttachReply{Failure: f(protocol.DomainSession)})
	case *grainpb.GetLocation:
		ctx.Respond(&grainpb.LocationReply{}) // no fix: the asker goes on without
	case *grainpb.GetAdminView:
		ctx.Respond(&grainpb.AdminViewReply{Failure: f(protocol.DomainUsers)})
	case *grainpb.GetUser, *grainpb.UpdateProfile:
		ctx.Respond(&grainpb.UserReply{Failure: f(protocol.DomainUsers)})
	case *grainpb.ExistsQuery:
		u, err := g.deps.Store.Users().Get(context.Background(), g.id)
		rep := &grainpb.ExistsReply{Exists: err == nil && !u.Deleted(), Terminated: err == nil && u.Terminated(), Unknown: errors.Is(err, storage.ErrNotFound)}
		if err != nil && !rep.Unknown {
			rep.Failure = grainpb.Fail(protocol.CodeUnavailable, protocol.DomainUsers, "user could not be loaded")
		}
		ctx.Respond(rep)
	case *grainpb.GetBootstrap:
		ctx.Respond(&grainpb.BootstrapReply{Failure: f(protocol.DomainSession)})
	case *grainpb.BlockUser:
		ctx.Respond(&grainpb.BlockReply{Failure: f(protocol.DomainSafety)})
	case *grainpb.ReportUser:
		ctx.Respond(&grainpb.ReportReply{Failure: f(protocol.DomainSafety)})
	case *grainpb.DeleteAccount, *grainpb.TerminateAccount:
		ctx.Respond(&grainpb.Ack{Failure: f(protocol.DomainAuth)})
	case *grainpb.ReminderFired:
		ctx.Respond(&grainpb.Ack{Failure: f(protocol.DomainUsers)})
	case *grainpb.UpdateLocation, *grainpb.SetVisible:
		ctx.Respond(&grainpb.PresenceReply{Failure: f(protocol.DomainPresence)})
	}
}

// superseded stops a grain whose Put the store refused as stale: another
// activation of the user has written since this one loaded (a node that
// froze and came back), so this one's state is out of date. Nothing that
// depended on the refused write is told to anyone. The sockets attached
// here are closed with "try again" (1011): they reconnect and attach to
// the fresh activation, which the next message starts and which loads the
// newer state; a stopped grain would otherwise leave them deaf. The
// node's watcher index forgets this grain; its cell entries age out.
func (g *grain) superseded(ctx actor.Context, op string, err error) {
	g.deps.Logger.Warn("user grain: write refused as stale, another activation wrote since; stopping", "user", g.id, "op", op, "err", err)
	g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindUser).Inc()
	if g.stale {
		return
	}
	g.stale, g.passivating = true, true
	for _, s := range g.state.Sessions {
		ctx.Unwatch(sessionPID(s))
		ctx.Send(sessionPID(s), &grainpb.CloseSession{Code: protocol.CloseInternal, Reason: "try again"})
	}
	g.state.Sessions = nil
	g.deps.Online.set(g.id, 0)
	g.apply(ctx, g.pres.Abandoned())
	ctx.CancelReceiveTimeout()
	ctx.Poison(ctx.Self())
}

// unavailable answers the calls a grain without usable state cannot serve.
func (g *grain) unavailable() *grainpb.Failure {
	switch {
	case g.loadErr != nil:
		return grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "user could not be loaded")
	case g.missing:
		return grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainUsers, "user not found")
	case g.state.User.Terminated():
		return grainpb.Fail(protocol.CodeAccountTerminated, protocol.DomainAuth, protocol.TerminatedMessage)
	case g.state.User.Deleted():
		return grainpb.Fail(protocol.CodeAccountDeleted, protocol.DomainAuth, "account deleted")
	}
	return nil
}

func (g *grain) userJSON() []byte { return g.profile(g.now()).json }

func (g *grain) attach(ctx actor.Context, m *grainpb.AttachSession) *grainpb.AttachReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.AttachReply{Failure: f}
	}
	// Each attached session is watched: a socket whose node died never
	// detaches (see Terminated). A session attaching again (it does after
	// a failed call) is watched once.
	pid := sessionPID(m.Session)
	if prev := g.state.Session(m.Session.SessionId); prev == nil {
		ctx.Watch(pid)
	} else if p := sessionPID(prev); !p.Equal(pid) {
		ctx.Unwatch(p)
		ctx.Watch(pid)
	}
	for _, old := range g.state.Attach(m.Session, g.deps.MaxSessions) {
		ctx.Unwatch(sessionPID(old))
		ctx.Send(sessionPID(old), &grainpb.CloseSession{
			Code: protocol.CloseSessionLimit, Reason: "too many sessions for this user",
		})
	}
	g.deps.Online.set(g.id, len(g.state.Sessions))
	g.apply(ctx, g.pres.Attached(g.now(), len(g.state.Sessions)))
	// The session watches this activation in turn, and attaches again
	// when it stops (moved to another node, or its node died).
	self := ctx.Self()
	return &grainpb.AttachReply{UserJson: g.userJSON(), GrainAddress: self.Address, GrainPidId: self.Id}
}

// detach forgets a session (nil: one already gone): it closed, or its
// actor stopped. The user's presence follows the sockets left.
func (g *grain) detach(ctx actor.Context, ref *grainpb.SessionRef) {
	if ref == nil {
		return
	}
	ctx.Unwatch(sessionPID(ref))
	g.state.Detach(ref.SessionId)
	g.deps.Online.set(g.id, len(g.state.Sessions))
	g.apply(ctx, g.pres.Detached(g.now(), len(g.state.Sessions)))
}

// stopping: the activation ends with sessions still attached (the
// cluster moved the user to another node, or this node shuts down). The
// sessions are told by their watch and attach to the next activation,
// which counts them again; this node no longer does. The grain's own
// watches end with it.
func (g *grain) stopping(ctx actor.Context) {
	if len(g.state.Sessions) == 0 {
		return
	}
	for _, s := range g.state.Sessions {
		ctx.Unwatch(sessionPID(s))
	}
	g.deps.Online.set(g.id, 0)
}

// sessionPID is the actor of an attached socket's session, on whichever
// node holds the socket.
func sessionPID(s *grainpb.SessionRef) *actor.PID { return actor.NewPID(s.Address, s.PidId) }

func (g *grain) getUser() *grainpb.UserReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.UserReply{Failure: f}
	}
	return &grainpb.UserReply{UserJson: g.userJSON()}
}

func (g *grain) updateProfile(ctx actor.Context, p *grainpb.UpdateProfile) *grainpb.UserReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.UserReply{Failure: f}
	}
	now := g.now()
	next := g.state.User
	res := ApplyPatch(&next, p, now)
	if !res.Changed {
		return &grainpb.UserReply{UserJson: g.userJSON()}
	}
	c := context.Background()
	if err := g.deps.Store.Users().Put(c, &next); err != nil {
		if errors.Is(err, storage.ErrConflict) {
			return &grainpb.UserReply{Failure: grainpb.Fail(protocol.CodeUsernameTaken, protocol.DomainUsers, "username is taken")}
		}
		if errors.Is(err, storage.ErrStale) {
			g.superseded(ctx, "save profile", err)
			return &grainpb.UserReply{Failure: grainpb.Stale(protocol.DomainUsers)}
		}
		g.deps.Logger.Error("user grain: save profile", "user", g.id, "err", err)
		return &grainpb.UserReply{Failure: wireerr.Failure(err, protocol.DomainUsers, "profile could not be saved")}
	}
	g.setUser(next)
	// The profile is stored; a reminder failure must not undo it. The vibe
	// still expires on read (Wire) and the reminder is retried on next change.
	switch {
	case !res.VibeDue.IsZero():
		if err := g.deps.Reminders.Set(c, storage.Reminder{Kind: cluster.KindUser, Identity: g.id, Name: ReminderVibe, DueAt: res.VibeDue}); err != nil {
			g.deps.Logger.Error("user grain: set vibe reminder", "user", g.id, "err", err)
		}
	case res.VibeCleared:
		if err := g.deps.Reminders.Delete(c, cluster.KindUser, g.id, ReminderVibe); err != nil {
			g.deps.Logger.Error("user grain: delete vibe reminder", "user", g.id, "err", err)
		}
	}
	g.announceProfile(ctx, now)
	g.profileMoved(ctx, res.VibeDue.IsZero() && !res.VibeCleared)
	return &grainpb.UserReply{UserJson: g.userJSON()}
}

// profileMoved republishes the radar entry (others see the new profile) and,
// when the vibe changed, wakes the user's own radar (shared interests).
func (g *grain) profileMoved(ctx actor.Context, vibeSame bool) {
	g.apply(ctx, g.pres.EntryChanged(g.now()))
	if !vibeSame {
		g.radarChanged(ctx)
	}
}

func (g *grain) announceProfile(ctx actor.Context, now time.Time) {
	frame, err := protocol.EncodeFrame(protocol.TypeUserProfileUpdated, protocol.UserProfileUpdated{User: Wire(&g.state.User, now)}, now, "", "")
	if err == nil {
		g.deliver(ctx, protocol.TypeUserProfileUpdated, frame, "")
	}
}

func (g *grain) bootstrap() *grainpb.BootstrapReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.BootstrapReply{Failure: f}
	}
	reports, err := g.deps.Store.Safety().ReportsBy(context.Background(), g.id)
	if err != nil {
		g.deps.Logger.Error("user grain: list reports", "user", g.id, "err", err)
		return &grainpb.BootstrapReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainSession, "bootstrap failed")}
	}
	wire := make([]protocol.SafetyReport, 0, len(reports))
	for i := range reports {
		wire = append(wire, WireReport(&reports[i]))
	}
	rj, _ := json.Marshal(wire)
	now := g.now()
	pj, _ := json.Marshal(g.presenceState(now))
	hits, interests := g.nearby(now)
	nj := radar.AppendNearby(nil, hits, interests)
	return &grainpb.BootstrapReply{
		UserJson: g.userJSON(), OnRadar: !g.state.User.HiddenFromRadar,
		BlockedUserIds: g.state.BlockedIDs(), SafetyReportsJson: rj,
		PresenceJson: pj, NearbyJson: nj,
	}
}

// WireReport renders a stored report.
func WireReport(r *storage.Report) protocol.SafetyReport {
	return protocol.SafetyReport{
		ReportID: r.ID, ReportedUserID: r.ReportedUserID, Reason: r.Reason,
		Status: r.Status, CreatedAt: protocol.FormatTime(r.CreatedAt),
	}
}

// targetExists reads the store, not the target's grain: asking another User
// grain from inside this one could deadlock when both ask each other.
func (g *grain) targetExists(id string) (bool, error) {
	u, err := g.deps.Store.Users().Get(context.Background(), id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return !u.Deleted(), nil
}

func (g *grain) block(ctx actor.Context, m *grainpb.BlockUser) *grainpb.BlockReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.BlockReply{Failure: f}
	}
	if m.TargetId == g.id {
		return &grainpb.BlockReply{Failure: grainpb.Fail(protocol.CodeInvalidPayload, protocol.DomainSafety, "you cannot block yourself")}
	}
	c := context.Background()
	typ := protocol.TypeSafetyBlock
	if m.Unblock {
		typ = protocol.TypeSafetyUnblock
		if _, blocked := g.state.Blocked[m.TargetId]; blocked {
			if err := g.deps.Store.Safety().Unblock(c, g.id, m.TargetId); err != nil {
				g.deps.Logger.Error("user grain: unblock", "user", g.id, "err", err)
				return &grainpb.BlockReply{Failure: wireerr.Failure(err, protocol.DomainSafety, "unblock failed")}
			}
			delete(g.state.Blocked, m.TargetId)
		}
	} else if _, blocked := g.state.Blocked[m.TargetId]; !blocked {
		ok, err := g.targetExists(m.TargetId)
		if err != nil {
			return &grainpb.BlockReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainSafety, "block failed")}
		}
		if !ok {
			return &grainpb.BlockReply{Failure: grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainSafety, "user not found")}
		}
		// Microseconds, as SQL stores keep them: the state must show what
		// a later activation will read back.
		at := g.now().Truncate(time.Microsecond)
		if err := g.deps.Store.Safety().Block(c, storage.Block{BlockerID: g.id, BlockedID: m.TargetId, CreatedAt: at}); err != nil {
			g.deps.Logger.Error("user grain: block", "user", g.id, "err", err)
			return &grainpb.BlockReply{Failure: wireerr.Failure(err, protocol.DomainSafety, "block failed")}
		}
		g.state.Blocked[m.TargetId] = at
	}
	if !m.Unblock {
		// A block closes whatever is open between the two. Fire and forget:
		// a User grain never waits on a Pair grain, which may be asking it.
		cluster.SendIn(ctx, cluster.KindPair, storage.PairID(g.id, m.TargetId), &grainpb.EndPair{ActorId: g.id, Reason: "blocked"})
	}
	// Tell the other side so its world hides (or shows) this user too.
	if c := pcluster.GetCluster(ctx.ActorSystem()); c != nil {
		if pid := c.Get(m.TargetId, cluster.KindUser); pid != nil {
			ctx.Send(pid, &grainpb.BlockedBy{BlockerId: g.id, Unblock: m.Unblock})
		}
	}
	g.radarChanged(ctx)
	// Keep the user's other devices in step.
	now := g.now()
	if frame, err := protocol.EncodeFrame(typ, protocol.SafetyBlockResult{BlockedUserID: m.TargetId}, now, "", ""); err == nil {
		g.deliver(ctx, typ, frame, m.OriginSessionId)
	}
	return &grainpb.BlockReply{}
}

func (g *grain) report(m *grainpb.ReportUser) *grainpb.ReportReply {
	if f := g.unavailable(); f != nil {
		return &grainpb.ReportReply{Failure: f}
	}
	if m.TargetId == g.id {
		return &grainpb.ReportReply{Failure: grainpb.Fail(protocol.CodeInvalidPayload, protocol.DomainSafety, "you cannot report yourself")}
	}
	// A deleted account can still be reported: the report may be why it left.
	if _, err := g.deps.Store.Users().Get(context.Background(), m.TargetId); err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return &grainpb.ReportReply{Failure: grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainSafety, "user not found")}
		}
		return &grainpb.ReportReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainSafety, "report failed")}
	}
	r := &storage.Report{
		ID: ids.New("sr"), ReporterID: g.id, ReportedUserID: m.TargetId,
		Reason: m.Reason, Status: "open", CreatedAt: g.now(),
	}
	if err := g.deps.Store.Safety().AddReport(context.Background(), r); err != nil {
		g.deps.Logger.Error("user grain: report", "user", g.id, "err", err)
		return &grainpb.ReportReply{Failure: wireerr.Failure(err, protocol.DomainSafety, "report failed")}
	}
	b, _ := json.Marshal(WireReport(r))
	return &grainpb.ReportReply{ReportJson: b}
}

func (g *grain) deleteAccount(ctx actor.Context, m *grainpb.DeleteAccount) *grainpb.Ack {
	if f := g.unavailable(); f != nil {
		return &grainpb.Ack{Failure: f}
	}
	now := g.now()
	next := g.state.User
	next.DeletedAt, next.DeleteReason, next.UpdatedAt = &now, m.Reason, now
	return g.leave(ctx, next, grainpb.Fail(protocol.CodeAccountDeleted, protocol.DomainAuth, "account deleted"), "account_deleted")
}

// terminate is an operator's removal of the account: a deletion whose
// identity stays bound to it (its logins are refused, not made anew) and
// whose sockets and tokens are told why. Terminating twice changes
// nothing the second time.
func (g *grain) terminate(ctx actor.Context, m *grainpb.TerminateAccount) *grainpb.Ack {
	switch {
	case g.loadErr != nil:
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "user could not be loaded")}
	case g.missing:
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainUsers, "user not found")}
	case g.state.User.Terminated():
		return &grainpb.Ack{}
	}
	now := g.now()
	next := g.state.User
	if next.DeletedAt == nil {
		next.DeletedAt, next.DeleteReason = &now, "terminated"
	}
	next.TerminatedAt, next.TerminateReason, next.UpdatedAt = &now, m.Reason, now
	return g.leave(ctx, next, grainpb.Fail(protocol.CodeAccountTerminated, protocol.DomainAuth, protocol.TerminatedMessage), "account_terminated")
}

// leave stores the account as gone, then closes everything it had: its
// tokens, devices, sockets (told why, in their dialect), radar presence,
// and what is open with other users (closed with closure).
func (g *grain) leave(ctx actor.Context, next storage.User, why *grainpb.Failure, closure string) *grainpb.Ack {
	now := g.now()
	c := context.Background()
	if err := g.deps.Store.Users().Put(c, &next); err != nil {
		if errors.Is(err, storage.ErrStale) {
			g.superseded(ctx, "close account", err)
			return &grainpb.Ack{Failure: grainpb.Stale(protocol.DomainAuth)}
		}
		g.deps.Logger.Error("user grain: close account", "user", g.id, "closure", closure, "err", err)
		return &grainpb.Ack{Failure: wireerr.Failure(err, protocol.DomainAuth, "account could not be closed")}
	}
	g.setUser(next)
	// The account is gone once stored; the clean-ups below are best effort and
	// each also guarded elsewhere (refresh checks the user, pushes check the user).
	if err := g.deps.Store.Tokens().RevokeUser(c, g.id, now); err != nil {
		g.deps.Logger.Error("user grain: revoke tokens", "user", g.id, "err", err)
	}
	if err := g.deps.Store.Devices().DeactivateUser(c, g.id, now); err != nil {
		g.deps.Logger.Error("user grain: deactivate devices", "user", g.id, "err", err)
	}
	if err := g.deps.Reminders.Delete(c, cluster.KindUser, g.id, ReminderVibe); err != nil {
		g.deps.Logger.Error("user grain: delete vibe reminder", "user", g.id, "err", err)
	}
	for _, s := range g.state.Sessions {
		ctx.Unwatch(sessionPID(s))
		ctx.Send(sessionPID(s), &grainpb.CloseSession{
			Code: protocol.CloseAccountDeleted, Reason: why.Code, LastError: why,
		})
	}
	g.state.Sessions = nil
	g.deps.Online.set(g.id, 0)
	g.apply(ctx, g.pres.Deleted(now))
	if pairs, err := g.deps.Store.Pairs().Of(c, g.id); err != nil {
		g.deps.Logger.Error("user grain: list pairs", "user", g.id, "err", err)
	} else {
		for _, p := range pairs {
			cluster.SendIn(ctx, cluster.KindPair, p, &grainpb.EndPair{ActorId: g.id, Reason: closure})
		}
	}
	return &grainpb.Ack{}
}

// deliver sends a `/ws` frame to the user's `/ws` sockets; the legacy
// dialect has no such event.
func (g *grain) deliver(ctx actor.Context, typ string, frame []byte, except string) {
	g.deliverDialects(ctx, typ, frame, nil, except)
}

// deliverDialects sends each socket the frame encoded for its dialect,
// skipping a dialect with no frame (an event the other dialect lacks):
// a fan-out encodes once per dialect, never once per socket.
func (g *grain) deliverDialects(ctx actor.Context, typ string, ws, legacy []byte, except string) {
	var wsMsg, legacyMsg *grainpb.SessionFrame
	if len(ws) > 0 {
		wsMsg = &grainpb.SessionFrame{Data: ws, Type: typ}
	}
	if len(legacy) > 0 {
		legacyMsg = &grainpb.SessionFrame{Data: legacy, Type: typ}
	}
	for _, s := range g.state.Sessions {
		if s.SessionId == except {
			continue
		}
		msg := wsMsg
		if s.Dialect == protocol.DialectLegacy {
			msg = legacyMsg
		}
		if msg != nil {
			ctx.Send(sessionPID(s), msg)
		}
	}
}

func (g *grain) reminder(ctx actor.Context, m *grainpb.ReminderFired) *grainpb.Ack {
	c := context.Background()
	if m.Name != ReminderVibe {
		g.deps.Logger.Warn("user grain: unknown reminder dropped", "user", g.id, "name", m.Name)
		_ = g.deps.Reminders.Delete(c, cluster.KindUser, g.id, m.Name)
		return &grainpb.Ack{}
	}
	if g.unavailable() != nil {
		// Missing or deleted: nothing will ever expire here.
		if g.loadErr == nil {
			_ = g.deps.Reminders.Delete(c, cluster.KindUser, g.id, m.Name)
		}
		return &grainpb.Ack{}
	}
	now := g.now()
	u := &g.state.User
	if u.Vibe != nil && u.VibeExpiresAt != nil && u.VibeExpiresAt.After(now) {
		// The vibe was renewed after this reminder was stored; re-arm for the new time.
		if err := g.deps.Reminders.Set(c, storage.Reminder{Kind: cluster.KindUser, Identity: g.id, Name: ReminderVibe, DueAt: *u.VibeExpiresAt}); err != nil {
			return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, err.Error())}
		}
		return &grainpb.Ack{}
	}
	next := g.state.User
	expired, at := ExpireVibe(&next, now)
	if expired {
		if err := g.deps.Store.Users().Put(c, &next); err != nil {
			if errors.Is(err, storage.ErrStale) {
				// The reminder stays: it fires again at a fresh activation.
				g.superseded(ctx, "expire vibe", err)
				return &grainpb.Ack{Failure: grainpb.Stale(protocol.DomainUsers)}
			}
			return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, err.Error())}
		}
		g.setUser(next)
		g.profileMoved(ctx, false)
		if frame, err := protocol.EncodeFrame(protocol.TypeVibeExpired, protocol.VibeExpired{ExpiredAt: protocol.FormatTime(at)}, now, "", ""); err == nil {
			g.deliver(ctx, protocol.TypeVibeExpired, frame, "")
		}
		g.announceProfile(ctx, now)
	}
	if err := g.deps.Reminders.Delete(c, cluster.KindUser, g.id, ReminderVibe); err != nil {
		return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, err.Error())}
	}
	return &grainpb.Ack{}
}

// adminView is the operator's view of the account: the stored record,
// deleted accounts included, the blocks it holds and the reports it filed.
func (g *grain) adminView() *grainpb.AdminViewReply {
	switch {
	case g.loadErr != nil:
		return &grainpb.AdminViewReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "user could not be loaded")}
	case g.missing:
		return &grainpb.AdminViewReply{Failure: grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainUsers, "user not found")}
	}
	reports, err := g.deps.Store.Safety().ReportsBy(context.Background(), g.id)
	if err != nil {
		g.deps.Logger.Error("user grain: list reports", "user", g.id, "err", err)
		return &grainpb.AdminViewReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "reports could not be read")}
	}
	uj, err := json.Marshal(&g.state.User)
	if err != nil {
		return &grainpb.AdminViewReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, err.Error())}
	}
	bj, _ := json.Marshal(g.state.Blocks(g.id))
	rj, _ := json.Marshal(reports)
	return &grainpb.AdminViewReply{UserJson: uj, BlocksJson: bj, ReportsJson: rj}
}
