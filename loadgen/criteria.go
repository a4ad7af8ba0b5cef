package loadgen

import (
	"fmt"
	"math"
	"sort"
)

// clockSpeedSlack is how far the observed server clock may run from
// --clock-speed before the run is called misconfigured: every expectation
// in server time would be wrong.
const clockSpeedSlack = 0.10

// allowance is how many of n may fail: a fraction, rounded down, so small
// runs allow none.
func allowance(n int, frac float64) int {
	return int(math.Floor(float64(n) * frac))
}

// Evaluate returns why the server failed the scenario; none means it passed.
// The thresholds: logins, connects, dropped sockets and pair formations may
// fail up to MaxFailFraction of their number; any error code not allowed,
// any BLE pair that never became active or whose together-time cannot be
// checked (beyond the same fraction), any measured pair whose together-time
// is off by more than the tolerance, and a server clock that does not run
// at --clock-speed fail the run.
func Evaluate(s *Summary, cfg *Config) []string {
	var out []string
	f := cfg.MaxFailFraction
	ss := s.Sessions
	if ss.Connected == 0 {
		out = append(out, "no session connected")
	}
	if ss.LoginFailed > allowance(ss.Users, f) {
		out = append(out, fmt.Sprintf("%d of %d logins failed (allowed %d)", ss.LoginFailed, ss.Users, allowance(ss.Users, f)))
	}
	if ss.ConnectFailed > allowance(ss.LoggedIn, f) {
		out = append(out, fmt.Sprintf("%d of %d sockets failed to connect and start (allowed %d)", ss.ConnectFailed, ss.LoggedIn, allowance(ss.LoggedIn, f)))
	}
	if int(ss.Dropped) > allowance(ss.Connected, f) {
		out = append(out, fmt.Sprintf("the server or network dropped %d sockets during the run (allowed %d)", ss.Dropped, allowance(ss.Connected, f)))
	}
	ps := s.Pairs
	if ps.FormFailed > allowance(ps.Target, f) {
		out = append(out, fmt.Sprintf("%d of %d pairs did not form through request/accept (allowed %d)", ps.FormFailed, ps.Target, allowance(ps.Target, f)))
	}
	if ps.NeverActive > allowance(ps.Formed, f) {
		out = append(out, fmt.Sprintf("%d of %d pairs never became active in BLE proximity (allowed %d)", ps.NeverActive, ps.Formed, allowance(ps.Formed, f)))
	}
	if len(s.Unexpected) > 0 {
		codes := make([]string, 0, len(s.Unexpected))
		for c := range s.Unexpected {
			codes = append(codes, c)
		}
		sort.Strings(codes)
		msg := "unexpected errors:"
		for _, c := range codes {
			msg += fmt.Sprintf(" %s×%d", c, s.Unexpected[c])
		}
		out = append(out, msg)
	}
	if p := s.Proximity; p != nil {
		if p.OverTolerance > 0 {
			out = append(out, fmt.Sprintf("%d of %d measured pairs have a together-time error above %.1f s (max %.1f s)", p.OverTolerance, p.Measured, p.ToleranceSeconds, p.AbsError.Max))
		}
		if p.SummaryFailed > allowance(p.Pairs, f) {
			out = append(out, fmt.Sprintf("%d proximity summaries could not be read", p.SummaryFailed))
		}
		if p.Uncertain > allowance(p.Pairs, f) {
			out = append(out, fmt.Sprintf("the together-time of %d of %d pairs could not be checked: a scan got no answer or a socket dropped", p.Uncertain, p.Pairs))
		}
	}
	if rs := s.Radar; rs != nil {
		out = append(out, evaluateRadar(s, rs, f)...)
	}
	if obs := s.Clock.ObservedSpeed; obs > 0 && math.Abs(obs/s.Clock.Speed-1) > clockSpeedSlack {
		out = append(out, fmt.Sprintf("the server clock runs at %.2f× real time, not --clock-speed %g: pass the server's GISBI_CLOCK_SPEED", obs, s.Clock.Speed))
	}
	return out
}

// evaluateRadar adds the radar scenario's criteria: the live users placed,
// updates answered, and a hint when the server's per-socket frame limit
// throttled the closed loop.
func evaluateRadar(s *Summary, rs *RadarSummary, f float64) []string {
	var out []string
	if rs.LoadFailed > allowance(s.Sessions.Connected, f) {
		out = append(out, fmt.Sprintf("%d of %d connected users' locations were not answered (allowed %d)", rs.LoadFailed, s.Sessions.Connected, allowance(s.Sessions.Connected, f)))
	}
	if rs.Updates == 0 {
		out = append(out, "no radar update was answered in the query phase")
	}
	if n := rs.Updates + rs.Failed; rs.Failed > int64(allowance(int(n), f)) {
		out = append(out, fmt.Sprintf("%d of %d radar updates failed (allowed %d)", rs.Failed, n, allowance(int(n), f)))
	}
	if s.Errors[codeRateLimited] > 0 {
		out = append(out, "the server rate-limited the closed loop, which sends as fast as it is answered: start it with GISBI_WS_RATE=1000000 GISBI_WS_BURST=1000000")
	}
	return out
}
