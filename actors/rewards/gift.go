package rewards

import (
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// The lifecycle of one gift, as pure functions over a copy of the stored
// record: the grain decides, stores the result, and only then tells anyone.

// Current is the gift as it stands at now: a code past its expiry returns
// the gift to granted, and a gift past its own expiry is expired. The
// reminders make both durable; applying them here too means a reminder
// that fires late never lets a dead code or gift through.
func Current(g storage.Gift, now time.Time) storage.Gift {
	if live(g) && !now.Before(g.ExpiresAt) {
		g.Stage, g.Code, g.CodeExpiresAt = storage.GiftExpired, "", nil
		at := g.ExpiresAt
		g.EndedAt, g.EndReason = &at, "expired"
		return g
	}
	if g.Stage == storage.GiftVerified && g.CodeExpiresAt != nil && !now.Before(*g.CodeExpiresAt) {
		g.Stage, g.Code, g.CodeExpiresAt, g.ClaimedBy, g.VerifiedAt = storage.GiftGranted, "", nil, "", nil
	}
	return g
}

// live reports whether a gift may still be claimed or redeemed.
func live(g storage.Gift) bool {
	return g.Stage == storage.GiftGranted || g.Stage == storage.GiftVerified
}

// Claim verifies the gift for actor with a new code. A gift already
// verified is answered as it is (a retried claim must not change the code
// the partner may already be showing).
func Claim(g *storage.Gift, actor string, e Eligibility, code string, now time.Time) (changed bool, perr *protocol.Error) {
	*g = Current(*g, now)
	switch g.Stage {
	case storage.GiftVerified:
		return false, nil
	case storage.GiftRedeemed:
		return false, protocol.Errorf(protocol.CodeAlreadyRedeemed, protocol.DomainGifts, "this gift was already redeemed")
	case storage.GiftExpired, storage.GiftCancelled:
		return false, notClaimable("this gift is "+g.Stage, *g, e)
	}
	if !e.RuleMet {
		return false, notClaimable("the pair does not meet this reward's rules yet", *g, e)
	}
	exp := now.Add(g.CodeTTL)
	if exp.After(g.ExpiresAt) {
		exp = g.ExpiresAt // a code never outlives its gift
	}
	at := now
	g.Stage, g.Code, g.CodeExpiresAt, g.ClaimedBy, g.VerifiedAt = storage.GiftVerified, code, &exp, actor, &at
	return true, nil
}

// NotClaimableDetails is the details object of gift_not_claimable.
type NotClaimableDetails struct {
	RiskSignals               protocol.RiskSignals `json:"riskSignals"`
	QualifyingTogetherMinutes int                  `json:"qualifyingTogetherMinutes"`
	RequiredTogetherMinutes   int                  `json:"requiredTogetherMinutes"`
	QualifyingDaysCount       int                  `json:"qualifyingDaysCount"`
	RequiredQualifyingDays    int                  `json:"requiredQualifyingDays"`
}

func notClaimable(msg string, g storage.Gift, e Eligibility) *protocol.Error {
	pe := protocol.Errorf(protocol.CodeGiftNotClaimable, protocol.DomainGifts, "%s", msg)
	pe.Details = NotClaimableDetails{
		RiskSignals: e.Risk, QualifyingTogetherMinutes: e.QualifyingMinutes, RequiredTogetherMinutes: g.MinTotalTogetherMinutes,
		QualifyingDaysCount: e.QualifyingDays, RequiredQualifyingDays: g.MinDistinctQualifyingDays,
	}
	return pe
}

// Redeem checks a venue's code against the gift and redeems it. active
// says whether the pair's run is active now (asked only when the gift
// requires it). A code is dead (code_expired) once a newer one replaced
// it, its time ran out, or the gift ended.
func Redeem(g *storage.Gift, code string, active bool, now time.Time) (changed bool, perr *protocol.Error) {
	if perr := CheckCode(*g, code, now); perr != nil {
		return false, perr
	}
	if g.RequireActiveProximityForClaim && !active {
		return false, protocol.Errorf(protocol.CodeProximityRequired, protocol.DomainGifts, "this reward is redeemed only while the pair is together: start a proximity session and try again")
	}
	*g = Current(*g, now)
	at := now
	g.Stage, g.RedeemedAt = storage.GiftRedeemed, &at
	return true, nil
}

// CheckCode answers what a venue holding code learns about the gift.
func CheckCode(g storage.Gift, code string, now time.Time) *protocol.Error {
	c := Current(g, now)
	switch {
	case c.Stage == storage.GiftRedeemed && c.Code == code:
		return protocol.Errorf(protocol.CodeAlreadyRedeemed, protocol.DomainGifts, "this code was already redeemed")
	case c.Stage == storage.GiftExpired:
		return protocol.Errorf(protocol.CodeCodeExpired, protocol.DomainGifts, "this reward expired")
	case c.Stage == storage.GiftCancelled:
		return protocol.Errorf(protocol.CodeCodeExpired, protocol.DomainGifts, "this reward was cancelled")
	case c.Stage != storage.GiftVerified || c.Code != code:
		return protocol.Errorf(protocol.CodeCodeExpired, protocol.DomainGifts, "this code expired; the pair can claim the reward again for a new one")
	}
	return nil
}

// Expire ends a live gift whose time is up.
func Expire(g *storage.Gift, now time.Time) bool {
	if !live(*g) || now.Before(g.ExpiresAt) {
		return false
	}
	*g = Current(*g, now)
	return true
}

// ExpireCode returns a verified gift whose code ran out to granted.
func ExpireCode(g *storage.Gift, now time.Time) bool {
	if g.Stage != storage.GiftVerified || g.CodeExpiresAt == nil || now.Before(*g.CodeExpiresAt) {
		return false
	}
	*g = Current(*g, now)
	return true
}

// Cancel ends a live gift because its connection closed (reason: the
// connection's closure reason).
func Cancel(g *storage.Gift, reason string, now time.Time) bool {
	if !live(*g) {
		return false
	}
	at := now
	g.Stage, g.EndedAt, g.EndReason = storage.GiftCancelled, &at, reason
	g.CodeExpiresAt = nil
	return true
}
