package loadgen

import (
	"maps"
	"sync"
	"time"
)

// Generator-side pseudo error codes: no server sent them, the generator
// concluded them. They count as unexpected unless allowed.
const (
	codeTimeout      = "timeout"      // no answer within the request timeout
	codeDisconnected = "disconnected" // the socket dropped before the answer
	codeHTTP         = "http_status"  // a REST answer without an error code
	codeTransport    = "transport"    // a REST call that did not reach the server
)

// codeRateLimited is the server's answer to a socket above GISBI_WS_RATE.
const codeRateLimited = "rate_limited"

// Counter names of Stats.Add.
const (
	ctrReconnects     = "reconnects"
	ctrRotations      = "token rotations received"
	ctrTokenRefetches = "tokens re-fetched without rotation"
	ctrMilestones     = "milestones received"
	ctrConfirmed      = "partner.confirmed received"
	ctrRefreshes      = "access tokens refreshed"
	ctrChatDelivered  = "chat messages delivered"
	ctrLateAnswers    = "answers after the request timed out"
	ctrRadarPushes    = "radar pushes received"
)

// typeLag labels how late the phones' timers fired: the generator's own
// scheduling delay, to tell a slow generator from a slow server.
const typeLag = "(generator timer lag)"

// labelProbe labels the legacy socket's attach probe: probeFrame sent →
// its not-found answer, which covers whatever was left of attaching the
// socket to its user and then serving one frame.
const labelProbe = "socket attach probe"

// labelReconnect labels the time from a socket's drop to its session
// re-established, on whichever node: the failover time phones see.
const labelReconnect = "(reconnect: drop → session)"

// typeDelivered labels the send → delivery latency of chat messages (the
// recipient's push), next to the sender's request → answer latency.
const typeDelivered = "chat.message.created (delivered)"

type opStats struct {
	sent, recv int64
	hist       Histogram // request → answer
	ret        Histogram // server's stamp → receipt (return leg)
	errors     map[string]int64
}

// Stats collects what the simulated phones saw. One mutex is enough: the
// critical sections are a few map operations, and the generator spends its
// time in JSON and syscalls.
type Stats struct {
	mu       sync.Mutex
	ops      map[string]*opStats
	errors   map[string]int64
	closes   map[string]int64
	counters map[string]int64
}

// NewStats returns empty statistics.
func NewStats() *Stats {
	return &Stats{ops: map[string]*opStats{}, errors: map[string]int64{}, closes: map[string]int64{}, counters: map[string]int64{}}
}

func (s *Stats) op(typ string) *opStats {
	o := s.ops[typ]
	if o == nil {
		o = &opStats{errors: map[string]int64{}}
		s.ops[typ] = o
	}
	return o
}

// Sent counts a frame (or REST call) sent.
func (s *Stats) Sent(typ string) {
	s.mu.Lock()
	s.op(typ).sent++
	s.mu.Unlock()
}

// Received counts a frame received.
func (s *Stats) Received(typ string) {
	s.mu.Lock()
	s.op(typ).recv++
	s.mu.Unlock()
}

// Answered records the request → answer latency of typ; code is the error
// code of a failed request, "" for success. Timeouts carry no latency.
func (s *Stats) Answered(typ string, latency time.Duration, code string) {
	s.mu.Lock()
	o := s.op(typ)
	if code != codeTimeout && code != codeDisconnected {
		o.hist.Record(latency)
	}
	if code != "" {
		o.errors[code]++
		s.errors[code]++
	}
	s.mu.Unlock()
}

// Latency records a latency that is not a request's answer (a delivery).
func (s *Stats) Latency(typ string, d time.Duration) {
	s.mu.Lock()
	s.op(typ).hist.Record(d)
	s.mu.Unlock()
}

// ReturnLeg records the time from the server's timestamp on an answer to
// its receipt: the server's send queue, the network and this generator's
// reading. Only meaningful when both clocks agree (speed 1, same machine or
// NTP), so the caller decides.
func (s *Stats) ReturnLeg(typ string, d time.Duration) {
	s.mu.Lock()
	s.op(typ).ret.Record(d)
	s.mu.Unlock()
}

// Error counts an error not tied to a request of ours (an error event).
func (s *Stats) Error(typ, code string) {
	s.mu.Lock()
	s.op(typ).errors[code]++
	s.errors[code]++
	s.mu.Unlock()
}

// Closed counts a socket the server (or the network) closed.
func (s *Stats) Closed(code string) {
	s.mu.Lock()
	s.closes[code]++
	s.mu.Unlock()
}

// Add bumps a named counter.
func (s *Stats) Add(name string, n int64) {
	s.mu.Lock()
	s.counters[name] += n
	s.mu.Unlock()
}

// Counts are the frame counters at one instant, for rates over a window.
type Counts struct {
	At         time.Time
	Sent, Recv map[string]int64
	SentTotal  int64
	RecvTotal  int64
	Errors     int64
}

// Counts copies the counters.
func (s *Stats) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Counts{At: time.Now(), Sent: make(map[string]int64, len(s.ops)), Recv: make(map[string]int64, len(s.ops))}
	for t, o := range s.ops {
		c.Sent[t], c.Recv[t] = o.sent, o.recv
		c.SentTotal += o.sent
		c.RecvTotal += o.recv
	}
	for _, n := range s.errors {
		c.Errors += n
	}
	return c
}

// Quantile is the q-quantile latency of typ so far.
func (s *Stats) Quantile(typ string, q float64) (time.Duration, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.ops[typ]
	if o == nil || o.hist.Count() == 0 {
		return 0, false
	}
	return o.hist.Quantile(q), true
}

// Counter reads a named counter.
func (s *Stats) Counter(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counters[name]
}

// snapshot is a deep copy for the summary.
type snapshot struct {
	ops      map[string]*opStats
	errors   map[string]int64
	closes   map[string]int64
	counters map[string]int64
}

func (s *Stats) snapshot() snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := snapshot{ops: make(map[string]*opStats, len(s.ops)), errors: maps.Clone(s.errors), closes: maps.Clone(s.closes), counters: maps.Clone(s.counters)}
	for t, o := range s.ops {
		c := &opStats{sent: o.sent, recv: o.recv, errors: maps.Clone(o.errors)}
		c.hist.Merge(&o.hist)
		c.ret.Merge(&o.ret)
		out.ops[t] = c
	}
	return out
}
