package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/wireerr"
)

// Transport is the socket as the session sees it. The WebSocket
// implementation lives in httpapi; tests use a fake.
type Transport interface {
	// Send queues a frame. It reports false when the outbound queue is full:
	// the client is too slow and must be disconnected, never waited for.
	Send(typ string, frame []byte) bool
	// Close sends a close frame after what is queued and ends the socket.
	Close(code int, reason string)
}

// TokenVerifier checks a fresh access token on session.refresh.
type TokenVerifier interface {
	VerifyAccess(token string) (*auth.Claims, error)
}

// Handler serves one client frame type. It answers through c.Reply; an
// error it returns becomes an error frame (protocol.Error) or `internal`.
type Handler func(c *Context) error

// BootstrapSource fills its feature's part of session.bootstrap and then
// calls done exactly once, on the session's goroutine (from the source
// itself, or from a CallAsync continuation): a source never waits on a
// grain, so the session keeps serving grain frames while it runs.
type BootstrapSource func(c *Context, b *protocol.Bootstrap, done func(error))

// Deps are shared by every session of a node.
type Deps struct {
	Node     *cluster.Node
	Clock    clock.Clock
	Metrics  *metrics.Metrics
	Logger   *slog.Logger
	Verifier TokenVerifier
	Handlers map[string]Handler
	// Legacy serves the events of the legacy `/socket` dialect, by event
	// name. Its sessions have no session.start: they are live at once.
	Legacy    map[string]Handler
	Bootstrap []BootstrapSource
	// Served, when set, learns how long each answered client frame took
	// from the socket to its first answer: the node's pacer slows radar
	// pushes while that grows (radar.Pacer).
	Served func(received, answered time.Time)
	// Replay runs after bootstrap when session.start carries lastSeenAt.
	Replay func(c *Context, since time.Time) error
	// CallTimeout bounds each grain call a command makes.
	CallTimeout time.Duration
	// KeepFor is how long a message kept with Context.KeepForReattach is
	// worth sending again to a new activation of the User grain: the
	// presence TTL, past which a re-sent location would make the user
	// live again on a stale fix. Zero keeps it for good.
	KeepFor time.Duration
	// ShuttingDown, when set, reports that the node is shutting down: a
	// client frame served from then on is answered `unavailable` instead
	// (the client sends it again once reconnected), so a shutdown waits
	// only for the commands already under way, never for a backlog.
	ShuttingDown func() bool

	propsOnce sync.Once
	props     *actor.Props // shared by every session of the node (Spawn)
}

// Command carries one decoded client frame from the socket reader to the
// actor. Err is set when the reader already refused the frame (bad JSON, rate
// limit): the actor answers it in order with the frames around it.
type Command struct {
	// Raw is the frame as read; the actor decodes it (into Frame), so the
	// socket's reader goroutine stays shallow and its stack small while it
	// waits on an idle socket. Tests may set Frame directly instead.
	Raw   []byte
	Frame protocol.ClientFrame
	Err   *protocol.Error
	// Received is when the reader took the frame off the socket (wall
	// clock). A frame that waited in the mailbox longer than CallTimeout is
	// answered `unavailable` instead of served: its client has likely given
	// up, and serving a backlog nobody waits for is how an overloaded node
	// falls further behind.
	Received time.Time
}

// Drain asks a session to close its socket with Code once every command
// it started has been answered, so every write committed for the client
// has its acknowledgement queued ahead of the close frame. The socket
// forwards no frame after it, so the commands read before it are in the
// mailbox ahead of it (and, the node shutting down, answered
// `unavailable` unserved: see Deps.ShuttingDown). Until then the session
// keeps serving grain answers and events. A session stopped while the node
// shuts down counts and logs the calls it leaves unanswered: each may have
// committed a write whose acknowledgement never reached the client.
type Drain struct {
	Code   int
	Reason string
}

// Params describe one socket.
type Params struct {
	SessionID string
	UserID    string
	// Dialect is protocol.DialectWS or protocol.DialectLegacy: the
	// envelope the socket's frames are decoded from and errors encoded in.
	Dialect   string
	TokenExp  time.Time
	Transport Transport
}

// Spawn starts the actor of one socket. Every session of a node shares
// one Props, and the socket's Params come as the actor's first message: a
// Props and a producer closure per socket would stay with each idle socket
// for its life (about 0.5 KB). The caller's later messages (its Commands)
// queue behind that first one.
func Spawn(root *actor.RootContext, d *Deps, p Params) *actor.PID {
	d.propsOnce.Do(func() {
		// The lock-free mailbox is a queue head and a stub node; the
		// default one starts with a 10-slot ring that an idle socket
		// never fills (about 200 bytes less per socket).
		d.props = actor.PropsFromProducer(func() actor.Actor { return &sessionActor{deps: d} },
			actor.WithMailbox(actor.UnboundedLockfree()))
	})
	pid := root.Spawn(d.props)
	root.Send(pid, &begin{p: p})
	return pid
}

// begin hands a new session actor its socket.
type begin struct{ p Params }

type sessionActor struct {
	deps     *Deps
	p        Params
	self     *actor.PID
	tokenExp time.Time
	timer    clock.Timer
	attached bool
	closed   bool
	actx     actor.Context // set while a command is handled
	legacy   bool          // the socket speaks {event, data}
	debug    bool          // the logger takes debug records: one line per frame
	attempts uint8         // re-attach attempts since the grain stopped
	calls    int           // grain calls made for client frames and not yet answered (Ask)
	drain    *Drain        // set by Drain: close once calls is 0 and the start is over

	// grain is the User grain's activation the session is attached to,
	// watched: when it stops, the session attaches again.
	grain *actor.PID
	kept  []keptMsg // what to send a new activation (KeepForReattach)

	// While session.start gathers the bootstrap (without waiting: the
	// mailbox keeps flowing), the client's next frames and the grains'
	// events are held, so the client sees session.bootstrap first and every
	// later frame after it, as if the start had been served at once.
	starting bool
	heldIn   []*Command
	heldOut  []*grainpb.SessionFrame
}

// maxHeld bounds what a session holds while it starts; beyond it the client
// is treated like one that cannot keep up.
const maxHeld = 1024

type tokenCheck struct{}

// reattach is the timer's turn to attach again after a failed attempt.
type reattach struct{}

// keptMsg is a message for the User grain kept for a new activation.
type keptMsg struct {
	msg proto.Message
	at  time.Time
}

func (s *sessionActor) Receive(ctx actor.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.deps.Logger.Error("session: panic", "user", s.p.UserID, "message", fmt.Sprintf("%T", ctx.Message()), "panic", r, "stack", string(debug.Stack()))
			s.disconnect(protocol.NewDisconnect(protocol.CloseInternal, "internal error"))
		}
	}()
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.self = ctx.Self()
	case *begin:
		s.p, s.tokenExp, s.legacy = m.p, m.p.TokenExp, m.p.Dialect == protocol.DialectLegacy
		s.debug = s.deps.Logger.Enabled(context.Background(), slog.LevelDebug)
		// A legacy client has no session.start: its frames wait until the
		// socket is attached, so what it does is never served before the
		// user grain can answer it with events.
		s.starting = s.legacy
		s.attach(ctx, false)
		s.armTokenTimer(ctx)
	case *Drain:
		s.drain = m
		s.checkDrained()
	case *actor.Stopping:
		if s.calls > 0 && s.deps.ShuttingDown != nil && s.deps.ShuttingDown() {
			// The shutdown timeout cut the socket before these answered
			// (or the client left while they were under way).
			s.deps.Metrics.ShutdownUnanswered.WithLabelValues("call").Add(float64(s.calls))
			s.deps.Logger.Warn("session: shutdown timeout: commands left unanswered, they may have been committed unacknowledged",
				"user", s.p.UserID, "session", s.p.SessionID, "calls", s.calls)
		}
		if s.timer != nil {
			s.timer.Stop()
		}
		if s.grain != nil {
			ctx.Unwatch(s.grain)
		}
		if s.attached {
			s.deps.Node.Send(cluster.KindUser, s.p.UserID, &grainpb.DetachSession{SessionId: s.p.SessionID})
		}
		// Nothing goes to the socket any more, and an attach answered
		// after this detaches at once.
		s.closed = true
	case *actor.Terminated:
		s.grainStopped(ctx, m)
	case reattach:
		if !s.closed && s.grain == nil {
			s.attach(ctx, true)
		}
	case *Command:
		s.command(ctx, m)
	case *grainpb.SessionFrame:
		if s.starting {
			s.holdOut(m)
			return
		}
		s.send(m.Type, m.Data)
	case *grainpb.CloseSession:
		d := protocol.NewDisconnect(int(m.Code), m.Reason)
		if m.LastError != nil {
			d.Last, _ = m.LastError.Err().(*protocol.Error)
		}
		s.disconnect(d)
	case tokenCheck:
		if !s.deps.Clock.Now().Before(s.tokenExp) {
			d := protocol.NewDisconnect(protocol.CloseTokenExpired, "token expired")
			d.Last = protocol.Errorf(protocol.CodeTokenExpired, protocol.DomainAuth,
				"access token expired; send session.refresh with a new token before expiry")
			s.disconnect(d)
			return
		}
		s.armTokenTimer(ctx)
	}
}

// command serves one client frame, or holds it while the session starts.
func (s *sessionActor) command(ctx actor.Context, m *Command) {
	if s.closed {
		return
	}
	if s.starting {
		if len(s.heldIn) >= maxHeld {
			s.disconnect(protocol.NewDisconnect(protocol.CloseAbuse, "too many frames before bootstrap"))
			return
		}
		s.heldIn = append(s.heldIn, m)
		return
	}
	s.actx = ctx
	if m.Raw != nil {
		decode := protocol.DecodeClientFrame
		if s.legacy {
			decode = protocol.DecodeLegacyFrame
		}
		f, perr := decode(m.Raw)
		m.Frame = f
		s.deps.Metrics.FramesIn.WithLabelValues(s.frameLabel(f.Type)).Inc()
		if m.Err == nil {
			m.Err = perr
		}
	}
	if m.Err == nil && s.deps.ShuttingDown != nil && s.deps.ShuttingDown() {
		m.Err = protocol.Errorf(protocol.CodeUnavailable, protocol.DomainOf(m.Frame.Type), "server shutting down: send it again once reconnected")
	} else if m.Err == nil && !m.Received.IsZero() && time.Since(m.Received) > s.deps.CallTimeout {
		s.deps.Metrics.Shed.Inc()
		m.Err = protocol.Errorf(protocol.CodeUnavailable, protocol.DomainOf(m.Frame.Type), "server busy: this frame waited too long, try again")
	}
	if m.Err != nil {
		c := &Context{s: s, Frame: m.Frame, UserID: s.p.UserID}
		c.Fail(m.Err)
		return
	}
	if s.debug {
		s.deps.Logger.Debug("session: frame", "user", s.p.UserID, "session", s.p.SessionID, "type", m.Frame.Type, "requestId", m.Frame.RequestID)
	}
	s.handle(m.Frame, m.Received)
}

// holdOut keeps a grain's event until the bootstrap is sent.
func (s *sessionActor) holdOut(f *grainpb.SessionFrame) {
	if len(s.heldOut) >= maxHeld {
		s.disconnect(protocol.NewDisconnect(protocol.CloseSlowConsumer, "outbound queue full"))
		return
	}
	s.heldOut = append(s.heldOut, f)
}

// started ends session.start, whether the bootstrap was sent or failed:
// held events go out first (they happened during the start), then the
// client's held frames are served in order. A held session.start starts
// holding again, and the frames after it stay held.
func (s *sessionActor) started() {
	s.starting = false
	out := s.heldOut
	s.heldOut = nil
	for _, f := range out {
		s.send(f.Type, f.Data)
	}
	for len(s.heldIn) > 0 && !s.starting && !s.closed {
		m := s.heldIn[0]
		s.heldIn = s.heldIn[1:]
		s.command(s.actx, m)
	}
	if len(s.heldIn) == 0 {
		s.heldIn = nil
	}
	s.checkDrained()
}

// checkDrained closes a draining session's socket once nothing the client
// asked for is still under way: no grain call unanswered and no start
// holding frames.
func (s *sessionActor) checkDrained() {
	if s.drain != nil && !s.closed && s.calls == 0 && !s.starting {
		s.disconnect(protocol.NewDisconnect(s.drain.Code, s.drain.Reason))
	}
}

// frameLabel keeps the frames-in metric's label set to frame types we know.
func (s *sessionActor) frameLabel(typ string) string {
	if _, ok := s.deps.lookup(s.legacy, typ); ok {
		return typ
	}
	return "unknown"
}

// own are the `/ws` frame types the session serves itself, ahead of the
// features' Handlers. Filled in init: start and refresh lead back to
// handle, which reads this table.
var own map[string]Handler

func init() {
	own = map[string]Handler{
		protocol.TypeSessionStart:   func(c *Context) error { return c.s.start(c) },
		protocol.TypeSessionRefresh: func(c *Context) error { return c.s.refresh(c) },
	}
	for typ := range protocol.PeerGiftTypes {
		own[typ] = peerGiftsDisabled
	}
}

func peerGiftsDisabled(*Context) error {
	return protocol.Errorf(protocol.CodePeerGiftsDisabled, protocol.DomainGifts, "peer-to-peer gifts are disabled; rewards are sponsored")
}

// lookup finds what serves a frame type in a dialect: the one dispatch
// table that handle, the metrics and FrameTypes all read.
func (d *Deps) lookup(legacy bool, typ string) (Handler, bool) {
	if legacy {
		h, ok := d.Legacy[typ]
		return h, ok
	}
	if h, ok := own[typ]; ok {
		return h, true
	}
	h, ok := d.Handlers[typ]
	return h, ok
}

// FrameTypes lists, sorted, every client frame type a socket of dialect
// (protocol.DialectWS or protocol.DialectLegacy) is served: the registry
// a test can walk to try each one.
func (d *Deps) FrameTypes(dialect string) []string {
	var types []string
	if dialect == protocol.DialectLegacy {
		types = slices.Collect(maps.Keys(d.Legacy))
	} else {
		types = slices.Collect(maps.Keys(d.Handlers))
		types = append(types, slices.Collect(maps.Keys(own))...)
	}
	slices.Sort(types)
	return slices.Compact(types)
}

// attach registers the socket with its User grain. The answer comes back
// later (ReenterAfter): the session never waits on the grain, and frames
// that arrive meanwhile are served as usual. again is set when the session
// attaches to a new activation after the one it had stopped.
func (s *sessionActor) attach(ctx actor.Context, again bool) {
	ref := &grainpb.SessionRef{SessionId: s.p.SessionID, Address: s.self.Address, PidId: s.self.Id, Dialect: s.p.Dialect}
	cluster.Request(ctx, cluster.KindUser, s.p.UserID, &grainpb.AttachSession{Session: ref}, s.deps.CallTimeout, func(rep *grainpb.AttachReply, err error) {
		switch res := sortAttach(rep, err); {
		case res == attachRetry && again:
			s.retryAttach(ctx, err, rep.GetFailure())
		case res == attachRetry:
			// The phone is still connecting: it tries again itself.
			s.deps.Logger.Error("session: attach failed", "user", s.p.UserID, "err", err, "failure", rep.GetFailure())
			s.disconnect(protocol.NewDisconnect(protocol.CloseInternal, "try again"))
		case rep.Failure != nil:
			s.disconnect(wireerr.ForFailure(rep.Failure.Err().(*protocol.Error)))
		case s.closed:
			// Closed while attaching: Stopping may have run without us.
			s.deps.Node.Send(cluster.KindUser, s.p.UserID, &grainpb.DetachSession{SessionId: s.p.SessionID})
		default:
			s.attached = true
			s.watchGrain(ctx, rep)
			if again {
				s.attempts = 0
				s.resend(ctx)
				return
			}
			if s.legacy {
				s.verify(rep.UserJson)
				s.actx = ctx
				s.started()
			}
		}
	})
}

// watchGrain watches the activation that answered the attach.
func (s *sessionActor) watchGrain(ctx actor.Context, rep *grainpb.AttachReply) {
	if rep.GrainAddress == "" || rep.GrainPidId == "" {
		return
	}
	pid := actor.NewPID(rep.GrainAddress, rep.GrainPidId)
	if s.grain != nil && !s.grain.Equal(pid) {
		ctx.Unwatch(s.grain)
	}
	s.grain = pid
	// A PID already gone is answered with Terminated at once.
	ctx.Watch(pid)
}

// grainStopped: the User grain's activation ended without closing the
// socket (moved to another member, or its member died). The session
// attaches again, which activates the grain wherever the cluster now
// places it; frames meanwhile go on through grain calls as ever. A close
// the grain meant (stale state) is not undone: it may be in the mailbox
// behind this Terminated (system messages go first), and once closed the
// session detaches from whatever it attached to.
func (s *sessionActor) grainStopped(ctx actor.Context, m *actor.Terminated) {
	if s.grain == nil || !m.Who.Equal(s.grain) {
		return
	}
	s.grain, s.attached = nil, false
	if s.closed {
		return
	}
	s.deps.Logger.Debug("session: user grain stopped, attaching again", "user", s.p.UserID, "session", s.p.SessionID, "why", m.Why)
	s.attempts = 0
	s.retryAttach(ctx, nil, nil)
}

// retryAttach attaches again after a while, or gives up and closes the
// socket with "try again" (1011): the phone reconnects. Even the first
// attempt waits: the member that placed the stopped activation hears of
// the stop only after its watchers, and a member list that is changing
// settles; asked at once, either may still name the stopped activation.
func (s *sessionActor) retryAttach(ctx actor.Context, err error, f *grainpb.Failure) {
	if s.closed {
		return
	}
	s.attempts++
	wait, ok := reattachDelay(s.attempts)
	if !ok {
		s.deps.Logger.Warn("session: attach again failed, closing", "user", s.p.UserID, "session", s.p.SessionID, "attempts", s.attempts-1, "err", err, "failure", f)
		s.disconnect(protocol.NewDisconnect(protocol.CloseInternal, "try again"))
		return
	}
	// Not stopped with the session: one that fired after it is a dead letter.
	self, sys := ctx.Self(), ctx.ActorSystem()
	s.deps.Clock.AfterFunc(wait, func() { sys.Root.Send(self, reattach{}) })
}

// resend sends a new activation what the session kept for it, unless too
// old. The answers only matter to the log: the client already had its own.
func (s *sessionActor) resend(ctx actor.Context) {
	now := s.deps.Clock.Now()
	for _, k := range s.kept {
		if s.deps.KeepFor > 0 && now.Sub(k.at) >= s.deps.KeepFor {
			continue
		}
		cluster.Request(ctx, cluster.KindUser, s.p.UserID, k.msg, s.deps.CallTimeout, func(_ proto.Message, err error) {
			if err != nil {
				s.deps.Logger.Debug("session: re-sending to the user grain failed", "user", s.p.UserID, "message", fmt.Sprintf("%T", k.msg), "err", err)
			}
		})
	}
}

// keep stores msg as the latest of its type.
func (s *sessionActor) keep(msg proto.Message) {
	k := keptMsg{msg: msg, at: s.deps.Clock.Now()}
	name := msg.ProtoReflect().Descriptor().FullName()
	for i := range s.kept {
		if s.kept[i].msg.ProtoReflect().Descriptor().FullName() == name {
			s.kept[i] = k
			return
		}
	}
	s.kept = append(s.kept, k)
}

// attachResult sorts the answer to an attach.
type attachResult int

const (
	attachOK      attachResult = iota
	attachRetry                // not reached, or stale: another attempt may succeed
	attachRefused              // the grain said no for good (account gone, no such user)
)

func sortAttach(rep *grainpb.AttachReply, err error) attachResult {
	switch {
	case err != nil:
		return attachRetry
	case rep.Failure == nil:
		return attachOK
	case rep.Failure.Code == string(protocol.CodeUnavailable):
		return attachRetry
	}
	return attachRefused
}

// reattachBackoff are the waits before each re-attach attempt: together
// with the attempts' own time they outlast the few seconds the cluster
// takes to notice a dead member and place its grains elsewhere.
var reattachBackoff = []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second}

// reattachDelay is the wait before the n-th re-attach attempt (from 1);
// false: no more attempts.
func reattachDelay(n uint8) (time.Duration, bool) {
	if n < 1 || int(n) > len(reattachBackoff) {
		return 0, false
	}
	return reattachBackoff[n-1], true
}

// verify tells a legacy client at once when its account has no name yet:
// its chat events will be refused with verification-required until it has
// one.
func (s *sessionActor) verify(userJSON []byte) {
	var u struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(userJSON, &u) == nil && u.Name == "" {
		s.send(protocol.EventVerificationRequired, protocol.EncodeLegacyError(
			protocol.Errorf(protocol.CodeVerificationRequired, protocol.DomainSession, "set your name before you chat")))
	}
}

func (s *sessionActor) armTokenTimer(ctx actor.Context) {
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.tokenExp.IsZero() {
		return
	}
	self, sys := ctx.Self(), ctx.ActorSystem()
	s.timer = s.deps.Clock.AfterFunc(s.tokenExp.Sub(s.deps.Clock.Now()), func() {
		sys.Root.Send(self, tokenCheck{})
	})
}

func (s *sessionActor) send(typ string, frame []byte) {
	if s.closed {
		return
	}
	if !s.p.Transport.Send(typ, frame) {
		s.disconnect(protocol.NewDisconnect(protocol.CloseSlowConsumer, "outbound queue full"))
		return
	}
	s.deps.Metrics.FramesOut.WithLabelValues(typ).Inc()
}

// disconnect is the only way a session closes its socket: every close is a
// *protocol.Disconnect value, counted by code, with an optional last error
// frame.
func (s *sessionActor) disconnect(d *protocol.Disconnect) {
	if s.closed {
		return
	}
	if d.Last != nil {
		s.send(protocol.TypeError, s.encodeError(d.Last, "", ""))
	}
	s.closed = true
	s.deps.Metrics.Disconnects.WithLabelValues(closeLabel(d.Code)).Inc()
	s.deps.Logger.Debug("session: disconnect", "user", s.p.UserID, "session", s.p.SessionID, "code", d.Code, "reason", d.Reason)
	s.p.Transport.Close(d.Code, d.Reason)
}

func (s *sessionActor) handle(f protocol.ClientFrame, received time.Time) {
	c := &Context{s: s, actx: s.actx, Frame: f, UserID: s.p.UserID, SessionID: s.p.SessionID, Node: s.deps.Node, Now: s.deps.Clock.Now(), received: received}
	// Not cancelled on return: a handler's continuations (CallAsync, the
	// bootstrap chain) run later and still read through it. The deadline's
	// own timer releases it.
	c.Ctx, c.cancel = context.WithTimeout(context.Background(), s.deps.CallTimeout)
	var err error
	if h, ok := s.deps.lookup(s.legacy, f.Type); ok {
		err = h(c)
	} else if s.legacy {
		err = protocol.Errorf(protocol.CodeUnknownType, protocol.DomainSession, "unknown event %q", f.Type)
	} else {
		err = protocol.Errorf(protocol.CodeUnknownType, protocol.DomainOf(f.Type), "unknown type")
	}
	if err != nil {
		c.Fail(err)
	}
}

func (s *sessionActor) start(c *Context) error {
	var p protocol.SessionStart
	if err := protocol.DecodePayload(c.Frame.Payload, protocol.DomainSession, &p); err != nil {
		return err
	}
	c.LastSeenAt = p.LastSeenAt
	if err := c.Reply(protocol.TypeSessionConnected, struct{}{}); err != nil {
		return err
	}
	b := protocol.NewBootstrap()
	s.starting = true
	// Any failure answered on this frame (a source's grain call that failed,
	// a source's error) ends the start, so held frames are never stuck.
	c.onFail = s.started
	s.bootstrapFrom(c, &b, 0, p.LastSeenAt)
	return nil
}

// bootstrapFrom runs the sources from i on, each after the previous one
// called done, then sends session.bootstrap and the replay.
func (s *sessionActor) bootstrapFrom(c *Context, b *protocol.Bootstrap, i int, lastSeenAt *time.Time) {
	if i < len(s.deps.Bootstrap) {
		s.deps.Bootstrap[i](c, b, func(err error) {
			if err != nil {
				c.Fail(err)
				return
			}
			s.bootstrapFrom(c, b, i+1, lastSeenAt)
		})
		return
	}
	raw, err := b.AppendJSON(nil)
	if err == nil {
		err = c.ReplyRaw(protocol.TypeSessionBootstrap, raw)
	}
	if err == nil && lastSeenAt != nil && s.deps.Replay != nil {
		err = s.deps.Replay(c, *lastSeenAt)
	}
	if err != nil {
		c.Fail(err) // ends the start
		return
	}
	c.onFail = nil
	s.started()
}

func (s *sessionActor) refresh(c *Context) error {
	var p protocol.SessionRefresh
	if err := protocol.DecodePayload(c.Frame.Payload, protocol.DomainSession, &p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	claims, err := s.deps.Verifier.VerifyAccess(p.AccessToken)
	if errors.Is(err, auth.ErrTokenExpired) {
		return protocol.Errorf(protocol.CodeTokenExpired, protocol.DomainAuth, "access token expired")
	}
	if err != nil {
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "invalid access token")
	}
	if claims.UserID != s.p.UserID {
		return protocol.Errorf(protocol.CodeForbidden, protocol.DomainAuth, "token belongs to another user")
	}
	if claims.ExpiresAt.After(s.tokenExp) {
		s.tokenExp = claims.ExpiresAt
	}
	// The timer re-arms itself from tokenExp when it fires early.
	return c.Reply(protocol.TypeSessionRefresh, map[string]string{"expiresAt": protocol.FormatTime(s.tokenExp)})
}

// Context is what a Handler sees of its session and frame.
type Context struct {
	s         *sessionActor
	actx      actor.Context
	Ctx       context.Context
	Frame     protocol.ClientFrame
	UserID    string
	SessionID string
	Node      *cluster.Node
	Now       time.Time
	// LastSeenAt is set during session.start.
	LastSeenAt *time.Time
	cancel     context.CancelFunc
	// onFail runs once after an error is answered on this frame.
	onFail func()
	// received is when the socket read the frame; zero once its first
	// answer was reported to Deps.Served.
	received time.Time
}

// answer sends a frame that answers this request, and reports the
// request's first answer to Deps.Served.
func (c *Context) answer(typ string, frame []byte) {
	c.s.send(typ, frame)
	if c.received.IsZero() || c.s.deps.Served == nil {
		return
	}
	c.s.deps.Served(c.received, time.Now())
	c.received = time.Time{}
}

// CallAsync asks a grain and runs done with its reply of type R later, on
// the session's goroutine, without holding up the frames that follow: a
// chat message waiting for its fsync must not stall the next one. An
// unreachable grain, a reply of another type, or an error from done is
// answered as an error frame, as a handler's error would be.
func CallAsync[R proto.Message](c *Context, kind, identity string, req proto.Message, done func(R) error) {
	Ask(c, kind, identity, req, func(rep R, err error) {
		if err == nil {
			err = done(rep)
		}
		if err != nil {
			c.Fail(err)
		}
	})
}

// Ask is CallAsync for callers that deal with a failed call themselves (an
// optional part of bootstrap): then always runs exactly once, on the
// session's goroutine, with the reply or with the error (wrapping
// cluster.ErrUnavailable when the grain did not answer in time), so a
// chain of continuations never stalls.
func Ask[R proto.Message](c *Context, kind, identity string, req proto.Message, then func(R, error)) {
	s := c.s
	// Counted until answered: a draining socket stays open for the answer
	// (Drain), which may acknowledge a write the grain has committed.
	s.calls++
	cluster.Request(c.actx, kind, identity, req, s.deps.CallTimeout, func(rep R, err error) {
		defer func() {
			s.calls--
			s.checkDrained()
		}()
		then(rep, err)
	})
}

// KeepForReattach keeps msg, which the handler sends to the user's User
// grain, to send it again should the session attach to a new activation of
// that grain (the old one moved to another node, or its node died):
// presence lives in the grain's memory only, and the phone does not know
// that it should send it again. The latest message of each type is kept.
func (c *Context) KeepForReattach(msg proto.Message) { c.s.keep(msg) }

// Decode reads the frame's payload into v.
func (c *Context) Decode(v any) *protocol.Error {
	return protocol.DecodePayload(c.Frame.Payload, protocol.DomainOf(c.Frame.Type), v)
}

// Reply sends a frame echoing the request's ids.
func (c *Context) Reply(typ string, payload any) error {
	b, err := protocol.EncodeFrame(typ, payload, c.s.deps.Clock.Now(), c.Frame.RequestID, c.Frame.CorrelationID)
	if err != nil {
		return err
	}
	c.answer(typ, b)
	return nil
}

// Event sends a frame that answers no request (no ids).
func (c *Context) Event(typ string, payload any) {
	b, err := protocol.EncodeFrame(typ, payload, c.s.deps.Clock.Now(), "", "")
	if err == nil {
		c.s.send(typ, b)
	}
}

// ReplyRaw sends a frame whose payload is compact JSON the server encoded.
func (c *Context) ReplyRaw(typ string, payload []byte) error {
	c.answer(typ, protocol.EncodeRawFrame(typ, payload, c.s.deps.Clock.Now(), c.Frame.RequestID, c.Frame.CorrelationID))
	return nil
}

// ReplyFrame answers with a frame of type typ that the producer wrote up to
// the end of its payload (protocol.AppendFrameHead and the payload): the
// tail with this request's ids is appended in place.
func (c *Context) ReplyFrame(typ string, head []byte) error {
	c.answer(typ, protocol.AppendFrameTail(head, c.s.deps.Clock.Now(), c.Frame.RequestID, c.Frame.CorrelationID))
	return nil
}

// Fail answers an error frame: reply errors as they are, others as
// internal (logged). An error that is a disconnect closes the socket
// instead.
func (c *Context) Fail(err error) {
	if d, ok := wireerr.Disconnect(err); ok {
		c.s.disconnect(d)
		return
	}
	pe := wireerr.Reply(err)
	if pe.Code == protocol.CodeInternal {
		c.s.deps.Logger.Error("session: command failed", "type", c.Frame.Type, "requestId", c.Frame.RequestID, "user", c.UserID, "err", err)
	}
	if pe.Domain == "" {
		pe.Domain = protocol.DomainOf(c.Frame.Type)
	}
	c.s.deps.Metrics.Errors.WithLabelValues(string(pe.Code)).Inc()
	c.answer(protocol.TypeError, c.s.encodeError(pe, c.Frame.RequestID, c.Frame.CorrelationID))
	if f := c.onFail; f != nil {
		c.onFail = nil
		f()
	}
}

// encodeError renders an error frame in the socket's dialect.
func (s *sessionActor) encodeError(e *protocol.Error, requestID, correlationID string) []byte {
	if s.legacy {
		return protocol.EncodeLegacyError(e)
	}
	return protocol.EncodeError(e, s.deps.Clock.Now(), requestID, correlationID)
}

func closeLabel(code int) string {
	switch code {
	case protocol.CloseNormal, protocol.CloseGoingAway, protocol.ClosePolicy, protocol.CloseTooBig,
		protocol.CloseInternal, protocol.CloseTokenExpired, protocol.CloseAccountDeleted,
		protocol.CloseSlowConsumer, protocol.CloseSessionLimit, protocol.CloseAbuse:
		return strconv.Itoa(code)
	}
	return "other"
}
