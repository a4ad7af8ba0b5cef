package rewards

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
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
	"github.com/gisbi/engine/wireerr"
)

// Deps are shared by every Rewards grain of a node and by the read models.
type Deps struct {
	Store     storage.Store
	Clock     clock.Clock
	Reminders Reminders
	Metrics   *metrics.Metrics
	Logger    *slog.Logger
	// DayLocation names the calendar days of the daily rules (UTC by default).
	DayLocation *time.Location
	// Facts reads a connection's proximity facts from the store, for views
	// that must not wake a grain; claims and redemptions ask the
	// connection's Proximity grain instead.
	Facts func(ctx context.Context, connectionID string) Facts
	// FactsTimeout bounds the ask to a Proximity grain (1 s by default); past
	// it the stored facts are used.
	FactsTimeout time.Duration
	// Online reports whether a user has a socket open; Notify pushes to
	// users who have none (nil when push is off).
	Online func(userID string) bool
	Notify func(userID, kind, title, body string, data map[string]string)
}

func (d Deps) loc() *time.Location {
	if d.DayLocation == nil {
		return time.UTC
	}
	return d.DayLocation
}

func (d Deps) storedFacts(ctx context.Context, connectionID string) Facts {
	if d.Facts == nil {
		return Facts{}
	}
	return d.Facts(ctx, connectionID)
}

// NewKind returns the Rewards cluster kind; a grain's identity is a pair id.
func NewKind(d Deps) *pcluster.Kind {
	if d.FactsTimeout <= 0 {
		d.FactsTimeout = time.Second
	}
	return pcluster.NewKind(cluster.KindRewards, actor.PropsFromProducer(func() actor.Actor {
		return &grain{deps: d}
	}))
}

// grain owns the gifts of one pair after they are granted: their claims,
// redemption, expiry and cancellation. It is their only writer. Stock is
// not its to keep: the store counts it in the grant's transaction, since
// many pairs draw on one campaign at once.
type grain struct {
	deps    Deps
	pairID  string
	userA   string
	userB   string
	gifts   map[string]*storage.Gift
	loadErr error
	asking  int // claims and redemptions waiting for proximity facts
	// stale: the store refused a PutGift as stale (another activation
	// wrote the gift since this one loaded it). The grain refuses
	// everything and stops once no claim or redemption waits for its
	// facts (see superseded).
	stale, stopping bool
}

func failure() proto.Message {
	return &grainpb.RewardsReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainGifts, "internal error")}
}

func (g *grain) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, g.deps.Logger, "rewards grain", failure)
	if g.stale {
		// Stopping: calls get a retryable failure, the rest nothing. A
		// trigger handed over directly (no sender) is not lost: its stored
		// reminder fires it at a fresh activation.
		switch ctx.Message().(type) {
		case *grainpb.GiftClaim, *grainpb.GiftRedeem:
			ctx.Respond(&grainpb.RewardsReply{Failure: grainpb.Stale(protocol.DomainGifts)})
		case *grainpb.ReminderFired:
			if ctx.Sender() != nil {
				ctx.Respond(&grainpb.Ack{Failure: grainpb.Stale(protocol.DomainGifts)})
			}
		}
		return
	}
	switch m := ctx.Message().(type) {
	case *pcluster.ClusterInit:
		g.pairID = m.Identity.Identity
		g.load()
		g.deps.Metrics.GrainActivations.WithLabelValues(cluster.KindRewards).Inc()
		ctx.SetReceiveTimeout(5 * time.Minute)
	case *actor.ReceiveTimeout:
		if g.asking == 0 {
			ctx.Poison(ctx.Self())
		}
	case *grainpb.ReminderFired:
		// Fired by the reminders service (which waits for the Ack) or
		// handed over directly by the Pair grain (which does not).
		ack := g.fired(ctx, m)
		if ctx.Sender() != nil {
			ctx.Respond(ack)
		}
	case *grainpb.GiftClaim:
		g.claim(ctx, m)
	case *grainpb.GiftRedeem:
		g.redeem(ctx, m)
	}
}

func (g *grain) load() {
	a, b, ok := strings.Cut(g.pairID, "|")
	if !ok || a == "" || b == "" || storage.PairID(a, b) != g.pairID {
		g.loadErr = fmt.Errorf("rewards grain: bad identity %q", g.pairID)
		return
	}
	g.userA, g.userB = a, b
	gs, err := g.deps.Store.Rewards().GiftsOfPair(context.Background(), g.pairID)
	if err != nil {
		g.loadErr = fmt.Errorf("rewards grain: load %s: %w", g.pairID, err)
		return
	}
	g.loadErr = nil
	g.gifts = make(map[string]*storage.Gift, len(gs))
	for i := range gs {
		g.gifts[gs[i].ID] = &gs[i]
	}
}

// ready retries a failed load.
func (g *grain) ready() error {
	if g.loadErr != nil {
		g.load()
	}
	return g.loadErr
}

// fired handles a due reminder and leaves the gift's timers as its state
// needs them; an error keeps the reminder for another try.
func (g *grain) fired(ctx actor.Context, m *grainpb.ReminderFired) *grainpb.Ack {
	fail := func(err error) *grainpb.Ack {
		if errors.Is(err, storage.ErrStale) {
			// The reminder stays: it fires again at a fresh activation.
			return &grainpb.Ack{Failure: grainpb.Stale(protocol.DomainGifts)}
		}
		g.deps.Logger.Error("rewards grain: reminder", "pair", g.pairID, "name", m.Name, "err", err)
		return &grainpb.Ack{Failure: wireerr.Failure(err, protocol.DomainGifts, "internal error")}
	}
	if err := g.ready(); err != nil {
		return fail(err)
	}
	kind, rest, _ := strings.Cut(m.Name, ":")
	var err error
	switch kind {
	case reminderGrant, reminderClose:
		var t trigger
		if err := json.Unmarshal(m.Payload, &t); err != nil || t.ConnectionID == "" {
			g.deps.Logger.Error("rewards grain: unreadable trigger, dropped", "pair", g.pairID, "name", m.Name, "err", err)
			break
		}
		if kind == reminderGrant {
			err = g.grant(ctx, t)
		} else {
			err = g.cancelConnection(ctx, t)
		}
	case reminderExpire, reminderCode:
		if gift := g.ofCampaign(rest); gift != nil {
			err = g.change(ctx, g.renderer(), gift, "", func(c *storage.Gift, now time.Time) bool {
				if kind == reminderExpire {
					return Expire(c, now)
				}
				return ExpireCode(c, now)
			})
		}
	}
	if err != nil {
		return fail(err)
	}
	// Expiry reminders are kept by keepTimers; outbox entries are done.
	// Their deletion is off the mailbox: until it lands, the reminder can
	// only fire again, and handling it again grants nothing twice.
	if kind == reminderGrant || kind == reminderClose {
		rem, log, pairID := g.deps.Reminders, g.deps.Logger, g.pairID
		go func() {
			if err := rem.Delete(context.Background(), cluster.KindRewards, pairID, m.Name); err != nil {
				log.Warn("rewards grain: delete handled trigger (it will fire again, harmlessly)", "pair", pairID, "name", m.Name, "err", err)
			}
		}()
	} else if gift := g.ofCampaign(rest); gift != nil {
		if err := g.keepTimers(gift); err != nil {
			return fail(err)
		}
	} else if err := g.deps.Reminders.Delete(context.Background(), cluster.KindRewards, g.pairID, m.Name); err != nil {
		return fail(err)
	}
	return &grainpb.Ack{}
}

// grant gives the pair one gift of every campaign the trigger matches,
// once the trigger is confirmed: the connection exists and is still
// accepted (an accept that was never stored, or a connection closed
// since, earns nothing).
func (g *grain) grant(ctx actor.Context, t trigger) error {
	c := context.Background()
	now := g.deps.Clock.Now()
	conn, err := g.connection(t.ConnectionID)
	if err != nil || conn == nil || conn.Status != "accepted" {
		return err
	}
	camps, err := g.deps.Store.Rewards().ListCampaigns(c)
	if err != nil {
		return err
	}
	held := map[string]bool{}
	for _, gift := range g.gifts {
		held[gift.CampaignID] = true
	}
	// Every matching campaign is granted in one store transaction, each
	// gift with its expiry reminder: one commit per trigger, however many
	// campaigns match, so a burst of accepts waits for few fsyncs.
	var grants []storage.Grant
	for i := range camps {
		cp := &camps[i]
		if held[cp.ID] || !Matches(cp, t.Type, t.Milestone, now) {
			continue
		}
		gift := newGift(cp, g.pairID, g.userA, g.userB, conn, t, now)
		grants = append(grants, storage.Grant{Gift: gift, Timer: g.timer(reminderExpire, gift, gift.ExpiresAt)})
	}
	if len(grants) == 0 {
		return nil
	}
	refused, err := g.deps.Store.Rewards().Grant(c, grants)
	if err != nil {
		return err
	}
	g.deps.Reminders.Wake()
	var granted []*storage.Gift
	reload := false
	for i, gr := range grants {
		switch {
		case refused[i] == nil:
			g.gifts[gr.Gift.ID] = gr.Gift
			granted = append(granted, gr.Gift)
			g.deps.Metrics.RewardGrants.WithLabelValues(gr.Gift.CampaignID).Inc()
		case errors.Is(refused[i], storage.ErrConflict):
			// Granted by an activation that died before this one loaded.
			g.deps.Logger.Debug("rewards grain: already granted", "pair", g.pairID, "campaign", gr.Gift.CampaignID)
			reload = true
		default:
			g.deps.Logger.Debug("rewards grain: not granted", "pair", g.pairID, "campaign", gr.Gift.CampaignID, "err", refused[i])
		}
	}
	r := g.renderer()
	for _, gift := range granted {
		g.announce(ctx, r, gift, protocol.TypeGiftGranted, "", nil)
		g.push(r, gift)
	}
	if reload {
		g.load()
	}
	return nil
}

// connection reads a connection of the pair from the store; nil when the
// pair never had it.
func (g *grain) connection(id string) (*storage.Connection, error) {
	p, err := g.deps.Store.Pairs().Get(context.Background(), g.pairID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	for i := range p.Connections {
		if p.Connections[i].ID == id {
			return &p.Connections[i], nil
		}
	}
	return nil, nil
}

// Matches reports whether a campaign grants on a trigger at now: active,
// inside its window, stock left as far as the copy read knows (the grant's
// transaction has the last word).
func Matches(c *storage.Campaign, triggerType string, milestone int, now time.Time) bool {
	if c.Status != storage.CampaignActive || c.TriggerType != triggerType {
		return false
	}
	if triggerType == protocol.TriggerProximityMilestone && (c.MilestoneMinutes == nil || *c.MilestoneMinutes != milestone) {
		return false
	}
	if (c.StartsAt != nil && now.Before(*c.StartsAt)) || (c.EndsAt != nil && !now.Before(*c.EndsAt)) {
		return false
	}
	return c.Stock == nil || c.Granted < *c.Stock
}

func newGift(c *storage.Campaign, pairID, userA, userB string, conn *storage.Connection, t trigger, now time.Time) *storage.Gift {
	g := &storage.Gift{
		CampaignID: c.ID, BrandID: c.BrandID, PairID: pairID, ConnectionID: conn.ID,
		UserA: userA, UserB: userB, TriggerType: c.TriggerType, Offer: c.Offer, CodeTTL: c.CodeTTL,
		Stage: storage.GiftGranted, CreatedAt: now, ExpiresAt: now.Add(c.RewardTTL),
	}
	if t.Type == protocol.TriggerProximityMilestone {
		m := t.Milestone
		g.MilestoneMinutes = &m
	}
	return g
}

// cancelConnection cancels the live gifts a closed connection earned, once
// the store confirms it closed (a close that was never stored cancels
// nothing).
func (g *grain) cancelConnection(ctx actor.Context, t trigger) error {
	conn, err := g.connection(t.ConnectionID)
	if err != nil || conn == nil || conn.Status != "closed" {
		return err
	}
	reason := t.Reason
	if reason == "" {
		reason = "connection_closed"
	}
	for _, gift := range g.gifts {
		if gift.ConnectionID != t.ConnectionID || !live(*gift) {
			continue
		}
		if err := g.change(ctx, g.renderer(), gift, "", func(c *storage.Gift, now time.Time) bool { return Cancel(c, reason, now) }); err != nil {
			return err
		}
	}
	return nil
}

// change applies a lifecycle step to a copy of gift, stores it, keeps its
// timers and tells both users. except is the socket that asked, which gets
// the answer instead.
func (g *grain) change(ctx actor.Context, r *renderer, gift *storage.Gift, except string, step func(*storage.Gift, time.Time) bool) error {
	now := g.deps.Clock.Now()
	next := *gift
	before := next.Stage
	if !step(&next, now) {
		return nil
	}
	// next carries the gift's version as loaded, granted or last written:
	// PutGift is fenced by it and moves it on.
	if err := g.deps.Store.Rewards().PutGift(context.Background(), &next); err != nil {
		if errors.Is(err, storage.ErrStale) {
			g.superseded(ctx, gift.ID, err)
		}
		return err
	}
	*gift = next
	g.count(before, next.Stage, next.CampaignID)
	if err := g.keepTimers(gift); err != nil {
		g.deps.Logger.Error("rewards grain: timers", "gift", gift.ID, "err", err)
	}
	var legacy func(string) []byte
	if before != storage.GiftRedeemed && gift.Stage == storage.GiftRedeemed {
		legacy = g.consumed(gift)
	}
	g.announce(ctx, r, gift, protocol.TypeGiftUpdated, except, legacy)
	return nil
}

// consumed renders reward-consumed, the legacy dialect's word for a
// redemption, for each user: the campaign's remaining stock (null when
// unlimited) and whether this user is the one who claimed it.
func (g *grain) consumed(gift *storage.Gift) func(string) []byte {
	var remaining *int
	if c, err := g.deps.Store.Rewards().GetCampaign(context.Background(), gift.CampaignID); err != nil {
		g.deps.Logger.Error("rewards grain: read campaign", "campaign", gift.CampaignID, "err", err)
	} else if c.Stock != nil {
		n := max(0, *c.Stock-c.Granted)
		remaining = &n
	}
	return func(u string) []byte {
		b, err := protocol.EncodeLegacyFrame(protocol.EventRewardConsumed, protocol.LegacyRewardConsumed{
			Reward: gift.ID, IsExpired: false, Remaining: remaining, IsConsumedByYou: gift.ClaimedBy == u,
		})
		if err != nil {
			return nil
		}
		return b
	}
}

// superseded starts the stop of a grain whose PutGift the store refused as
// stale: another activation of the pair's rewards has written the gift
// since this one loaded it (a node that froze and came back), so its gifts
// are out of date. Nothing of the refused change is answered or announced;
// the grain stops once no claim or redemption waits for its facts, and
// the next message activates a fresh grain that loads the newer gifts.
func (g *grain) superseded(ctx actor.Context, giftID string, err error) {
	g.deps.Logger.Warn("rewards grain: gift write refused as stale, another activation wrote since; stopping", "pair", g.pairID, "gift", giftID, "err", err)
	g.deps.Metrics.StaleWrites.WithLabelValues(cluster.KindRewards).Inc()
	g.stale = true
	g.stopWhenIdle(ctx)
}

// stopWhenIdle stops a stale grain once no claim or redemption waits for
// an answer: a stopped grain would leave those callers to time out.
func (g *grain) stopWhenIdle(ctx actor.Context) {
	if g.stale && !g.stopping && g.asking == 0 {
		g.stopping = true
		ctx.Poison(ctx.Self())
	}
}

func (g *grain) count(before, after, campaign string) {
	if before == after {
		return
	}
	m := g.deps.Metrics
	switch after {
	case storage.GiftVerified:
		m.RewardClaims.WithLabelValues(campaign).Inc()
	case storage.GiftRedeemed:
		m.RewardRedemptions.WithLabelValues(campaign).Inc()
	case storage.GiftExpired:
		m.RewardExpiries.WithLabelValues(campaign).Inc()
	case storage.GiftCancelled:
		m.RewardCancellations.WithLabelValues(campaign).Inc()
	}
}

// keepTimers leaves exactly the reminders a gift's state needs: its
// expiry while live, its code's expiry while verified.
func (g *grain) keepTimers(gift *storage.Gift) error {
	var errs []error
	if live(*gift) {
		errs = append(errs, g.setTimer(reminderExpire, gift, gift.ExpiresAt))
	} else {
		errs = append(errs, g.deps.Reminders.Delete(context.Background(), cluster.KindRewards, g.pairID, reminderExpire+":"+gift.CampaignID))
	}
	if gift.Stage == storage.GiftVerified && gift.CodeExpiresAt != nil {
		errs = append(errs, g.setTimer(reminderCode, gift, *gift.CodeExpiresAt))
	} else {
		errs = append(errs, g.deps.Reminders.Delete(context.Background(), cluster.KindRewards, g.pairID, reminderCode+":"+gift.CampaignID))
	}
	return errors.Join(errs...)
}

func (g *grain) setTimer(kind string, gift *storage.Gift, at time.Time) error {
	return g.deps.Reminders.Set(context.Background(), *g.timer(kind, gift, at))
}

// timer names a gift's reminder by its campaign: a pair holds one gift per
// campaign, and the name is known before the store names the gift.
func (g *grain) timer(kind string, gift *storage.Gift, at time.Time) *storage.Reminder {
	return &storage.Reminder{Kind: cluster.KindRewards, Identity: g.pairID, Name: kind + ":" + gift.CampaignID, DueAt: at}
}

// ofCampaign is the pair's gift of a campaign, nil when none.
func (g *grain) ofCampaign(campaignID string) *storage.Gift {
	for _, gift := range g.gifts {
		if gift.CampaignID == campaignID {
			return gift
		}
	}
	return nil
}

// renderer renders this pair's gifts as of now, from stored facts.
func (g *grain) renderer() *renderer {
	return newRenderer(context.Background(), g.deps, g.deps.Clock.Now())
}

// announce sends a gift event to both users, each seeing it from their
// side.
// legacy, when not nil, renders the event's legacy counterpart per user.
func (g *grain) announce(ctx actor.Context, r *renderer, gift *storage.Gift, typ, except string, legacy func(string) []byte) {
	for _, u := range []string{gift.UserA, gift.UserB} {
		frame, err := protocol.EncodeFrame(typ, r.view(gift, u), r.now, "", "")
		if err != nil {
			g.deps.Logger.Error("rewards grain: encode", "type", typ, "err", err)
			return
		}
		d := &grainpb.Deliver{WsFrame: frame, Type: typ, ExceptSessionId: except}
		if legacy != nil {
			d.LegacyFrame = legacy(u)
		}
		cluster.SendIn(ctx, cluster.KindUser, u, d)
	}
}

// push tells users with no socket open about a new gift.
func (g *grain) push(r *renderer, gift *storage.Gift) {
	if g.deps.Notify == nil {
		return
	}
	title := gift.Title
	if b := r.brand(gift.BrandID); b != nil {
		title = b.Name + ": " + gift.Title
	}
	for _, u := range []string{gift.UserA, gift.UserB} {
		if g.deps.Online != nil && g.deps.Online(u) {
			continue
		}
		g.deps.Notify(u, "reward", title, "A reward for you and "+r.partner(gift, u).Name, map[string]string{"giftId": gift.ID, "connectionId": gift.ConnectionID})
	}
}

// askFacts asks the connection's Proximity grain for its live facts and
// runs then with them on this grain's goroutine; a grain that does not
// answer in time leaves the stored facts.
func (g *grain) askFacts(ctx actor.Context, connectionID string, then func(Facts)) {
	g.asking++
	cluster.Request(ctx, cluster.KindProximity, connectionID, &grainpb.ProximityGetFacts{}, g.deps.FactsTimeout, func(r *grainpb.ProximityFacts, err error) {
		g.asking--
		defer cluster.Recover(ctx, g.deps.Logger, "rewards grain", failure)
		// then may find the grain stale, or make it so: it stops once
		// nothing else waits.
		defer g.stopWhenIdle(ctx)
		if g.stale {
			// Every asker (claim, redeem) is answered a RewardsReply.
			ctx.Respond(&grainpb.RewardsReply{Failure: grainpb.Stale(protocol.DomainGifts)})
			return
		}
		if err == nil {
			err = r.Failure.Err()
		}
		if err != nil {
			g.deps.Logger.Warn("rewards grain: live proximity facts, using stored ones", "connection", connectionID, "err", err)
			then(g.deps.storedFacts(context.Background(), connectionID))
			return
		}
		then(FactsFrom(r))
	})
}

// FactsFrom reads a Proximity grain's answer.
func FactsFrom(r *grainpb.ProximityFacts) Facts {
	f := Facts{
		Daily: make(map[string]time.Duration, len(r.DailyMs)), Total: time.Duration(r.TotalMs) * time.Millisecond,
		Status: r.RunStatus, LocationMismatches: int(r.LocationMismatches), InvalidTokens: int(r.InvalidTokens), RSSIRejects: int(r.RssiRejects),
	}
	for k, v := range r.DailyMs {
		f.Daily[k] = time.Duration(v) * time.Millisecond
	}
	return f
}

// claim verifies a gift for one of the pair once the live facts say the
// rule is met.
func (g *grain) claim(ctx actor.Context, m *grainpb.GiftClaim) {
	if err := g.ready(); err != nil {
		g.deps.Logger.Error("rewards grain: claim", "pair", g.pairID, "err", err)
		ctx.Respond(failure())
		return
	}
	gift := g.gifts[m.GiftId]
	switch {
	case gift == nil:
		ctx.Respond(replyErr(protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "gift not found")))
		return
	case m.ActorId != g.userA && m.ActorId != g.userB:
		ctx.Respond(replyErr(protocol.Errorf(protocol.CodeForbidden, protocol.DomainGifts, "this gift is not yours")))
		return
	}
	g.askFacts(ctx, gift.ConnectionID, func(f Facts) {
		now := g.deps.Clock.Now()
		r := newRenderer(context.Background(), g.deps, now).withFacts(gift.ConnectionID, f)
		next := *gift // the gift as it is now, after whatever ran meanwhile
		before := next.Stage
		e := Evaluate(next.Offer, f, DayKey(now, g.deps.loc()))
		changed, perr := Claim(&next, m.ActorId, e, newCode(), now)
		if perr != nil {
			ctx.Respond(replyErr(perr))
			return
		}
		if changed {
			if err := g.storeClaim(&next); err != nil {
				if errors.Is(err, storage.ErrStale) {
					g.superseded(ctx, next.ID, err)
					ctx.Respond(&grainpb.RewardsReply{Failure: grainpb.Stale(protocol.DomainGifts)})
					return
				}
				g.deps.Logger.Error("rewards grain: store claim", "gift", next.ID, "err", err)
				ctx.Respond(&grainpb.RewardsReply{Failure: wireerr.Failure(err, protocol.DomainGifts, "internal error")})
				return
			}
			*gift = next
			g.count(before, next.Stage, next.CampaignID)
			if err := g.keepTimers(gift); err != nil {
				g.deps.Logger.Error("rewards grain: timers", "gift", gift.ID, "err", err)
			}
			g.announce(ctx, r, gift, protocol.TypeGiftUpdated, m.OriginSessionId, nil)
		}
		ctx.Respond(g.reply(r.view(gift, m.ActorId)))
	})
}

// storeClaim stores a verified gift, drawing a new code in the unlikely
// case the one drawn was ever issued before. Only a code conflict is tried
// again: a stale write (storage.ErrStale) never is.
func (g *grain) storeClaim(next *storage.Gift) error {
	var err error
	for range 5 {
		if err = g.deps.Store.Rewards().PutGift(context.Background(), next); !errors.Is(err, storage.ErrConflict) {
			return err
		}
		next.Code = newCode()
	}
	return err
}

// redeem serves the sponsor API: a lookup or a redemption of a code the
// store routed to this pair.
func (g *grain) redeem(ctx actor.Context, m *grainpb.GiftRedeem) {
	if err := g.ready(); err != nil {
		g.deps.Logger.Error("rewards grain: redeem", "pair", g.pairID, "err", err)
		ctx.Respond(failure())
		return
	}
	var gift *storage.Gift
	if stored, err := g.deps.Store.Rewards().GiftByCode(context.Background(), m.Code); err == nil {
		gift = g.gifts[stored.ID]
	}
	if gift == nil || gift.BrandID != m.BrandId {
		// Another brand's code reads exactly as one that does not exist.
		ctx.Respond(replyErr(protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "no such code")))
		return
	}
	g.askFacts(ctx, gift.ConnectionID, func(f Facts) {
		now := g.deps.Clock.Now()
		r := newRenderer(context.Background(), g.deps, now).withFacts(gift.ConnectionID, f)
		if m.Lookup {
			if perr := CheckCode(*gift, m.Code, now); perr != nil && perr.Code != protocol.CodeAlreadyRedeemed {
				ctx.Respond(replyErr(perr))
				return
			}
		} else {
			var refused *protocol.Error
			err := g.change(ctx, r, gift, "", func(c *storage.Gift, now time.Time) bool {
				changed, perr := Redeem(c, m.Code, f.Active(), now)
				refused = perr
				return changed
			})
			switch {
			case refused != nil:
				ctx.Respond(replyErr(refused))
				return
			case errors.Is(err, storage.ErrStale):
				ctx.Respond(&grainpb.RewardsReply{Failure: grainpb.Stale(protocol.DomainGifts)})
				return
			case err != nil:
				g.deps.Logger.Error("rewards grain: store redemption", "gift", gift.ID, "err", err)
				ctx.Respond(&grainpb.RewardsReply{Failure: wireerr.Failure(err, protocol.DomainGifts, "internal error")})
				return
			}
		}
		ctx.Respond(g.reply(r.view(gift, "")))
	})
}

func (g *grain) reply(v protocol.SponsoredGift) *grainpb.RewardsReply {
	b, err := json.Marshal(v)
	if err != nil {
		g.deps.Logger.Error("rewards grain: encode gift", "err", err)
		return failure().(*grainpb.RewardsReply)
	}
	return &grainpb.RewardsReply{PayloadJson: b}
}

func replyErr(pe *protocol.Error) *grainpb.RewardsReply {
	rep := &grainpb.RewardsReply{Failure: grainpb.Fail(pe.Code, pe.Domain, pe.Message)}
	if pe.Details != nil {
		rep.DetailsJson, _ = json.Marshal(pe.Details)
	}
	return rep
}

// codeAlphabet has no 0/O or 1/I/L, so a code read aloud at a counter
// survives: 31 symbols, 8 of them ≈ 2^39.6 codes.
const codeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"

// CodeLength is the length of a redemption code.
const CodeLength = 8

// newCode draws a redemption code from crypto/rand, without modulo bias.
func newCode() string {
	var out [CodeLength]byte
	var buf [1]byte
	for i := 0; i < CodeLength; {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("rewards: crypto/rand failed: %v", err)) // the runtime treats this as fatal anyway
		}
		// 248 = 8 × 31: values above it would favour the first symbols.
		if buf[0] >= 248 {
			continue
		}
		out[i] = codeAlphabet[int(buf[0])%len(codeAlphabet)]
		i++
	}
	return string(out[:])
}
