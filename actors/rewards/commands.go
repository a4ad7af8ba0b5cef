package rewards

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Handlers are the socket commands of sponsored rewards.
func Handlers(d Deps) map[string]session.Handler {
	return map[string]session.Handler{
		protocol.TypeGiftHistory: func(c *session.Context) error {
			var p protocol.GiftHistoryRequest
			if err := c.Decode(&p); err != nil {
				return err
			}
			if err := p.Validate(); err != nil {
				return err
			}
			cursor := ""
			if p.Cursor != nil {
				cursor = *p.Cursor
			}
			h, err := History(c.Ctx, d, c.UserID, cursor, *p.Limit, c.Now)
			if err != nil {
				return err
			}
			return c.Reply(protocol.TypeGiftHistory, h)
		},
		protocol.TypeGiftClaim: func(c *session.Context) error { return claim(c, d) },
	}
}

func claim(c *session.Context, d Deps) error {
	var p protocol.GiftClaimRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	gift, err := d.Store.Rewards().GetGift(c.Ctx, p.GiftID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "gift not found")
	}
	if err != nil {
		return fmt.Errorf("rewards: find gift %s: %w", p.GiftID, err)
	}
	if gift.UserA != c.UserID && gift.UserB != c.UserID {
		return protocol.Errorf(protocol.CodeForbidden, protocol.DomainGifts, "this gift is not yours")
	}
	session.CallAsync(c, cluster.KindRewards, gift.PairID, &grainpb.GiftClaim{ActorId: c.UserID, GiftId: gift.ID, OriginSessionId: c.SessionID},
		func(rep *grainpb.RewardsReply) error {
			if err := ReplyError(rep); err != nil {
				return err
			}
			return c.ReplyRaw(protocol.TypeGiftClaim, rep.PayloadJson)
		})
	return nil
}

// ReplyError turns a Rewards grain's failure into a reply error, details
// included; nil when it succeeded.
func ReplyError(rep *grainpb.RewardsReply) error {
	if rep.Failure == nil {
		return nil
	}
	pe := &protocol.Error{Code: protocol.Code(rep.Failure.Code), Message: rep.Failure.Message, Domain: rep.Failure.Domain}
	if len(rep.DetailsJson) > 0 {
		pe.Details = json.RawMessage(rep.DetailsJson)
	}
	return pe
}

// Bootstrap fills sponsoredGifts with the first history page. It reads the
// store only, so it calls done before it returns.
func Bootstrap(d Deps) session.BootstrapSource {
	return func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		h, err := History(c.Ctx, d, c.UserID, "", protocol.GiftHistoryDefaultLimit, c.Now)
		if err == nil {
			var raw []byte
			if raw, err = json.Marshal(h.SponsoredGifts); err == nil {
				b.SponsoredGifts, b.SponsoredGiftsNextCursor = raw, h.NextCursor
			}
		}
		done(err)
	}
}

// cursorPrefix versions the cursor, so its meaning can change without
// misreading cursors clients still hold.
const cursorPrefix = "g1:"

// EncodeCursor makes the opaque cursor that continues after giftID.
func EncodeCursor(giftID string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + giftID))
}

// DecodeCursor reads a cursor; invalid_payload when it is not one ours.
func DecodeCursor(s string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	id, ok := strings.CutPrefix(string(raw), cursorPrefix)
	if err != nil || !ok || !strings.HasPrefix(id, "sgg_") || !protocol.ValidID(id) {
		return "", protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainGifts, "cursor is not one this server issued")
	}
	return id, nil
}

// History lists a user's gifts newest first from the store, limit at a
// time. A cursor is the last gift id of the previous page: gifts granted
// since are newer, so they land before it and paging neither repeats nor
// skips one.
func History(ctx context.Context, d Deps, userID, cursor string, limit int, now time.Time) (protocol.GiftHistory, error) {
	before := ""
	if cursor != "" {
		var err error
		if before, err = DecodeCursor(cursor); err != nil {
			return protocol.GiftHistory{}, err
		}
	}
	gs, err := d.Store.Rewards().GiftsOfUser(ctx, userID, before, limit+1)
	if err != nil {
		return protocol.GiftHistory{}, fmt.Errorf("rewards: history of %s: %w", userID, err)
	}
	h := protocol.GiftHistory{Limit: limit, SponsoredGifts: make([]protocol.SponsoredGift, 0, min(len(gs), limit))}
	if len(gs) > limit {
		gs = gs[:limit]
		next := EncodeCursor(gs[limit-1].ID)
		h.NextCursor = &next
	}
	r := newRenderer(ctx, d, now)
	for i := range gs {
		h.SponsoredGifts = append(h.SponsoredGifts, r.view(&gs[i], userID))
	}
	return h, nil
}

// renderer renders gifts for one answer or one event: each brand, profile
// and connection's facts is read once, however many gifts share them.
type renderer struct {
	ctx      context.Context
	d        Deps
	now      time.Time
	profiles *user.Profiles
	brands   map[string]*storage.Brand
	facts    map[string]Facts
}

func newRenderer(ctx context.Context, d Deps, now time.Time) *renderer {
	return &renderer{ctx: ctx, d: d, now: now, profiles: user.NewProfiles(d.Store.Users(), now), brands: map[string]*storage.Brand{}, facts: map[string]Facts{}}
}

// withFacts has views of a connection's gifts judged on live facts (a
// claim or a redemption asked its Proximity grain) instead of stored ones.
func (r *renderer) withFacts(connectionID string, f Facts) *renderer {
	r.facts[connectionID] = f
	return r
}

// brand reads a brand; nil when it cannot be read (the view then names
// only its id).
func (r *renderer) brand(id string) *storage.Brand {
	b, ok := r.brands[id]
	if !ok {
		var err error
		if b, err = r.d.Store.Rewards().GetBrand(r.ctx, id); err != nil {
			r.d.Logger.Warn("rewards: read brand", "brand", id, "err", err)
			b = nil
		}
		r.brands[id] = b
	}
	return b
}

// partner is the other user of the gift's pair for viewer.
func (r *renderer) partner(g *storage.Gift, viewer string) protocol.User {
	other := g.UserA
	if viewer == g.UserA {
		other = g.UserB
	}
	return r.profiles.Get(r.ctx, other)
}

// view renders a gift for one of its pair, or, with an empty viewer, for
// the sponsor.
func (r *renderer) view(g *storage.Gift, viewer string) protocol.SponsoredGift {
	f, ok := r.facts[g.ConnectionID]
	if !ok {
		f = r.d.storedFacts(r.ctx, g.ConnectionID)
		r.facts[g.ConnectionID] = f
	}
	v := Viewer{}
	if viewer != "" {
		v = Viewer{UserID: viewer, Partner: r.partner(g, viewer)}
	}
	return View(*g, r.brand(g.BrandID), f, v, r.d.loc(), r.now)
}
