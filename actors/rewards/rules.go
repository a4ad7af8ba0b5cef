package rewards

import (
	"math"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Facts are what the proximity grain knows of a connection that reward
// rules read: verified together-time per calendar day, the anti-spoofing
// counters and whether a run is active right now.
type Facts struct {
	Daily              map[string]time.Duration // "2006-01-02" in the day zone
	Total              time.Duration
	Status             string // active | paused | ended | "" (no run)
	LocationMismatches int
	InvalidTokens      int
	RSSIRejects        int
}

// Active reports whether a verified run is going on now.
func (f Facts) Active() bool { return f.Status == "active" }

// Eligibility is a campaign rule applied to a pair's facts.
type Eligibility struct {
	QualifyingMinutes int
	QualifyingDays    int
	TodayMinutes      int
	TodayQualifies    bool
	TotalMinutes      int
	DaysWithTime      int
	Active            bool
	// RuleMet: both minimums are met, and the run is active when the rule
	// requires it. Whether the gift itself can be claimed also depends on
	// its stage and expiry (see claimable).
	RuleMet bool
	Risk    protocol.RiskSignals
	Score   int
}

// Score weights: see Evaluate and docs/protocol.md.
const (
	scoreTime     = 50
	scoreDays     = 25
	scoreActive   = 15
	scoreClean    = 10
	scoreMismatch = 25
	scoreInvalid  = 10
	scoreSignal   = 5
)

// Evaluate applies an offer's rule to facts. today is the current day key.
//
// A day qualifies when its verified minutes reach minDailyTogetherMinutes,
// or, without a daily minimum, when it has any verified time at all;
// qualifying minutes are the time of the qualifying days, summed and then
// rounded down, so a day below the daily minimum counts for nothing.
//
// sponsorConfidenceScore is, rounded and clamped to 0–100:
//
//	50 × min(1, qualifying minutes / required minutes)   (1 when none required)
//	+ 25 × min(1, qualifying days / required days)      (1 when none required)
//	+ 15 when a run is active now
//	+ 10 when no anti-spoofing counter was ever raised
//	− 25 when a location mismatch was seen
//	− 10 when an invalid token was scanned
//	−  5 when a signal strength out of range was reported
func Evaluate(o storage.Offer, f Facts, today string) Eligibility {
	var e Eligibility
	// Qualifying time is summed before it is rounded down to minutes:
	// summing each day's whole minutes dropped up to a minute a day, so
	// 2m50s before midnight and 2m50s after read as 4 qualifying minutes
	// (and failed a 5-minute rule) while totalTogetherMinutes said 5.
	var qualifying time.Duration
	for day, d := range f.Daily {
		m := int(d / time.Minute)
		if d > 0 {
			e.DaysWithTime++
		}
		q := d > 0
		if o.MinDailyTogetherMinutes != nil {
			q = m >= *o.MinDailyTogetherMinutes
		}
		if q {
			e.QualifyingDays++
			qualifying += d
		}
		if day == today {
			e.TodayMinutes, e.TodayQualifies = m, q
		}
	}
	e.QualifyingMinutes = int(qualifying / time.Minute)
	e.TotalMinutes = int(f.Total / time.Minute)
	e.Active = f.Active()
	e.Risk = protocol.RiskSignals{
		InsufficientTogetherTime:   e.QualifyingMinutes < o.MinTotalTogetherMinutes,
		InsufficientQualifyingDays: e.QualifyingDays < o.MinDistinctQualifyingDays,
		NotActiveNow:               !e.Active,
		LocationMismatchSeen:       f.LocationMismatches > 0,
		InvalidTokenSeen:           f.InvalidTokens > 0,
		SignalOutOfRangeSeen:       f.RSSIRejects > 0,
	}
	e.RuleMet = !e.Risk.InsufficientTogetherTime && !e.Risk.InsufficientQualifyingDays &&
		(!o.RequireActiveProximityForClaim || e.Active)

	score := scoreTime*fit(e.QualifyingMinutes, o.MinTotalTogetherMinutes) +
		scoreDays*fit(e.QualifyingDays, o.MinDistinctQualifyingDays)
	if e.Active {
		score += scoreActive
	}
	r := e.Risk
	if !r.LocationMismatchSeen && !r.InvalidTokenSeen && !r.SignalOutOfRangeSeen {
		score += scoreClean
	}
	if r.LocationMismatchSeen {
		score -= scoreMismatch
	}
	if r.InvalidTokenSeen {
		score -= scoreInvalid
	}
	if r.SignalOutOfRangeSeen {
		score -= scoreSignal
	}
	e.Score = int(math.Round(max(0, min(100, score))))
	return e
}

// fit is how much of a requirement is met, 0–1; nothing required is met.
func fit(have, need int) float64 {
	if need <= 0 {
		return 1
	}
	return min(1, float64(have)/float64(need))
}

// DayKey names the calendar day of t in loc, as the proximity grain keys
// its daily totals.
func DayKey(t time.Time, loc *time.Location) string {
	return t.In(loc).Format(time.DateOnly)
}
