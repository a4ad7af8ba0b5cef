package rewards

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func days(kv ...any) map[string]time.Duration {
	out := map[string]time.Duration{}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i].(string)] = time.Duration(kv[i+1].(int)) * time.Minute
	}
	return out
}

func intp(v int) *int { return &v }

func TestEvaluate(t *testing.T) {
	const today = "2026-04-20"
	cases := []struct {
		name    string
		offer   storage.Offer
		facts   Facts
		minutes int
		days    int
		today   int
		met     bool
		score   int
		risk    func(e Eligibility) bool
	}{
		{
			name:  "nothing required, nothing done: met, no run",
			offer: storage.Offer{},
			facts: Facts{},
			met:   true, score: 50 + 25 + 10,
		},
		{
			name:    "no daily minimum: every day with time qualifies",
			offer:   storage.Offer{MinTotalTogetherMinutes: 30, MinDistinctQualifyingDays: 2},
			facts:   Facts{Daily: days("2026-04-19", 20, today, 15), Status: "active"},
			minutes: 35, days: 2, today: 15, met: true, score: 100,
		},
		{
			name:    "days below the daily minimum count for nothing",
			offer:   storage.Offer{MinTotalTogetherMinutes: 60, MinDailyTogetherMinutes: intp(30), MinDistinctQualifyingDays: 2},
			facts:   Facts{Daily: days("2026-04-18", 45, "2026-04-19", 29, today, 30)},
			minutes: 75, days: 2, today: 30, met: true, score: 50 + 25 + 10,
			risk: func(e Eligibility) bool { return e.Risk.NotActiveNow && !e.Risk.InsufficientTogetherTime },
		},
		{
			name:    "half the minutes, a third of the days",
			offer:   storage.Offer{MinTotalTogetherMinutes: 100, MinDailyTogetherMinutes: intp(10), MinDistinctQualifyingDays: 3},
			facts:   Facts{Daily: days("2026-04-18", 50, "2026-04-19", 5)},
			minutes: 50, days: 1, met: false, score: 25 + 8 + 10,
			risk: func(e Eligibility) bool {
				return e.Risk.InsufficientTogetherTime && e.Risk.InsufficientQualifyingDays && !e.TodayQualifies
			},
		},
		{
			name:    "active run required and missing",
			offer:   storage.Offer{RequireActiveProximityForClaim: true},
			facts:   Facts{Daily: days(today, 10), Status: "paused"},
			minutes: 10, days: 1, today: 10, met: false, score: 85,
		},
		{
			name:    "active run required and present",
			offer:   storage.Offer{RequireActiveProximityForClaim: true},
			facts:   Facts{Daily: days(today, 10), Status: "active"},
			minutes: 10, days: 1, today: 10, met: true, score: 100,
		},
		{
			name:  "every risk counter raised",
			offer: storage.Offer{},
			facts: Facts{Status: "active", LocationMismatches: 1, InvalidTokens: 4, RSSIRejects: 2},
			met:   true, score: 50 + 25 + 15 - 25 - 10 - 5,
			risk: func(e Eligibility) bool {
				return e.Risk.LocationMismatchSeen && e.Risk.InvalidTokenSeen && e.Risk.SignalOutOfRangeSeen
			},
		},
		{
			name:  "score never below zero",
			offer: storage.Offer{MinTotalTogetherMinutes: 600, MinDistinctQualifyingDays: 10},
			facts: Facts{LocationMismatches: 1, InvalidTokens: 1, RSSIRejects: 1},
			met:   false, score: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := Evaluate(c.offer, c.facts, today)
			if e.QualifyingMinutes != c.minutes || e.QualifyingDays != c.days || e.TodayMinutes != c.today || e.RuleMet != c.met || e.Score != c.score {
				t.Fatalf("Evaluate = %+v; want minutes %d days %d today %d met %v score %d", e, c.minutes, c.days, c.today, c.met, c.score)
			}
			if c.risk != nil && !c.risk(e) {
				t.Fatalf("risk signals %+v", e.Risk)
			}
		})
	}
}

func TestDayKeyUsesTheZone(t *testing.T) {
	lagos, err := time.LoadLocation("Africa/Lagos") // UTC+1
	if err != nil {
		t.Skipf("no tz database: %v", err)
	}
	at := time.Date(2026, 4, 19, 23, 30, 0, 0, time.UTC)
	if got := DayKey(at, time.UTC); got != "2026-04-19" {
		t.Fatalf("UTC day = %s", got)
	}
	if got := DayKey(at, lagos); got != "2026-04-20" {
		t.Fatalf("Lagos day = %s", got)
	}
}

// TestEvaluateSumsBeforeRounding: together-time split over two days counts
// in full; a day below the daily minimum counts for nothing.
func TestEvaluateSumsBeforeRounding(t *testing.T) {
	split := Facts{
		Daily: map[string]time.Duration{"2030-01-01": 2*time.Minute + 50*time.Second, "2030-01-02": 2*time.Minute + 50*time.Second},
		Total: 5*time.Minute + 40*time.Second,
	}
	three := 3
	for _, tc := range []struct {
		name          string
		offer         storage.Offer
		minutes, days int
		met           bool
	}{
		{"no daily minimum", storage.Offer{MinTotalTogetherMinutes: 5, MinDistinctQualifyingDays: 1}, 5, 2, true},
		{"both days below the daily minimum", storage.Offer{MinTotalTogetherMinutes: 5, MinDailyTogetherMinutes: &three}, 0, 0, false},
	} {
		e := Evaluate(tc.offer, split, "2030-01-02")
		if e.QualifyingMinutes != tc.minutes || e.QualifyingDays != tc.days || e.RuleMet != tc.met || e.TotalMinutes != 5 || e.TodayMinutes != 2 {
			t.Errorf("%s: %+v, want %d qualifying minutes over %d days, met %v", tc.name, e, tc.minutes, tc.days, tc.met)
		}
	}
}
