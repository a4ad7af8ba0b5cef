package loadgen

import (
	"strings"
	"testing"
)

// passing is a summary of a healthy run of 1000 users and 100 BLE pairs.
func passing() *Summary {
	return &Summary{
		Sessions:   SessionSummary{Users: 1000, LoggedIn: 1000, Connected: 1000, ConnectedAtEnd: 1000},
		Pairs:      PairSummary{Target: 100, Formed: 100, Active: 100},
		Errors:     map[string]int64{},
		Unexpected: map[string]int64{},
		Proximity:  &ProximitySummary{Pairs: 100, Measured: 100, ToleranceSeconds: 1.55, AbsError: Dist{Count: 100, Max: 0.9}},
		Clock:      ClockSummary{Speed: 1, ObservedSpeed: 1.001},
	}
}

// radarPassing is a healthy radar run of 200,000 updates on 32 sockets.
func radarPassing() *RadarSummary {
	return &RadarSummary{Users: 1000, Conns: 32, Queries: 200000, Updates: 200000, Seconds: 40, UpdatesPerSec: 5000, AvgResults: 49.5}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name string
		edit func(s *Summary)
		want []string // substrings, one per expected failure; none = pass
	}{
		{"healthy", func(s *Summary) {}, nil},
		{"logins within 1%", func(s *Summary) { s.Sessions.LoginFailed = 10 }, nil},
		{"logins beyond 1%", func(s *Summary) { s.Sessions.LoginFailed = 11 }, []string{"11 of 1000 logins failed"}},
		{"connects beyond 1%", func(s *Summary) { s.Sessions.ConnectFailed = 11 }, []string{"failed to connect"}},
		{"nothing connected", func(s *Summary) { s.Sessions.Connected = 0 }, []string{"no session connected"}},
		{"drops beyond 1%", func(s *Summary) { s.Sessions.Dropped = 11 }, []string{"dropped 11 sockets"}},
		{"pairs not formed", func(s *Summary) { s.Pairs.FormFailed = 2 }, []string{"2 of 100 pairs did not form"}},
		{"pairs within 1%", func(s *Summary) { s.Pairs.FormFailed = 1 }, nil},
		{"never active", func(s *Summary) { s.Pairs.NeverActive = 2 }, []string{"never became active"}},
		{"unexpected errors", func(s *Summary) { s.Unexpected = map[string]int64{"timeout": 1, "internal": 3} }, []string{"unexpected errors: internal×3 timeout×1"}},
		{"together-time off", func(s *Summary) { s.Proximity.OverTolerance, s.Proximity.AbsError.Max = 3, 7.5 }, []string{"3 of 100 measured pairs have a together-time error above 1.6 s (max 7.5 s)"}},
		{"summaries unreadable", func(s *Summary) { s.Proximity.SummaryFailed = 5 }, []string{"5 proximity summaries"}},
		{"pairs not checkable", func(s *Summary) { s.Proximity.Uncertain, s.Proximity.Measured = 2, 98 }, []string{"2 of 100 pairs could not be checked"}},
		{"one pair not checkable", func(s *Summary) { s.Proximity.Uncertain, s.Proximity.Measured = 1, 99 }, nil},
		{"clock speed mismatch", func(s *Summary) { s.Clock = ClockSummary{Speed: 60, ObservedSpeed: 1} }, []string{"not --clock-speed 60"}},
		{"clock too short to tell", func(s *Summary) { s.Clock = ClockSummary{Speed: 60} }, nil},
		{"radar healthy", func(s *Summary) { s.Radar = radarPassing() }, nil},
		{"radar, live users missing", func(s *Summary) { s.Radar = radarPassing(); s.Radar.LoadFailed = 11 }, []string{"11 of 1000 connected users' locations were not answered"}},
		{"radar, nothing answered", func(s *Summary) { s.Radar = radarPassing(); s.Radar.Updates, s.Radar.Failed = 0, 0 }, []string{"no radar update was answered"}},
		{"radar, updates failed", func(s *Summary) { s.Radar = radarPassing(); s.Radar.Failed = 2100 }, []string{"2100 of 202100 radar updates failed (allowed 2021)"}},
		{"radar, updates failed within 1%", func(s *Summary) { s.Radar = radarPassing(); s.Radar.Failed = 2000; s.Radar.Updates = 300000 }, nil},
		{"radar, rate-limited", func(s *Summary) {
			s.Radar = radarPassing()
			s.Errors = map[string]int64{"rate_limited": 5}
			s.Unexpected = map[string]int64{"rate_limited": 5}
		}, []string{"rate_limited×5", "GISBI_WS_RATE=1000000"}},
		{"several at once", func(s *Summary) {
			s.Sessions.LoginFailed = 500
			s.Unexpected = map[string]int64{"rate_limited": 9}
		}, []string{"logins failed", "rate_limited×9"}},
	}
	cfg := Defaults()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := passing()
			tt.edit(s)
			got := Evaluate(s, &cfg)
			if len(got) != len(tt.want) {
				t.Fatalf("Evaluate = %q, want %d failure(s) %q", got, len(tt.want), tt.want)
			}
			all := strings.Join(got, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("failures %q do not mention %q", got, w)
				}
			}
		})
	}
}

func TestAllowance(t *testing.T) {
	for _, c := range []struct {
		n    int
		f    float64
		want int
	}{{10, 0.01, 0}, {99, 0.01, 0}, {100, 0.01, 1}, {2000, 0.01, 20}, {50, 0.1, 5}, {0, 0.5, 0}} {
		if got := allowance(c.n, c.f); got != c.want {
			t.Errorf("allowance(%d, %v) = %d, want %d", c.n, c.f, got, c.want)
		}
	}
}

func TestUnexpected(t *testing.T) {
	got := unexpected(map[string]int64{"rate_limited": 2, "invalid_token": 1, "timeout": 4}, []string{" RATE_LIMITED", "timeout"})
	if len(got) != 1 || got["invalid_token"] != 1 {
		t.Fatalf("unexpected = %v", got)
	}
}
