package loadgen

import (
	"strings"
	"testing"
	"time"
)

// legacyClient is a client of a /socket run with no socket: enough for
// the reader's bookkeeping.
func legacyClient() *client {
	r := &runner{cfg: Defaults(), stats: NewStats()}
	r.cfg.Dialect = DialectSocket
	return &client{r: r, idx: 3}
}

// TestReadLegacy feeds the legacy reader one frame, with or without a
// probe waiting, and checks what it made of it.
func TestReadLegacy(t *testing.T) {
	tests := []struct {
		name       string
		frame      string
		probe      bool
		wantRecv   string // the received count goes up under this label
		wantAnswer string // the probe's waiter got this event; "" = the probe is still pending (or none was)
		wantErrors map[string]int64
		wantLate   int64
	}{
		{name: "probe answered", frame: `{"event":"not-found","data":{"message":"chat not found"}}`, probe: true,
			wantRecv: "not-found", wantAnswer: "not-found", wantErrors: map[string]int64{}},
		{name: "probe refused", frame: `{"event":"verification-required","data":{"message":"set your name"}}`, probe: true,
			wantRecv: "verification-required", wantAnswer: "verification-required", wantErrors: map[string]int64{"verification-required": 1}},
		{name: "push does not answer the probe", frame: `{"event":"user-online","data":{"user":{"_id":"user_x"}}}`, probe: true,
			wantRecv: "user-online", wantErrors: map[string]int64{}},
		{name: "late probe answer", frame: `{"event":"not-found","data":{"message":"chat not found"}}`,
			wantRecv: "not-found", wantErrors: map[string]int64{}, wantLate: 1},
		{name: "error event", frame: `{"event":"server-error","data":{"message":"boom"}}`,
			wantRecv: "server-error", wantErrors: map[string]int64{"server-error": 1}},
		{name: "account terminated", frame: `{"event":"account-terminated","data":{"message":"bye"}}`,
			wantRecv: "account-terminated", wantErrors: map[string]int64{"account-terminated": 1}},
		{name: "a /ws frame", frame: `{"type":"error","payload":{"code":"internal"}}`,
			wantRecv: "(invalid legacy frame)", wantErrors: map[string]int64{"invalid_legacy_frame_from_server": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := legacyClient()
			var got *inFrame
			if tt.probe {
				c.pend = map[string]*pendingReq{probeKey: {typ: labelProbe, sent: time.Now(), done: func(f *inFrame) { got = f }}}
			}
			c.readLegacy([]byte(tt.frame), &inFrame{recvAt: time.Now()})
			snap := c.r.stats.snapshot()
			if o := snap.ops[tt.wantRecv]; o == nil || o.recv != 1 {
				t.Errorf("received under %q: %+v", tt.wantRecv, o)
			}
			switch {
			case tt.wantAnswer == "" && got != nil:
				t.Errorf("the probe was answered by %s", got.Type)
			case tt.wantAnswer != "" && (got == nil || got.Type != tt.wantAnswer):
				t.Errorf("probe answer %+v, want %s", got, tt.wantAnswer)
			}
			if pending := c.pend[probeKey] != nil; tt.probe && pending != (tt.wantAnswer == "") {
				t.Errorf("probe still pending: %v", pending)
			}
			if tt.wantAnswer != "" {
				if p := snap.ops[labelProbe]; p == nil || p.hist.Count() != 1 {
					t.Errorf("probe latency not recorded: %+v", p)
				}
			}
			if len(snap.errors) != len(tt.wantErrors) {
				t.Errorf("errors %v, want %v", snap.errors, tt.wantErrors)
			}
			for code, n := range tt.wantErrors {
				if snap.errors[code] != n {
					t.Errorf("errors %v, want %v", snap.errors, tt.wantErrors)
				}
			}
			if late := snap.counters[ctrLateAnswers]; late != tt.wantLate {
				t.Errorf("late answers %d, want %d", late, tt.wantLate)
			}
		})
	}
}

// TestProbeTimesOut: the sweeper fails a probe that got no answer, as it
// does a request, and the late answer is then no error.
func TestProbeTimesOut(t *testing.T) {
	c := legacyClient()
	var got *inFrame
	sent := time.Now()
	c.pend = map[string]*pendingReq{probeKey: {typ: labelProbe, sent: sent, done: func(f *inFrame) { got = f }}}
	c.expire(sent.Add(time.Second), 2*time.Second)
	if got != nil {
		t.Fatalf("expired before the timeout: %+v", got)
	}
	c.expire(sent.Add(3*time.Second), 2*time.Second)
	if got == nil || got.Type != typeError || got.errorCode() != codeTimeout {
		t.Fatalf("after the timeout the waiter got %+v", got)
	}
	c.readLegacy([]byte(`{"event":"not-found","data":{"message":"chat not found"}}`), &inFrame{recvAt: time.Now()})
	snap := c.r.stats.snapshot()
	if snap.errors[codeTimeout] != 1 || snap.errors[eventNotFound] != 0 || snap.counters[ctrLateAnswers] != 1 {
		t.Fatalf("errors %v, counters %v", snap.errors, snap.counters)
	}
}

// TestProbeFrame is the probe the server is documented to answer
// not-found: messages-read of a well-formed chat id that names no pair.
func TestProbeFrame(t *testing.T) {
	var f inFrame
	if err := decodeLegacyFrame(probeFrame, &f); err != nil || f.Type != eventMessagesRead || string(f.Payload) != `{"chat":"chat_0~1"}` {
		t.Fatalf("probe frame %s decodes to %q %s, %v", probeFrame, f.Type, f.Payload, err)
	}
}

func TestCheckLegacyExpiry(t *testing.T) {
	now := time.Now().Unix()
	tests := []struct {
		name     string
		token    string
		duration time.Duration
		wantWarn bool
	}{
		{"token outlives the run", fakeJWT(now, now+900), 10 * time.Second, false},
		{"token ends within the run", fakeJWT(now, now+900), 15 * time.Minute, true},
		{"token ends within the slack", fakeJWT(now, now+60), 10 * time.Second, true},
		{"not a JWT", "opaque", 15 * time.Minute, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := legacyClient()
			c.r.cfg.Duration = tt.duration
			c.creds, c.credsAt = Credentials{AccessToken: tt.token}, time.Now()
			c.r.checkLegacyExpiry(c)
			c.r.checkLegacyExpiry(c)
			switch {
			case !tt.wantWarn && len(c.r.warnings) != 0:
				t.Fatalf("warned: %q", c.r.warnings)
			case tt.wantWarn && (len(c.r.warnings) != 1 || !strings.Contains(c.r.warnings[0], "no session.refresh")):
				t.Fatalf("warnings %q, want one about session.refresh", c.r.warnings)
			}
		})
	}
}

// TestLegacyNeedsNoRefresh: a legacy socket never runs the refresh loop,
// which would send session.refresh, a frame /socket does not have.
func TestLegacyNeedsNoRefresh(t *testing.T) {
	now := time.Now().Unix()
	for _, dialect := range []string{DialectWS, DialectSocket} {
		c := legacyClient()
		c.r.cfg.Dialect, c.r.epoch = dialect, time.Now()
		c.creds, c.credsAt = Credentials{AccessToken: fakeJWT(now, now+60), RefreshToken: "r"}, time.Now()
		if got, want := c.r.needsRefresh(c), dialect == DialectWS; got != want {
			t.Errorf("%s: needsRefresh = %v, want %v", dialect, got, want)
		}
	}
}
