package score

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	"github.com/gisbi/engine/wireerr"
)

// ReminderReset names the reminder that resets a user's day at the next
// midnight of the day zone.
const ReminderReset = "reset"

// Reminders is the durable timer service as grains use it.
type Reminders = user.Reminders

// Deps are shared by every Score grain of a node.
type Deps struct {
	Store     storage.Store
	Clock     clock.Clock
	Reminders Reminders
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	Rules     Rules
	// Passivation: an idle grain stops after this long (5 min by default).
	Passivation time.Duration
	// ObserveEvery is how long observed actions gather in memory before
	// they are stored and pushed together (clock time, 2 s by default): a
	// user chatting away costs its score one write per interval, not one
	// per message, which the chat's own group commits would queue behind.
	ObserveEvery time.Duration
}

// NewKind returns the Score cluster kind; a grain's identity is a user id.
func NewKind(d Deps) *pcluster.Kind {
	if d.Passivation <= 0 {
		d.Passivation = 5 * time.Minute
	}
	if d.ObserveEvery <= 0 {
		d.ObserveEvery = 2 * time.Second
	}
	return pcluster.NewKind(cluster.KindScore, actor.PropsFromProducer(func() actor.Actor {
		return &grain{deps: d}
	}))
}

// grain is the only writer of one user's score day.
type grain struct {
	deps   Deps
	id     string
	day    Day
	loaded bool
	// version is the stored version of the day record, as loaded or as
	// the last write left it: every write is fenced by it.
	version uint64
	// stale: the store refused a write as stale (another activation wrote
	// the day since this one loaded it); the grain is stopping and
	// refuses everything (see superseded).
	stale bool
	// armed is the due time of the reset reminder as last stored by this
	// activation; zero when unknown or none. It spares a reminder write
	// for every action of the same day.
	armed time.Time
	// dirty: day holds observed actions not stored yet; a flush is due
	// (flushing) within ObserveEvery.
	dirty, flushing bool
}

// flushDue is the self-message that stores gathered observations.
type flushDue struct{}

func failure() proto.Message {
	return &grainpb.ScoreReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "internal error")}
}

func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "score grain", failure)
	if g.stale {
		// Stopping: calls get a retryable failure, the rest nothing.
		switch ctx.Message().(type) {
		case *grainpb.ScoreGet, *grainpb.ScoreComplete:
			ctx.Respond(&grainpb.ScoreReply{Failure: grainpb.Stale(protocol.DomainScore)})
		case *grainpb.ReminderFired:
			ctx.Respond(&grainpb.Ack{Failure: grainpb.Stale(protocol.DomainScore)})
		}
		return
	}
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.id = m.Identity.Identity
		_ = g.ready()
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindScore).Inc()
		ctx.SetReceiveTimeout(g.deps.Passivation)
	case *actor.ReceiveTimeout:
		// Observations still gathering are stored first; nothing else is
		// ever in flight between two messages.
		if g.flush(ctx) {
			ctx.Poison(ctx.Self())
		}
	case *actor.Stopping:
		// A graceful stop keeps what was gathered, while the store is open.
		g.flush(ctx)
	case flushDue:
		g.flushing = false
		if !g.flush(ctx) {
			g.armFlush(ctx)
		}
	case *grainpb.ScoreGet:
		ctx.Respond(g.get(ctx))
	case *grainpb.ScoreComplete:
		ctx.Respond(g.complete(ctx, m))
	case *grainpb.ScoreObserve:
		g.observe(ctx, m)
	case *grainpb.ReminderFired:
		ctx.Respond(g.fired(ctx, m))
	}
}

func (g *grain) now() time.Time { return g.deps.Clock.Now() }

// ready loads the stored day once; a failed load is retried by the next
// message.
func (g *grain) ready() error {
	if g.loaded {
		return nil
	}
	rec, err := g.deps.Store.Scores().Get(context.Background(), g.id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		g.day, g.version = Day{}, 0
	case err != nil:
		g.deps.Logger.Error("score grain: load", "user", g.id, "err", err)
		return fmt.Errorf("score grain: load %s: %w", g.id, err)
	default:
		g.day, g.version = Day{Start: rec.Date, Counts: rec.Counts}, rec.Version
	}
	g.loaded = true
	return nil
}

// account refuses the client calls of users who are gone: a deleted
// account's access token lives on for a few minutes.
func (g *grain) account() *grainpb.Failure {
	u, err := g.deps.Store.Users().Get(context.Background(), g.id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainScore, "user not found")
	case err != nil:
		g.deps.Logger.Error("score grain: read user", "user", g.id, "err", err)
		return grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "internal error")
	case u.Deleted():
		return grainpb.Fail(protocol.CodeAccountDeleted, protocol.DomainAuth, "account deleted")
	}
	return nil
}

func (g *grain) get(ctx actor.Context) *grainpb.ScoreReply {
	if f := g.account(); f != nil {
		return &grainpb.ScoreReply{Failure: f}
	}
	if err := g.ready(); err != nil {
		return &grainpb.ScoreReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "score unavailable")}
	}
	// What is answered is stored: observations still gathering are
	// stored (and pushed) first.
	if !g.flush(ctx) {
		if g.stale {
			return &grainpb.ScoreReply{Failure: grainpb.Stale(protocol.DomainScore)}
		}
		return &grainpb.ScoreReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "score unavailable")}
	}
	// A read rolls the day over without storing it: a day read after
	// midnight shows zeros even before the reset reminder fires, and the
	// reminder still finds the day to reset, store and announce.
	cur, _ := g.deps.Rules.Current(g.day, g.now())
	return g.reply(cur)
}

func (g *grain) complete(ctx actor.Context, m *grainpb.ScoreComplete) *grainpb.ScoreReply {
	if f := g.account(); f != nil {
		return &grainpb.ScoreReply{Failure: f}
	}
	if err := g.ready(); err != nil {
		return &grainpb.ScoreReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "score unavailable")}
	}
	now := g.now()
	next, perr := g.deps.Rules.Complete(g.day, m.ActionType, now)
	if perr != nil {
		return &grainpb.ScoreReply{Failure: grainpb.Fail(perr.Code, perr.Domain, perr.Message)}
	}
	raw, err := g.change(ctx, next, now)
	if errors.Is(err, storage.ErrStale) {
		return &grainpb.ScoreReply{Failure: grainpb.Stale(protocol.DomainScore)}
	}
	if err != nil {
		g.deps.Logger.Error("score grain: complete", "user", g.id, "action", m.ActionType, "err", err)
		return &grainpb.ScoreReply{Failure: wireerr.Failure(err, protocol.DomainScore, "score could not be saved")}
	}
	return replyOf(raw)
}

// observe counts what the server saw the user do. Nobody waits for it:
// observations gather in memory and are stored and pushed together within
// ObserveEvery (see flush), as the score is advisory.
func (g *grain) observe(ctx actor.Context, m *grainpb.ScoreObserve) {
	if err := g.ready(); err != nil {
		return
	}
	next, ok := g.deps.Rules.Observe(g.day, m.ActionType, int(m.Count), g.now())
	if !ok {
		return
	}
	g.day, g.dirty = next, true
	g.armFlush(ctx)
}

// armFlush asks for a flush within ObserveEvery, once.
func (g *grain) armFlush(ctx actor.Context) {
	if g.flushing || g.stale {
		return
	}
	g.flushing = true
	self, sys := ctx.Self(), ctx.ActorSystem()
	g.deps.Clock.AfterFunc(g.deps.ObserveEvery, func() { sys.Root.Send(self, flushDue{}) })
}

// flush stores and pushes the gathered observations; it reports false
// when they could not be stored (they stay gathered for the next try).
func (g *grain) flush(ctx actor.Context) bool {
	if !g.dirty {
		return true
	}
	if _, err := g.change(ctx, g.day, g.now()); err != nil {
		if errors.Is(err, storage.ErrStale) {
			return false // never retried: the grain stops (superseded)
		}
		if errors.Is(err, storage.ErrClosed) {
			// Shutting down: the advisory counts of the last seconds go.
			g.dirty = false
			return true
		}
		g.deps.Logger.Error("score grain: store observations", "user", g.id, "err", err)
		return false
	}
	return true
}

// fired resets the day at its midnight: the day rolls over, is stored and
// announced; the reminder is then left as the new day needs it. An error
// keeps the reminder for another try.
func (g *grain) fired(ctx actor.Context, m *grainpb.ReminderFired) *grainpb.Ack {
	c := context.Background()
	fail := func(err error) *grainpb.Ack {
		if errors.Is(err, storage.ErrStale) {
			// The reminder stays: it fires again at a fresh activation.
			return &grainpb.Ack{Failure: grainpb.Stale(protocol.DomainScore)}
		}
		g.deps.Logger.Error("score grain: reset", "user", g.id, "err", err)
		return &grainpb.Ack{Failure: wireerr.Failure(err, protocol.DomainScore, "internal error")}
	}
	if m.Name != ReminderReset {
		g.deps.Logger.Warn("score grain: unknown reminder dropped", "user", g.id, "name", m.Name)
		if err := g.deps.Reminders.Delete(c, cluster.KindScore, g.id, m.Name); err != nil {
			return fail(err)
		}
		return &grainpb.Ack{}
	}
	if err := g.ready(); err != nil {
		return fail(err)
	}
	now := g.now()
	if cur, reset := g.deps.Rules.Current(g.day, now); reset {
		if err := g.store(ctx, cur, now); err != nil {
			return fail(err)
		}
		// Observations of the old day still gathering go with it.
		g.day, g.dirty = cur, false
		g.push(ctx, g.encode(cur))
	}
	// The user may have scored since midnight, before this fired: that
	// day keeps its own reset; an idle day keeps none.
	if due := g.deps.Rules.ResetAt(g.day); !due.IsZero() {
		if err := g.deps.Reminders.Set(c, g.reminder(due)); err != nil {
			return fail(err)
		}
		g.armed = due
		return &grainpb.Ack{}
	}
	if err := g.deps.Reminders.Delete(c, cluster.KindScore, g.id, ReminderReset); err != nil {
		return fail(err)
	}
	g.armed = time.Time{}
	return &grainpb.Ack{}
}

// change stores next as the user's day and announces it; it answers the
// score as announced.
func (g *grain) change(ctx actor.Context, next Day, now time.Time) ([]byte, error) {
	// The reset is armed before the change it undoes is stored: a crash
	// between the two leaves a reminder that finds nothing to reset,
	// never a stored day that nothing resets. A reminder that could not
	// be set is logged and tried again on the next change; until then the
	// day still rolls over when read, only its midnight push is missed.
	if due := g.deps.Rules.ResetAt(next); !due.IsZero() && !due.Equal(g.armed) {
		if err := g.deps.Reminders.Set(context.Background(), g.reminder(due)); err != nil {
			if !errors.Is(err, storage.ErrClosed) {
				g.deps.Logger.Error("score grain: set reset reminder", "user", g.id, "err", err)
			}
		} else {
			g.armed = due
		}
	}
	if err := g.store(ctx, next, now); err != nil {
		return nil, err
	}
	g.day, g.dirty = next, false
	raw := g.encode(next)
	g.push(ctx, raw)
	return raw, nil
}

// store writes d as the user's day, fenced by the version this activation
// loaded or last wrote. A write refused as stale stops the grain.
func (g *grain) store(ctx actor.Context, d Day, now time.Time) error {
	rec := &storage.ScoreDay{UserID: g.id, Date: d.Start, Counts: d.Counts, UpdatedAt: now, Version: g.version}
	if err := g.deps.Store.Scores().Put(context.Background(), rec); err != nil {
		err = fmt.Errorf("score grain: store %s: %w", g.id, err)
		if errors.Is(err, storage.ErrStale) {
			g.superseded(ctx, err)
		}
		return err
	}
	g.version = rec.Version
	return nil
}

// superseded stops a grain whose write the store refused as stale: another
// activation of the user's score has written since this one loaded (a node
// that froze and came back), so this one's day is out of date. Nothing of
// the refused change is answered or pushed; observations still gathering
// here are dropped (the score is advisory), and the next message activates
// a fresh grain that loads the newer day.
func (g *grain) superseded(ctx actor.Context, err error) {
	g.deps.Logger.Warn("score grain: write refused as stale, another activation wrote since; stopping", "user", g.id, "err", err)
	g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindScore).Inc()
	if g.stale {
		return
	}
	g.stale, g.dirty = true, false
	ctx.Poison(ctx.Self())
}

func (g *grain) reminder(due time.Time) storage.Reminder {
	return storage.Reminder{Kind: cluster.KindScore, Identity: g.id, Name: ReminderReset, DueAt: due}
}

// encode renders a current day once, for the answer and the push alike.
func (g *grain) encode(d Day) []byte {
	raw, err := json.Marshal(g.deps.Rules.View(d))
	if err != nil {
		// Only a catalog with a section named like a total fails, and
		// catalogs are checked at start-up.
		g.deps.Logger.Error("score grain: encode", "user", g.id, "err", err)
		return nil
	}
	return raw
}

func (g *grain) reply(d Day) *grainpb.ScoreReply { return replyOf(g.encode(d)) }

func replyOf(raw []byte) *grainpb.ScoreReply {
	if raw == nil {
		return &grainpb.ScoreReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainScore, "internal error")}
	}
	return &grainpb.ScoreReply{ScoreJson: raw}
}

// push sends score-updated to the user's legacy sockets, through the User
// grain that holds them; fire and forget, as grains never wait on grains.
func (g *grain) push(ctx actor.Context, score []byte) {
	if score == nil {
		return
	}
	frame := protocol.EncodeLegacyRawFrame(protocol.EventScoreUpdated, score)
	cluster.SendIn(ctx, cluster.KindUser, g.id, &grainpb.Deliver{LegacyFrame: frame, Type: protocol.EventScoreUpdated})
}
