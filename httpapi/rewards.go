package httpapi

import (
	"errors"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"golang.org/x/time/rate"

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// The operator API over brands and campaigns, and the sponsor API over
// redemption codes. Both are thin: the operator's records belong to
// rewards.Admin, a gift's redemption to its pair's Rewards grain.

const brandKey = "brand"

func (a *API) createBrand(c *fiber.Ctx) error {
	b, err := a.d.Rewards.CreateBrand(c.UserContext(), c.Body())
	if err != nil {
		return err
	}
	a.audited(c, "brand.create", b.BrandID, b.Name)
	return c.Status(fiber.StatusCreated).JSON(b)
}

func (a *API) createCampaign(c *fiber.Ctx) error {
	v, err := a.d.Rewards.CreateCampaign(c.UserContext(), c.Body())
	if err != nil {
		return err
	}
	a.audited(c, "campaign.create", v.CampaignID, v.Title)
	return c.Status(fiber.StatusCreated).JSON(v)
}

func (a *API) listCampaigns(c *fiber.Ctx) error {
	v, err := a.d.Rewards.Campaigns(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (a *API) getCampaign(c *fiber.Ctx) error {
	v, err := a.d.Rewards.Campaign(c.UserContext(), c.Params("campaignId"))
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (a *API) patchCampaign(c *fiber.Ctx) error {
	v, err := a.d.Rewards.SetStatus(c.UserContext(), c.Params("campaignId"), c.Body())
	if err != nil {
		return err
	}
	a.audited(c, "campaign.update", v.CampaignID, "status "+v.Status)
	return c.JSON(v)
}

// requireSponsor authenticates a sponsor key: the brand it hashes to.
func (a *API) requireSponsor(c *fiber.Ctx) error {
	key := bearer(c)
	if len(key) < len(rewards.SponsorKeyPrefix)+16 || len(key) > 128 {
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "sponsor key required")
	}
	b, err := a.d.Store.Rewards().BrandByKeyHash(c.UserContext(), rewards.HashKey(key))
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeUnauthorized, protocol.DomainAuth, "sponsor key required")
	}
	if err != nil {
		return err
	}
	c.Locals(brandKey, b.ID)
	return c.Next()
}

func (a *API) lookupRedemption(c *fiber.Ctx) error { return a.redemption(c, true) }
func (a *API) redeemRedemption(c *fiber.Ctx) error { return a.redemption(c, false) }

// redemption looks a code up or redeems it for the authenticated brand.
// Codes that do not exist for the brand are counted against it: past its
// hourly allowance every lookup answers rate_limited, so guessing the
// 31^8 codes is hopeless, and the misses show up in metrics.
func (a *API) redemption(c *fiber.Ctx, lookup bool) error {
	brand, _ := c.Locals(brandKey).(string)
	if !a.guesses.begin(brand) {
		return protocol.Errorf(protocol.CodeRateLimited, protocol.DomainGifts, "too many unknown codes; try again later")
	}
	code, ok := rewards.NormalizeCode(c.Params("code"))
	pairID := ""
	var err error
	if ok {
		pairID, err = rewards.RouteCode(c.UserContext(), a.d.Store, brand, code)
	}
	missed := !ok || isCode(err, protocol.CodeNotFound)
	a.guesses.end(brand, missed)
	if missed {
		a.d.Metrics.RewardCodeMisses.WithLabelValues(brand).Inc()
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "no such code")
	}
	if err != nil {
		return err
	}
	rep, err := cluster.Call[*grainpb.RewardsReply](c.UserContext(), a.d.Node, cluster.KindRewards, pairID,
		&grainpb.GiftRedeem{BrandId: brand, Code: code, Lookup: lookup})
	if err != nil {
		return err
	}
	if err := rewards.ReplyError(rep); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(rep.PayloadJson)
}

func isCode(err error, code protocol.Code) bool {
	pe, ok := protocol.AsError(err)
	return ok && pe.Code == code
}

// guesses limits each brand's lookups of codes that do not exist.
type guesses struct {
	perHour int
	mu      sync.Mutex
	brands  map[string]*allowance
}

// allowance is one brand's misses: the limiter holds what is left this
// hour, pending the lookups in flight, each holding one miss in reserve.
type allowance struct {
	lim     *rate.Limiter
	pending int
}

func newGuesses(perHour int) *guesses {
	if perHour <= 0 {
		perHour = 30 // the default, for configs built without Load
	}
	return &guesses{perHour: perHour, brands: map[string]*allowance{}}
}

// allowance returns a brand's allowance; the caller holds g.mu.
func (g *guesses) allowance(brand string) *allowance {
	b, ok := g.brands[brand]
	if !ok {
		// Brands are created by operators, so this map stays small.
		b = &allowance{lim: rate.NewLimiter(rate.Every(time.Hour/time.Duration(g.perHour)), g.perHour)}
		g.brands[brand] = b
	}
	return b
}

// begin reserves one of the brand's misses for a lookup about to run;
// false when none is left. The check and the reservation are one step:
// checking the tokens and spending one only after the lookup missed let
// every lookup in flight pass the check before any of them spent, so a
// brand firing its guesses concurrently got as many as it had in flight
// each time a token came back.
func (g *guesses) begin(brand string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.allowance(brand)
	if b.lim.Tokens()-float64(b.pending) < 1 {
		return false
	}
	b.pending++
	return true
}

// end releases a lookup's reservation, spending it when the code missed.
func (g *guesses) end(brand string, missed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.allowance(brand)
	b.pending--
	if missed {
		b.lim.Allow()
	}
}
