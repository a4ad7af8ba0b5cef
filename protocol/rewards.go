package protocol

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Sponsored rewards: the SponsoredGift a client renders, the socket frames
// that read and claim gifts, and the bodies of the operator and sponsor
// APIs. Every timestamp is a FormatTime string.

// Reward triggers.
const (
	TriggerConnectionAccepted = "connectionAccepted"
	TriggerProximityMilestone = "proximityMilestone"
)

// GiftTypeSponsored is the only giftType there is.
const GiftTypeSponsored = "sponsoredPairReward"

// History labels of a gift.
const (
	HistoryPending      = "pending"
	HistoryAvailable    = "available"
	HistoryVerified     = "verified"
	HistoryClaimed      = "claimed"
	HistoryDisqualified = "disqualified"
)

// GiftBrand is the brand object of a SponsoredGift.
type GiftBrand struct {
	BrandID  string  `json:"brandId"`
	Name     string  `json:"name"`
	Slug     string  `json:"slug"`
	Logo     *string `json:"logo"`
	Category *string `json:"category"`
}

// RiskSignals explain why a gift is or is not safely claimable now. The
// first three are unmet rules; the rest are what the BLE verification
// counted on the connection.
type RiskSignals struct {
	InsufficientTogetherTime   bool `json:"insufficientTogetherTime"`
	InsufficientQualifyingDays bool `json:"insufficientQualifyingDays"`
	NotActiveNow               bool `json:"notActiveNow"`
	LocationMismatchSeen       bool `json:"locationMismatchSeen"`
	InvalidTokenSeen           bool `json:"invalidTokenSeen"`
	SignalOutOfRangeSeen       bool `json:"signalOutOfRangeSeen"`
}

// VerificationContext is the proof behind a gift, for the venue: the
// campaign's rule applied to today and to all time, the unfiltered
// together-time, and the live run.
type VerificationContext struct {
	ConnectionID              string `json:"connectionId"`
	DayTimezone               string `json:"dayTimezone"`
	Today                     string `json:"today"` // YYYY-MM-DD in DayTimezone
	TodayTogetherMinutes      int    `json:"todayTogetherMinutes"`
	TodayQualifies            bool   `json:"todayQualifies"`
	QualifyingTogetherMinutes int    `json:"qualifyingTogetherMinutes"`
	QualifyingDaysCount       int    `json:"qualifyingDaysCount"`
	TotalTogetherMinutes      int    `json:"totalTogetherMinutes"`
	DaysWithTogetherTime      int    `json:"daysWithTogetherTime"`
	ProximityActive           bool   `json:"proximityActive"`
	ProximityStatus           string `json:"proximityStatus"` // active | paused | ended | none
	LocationMismatches        int    `json:"locationMismatches"`
	InvalidTokens             int    `json:"invalidTokens"`
	SignalRejects             int    `json:"signalRejects"`
	EvaluatedAt               string `json:"evaluatedAt"`
}

// SponsoredGift is the SponsoredGift model as one viewer sees it: the
// partner fields name the other user of the pair (the sponsor API, which
// has no viewer, leaves them null). RedemptionCode is shown to the pair and
// the sponsor only.
type SponsoredGift struct {
	GiftID                         string              `json:"giftId"`
	GiftType                       string              `json:"giftType"`
	ConnectionID                   string              `json:"connectionId"`
	CampaignID                     string              `json:"campaignId"`
	Brand                          GiftBrand           `json:"brand"`
	UserAID                        string              `json:"userAId"`
	UserBID                        string              `json:"userBId"`
	PartnerUserID                  *string             `json:"partnerUserId"`
	PartnerName                    *string             `json:"partnerName"`
	PartnerAvatarURL               *string             `json:"partnerAvatarUrl"`
	PartnerClaimableNow            *bool               `json:"partnerClaimableNow"`
	TriggerType                    string              `json:"triggerType"`
	MilestoneMinutes               *int                `json:"milestoneMinutes"`
	MinTotalTogetherMinutes        int                 `json:"minTotalTogetherMinutes"`
	MinDailyTogetherMinutes        *int                `json:"minDailyTogetherMinutes"`
	MinDistinctQualifyingDays      int                 `json:"minDistinctQualifyingDays"`
	RequireActiveProximityForClaim bool                `json:"requireActiveProximityForClaim"`
	QualifyingTogetherMinutes      *int                `json:"qualifyingTogetherMinutes"`
	RequiredTogetherMinutes        *int                `json:"requiredTogetherMinutes"`
	QualifyingDaysCount            *int                `json:"qualifyingDaysCount"`
	RequiredQualifyingDays         *int                `json:"requiredQualifyingDays"`
	ClaimableNow                   *bool               `json:"claimableNow"`
	ClaimStage                     string              `json:"claimStage"`
	HistoryStatus                  string              `json:"historyStatus"`
	SponsorConfidenceScore         int                 `json:"sponsorConfidenceScore"`
	VerificationContext            VerificationContext `json:"verificationContext"`
	RiskSignals                    RiskSignals         `json:"riskSignals"`
	Title                          string              `json:"title"`
	Description                    string              `json:"description"`
	Terms                          string              `json:"terms"`
	RewardImageURL                 *string             `json:"rewardImageUrl"`
	BrandTagline                   *string             `json:"brandTagline"`
	CampaignMessage                *string             `json:"campaignMessage"`
	VenueName                      *string             `json:"venueName"`
	VenueAddress                   *string             `json:"venueAddress"`
	RedemptionCode                 *string             `json:"redemptionCode"`
	Status                         string              `json:"status"`
	LegacyStatus                   string              `json:"legacyStatus"`
	CreatedAt                      string              `json:"createdAt"`
	ExpiresAt                      *string             `json:"expiresAt"`
	CodeExpiresAt                  *string             `json:"codeExpiresAt"`
	ClaimedAt                      *string             `json:"claimedAt"`
	RedeemedAt                     *string             `json:"redeemedAt"`
}

// Gift history paging.
const (
	GiftHistoryDefaultLimit = 20
	GiftHistoryMaxLimit     = 100
)

// GiftHistoryRequest is the gift.history.fetch payload.
type GiftHistoryRequest struct {
	Limit  *int    `json:"limit"`
	Cursor *string `json:"cursor"`
}

// Validate checks the payload and fills the default limit. The cursor's
// meaning is checked where it is decoded.
func (p *GiftHistoryRequest) Validate() *Error {
	if p.Limit == nil {
		n := GiftHistoryDefaultLimit
		p.Limit = &n
	}
	if *p.Limit < 1 || *p.Limit > GiftHistoryMaxLimit {
		return Errorf(CodeInvalidPayload, DomainGifts, "limit must be between 1 and %d", GiftHistoryMaxLimit)
	}
	if p.Cursor != nil && len(*p.Cursor) > MaxIDChars*2 {
		return Errorf(CodeInvalidPayload, DomainGifts, "cursor is not one this server issued")
	}
	return nil
}

// GiftHistory answers gift.history.fetch.
type GiftHistory struct {
	Limit          int             `json:"limit"`
	NextCursor     *string         `json:"nextCursor"`
	SponsoredGifts []SponsoredGift `json:"sponsoredGifts"`
}

// GiftClaimRequest is the gift.claim payload.
type GiftClaimRequest struct {
	GiftID string `json:"giftId"`
}

// Validate checks the payload.
func (p *GiftClaimRequest) Validate() *Error {
	switch {
	case p.GiftID == "":
		return Errorf(CodeInvalidPayload, DomainGifts, "giftId is required")
	case !ValidID(p.GiftID):
		return Errorf(CodeNotFound, DomainGifts, "gift not found")
	}
	return nil
}

// Bounds of operator input.
const (
	MaxBrandNameChars   = 80
	MaxSlugChars        = 64
	MaxCategoryChars    = 40
	MaxTitleChars       = 120
	MaxDescriptionChars = 1000
	MaxTermsChars       = 2000
	MaxTaglineChars     = 200
	MaxVenueChars       = 200
	MaxMediaURLChars    = 2048
	MaxDailyMinutes     = 24 * 60
	MaxRuleMinutes      = 366 * 24 * 60
	MaxRuleDays         = 366
	MaxRewardTTL        = 366 * 24 * time.Hour
	MinCodeTTL          = time.Minute
	MaxCodeTTL          = 30 * 24 * time.Hour
)

// BrandCreate is the body of POST /admin/brands.
type BrandCreate struct {
	Name     string  `json:"name"`
	Slug     *string `json:"slug"`
	Logo     *string `json:"logo"`
	Category *string `json:"category"`
}

var slugRe = regexp.MustCompile(`^[a-z0-9]+(?:-[a-z0-9]+)*$`)

// Validate checks the body, trims it, and fills the slug from the name.
func (p *BrandCreate) Validate() *Error {
	p.Name = strings.TrimSpace(p.Name)
	if p.Name == "" {
		return adminErr("name is required")
	}
	if utf8.RuneCountInString(p.Name) > MaxBrandNameChars {
		return adminErr("name is longer than %d characters", MaxBrandNameChars)
	}
	if p.Slug == nil || strings.TrimSpace(*p.Slug) == "" {
		s := Slugify(p.Name)
		if s == "" {
			return adminErr("slug is required when the name has no letters or digits")
		}
		p.Slug = &s
	}
	if len(*p.Slug) > MaxSlugChars || !slugRe.MatchString(*p.Slug) {
		return adminErr("slug must be lowercase letters, digits and single dashes, at most %d characters", MaxSlugChars)
	}
	if err := optionalMedia("logo", p.Logo); err != nil {
		return err
	}
	return optionalText("category", &p.Category, MaxCategoryChars)
}

// Slugify makes a URL slug of a name: lowercase ASCII letters and digits
// separated by single dashes.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
		default:
			dash = true
		}
		if b.Len() >= MaxSlugChars {
			break
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// BrandCreated answers POST /admin/brands. SponsorKey is shown this once.
type BrandCreated struct {
	GiftBrand
	SponsorKey string `json:"sponsorKey"`
}

// CampaignCreate is the body of POST /admin/campaigns. Pointers tell a
// missing field from a zero one: the rule fields are required.
type CampaignCreate struct {
	BrandID                        string     `json:"brandId"`
	Title                          string     `json:"title"`
	Description                    string     `json:"description"`
	Terms                          *string    `json:"terms"`
	RewardImageURL                 *string    `json:"rewardImageUrl"`
	Tagline                        *string    `json:"tagline"`
	VenueName                      *string    `json:"venueName"`
	VenueAddress                   *string    `json:"venueAddress"`
	TriggerType                    string     `json:"triggerType"`
	MilestoneMinutes               *int       `json:"milestoneMinutes"`
	MinTotalTogetherMinutes        *int       `json:"minTotalTogetherMinutes"`
	MinDailyTogetherMinutes        *int       `json:"minDailyTogetherMinutes"`
	MinDistinctQualifyingDays      *int       `json:"minDistinctQualifyingDays"`
	RequireActiveProximityForClaim *bool      `json:"requireActiveProximityForClaim"`
	Stock                          *int       `json:"stock"`
	StartsAt                       *time.Time `json:"startsAt"`
	EndsAt                         *time.Time `json:"endsAt"`
	RewardTTL                      string     `json:"rewardTtl"`
	CodeTTL                        string     `json:"codeTtl"`

	// Parsed by Validate.
	RewardTTLValue time.Duration `json:"-"`
	CodeTTLValue   time.Duration `json:"-"`
}

// DecodeStrict unmarshals an operator body into v, naming an unknown or
// mistyped field: an operator's typo must not silently become a default.
func DecodeStrict(body []byte, v any) *Error {
	return DecodeStrictIn(body, DomainGifts, v)
}

// Validate checks the body against the configured milestones and trims it.
func (p *CampaignCreate) Validate(milestones []int) *Error {
	p.Title, p.Description = strings.TrimSpace(p.Title), strings.TrimSpace(p.Description)
	switch {
	case p.BrandID == "":
		return adminErr("brandId is required")
	case !ValidID(p.BrandID):
		return Errorf(CodeNotFound, DomainGifts, "brand not found")
	case p.Title == "":
		return adminErr("title is required")
	case utf8.RuneCountInString(p.Title) > MaxTitleChars:
		return adminErr("title is longer than %d characters", MaxTitleChars)
	case p.Description == "":
		return adminErr("description is required")
	case utf8.RuneCountInString(p.Description) > MaxDescriptionChars:
		return adminErr("description is longer than %d characters", MaxDescriptionChars)
	case p.Terms == nil:
		return adminErr("terms is required")
	case utf8.RuneCountInString(*p.Terms) > MaxTermsChars:
		return adminErr("terms is longer than %d characters", MaxTermsChars)
	}
	if err := optionalMedia("rewardImageUrl", p.RewardImageURL); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    **string
		max  int
	}{{"tagline", &p.Tagline, MaxTaglineChars}, {"venueName", &p.VenueName, MaxVenueChars}, {"venueAddress", &p.VenueAddress, MaxVenueChars}} {
		if err := optionalText(f.name, f.v, f.max); err != nil {
			return err
		}
	}
	switch p.TriggerType {
	case TriggerConnectionAccepted:
		if p.MilestoneMinutes != nil {
			return adminErr("milestoneMinutes applies only to triggerType proximityMilestone")
		}
	case TriggerProximityMilestone:
		if p.MilestoneMinutes == nil {
			return adminErr("milestoneMinutes is required for triggerType proximityMilestone")
		}
		if !slices.Contains(milestones, *p.MilestoneMinutes) {
			return adminErr("milestoneMinutes must be one of the configured milestones %v", milestones)
		}
	case "":
		return adminErr("triggerType is required")
	default:
		return adminErr("triggerType must be connectionAccepted or proximityMilestone")
	}
	if err := boundedInt("minTotalTogetherMinutes", p.MinTotalTogetherMinutes, true, 0, MaxRuleMinutes); err != nil {
		return err
	}
	if err := boundedInt("minDailyTogetherMinutes", p.MinDailyTogetherMinutes, false, 1, MaxDailyMinutes); err != nil {
		return err
	}
	if err := boundedInt("minDistinctQualifyingDays", p.MinDistinctQualifyingDays, true, 0, MaxRuleDays); err != nil {
		return err
	}
	if p.RequireActiveProximityForClaim == nil {
		return adminErr("requireActiveProximityForClaim is required")
	}
	if err := boundedInt("stock", p.Stock, false, 1, 1<<31-1); err != nil {
		return err
	}
	if p.StartsAt != nil && p.EndsAt != nil && !p.EndsAt.After(*p.StartsAt) {
		return adminErr("endsAt must be after startsAt")
	}
	var err *Error
	if p.RewardTTLValue, err = parseTTL("rewardTtl", p.RewardTTL, time.Minute, MaxRewardTTL); err != nil {
		return err
	}
	if p.CodeTTLValue, err = parseTTL("codeTtl", p.CodeTTL, MinCodeTTL, MaxCodeTTL); err != nil {
		return err
	}
	return nil
}

// CampaignView is a campaign as the operator API shows it.
type CampaignView struct {
	CampaignID                     string  `json:"campaignId"`
	BrandID                        string  `json:"brandId"`
	Title                          string  `json:"title"`
	Description                    string  `json:"description"`
	Terms                          string  `json:"terms"`
	RewardImageURL                 *string `json:"rewardImageUrl"`
	Tagline                        *string `json:"tagline"`
	VenueName                      *string `json:"venueName"`
	VenueAddress                   *string `json:"venueAddress"`
	TriggerType                    string  `json:"triggerType"`
	MilestoneMinutes               *int    `json:"milestoneMinutes"`
	MinTotalTogetherMinutes        int     `json:"minTotalTogetherMinutes"`
	MinDailyTogetherMinutes        *int    `json:"minDailyTogetherMinutes"`
	MinDistinctQualifyingDays      int     `json:"minDistinctQualifyingDays"`
	RequireActiveProximityForClaim bool    `json:"requireActiveProximityForClaim"`
	Stock                          *int    `json:"stock"`
	StartsAt                       *string `json:"startsAt"`
	EndsAt                         *string `json:"endsAt"`
	RewardTTL                      string  `json:"rewardTtl"`
	CodeTTL                        string  `json:"codeTtl"`
	Status                         string  `json:"status"`
	Granted                        int     `json:"granted"`
	Redeemed                       int     `json:"redeemed"`
	Remaining                      *int    `json:"remaining"`
	CreatedAt                      string  `json:"createdAt"`
	UpdatedAt                      string  `json:"updatedAt"`
}

// CampaignList answers GET /admin/campaigns.
type CampaignList struct {
	Campaigns []CampaignView `json:"campaigns"`
}

// CampaignPatch is the body of PATCH /admin/campaigns/:id.
type CampaignPatch struct {
	Status string `json:"status"`
}

// Validate checks the body.
func (p *CampaignPatch) Validate() *Error {
	switch p.Status {
	case "active", "paused", "ended":
		return nil
	case "":
		return adminErr("status is required")
	}
	return adminErr("status must be active, paused or ended")
}

func adminErr(format string, args ...any) *Error {
	return Errorf(CodeInvalidPayload, DomainGifts, format, args...)
}

// optionalMedia accepts an http(s) URL or a server path ("/media/…"), the
// two forms the spec's examples use for images.
func optionalMedia(name string, v *string) *Error {
	if v == nil {
		return nil
	}
	s := *v
	if len(s) > MaxMediaURLChars {
		return adminErr("%s is longer than %d characters", name, MaxMediaURLChars)
	}
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.ContainsAny(s, " \t\r\n") {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return adminErr("%s must be an http(s) URL or a path starting with /", name)
	}
	return nil
}

// optionalText trims an optional text field; blank becomes absent.
func optionalText(name string, v **string, max int) *Error {
	if *v == nil {
		return nil
	}
	s := strings.TrimSpace(**v)
	if s == "" {
		*v = nil
		return nil
	}
	if utf8.RuneCountInString(s) > max {
		return adminErr("%s is longer than %d characters", name, max)
	}
	*v = &s
	return nil
}

func boundedInt(name string, v *int, required bool, lo, hi int) *Error {
	if v == nil {
		if required {
			return adminErr("%s is required", name)
		}
		return nil
	}
	if *v < lo || *v > hi {
		return adminErr("%s must be between %d and %d", name, lo, hi)
	}
	return nil
}

func parseTTL(name, s string, lo, hi time.Duration) (time.Duration, *Error) {
	if s == "" {
		return 0, adminErr("%s is required (a Go duration such as 72h)", name)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, adminErr("%s must be a Go duration such as 72h", name)
	}
	if d < lo || d > hi {
		return 0, adminErr("%s must be between %s and %s", name, lo, hi)
	}
	return d, nil
}
