package rewards

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Admin is the operator's side of rewards: brands and campaigns. They are
// configuration records, written rarely and read by every grant, so they
// live in the store and belong to no grain; a campaign's counters are
// kept by the store's grant transaction.
type Admin struct {
	Store      storage.Store
	Clock      clock.Clock
	Milestones []int
}

// SponsorKeyPrefix starts every sponsor key, so a leaked one is easy to
// recognise in logs and secret scanners.
const SponsorKeyPrefix = "gsk_"

// HashKey is what the store keeps of a sponsor key.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

func newSponsorKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return SponsorKeyPrefix + base64.RawURLEncoding.EncodeToString(b)
}

// CreateBrand stores a brand and answers it with its sponsor key, which
// is not kept and cannot be shown again.
func (a Admin) CreateBrand(ctx context.Context, body []byte) (*protocol.BrandCreated, error) {
	var p protocol.BrandCreate
	if perr := protocol.DecodeStrict(body, &p); perr != nil {
		return nil, perr
	}
	if perr := p.Validate(); perr != nil {
		return nil, perr
	}
	key := newSponsorKey()
	b := &storage.Brand{
		ID: ids.New("brand"), Name: p.Name, Slug: *p.Slug, Logo: p.Logo, Category: p.Category,
		KeyHash: HashKey(key), CreatedAt: a.Clock.Now(),
	}
	err := a.Store.Rewards().CreateBrand(ctx, b)
	if errors.Is(err, storage.ErrConflict) {
		return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainGifts, "slug %q is taken by another brand", b.Slug)
	}
	if err != nil {
		return nil, fmt.Errorf("rewards: create brand: %w", err)
	}
	return &protocol.BrandCreated{GiftBrand: BrandView(b), SponsorKey: key}, nil
}

// BrandView renders a brand as gifts show it.
func BrandView(b *storage.Brand) protocol.GiftBrand {
	return protocol.GiftBrand{BrandID: b.ID, Name: b.Name, Slug: b.Slug, Logo: b.Logo, Category: b.Category}
}

// CreateCampaign stores an active campaign for an existing brand.
func (a Admin) CreateCampaign(ctx context.Context, body []byte) (*protocol.CampaignView, error) {
	var p protocol.CampaignCreate
	if perr := protocol.DecodeStrict(body, &p); perr != nil {
		return nil, perr
	}
	if perr := p.Validate(a.Milestones); perr != nil {
		return nil, perr
	}
	now := a.Clock.Now()
	c := &storage.Campaign{
		ID: ids.New("camp"), BrandID: p.BrandID,
		Offer: storage.Offer{
			Title: p.Title, Description: p.Description, Terms: strings.TrimSpace(*p.Terms), RewardImageURL: p.RewardImageURL,
			Tagline: p.Tagline, VenueName: p.VenueName, VenueAddress: p.VenueAddress,
			MinTotalTogetherMinutes: *p.MinTotalTogetherMinutes, MinDailyTogetherMinutes: p.MinDailyTogetherMinutes,
			MinDistinctQualifyingDays: *p.MinDistinctQualifyingDays, RequireActiveProximityForClaim: *p.RequireActiveProximityForClaim,
		},
		TriggerType: p.TriggerType, MilestoneMinutes: p.MilestoneMinutes, Stock: p.Stock,
		StartsAt: utc(p.StartsAt), EndsAt: utc(p.EndsAt), RewardTTL: p.RewardTTLValue, CodeTTL: p.CodeTTLValue,
		Status: storage.CampaignActive, CreatedAt: now, UpdatedAt: now,
	}
	err := a.Store.Rewards().CreateCampaign(ctx, c)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "brand not found")
	}
	if err != nil {
		return nil, fmt.Errorf("rewards: create campaign: %w", err)
	}
	v := CampaignView(c)
	return &v, nil
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Campaigns lists every campaign, oldest first.
func (a Admin) Campaigns(ctx context.Context) (*protocol.CampaignList, error) {
	cs, err := a.Store.Rewards().ListCampaigns(ctx)
	if err != nil {
		return nil, fmt.Errorf("rewards: list campaigns: %w", err)
	}
	out := &protocol.CampaignList{Campaigns: make([]protocol.CampaignView, 0, len(cs))}
	for i := range cs {
		out.Campaigns = append(out.Campaigns, CampaignView(&cs[i]))
	}
	return out, nil
}

// Campaign returns one campaign with its counters.
func (a Admin) Campaign(ctx context.Context, id string) (*protocol.CampaignView, error) {
	if !protocol.ValidID(id) {
		return nil, campaignNotFound()
	}
	c, err := a.Store.Rewards().GetCampaign(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, campaignNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("rewards: get campaign: %w", err)
	}
	v := CampaignView(c)
	return &v, nil
}

// SetStatus pauses, resumes or ends a campaign. An ended campaign stays
// ended: its gifts are final and the brand's budget closed.
func (a Admin) SetStatus(ctx context.Context, id string, body []byte) (*protocol.CampaignView, error) {
	var p protocol.CampaignPatch
	if perr := protocol.DecodeStrict(body, &p); perr != nil {
		return nil, perr
	}
	if perr := p.Validate(); perr != nil {
		return nil, perr
	}
	cur, err := a.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	if cur.Status == storage.CampaignEnded && p.Status != storage.CampaignEnded {
		return nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainGifts, "status: an ended campaign cannot be %s again", p.Status)
	}
	c, err := a.Store.Rewards().SetCampaignStatus(ctx, id, p.Status, a.Clock.Now())
	if errors.Is(err, storage.ErrNotFound) {
		return nil, campaignNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("rewards: set campaign status: %w", err)
	}
	v := CampaignView(c)
	return &v, nil
}

func campaignNotFound() *protocol.Error {
	return protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "campaign not found")
}

// CampaignView renders a campaign for the operator.
func CampaignView(c *storage.Campaign) protocol.CampaignView {
	v := protocol.CampaignView{
		CampaignID: c.ID, BrandID: c.BrandID, Title: c.Title, Description: c.Description, Terms: c.Terms,
		RewardImageURL: c.RewardImageURL, Tagline: c.Tagline, VenueName: c.VenueName, VenueAddress: c.VenueAddress,
		TriggerType: c.TriggerType, MilestoneMinutes: c.MilestoneMinutes,
		MinTotalTogetherMinutes: c.MinTotalTogetherMinutes, MinDailyTogetherMinutes: c.MinDailyTogetherMinutes,
		MinDistinctQualifyingDays: c.MinDistinctQualifyingDays, RequireActiveProximityForClaim: c.RequireActiveProximityForClaim,
		Stock: c.Stock, StartsAt: protocol.FormatTimePtr(c.StartsAt), EndsAt: protocol.FormatTimePtr(c.EndsAt),
		RewardTTL: c.RewardTTL.String(), CodeTTL: c.CodeTTL.String(), Status: c.Status,
		Granted: c.Granted, Redeemed: c.Redeemed,
		CreatedAt: protocol.FormatTime(c.CreatedAt), UpdatedAt: protocol.FormatTime(c.UpdatedAt),
	}
	if c.Stock != nil {
		v.Remaining = ptr(max(0, *c.Stock-c.Granted))
	}
	return v
}

// NormalizeCode reads a code as a cashier may type it: case and the
// spaces or dashes people put in are ignored. ok is false when it cannot
// be a code at all, so junk never reaches the store.
func NormalizeCode(s string) (string, bool) {
	s = strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	if len(s) != CodeLength {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(codeAlphabet, rune(s[i])) {
			return "", false
		}
	}
	return s, true
}

// RouteCode finds the pair whose Rewards grain answers for a code shown to
// brandID. A code of another brand is not found, exactly like one that
// was never issued.
func RouteCode(ctx context.Context, store storage.Store, brandID, code string) (pairID string, err error) {
	g, err := store.Rewards().GiftByCode(ctx, code)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && g.BrandID != brandID) {
		return "", protocol.Errorf(protocol.CodeNotFound, protocol.DomainGifts, "no such code")
	}
	if err != nil {
		return "", fmt.Errorf("rewards: find code: %w", err)
	}
	return g.PairID, nil
}
