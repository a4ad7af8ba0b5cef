package loadgen

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// Summary is the outcome of a run; with --json it is printed as is.
type Summary struct {
	Pass     bool     `json:"pass"`
	Failures []string `json:"failures"`
	Warnings []string `json:"warnings"`

	Scenario      ScenarioInfo `json:"scenario"`
	StartedAt     time.Time    `json:"startedAt"`
	SetupSeconds  float64      `json:"setupSeconds"`  // login, connect, pairing and handshakes
	SteadySeconds float64      `json:"steadySeconds"` // the traffic phase, over which rates are computed

	Sessions   SessionSummary    `json:"sessions"`
	Nodes      []NodeSummary     `json:"nodes"` // per server URL, in the order given
	Pairs      PairSummary       `json:"pairs"`
	Ops        []OpSummary       `json:"ops"`
	Errors     map[string]int64  `json:"errors"`           // by code, everything
	Unexpected map[string]int64  `json:"unexpectedErrors"` // by code, not allowed
	Closes     map[string]int64  `json:"serverCloses"`     // sockets the server or network closed, by close code
	Counters   map[string]int64  `json:"counters"`
	Proximity  *ProximitySummary `json:"proximity,omitempty"`
	Radar      *RadarSummary     `json:"radar,omitempty"` // the radar scenario
	Clock      ClockSummary      `json:"clock"`
	Generator  ProcCost          `json:"generator"`
	Server     *ServerCost       `json:"server,omitempty"`
}

// ScenarioInfo echoes what was asked.
type ScenarioInfo struct {
	Servers              []string `json:"servers"`
	Dialect              string   `json:"dialect"`  // ws (/ws) or socket (the legacy /socket)
	Scenario             string   `json:"scenario"` // mixed or radar
	Users                int      `json:"users"`
	Pairs                int      `json:"pairs"`
	BLE                  bool     `json:"ble"`
	ClockSpeed           float64  `json:"clockSpeed"`
	HeartbeatSeconds     float64  `json:"heartbeatSeconds"`     // server clock
	LocationEverySeconds float64  `json:"locationEverySeconds"` // server clock
	ChatRate             float64  `json:"chatRatePerSecond"`
	DurationSeconds      float64  `json:"durationSeconds"`
	SourceAddrs          int      `json:"sourceAddrs"`
	Logins               string   `json:"logins"` // dev or tokens file
}

// SessionSummary counts users and sockets.
type SessionSummary struct {
	Users          int   `json:"users"`
	LoggedIn       int   `json:"loggedIn"`
	LoginFailed    int   `json:"loginFailed"`
	Connected      int   `json:"connected"` // session.start answered with bootstrap; on /socket, the attach probe answered
	ConnectFailed  int   `json:"connectFailed"`
	ConnectedAtEnd int   `json:"connectedAtEnd"`
	Dropped        int64 `json:"dropped"` // closed by the server or the network during the run
	Reconnects     int64 `json:"reconnects"`
	GaveUp         int   `json:"gaveUp"` // could not reconnect
	// From a drop to the session re-established (bootstrap received; on
	// /socket, the attach probe answered), failover included.
	ReconnectLatency *Latency `json:"reconnectLatencyMs,omitempty"`
}

// PairSummary counts the pairs.
type PairSummary struct {
	Target      int `json:"target"`
	Formed      int `json:"formed"`
	FormFailed  int `json:"formFailed"`
	Active      int `json:"active"`      // BLE run became active
	NeverActive int `json:"neverActive"` // formed, BLE on, but never active
}

// Latency is in milliseconds.
type Latency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50"`
	P95   float64 `json:"p95"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
	Mean  float64 `json:"mean"`
}

// OpSummary is one frame type (or REST route).
type OpSummary struct {
	Type         string           `json:"type"`
	Sent         int64            `json:"sent"`
	Received     int64            `json:"received"`
	SentPerSec   float64          `json:"sentPerSec"`     // during the traffic phase
	RecvPerSec   float64          `json:"receivedPerSec"` // during the traffic phase
	Latency      *Latency         `json:"latencyMs,omitempty"`
	ReturnLeg    *Latency         `json:"returnLegMs,omitempty"` // server stamp → receipt, at clock speed 1
	ErrorsByCode map[string]int64 `json:"errors,omitempty"`
}

// ProximitySummary compares the together-time the server reported per pair
// with what the simulation expected, in server-clock seconds.
type ProximitySummary struct {
	Pairs            int          `json:"pairs"`     // pairs whose run became active
	Measured         int          `json:"measured"`  // with a summary and a certain expectation
	Uncertain        int          `json:"uncertain"` // a scan's fate unknown (timeout, drop): not measured
	SummaryFailed    int          `json:"summaryFailed"`
	ExpectedMean     float64      `json:"expectedMeanSeconds"`
	ReportedMean     float64      `json:"reportedMeanSeconds"`
	SignedErrorMean  float64      `json:"signedErrorMeanSeconds"` // reported − expected; the server counts whole seconds, so about −0.5 is exact
	AbsError         Dist         `json:"absErrorSeconds"`
	ErrorPerMinute   Dist         `json:"absErrorSecondsPerMinute"` // |error| per minute of expected together-time
	ToleranceSeconds float64      `json:"toleranceSeconds"`
	OverTolerance    int          `json:"overTolerance"`
	Worst            []PairResult `json:"worst"`
}

// ClockSummary compares the configured clock speed with the server's pace.
type ClockSummary struct {
	Speed         float64 `json:"speed"`
	ObservedSpeed float64 `json:"observedSpeed"` // from answer timestamps; 0 if the run was too short
}

// ProcCost is what a process used.
type ProcCost struct {
	RSSBytes     int64   `json:"rssBytes"`
	PeakRSSBytes int64   `json:"peakRssBytes"`
	CPUSeconds   float64 `json:"cpuSeconds"` // during the run
	AvgCores     float64 `json:"avgCores"`   // CPU seconds per real second of the run
	Goroutines   int     `json:"goroutines,omitempty"`
}

// ServerCost is the server process, sampled from /proc/<pid> when
// --server-pid is given.
type ServerCost struct {
	PID       int         `json:"pid"`                 // the first of PIDs
	PIDs      []int       `json:"pids,omitempty"`      // every process sampled; the samples are their sums
	Start     *ProcSample `json:"start,omitempty"`     // before any login
	LoggedIn  *ProcSample `json:"loggedIn,omitempty"`  // users logged in, no socket yet
	Connected *ProcSample `json:"connected,omitempty"` // every socket started (or, on /socket, attached), idle, after settling
	End       *ProcSample `json:"end,omitempty"`       // after the traffic phase, sockets still open
	PeakRSS   int64       `json:"peakRssBytes"`
	// Per connected session: (connected − loggedIn) / sessions; idle when
	// the scenario sends nothing (--pairs 0 --location-every 0), else the
	// phones' first locations are in it. The FromStart figure also carries
	// the users' accounts created at login.
	PerSessionBytes          float64 `json:"perSessionBytes"`
	PerSessionAnonBytes      float64 `json:"perSessionAnonBytes"`
	PerSessionBytesFromStart float64 `json:"perSessionBytesFromStart"`
	CPUSecondsSteady         float64 `json:"cpuSecondsSteady"` // during the traffic phase
	AvgCoresSteady           float64 `json:"avgCoresSteady"`
	CPUSecondsRun            float64 `json:"cpuSecondsRun"` // from start to end
}

func latencyOf(h *Histogram) *Latency {
	if h.Count() == 0 {
		return nil
	}
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	return &Latency{Count: h.Count(), P50: ms(h.Quantile(0.50)), P95: ms(h.Quantile(0.95)), P99: ms(h.Quantile(0.99)), Max: ms(h.Max()), Mean: ms(h.Mean())}
}

// buildOps turns the statistics into per-type lines, with rates over the
// traffic phase (counts between c0 and c1).
func buildOps(snap snapshot, c0, c1 Counts) []OpSummary {
	secs := c1.At.Sub(c0.At).Seconds()
	rate := func(a, b int64) float64 {
		if secs <= 0 {
			return 0
		}
		return math.Round(float64(b-a)/secs*10) / 10
	}
	out := make([]OpSummary, 0, len(snap.ops))
	for t, o := range snap.ops {
		op := OpSummary{Type: t, Sent: o.sent, Received: o.recv,
			SentPerSec: rate(c0.Sent[t], c1.Sent[t]), RecvPerSec: rate(c0.Recv[t], c1.Recv[t]),
			Latency: latencyOf(&o.hist), ReturnLeg: latencyOf(&o.ret)}
		if len(o.errors) > 0 {
			op.ErrorsByCode = o.errors
		}
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// buildProximity summarises the pair results against the tolerance.
func buildProximity(results []PairResult, tolerance time.Duration) *ProximitySummary {
	ps := &ProximitySummary{Pairs: len(results), ToleranceSeconds: tolerance.Seconds(), Worst: []PairResult{}}
	var abs, perMin []float64
	var exp, rep, signed float64
	var measured []PairResult
	for _, r := range results {
		switch {
		case r.SummaryError != "":
			ps.SummaryFailed++
			continue
		case r.Uncertain:
			ps.Uncertain++
			continue
		}
		measured = append(measured, r)
		a := math.Abs(r.ErrorSeconds)
		abs = append(abs, a)
		if r.ExpectedSeconds >= 1 {
			perMin = append(perMin, a/(r.ExpectedSeconds/60))
		}
		exp += r.ExpectedSeconds
		rep += float64(r.ReportedSeconds)
		signed += r.ErrorSeconds
		if a > tolerance.Seconds() {
			ps.OverTolerance++
		}
	}
	ps.Measured = len(measured)
	if n := float64(len(measured)); n > 0 {
		ps.ExpectedMean, ps.ReportedMean, ps.SignedErrorMean = exp/n, rep/n, signed/n
	}
	ps.AbsError, ps.ErrorPerMinute = NewDist(abs), NewDist(perMin)
	slices.SortFunc(measured, func(x, y PairResult) int {
		return -compareFloat(math.Abs(x.ErrorSeconds), math.Abs(y.ErrorSeconds))
	})
	ps.Worst = append(ps.Worst, measured[:min(len(measured), 5)]...)
	return ps
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// unexpected filters the error counts to the codes not allowed.
func unexpected(errs map[string]int64, allowed []string) map[string]int64 {
	out := map[string]int64{}
	for code, n := range errs {
		if !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(strings.TrimSpace(a), code) }) {
			out[code] = n
		}
	}
	return out
}
