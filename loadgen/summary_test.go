package loadgen

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBuildProximity(t *testing.T) {
	results := []PairResult{
		{Pair: 0, ExpectedSeconds: 600.4, ReportedSeconds: 600, ErrorSeconds: -0.4},
		{Pair: 1, ExpectedSeconds: 599.9, ReportedSeconds: 599, ErrorSeconds: -0.9},
		{Pair: 2, ExpectedSeconds: 120, ReportedSeconds: 125, ErrorSeconds: 5},
		{Pair: 3, ExpectedSeconds: 300, Uncertain: true},
		{Pair: 4, SummaryError: "HTTP 404"},
	}
	ps := buildProximity(results, 2*time.Second)
	if ps.Pairs != 5 || ps.Measured != 3 || ps.Uncertain != 1 || ps.SummaryFailed != 1 || ps.OverTolerance != 1 {
		t.Fatalf("counts: %+v", ps)
	}
	if ps.AbsError.Max != 5 || ps.AbsError.P50 != 0.9 || math.Abs(ps.AbsError.Mean-6.3/3) > 1e-9 {
		t.Fatalf("abs error: %+v", ps.AbsError)
	}
	if math.Abs(ps.SignedErrorMean-(3.7/3)) > 1e-9 {
		t.Fatalf("signed mean %v", ps.SignedErrorMean)
	}
	// Pair 2: 5 s over 2 minutes is 2.5 s per minute, the worst rate.
	if ps.ErrorPerMinute.Max != 2.5 || ps.Worst[0].Pair != 2 {
		t.Fatalf("per minute %+v worst %+v", ps.ErrorPerMinute, ps.Worst)
	}
	if empty := buildProximity(nil, time.Second); empty.Measured != 0 || empty.Worst == nil {
		t.Fatalf("empty: %+v", empty)
	}
}

func TestBuildOpsRates(t *testing.T) {
	s := NewStats()
	c0 := s.Counts()
	for range 10 {
		s.Sent(typeLocationUpdate)
		s.Received(typeRadarNearby)
	}
	s.Answered(typeLocationUpdate, 3*time.Millisecond, "")
	s.Answered(typeLocationUpdate, 0, codeTimeout)
	c1 := s.Counts()
	c1.At = c0.At.Add(2 * time.Second)
	ops := buildOps(s.snapshot(), c0, c1)
	if len(ops) != 2 || ops[0].Type != typeLocationUpdate || ops[1].Type != typeRadarNearby {
		t.Fatalf("ops %+v", ops)
	}
	loc := ops[0]
	if loc.SentPerSec != 5 || loc.Latency == nil || loc.Latency.Count != 1 || loc.Latency.P99 != 3 || loc.ErrorsByCode[codeTimeout] != 1 {
		t.Fatalf("location op %+v latency %+v", loc, loc.Latency)
	}
	if ops[1].RecvPerSec != 5 || ops[1].Latency != nil {
		t.Fatalf("radar op %+v", ops[1])
	}
}

func TestSummaryOutputs(t *testing.T) {
	s := passing()
	s.Pass = true
	s.Ops = []OpSummary{{Type: typeChatMessage, Sent: 5, Latency: &Latency{Count: 5, P50: 1}}}
	s.Server = &ServerCost{PID: 42, Connected: &ProcSample{RSSBytes: 1 << 20}}
	s.Scenario.Dialect = DialectSocket
	s.Scenario.Servers = []string{"http://127.0.0.1:8081", "http://127.0.0.1:8082"}
	s.Sessions.ReconnectLatency = &Latency{Count: 500, P50: 310, P99: 2400, Max: 4100}
	s.Nodes = []NodeSummary{
		{URL: "http://127.0.0.1:8081", Home: 500, Connected: 500, Dropped: 500, ReconnectFailures: 500},
		{URL: "http://127.0.0.1:8082", Home: 500, Connected: 500, ConnectedAtEnd: 1000, Reconnects: 500},
	}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"against http://127.0.0.1:8081, http://127.0.0.1:8082 (dialect socket, ", "1000 connected of 1000 users",
		"reconnect, drop → session: p50 310 ms, p99 2400 ms, max 4100 ms",
		"node http://127.0.0.1:8081: home of 500 users, connected 500, 0 at the end; dropped 500, reconnects here 0 (failed attempts 500)",
		"node http://127.0.0.1:8082: home of 500 users, connected 500, 1000 at the end; dropped 0, reconnects here 500",
		typeChatMessage, "together-time", "server pid 42", "PASS"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["pass"] != true || back["proximity"] == nil {
		t.Fatalf("JSON summary: %v %s", err, b)
	}
	if sc, _ := back["scenario"].(map[string]any); sc["dialect"] != DialectSocket || len(sc["servers"].([]any)) != 2 {
		t.Errorf("JSON summary does not name the dialect and servers: %s", b)
	}
	nodes, _ := back["nodes"].([]any)
	if len(nodes) != 2 || nodes[1].(map[string]any)["connectedAtEnd"] != 1000.0 {
		t.Errorf("JSON summary nodes: %s", b)
	}
	if ss, _ := back["sessions"].(map[string]any); ss["reconnectLatencyMs"] == nil {
		t.Errorf("JSON summary lacks the reconnect latency: %s", b)
	}
}

func TestRadarSummaryOutputs(t *testing.T) {
	s := passing()
	s.Pass, s.Proximity = true, nil
	s.Scenario.Scenario = ScenarioRadar
	s.Radar = &RadarSummary{Users: 1000, LoadSeconds: 1.5, Conns: 32, Queries: 6400, Updates: 6400, Seconds: 2, UpdatesPerSec: 3200,
		Latency: &Latency{Count: 6400, P50: 1.25, P99: 9.5, Max: 20}, AvgResults: 49.25, Pushes: 3}
	var text bytes.Buffer
	if err := s.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scenario radar", "query phase", "1000 live users placed in 1.5s", "32 closed-loop sockets, 6400 updates asked",
		"= 3200 updates/s", "49.2 nearby users per answer", "3 pushes discarded", "p50 1.25 ms", "p99 9.50 ms", "max 20.0 ms"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text summary lacks %q:\n%s", want, text.String())
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Scenario struct{ Scenario string }
		Radar    struct {
			UpdatesPerSec float64
			AvgResults    float64
			Pushes        int64
			LatencyMs     struct{ P99 float64 }
		}
	}
	if err := json.Unmarshal(b, &back); err != nil || back.Scenario.Scenario != ScenarioRadar || back.Radar.UpdatesPerSec != 3200 ||
		back.Radar.AvgResults != 49.25 || back.Radar.Pushes != 3 || back.Radar.LatencyMs.P99 != 9.5 {
		t.Fatalf("JSON summary: %v %+v\n%s", err, back, b)
	}
}
