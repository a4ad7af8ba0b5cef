package rewards

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

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
