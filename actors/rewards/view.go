package rewards

import (
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Viewer is who a gift is rendered for: one of the pair (Partner is the
// other user's profile) or, with an empty UserID, the sponsor.
type Viewer struct {
	UserID  string
	Partner protocol.User
}

// View renders a gift for a viewer, judging its rule on facts at now
// (calendar days in loc).
func View(stored storage.Gift, b *storage.Brand, facts Facts, v Viewer, loc *time.Location, now time.Time) protocol.SponsoredGift {
	g := Current(stored, now)
	today := DayKey(now, loc)
	e := Evaluate(g.Offer, facts, today)
	claimable := live(g) && e.RuleMet
	brand := protocol.GiftBrand{BrandID: g.BrandID}
	if b != nil {
		brand = BrandView(b)
	}
	out := protocol.SponsoredGift{
		GiftID: g.ID, GiftType: protocol.GiftTypeSponsored, ConnectionID: g.ConnectionID, CampaignID: g.CampaignID,
		Brand: brand, UserAID: g.UserA, UserBID: g.UserB,
		TriggerType: g.TriggerType, MilestoneMinutes: g.MilestoneMinutes,
		MinTotalTogetherMinutes: g.MinTotalTogetherMinutes, MinDailyTogetherMinutes: g.MinDailyTogetherMinutes,
		MinDistinctQualifyingDays: g.MinDistinctQualifyingDays, RequireActiveProximityForClaim: g.RequireActiveProximityForClaim,
		QualifyingTogetherMinutes: &e.QualifyingMinutes, RequiredTogetherMinutes: ptr(g.MinTotalTogetherMinutes),
		QualifyingDaysCount: &e.QualifyingDays, RequiredQualifyingDays: ptr(g.MinDistinctQualifyingDays),
		ClaimableNow: &claimable, ClaimStage: g.Stage, HistoryStatus: historyStatus(g.Stage, claimable),
		SponsorConfidenceScore: e.Score, RiskSignals: e.Risk,
		VerificationContext: verification(g, e, facts, loc.String(), today, now),
		Title:               g.Title, Description: g.Description, Terms: g.Terms, RewardImageURL: g.RewardImageURL,
		BrandTagline: g.Tagline, CampaignMessage: g.Tagline, VenueName: g.VenueName, VenueAddress: g.VenueAddress,
		Status: status(g.Stage), CreatedAt: protocol.FormatTime(g.CreatedAt),
		ExpiresAt: protocol.FormatTimePtr(&g.ExpiresAt), ClaimedAt: protocol.FormatTimePtr(g.VerifiedAt), RedeemedAt: protocol.FormatTimePtr(g.RedeemedAt),
	}
	out.LegacyStatus = out.Status
	if out.VenueName == nil && b != nil {
		out.VenueName = &b.Name
	}
	if g.Stage == storage.GiftVerified || g.Stage == storage.GiftRedeemed {
		out.RedemptionCode = ptr(g.Code)
		out.CodeExpiresAt = protocol.FormatTimePtr(g.CodeExpiresAt)
	}
	if v.UserID != "" {
		p := v.Partner
		out.PartnerUserID, out.PartnerName, out.PartnerAvatarURL = &p.ID, &p.Name, p.Avatar
		// The rule is the pair's, so it reads the same from either side.
		out.PartnerClaimableNow = &claimable
	}
	return out
}

// status is the raw lifecycle status: verified is still active.
func status(stage string) string {
	switch stage {
	case storage.GiftGranted, storage.GiftVerified:
		return "active"
	}
	return stage
}

func historyStatus(stage string, claimable bool) string {
	switch stage {
	case storage.GiftGranted:
		if claimable {
			return protocol.HistoryAvailable
		}
		return protocol.HistoryPending
	case storage.GiftVerified:
		return protocol.HistoryVerified
	case storage.GiftRedeemed:
		return protocol.HistoryClaimed
	}
	return protocol.HistoryDisqualified
}

func verification(g storage.Gift, e Eligibility, f Facts, dayZone, today string, now time.Time) protocol.VerificationContext {
	st := f.Status
	switch st {
	case "", "idle":
		st = "none"
	}
	return protocol.VerificationContext{
		ConnectionID: g.ConnectionID, DayTimezone: dayZone, Today: today,
		TodayTogetherMinutes: e.TodayMinutes, TodayQualifies: e.TodayQualifies,
		QualifyingTogetherMinutes: e.QualifyingMinutes, QualifyingDaysCount: e.QualifyingDays,
		TotalTogetherMinutes: e.TotalMinutes, DaysWithTogetherTime: e.DaysWithTime,
		ProximityActive: e.Active, ProximityStatus: st,
		LocationMismatches: f.LocationMismatches, InvalidTokens: f.InvalidTokens, SignalRejects: f.RSSIRejects,
		EvaluatedAt: protocol.FormatTime(now),
	}
}

func ptr[T any](v T) *T { return &v }
