package loadgen

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteText prints the summary for people.
func (s *Summary) WriteText(w io.Writer) error {
	var b strings.Builder
	sc := s.Scenario
	fmt.Fprintf(&b, "gisbi-load against %s (dialect %s, scenario %s): %d users, %d pairs (BLE %v), clock ×%g, logins: %s, %d source address(es)\n",
		strings.Join(sc.Servers, ", "), sc.Dialect, sc.Scenario, sc.Users, sc.Pairs, sc.BLE, sc.ClockSpeed, sc.Logins, sc.SourceAddrs)
	if s.Radar != nil {
		fmt.Fprintf(&b, "set-up %.1fs (with the live points), query phase %.1fs\n\n", s.SetupSeconds, s.SteadySeconds)
	} else {
		fmt.Fprintf(&b, "set-up %.1fs, traffic %.1fs (heartbeat %gs, location every %gs in server time; chat %g msg/s)\n\n",
			s.SetupSeconds, s.SteadySeconds, sc.HeartbeatSeconds, sc.LocationEverySeconds, sc.ChatRate)
	}

	ss := s.Sessions
	fmt.Fprintf(&b, "sessions: %d connected of %d users (logged in %d, login failed %d, connect failed %d), %d still connected at the end\n",
		ss.Connected, ss.Users, ss.LoggedIn, ss.LoginFailed, ss.ConnectFailed, ss.ConnectedAtEnd)
	fmt.Fprintf(&b, "          dropped %d, reconnects %d, gave up %d", ss.Dropped, ss.Reconnects, ss.GaveUp)
	if len(s.Closes) > 0 {
		fmt.Fprintf(&b, " (close codes %s)", fmtCounts(s.Closes))
	}
	b.WriteString("\n")
	if l := ss.ReconnectLatency; l != nil {
		fmt.Fprintf(&b, "          reconnect, drop → session: p50 %.0f ms, p99 %.0f ms, max %.0f ms\n", l.P50, l.P99, l.Max)
	}
	if len(s.Nodes) > 1 {
		for _, n := range s.Nodes {
			fmt.Fprintf(&b, "  node %s: home of %d users, connected %d, %d at the end; dropped %d, reconnects here %d (failed attempts %d)\n",
				n.URL, n.Home, n.Connected, n.ConnectedAtEnd, n.Dropped, n.Reconnects, n.ReconnectFailures)
		}
	}
	if p := s.Pairs; p.Target > 0 {
		fmt.Fprintf(&b, "pairs:    %d formed of %d (failed %d); BLE active %d, never active %d\n", p.Formed, p.Target, p.FormFailed, p.Active, p.NeverActive)
	}
	b.WriteString("\n")

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "type\tsent\tsent/s\treceived\trecv/s\tanswered\tp50 ms\tp95 ms\tp99 ms\tmax ms\treturn p99\terrors\t")
	for _, o := range s.Ops {
		row := fmt.Sprintf("%s\t%d\t%.1f\t%d\t%.1f\t", o.Type, o.Sent, o.SentPerSec, o.Received, o.RecvPerSec)
		if l := o.Latency; l != nil {
			row += fmt.Sprintf("%d\t%.2f\t%.2f\t%.2f\t%.1f\t", l.Count, l.P50, l.P95, l.P99, l.Max)
		} else {
			row += "\t\t\t\t\t"
		}
		if r := o.ReturnLeg; r != nil {
			row += fmt.Sprintf("%.2f\t", r.P99)
		} else {
			row += "\t"
		}
		row += fmtCounts(o.ErrorsByCode) + "\t"
		fmt.Fprintln(tw, row)
	}
	_ = tw.Flush()
	b.WriteString("(rates over the traffic phase; latencies request → answer over the whole run, matched by requestId\n" +
		" (on /socket, the attach probe → the first error event after it);\n" +
		" return p99: server timestamp → receipt, at clock speed 1 only; timer lag: how late this generator's own timers fired)\n\n")

	if s.Radar != nil {
		writeRadarText(&b, s.Radar)
	}
	fmt.Fprintf(&b, "errors: %s; unexpected: %s\n", orNone(fmtCounts(s.Errors)), orNone(fmtCounts(s.Unexpected)))
	if len(s.Counters) > 0 {
		fmt.Fprintf(&b, "events: %s\n", fmtCounts(s.Counters))
	}
	if p := s.Proximity; p != nil {
		fmt.Fprintf(&b, "\nproximity together-time (server seconds): %d active pairs, %d measured, %d uncertain, %d summaries failed\n",
			p.Pairs, p.Measured, p.Uncertain, p.SummaryFailed)
		fmt.Fprintf(&b, "  expected mean %.1f s, reported mean %.1f s, signed error mean %+.2f s\n", p.ExpectedMean, p.ReportedMean, p.SignedErrorMean)
		fmt.Fprintf(&b, "  |reported − expected|: mean %.2f s, p50 %.2f s, p95 %.2f s, max %.2f s (tolerance %.1f s, %d over)\n",
			p.AbsError.Mean, p.AbsError.P50, p.AbsError.P95, p.AbsError.Max, p.ToleranceSeconds, p.OverTolerance)
		fmt.Fprintf(&b, "  per minute of together-time: mean %.3f s/min, p50 %.3f, p95 %.3f, max %.3f\n",
			p.ErrorPerMinute.Mean, p.ErrorPerMinute.P50, p.ErrorPerMinute.P95, p.ErrorPerMinute.Max)
	}
	fmt.Fprintf(&b, "\nclock: speed %g", s.Clock.Speed)
	if s.Clock.ObservedSpeed > 0 {
		fmt.Fprintf(&b, ", observed %.3f", s.Clock.ObservedSpeed)
	}
	g := s.Generator
	fmt.Fprintf(&b, "\ngenerator: RSS %s (peak %s), CPU %.1f s (%.2f cores), %d goroutines\n", fmtBytes(g.RSSBytes), fmtBytes(g.PeakRSSBytes), g.CPUSeconds, g.AvgCores, g.Goroutines)
	if sv := s.Server; sv != nil {
		fmt.Fprintf(&b, "server pid %d: peak RSS %s", sv.PID, fmtBytes(sv.PeakRSS))
		for _, x := range []struct {
			n string
			p *ProcSample
		}{{"start", sv.Start}, {"logged in", sv.LoggedIn}, {"connected", sv.Connected}, {"end", sv.End}} {
			if x.p != nil {
				fmt.Fprintf(&b, ", %s %s (anon %s)", x.n, fmtBytes(x.p.RSSBytes), fmtBytes(x.p.AnonBytes))
			}
		}
		fmt.Fprintf(&b, "\n  per connected session (connected − logged in, idle if the scenario sends nothing): %.0f B RSS (%.0f B anon; %.0f B counting from start)\n",
			sv.PerSessionBytes, sv.PerSessionAnonBytes, sv.PerSessionBytesFromStart)
		fmt.Fprintf(&b, "  CPU during traffic %.1f s (%.2f cores), whole run %.1f s\n", sv.CPUSecondsSteady, sv.AvgCoresSteady, sv.CPUSecondsRun)
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "warning: %s\n", w)
	}
	if s.Pass {
		b.WriteString("\nPASS\n")
	} else {
		b.WriteString("\nFAIL\n")
		for _, f := range s.Failures {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
