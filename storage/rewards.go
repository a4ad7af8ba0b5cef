package storage

import (
	"context"
	"errors"
	"time"
)

// ErrExhausted: a grant was refused because the campaign is not active or
// its stock is used up. Nothing was written.
var ErrExhausted = errors.New("storage: campaign exhausted")

// Campaign statuses.
const (
	CampaignActive = "active"
	CampaignPaused = "paused"
	CampaignEnded  = "ended"
)

// Gift stages (the wire's claimStage).
const (
	GiftGranted   = "granted"
	GiftVerified  = "verified"
	GiftRedeemed  = "redeemed"
	GiftExpired   = "expired"
	GiftCancelled = "cancelled"
)

// Brand is a sponsor. Its key is never stored, only its hash.
type Brand struct {
	ID        string    `json:"brandId"` // brand_…
	Name      string    `json:"name"`
	Slug      string    `json:"slug"` // unique
	Logo      *string   `json:"logo,omitempty"`
	Category  *string   `json:"category,omitempty"`
	KeyHash   string    `json:"keyHash"` // hex SHA-256 of the sponsor key; unique
	CreatedAt time.Time `json:"createdAt"`
}

// Offer is what a campaign promises and the rule a pair must meet. A gift
// keeps a copy taken when it was granted, so editing nothing later can
// change a reward already in someone's hands.
type Offer struct {
	Title                          string  `json:"title"`
	Description                    string  `json:"description"`
	Terms                          string  `json:"terms"`
	RewardImageURL                 *string `json:"rewardImageUrl,omitempty"`
	Tagline                        *string `json:"tagline,omitempty"`
	VenueName                      *string `json:"venueName,omitempty"`
	VenueAddress                   *string `json:"venueAddress,omitempty"`
	MinTotalTogetherMinutes        int     `json:"minTotalTogetherMinutes"`
	MinDailyTogetherMinutes        *int    `json:"minDailyTogetherMinutes,omitempty"`
	MinDistinctQualifyingDays      int     `json:"minDistinctQualifyingDays"`
	RequireActiveProximityForClaim bool    `json:"requireActiveProximityForClaim"`
}

// Campaign is a brand's reward programme.
type Campaign struct {
	ID      string `json:"campaignId"` // camp_…
	BrandID string `json:"brandId"`
	Offer
	TriggerType      string        `json:"triggerType"` // connectionAccepted | proximityMilestone
	MilestoneMinutes *int          `json:"milestoneMinutes,omitempty"`
	Stock            *int          `json:"stock,omitempty"` // nil: unlimited
	StartsAt         *time.Time    `json:"startsAt,omitempty"`
	EndsAt           *time.Time    `json:"endsAt,omitempty"`
	RewardTTL        time.Duration `json:"rewardTtl"`
	CodeTTL          time.Duration `json:"codeTtl"`
	Status           string        `json:"status"` // active | paused | ended
	// Granted and Redeemed are kept by the store (Grant, PutGift); what a
	// caller sets in them is ignored on write.
	Granted   int       `json:"granted"`
	Redeemed  int       `json:"redeemed"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Gift is one sponsored reward granted to a pair. The pair's Rewards grain
// is its only writer after the grant.
type Gift struct {
	ID               string `json:"giftId"` // sgg_<ULID>, named by Grant: ids sort in grant (commit) order
	CampaignID       string `json:"campaignId"`
	BrandID          string `json:"brandId"`
	PairID           string `json:"pairId"`
	ConnectionID     string `json:"connectionId"`
	UserA            string `json:"userAId"`
	UserB            string `json:"userBId"`
	TriggerType      string `json:"triggerType"`
	MilestoneMinutes *int   `json:"milestoneMinutes,omitempty"`
	Offer
	CodeTTL time.Duration `json:"codeTtl"`
	Stage   string        `json:"stage"` // granted | verified | redeemed | expired | cancelled
	// Code is the current redemption code ("" while granted); once set, a
	// code stays indexed to this gift forever, so a venue holding an old one
	// is told it expired rather than that it never existed.
	Code          string     `json:"code,omitempty"`
	CodeExpiresAt *time.Time `json:"codeExpiresAt,omitempty"`
	ClaimedBy     string     `json:"claimedBy,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	ExpiresAt     time.Time  `json:"expiresAt"`
	VerifiedAt    *time.Time `json:"verifiedAt,omitempty"`
	RedeemedAt    *time.Time `json:"redeemedAt,omitempty"`
	EndedAt       *time.Time `json:"endedAt,omitempty"` // expired or cancelled
	EndReason     string     `json:"endReason,omitempty"`
	// Version fences PutGift (see ErrStale); Grant stores version 1.
	Version uint64 `json:"version,omitempty"`
}

// Grant is one gift to grant and the timer that goes with it.
type Grant struct {
	Gift *Gift
	// Timer, when set, is stored in the grant's transaction and only if the
	// gift is granted, so a gift never exists without its expiry and a
	// refused grant leaves no timer behind.
	Timer *Reminder
}

// Rewards stores brands, campaigns and gifts. The store, not a grain, owns
// a campaign's stock count: Grant checks and counts in one transaction, so
// concurrent grants from many Rewards grains (on any node sharing the
// database) never oversell.
type Rewards interface {
	// CreateBrand stores a new brand; ErrConflict when its id, slug or key
	// hash is taken.
	CreateBrand(ctx context.Context, b *Brand) error
	// GetBrand returns a brand; ErrNotFound when unknown.
	GetBrand(ctx context.Context, id string) (*Brand, error)
	// BrandByKeyHash finds the brand of a sponsor key's hash; ErrNotFound.
	BrandByKeyHash(ctx context.Context, hash string) (*Brand, error)
	// ListBrands lists every brand, oldest first.
	ListBrands(ctx context.Context) ([]Brand, error)

	// CreateCampaign stores a new campaign with zero counters; ErrNotFound
	// when its brand is unknown, ErrConflict when its id is taken.
	CreateCampaign(ctx context.Context, c *Campaign) error
	// GetCampaign returns a campaign with its counters; ErrNotFound.
	GetCampaign(ctx context.Context, id string) (*Campaign, error)
	// ListCampaigns lists every campaign, oldest first.
	ListCampaigns(ctx context.Context) ([]Campaign, error)
	// SetCampaignStatus changes a campaign's status and UpdatedAt and
	// returns it; ErrNotFound.
	SetCampaignStatus(ctx context.Context, id, status string, at time.Time) (*Campaign, error)

	// Grant stores new gifts, each counted on its campaign, in one
	// transaction, with each gift's timer (stored as a reminder only if its
	// gift is). A gift with an empty ID is named in the transaction
	// ("sgg_" + ULID, set on the gift): such ids sort in the order their
	// grants commit, so a history paged by id (GiftsOfUser) never has a
	// gift appear behind a cursor already handed out. It answers one error per grant, nil when granted:
	// ErrConflict when the pair already holds a gift of that campaign (in
	// any stage; nothing changes), ErrExhausted when the campaign is not
	// active or Granted reached Stock, ErrNotFound when the campaign is
	// unknown. err reports a failure of the whole call: nothing was written.
	Grant(ctx context.Context, grants []Grant) (refused []error, err error)
	// PutGift replaces a stored gift (ErrNotFound when unknown; ErrStale
	// when g.Version is not the stored version, else g.Version becomes the
	// new one). A non-empty
	// Code is indexed to the gift (ErrConflict, nothing written, when the
	// code belongs to another gift). Moving into stage redeemed counts on
	// the campaign's Redeemed.
	PutGift(ctx context.Context, g *Gift) error
	// GetGift returns a gift; ErrNotFound.
	GetGift(ctx context.Context, id string) (*Gift, error)
	// GiftByCode finds the gift a code was ever issued to; ErrNotFound.
	GiftByCode(ctx context.Context, code string) (*Gift, error)
	// GiftsOfPair lists a pair's gifts, oldest first.
	GiftsOfPair(ctx context.Context, pairID string) ([]Gift, error)
	// GiftsOfUser lists the gifts of either pair a user belongs to, newest
	// first (descending id), only ids strictly below beforeID ("" = from
	// the newest), at most limit.
	GiftsOfUser(ctx context.Context, userID, beforeID string, limit int) ([]Gift, error)
}
