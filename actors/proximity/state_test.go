package proximity

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

var t0 = time.Date(2026, 4, 17, 14, 0, 0, 0, time.UTC)

const rssi = -60

func at(d time.Duration) time.Time { return t0.Add(d) }

// seq returns a deterministic token generator: from+1, from+2, … as 8 hex digits.
func seq(from int) func() string {
	n := from
	return func() string { n++; return fmt.Sprintf("%08x", n) }
}

func code(err *protocol.Error) protocol.Code {
	if err == nil {
		return ""
	}
	return err.Code
}

func types(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func newState(cfg Config) *State { return New("conn_1", "a", "b", cfg, seq(0)) }

// token returns u's current token at now.
func token(t *testing.T, s *State, u string, now time.Time) string {
	t.Helper()
	k, err := s.IssueToken(u, now)
	if err != nil {
		t.Fatal(err)
	}
	return k.Token
}

func partnerOf(u string) string {
	if u == "a" {
		return "b"
	}
	return "a"
}

// start makes u scan its partner's current token.
func start(t *testing.T, s *State, u string, now time.Time) (Ack, []Event) {
	t.Helper()
	ack, evs, err := s.Start(u, token(t, s, partnerOf(u), now), rssi, now, nil)
	if err != nil {
		t.Fatalf("start by %s: %v", u, err)
	}
	return ack, evs
}

// beat sends a valid heartbeat from u.
func beat(t *testing.T, s *State, u string, now time.Time) []Event {
	t.Helper()
	_, evs, err := s.Heartbeat(u, token(t, s, partnerOf(u), now), rssi, now, nil)
	if err != nil {
		t.Fatalf("heartbeat by %s at %v: %v", u, now.Sub(t0), err)
	}
	return evs
}

// active returns a state whose run became active at t0.
func active(t *testing.T, cfg Config) *State {
	t.Helper()
	s := newState(cfg)
	start(t, s, "a", t0)
	start(t, s, "b", t0)
	if s.Status() != StatusActive {
		t.Fatalf("status = %s", s.Status())
	}
	return s
}

func updated(t *testing.T, evs []Event) protocol.ProximityUpdated {
	t.Helper()
	for _, e := range evs {
		if e.Type == protocol.TypeProximityUpdated {
			return e.Payload.(protocol.ProximityUpdated)
		}
	}
	t.Fatalf("no session.updated in %v", types(evs))
	return protocol.ProximityUpdated{}
}

func TestStartHandshake(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *State) (Ack, []Event)
		ack  Ack
		evs  []string
	}{
		{"one-sided start waits for partner", func(t *testing.T, s *State) (Ack, []Event) {
			return start(t, s, "a", t0)
		}, Ack{YourTokenReceived: true, WaitingForPartner: true}, nil},
		{"both confirmed: active and partner.confirmed to both", func(t *testing.T, s *State) (Ack, []Event) {
			start(t, s, "a", t0)
			return start(t, s, "b", at(5*time.Second))
		}, Ack{SessionActive: true, YourTokenReceived: true},
			[]string{protocol.TypeProximityConfirmed, protocol.TypeProximityUpdated}},
		{"idempotent start while active", func(t *testing.T, s *State) (Ack, []Event) {
			start(t, s, "a", t0)
			start(t, s, "b", at(5*time.Second))
			return start(t, s, "a", at(5*time.Second))
		}, Ack{SessionActive: true, YourTokenReceived: true}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState(DefaultConfig())
			ack, evs := tt.run(t, s)
			if ack != tt.ack {
				t.Fatalf("ack = %+v, want %+v", ack, tt.ack)
			}
			if !slices.Equal(types(evs), tt.evs) {
				t.Fatalf("events = %v, want %v", types(evs), tt.evs)
			}
			for _, e := range evs {
				if !slices.Equal(e.To, []string{"a", "b"}) {
					t.Fatalf("%s goes to %v, want both", e.Type, e.To)
				}
			}
			if tt.ack.SessionActive && (!s.runStarted.Equal(at(5*time.Second)) || s.runDur != 0) {
				t.Fatalf("run started %v with %v: a repeated start must not reset it", s.runStarted, s.runDur)
			}
		})
	}
}

func TestRunLifecycle(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, s *State)
	}{
		{"heartbeat timeout pauses", func(t *testing.T, s *State) {
			beat(t, s, "a", at(10*time.Second))
			evs := s.Advance(at(20 * time.Second))
			u := updated(t, evs)
			if s.Status() != StatusPaused || u.Status != StatusPaused || u.SessionActive {
				t.Fatalf("status %s, update %+v", s.Status(), u)
			}
			// b stopped seeing at t0+15s: 30s grace from there, 25s left at t0+20s.
			if u.GracePeriodSeconds == nil || *u.GracePeriodSeconds != 25 {
				t.Fatalf("gracePeriodSeconds = %v", u.GracePeriodSeconds)
			}
			if s.Accumulated() != 15*time.Second {
				t.Fatalf("accumulated %v, want 15s (b's heartbeat timeout)", s.Accumulated())
			}
		}},
		{"session.end pauses: the current session shows the grace left", func(t *testing.T, s *State) {
			if u := s.Current(at(5 * time.Second)).Payload.(protocol.ProximityUpdated); !u.SessionActive || u.GracePeriodSeconds != nil {
				t.Fatalf("active session = %+v", u)
			}
			if _, err := s.End("a", at(10*time.Second)); err != nil {
				t.Fatal(err)
			}
			u := s.Current(at(12 * time.Second)).Payload.(protocol.ProximityUpdated)
			if u.SessionActive || u.Status != StatusPaused || u.GracePeriodSeconds == nil || *u.GracePeriodSeconds != 28 {
				t.Fatalf("after end = %+v (grace %v)", u, u.GracePeriodSeconds)
			}
		}},
		{"resume within grace continues the same run", func(t *testing.T, s *State) {
			beat(t, s, "a", at(10*time.Second))
			s.Advance(at(20 * time.Second)) // paused at t0+15s
			beat(t, s, "a", at(25*time.Second))
			evs := beat(t, s, "b", at(30*time.Second))
			if u := updated(t, evs); s.Status() != StatusActive || !u.SessionActive {
				t.Fatalf("status %s after both see again", s.Status())
			}
			s.Advance(at(35 * time.Second))
			if s.Accumulated() != 20*time.Second || s.runDur != 20*time.Second || !s.runStarted.Equal(t0) || len(s.runs) != 0 {
				t.Fatalf("accumulated %v run %v from %v, %d runs", s.Accumulated(), s.runDur, s.runStarted, len(s.runs))
			}
		}},
		{"end after grace needs a new handshake", func(t *testing.T, s *State) {
			evs := s.Advance(at(46 * time.Second)) // seen until 15s, grace to 45s
			if u := updated(t, evs); s.Status() != StatusEnded || u.Status != StatusEnded {
				t.Fatalf("status %s", s.Status())
			}
			if len(s.runs) != 1 || s.runs[0] != (Run{StartedAt: t0, Duration: 15 * time.Second, Status: StatusEnded}) {
				t.Fatalf("runs = %+v", s.runs)
			}
			beat(t, s, "a", at(50*time.Second))
			beat(t, s, "b", at(50*time.Second))
			s.Advance(at(60 * time.Second))
			if s.Status() != StatusEnded || s.Accumulated() != 15*time.Second {
				t.Fatalf("heartbeats alone revived the run: %s %v", s.Status(), s.Accumulated())
			}
			if ack, _ := start(t, s, "a", at(60*time.Second)); !ack.WaitingForPartner {
				t.Fatalf("ack = %+v, want waitingForPartner", ack)
			}
			if sum := s.Summary(at(60 * time.Second)); len(sum.Sessions) != 1 || sum.Sessions[0].DurationSeconds != 15 {
				t.Fatalf("summary sessions = %+v", sum.Sessions)
			}
		}},
		{"accrual only while both see each other", func(t *testing.T, s *State) {
			for d := 5 * time.Second; d <= time.Minute; d += 5 * time.Second {
				beat(t, s, "a", at(d)) // b is silent
				s.Advance(at(d))
			}
			if s.Accumulated() != 15*time.Second {
				t.Fatalf("accumulated %v, want 15s", s.Accumulated())
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, active(t, DefaultConfig())) })
	}
}

func TestRotationOverlap(t *testing.T) {
	s := newState(DefaultConfig())
	old := token(t, s, "b", t0)
	if due := s.DueRotations(at(59 * time.Second)); len(due) != 0 {
		t.Fatalf("due at 59s: %v", due)
	}
	if due := s.DueRotations(at(60 * time.Second)); !slices.Equal(due, []string{"b"}) {
		t.Fatalf("due at 60s (RotateBefore before expiry): %v", due)
	}
	evs := s.Rotate("b", at(60*time.Second))
	if len(evs) != 1 || evs[0].Type != protocol.TypeProximityRotate || !slices.Equal(evs[0].To, []string{"b"}) {
		t.Fatalf("rotate events = %+v", evs)
	}
	p := evs[0].Payload.(protocol.ProximityRotate)
	if p.Token == old || p.ExpiresAt != protocol.FormatTime(at(150*time.Second)) || token(t, s, "b", at(60*time.Second)) != p.Token {
		t.Fatalf("rotate payload = %+v (old %s)", p, old)
	}
	tests := []struct {
		name  string
		token string
		when  time.Duration
		want  protocol.Code
	}{
		{"previous still valid after rotation", old, 61 * time.Second, ""},
		{"previous valid until its own expiry", old, 89 * time.Second, ""},
		{"previous expired", old, 90 * time.Second, protocol.CodeInvalidToken},
		{"new token valid", p.Token, 90 * time.Second, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := s.Heartbeat("a", tt.token, rssi, at(tt.when), nil)
			if code(err) != tt.want {
				t.Fatalf("code = %q, want %q", code(err), tt.want)
			}
		})
	}
}

func TestScanValidation(t *testing.T) {
	other := New("conn_2", "c", "d", DefaultConfig(), seq(0x100))
	foreign, _ := other.IssueToken("d", t0)
	near := &Locations{A: &storage.LatLng{Lat: 6.5, Lng: 3.4}, B: &storage.LatLng{Lat: 6.5, Lng: 3.401}} // ~110 m
	far := &Locations{A: &storage.LatLng{Lat: 6.5, Lng: 3.4}, B: &storage.LatLng{Lat: 6.5, Lng: 3.41}}   // ~1.1 km
	tests := []struct {
		name  string
		user  string
		token func(s *State) string // nil: b's current token
		rssi  int
		when  time.Duration
		locs  *Locations
		want  protocol.Code
		risk  Risk
	}{
		{"expired token", "a", nil, rssi, 90 * time.Second, nil, protocol.CodeInvalidToken, Risk{InvalidTokens: 1}},
		{"token of another connection", "a", func(*State) string { return foreign.Token }, rssi, 0, nil, protocol.CodeInvalidToken, Risk{InvalidTokens: 1}},
		{"own token", "a", func(s *State) string { k, _ := s.IssueToken("a", t0); return k.Token }, rssi, 0, nil, protocol.CodeInvalidToken, Risk{InvalidTokens: 1}},
		{"rssi -90 accepted", "a", nil, -90, 0, nil, "", Risk{}},
		{"rssi -40 accepted", "a", nil, -40, 0, nil, "", Risk{}},
		{"rssi -91 rejected", "a", nil, -91, 0, nil, protocol.CodeRSSIOutOfRange, Risk{RSSIRejects: 1}},
		{"rssi -39 rejected", "a", nil, -39, 0, nil, protocol.CodeRSSIOutOfRange, Risk{RSSIRejects: 1}},
		{"location plausible", "a", nil, rssi, 0, near, "", Risk{}},
		{"location mismatch", "a", nil, rssi, 0, far, protocol.CodeLocationMismatch, Risk{LocationMismatches: 1}},
		{"stranger", "c", nil, rssi, 0, nil, protocol.CodeForbidden, Risk{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState(DefaultConfig())
			tok := token(t, s, "b", t0)
			if tt.token != nil {
				tok = tt.token(s)
			}
			_, evs, err := s.Start(tt.user, tok, tt.rssi, at(tt.when), tt.locs)
			if code(err) != tt.want {
				t.Fatalf("code = %q, want %q", code(err), tt.want)
			}
			if err != nil && (err.Domain != protocol.DomainProximity || len(evs) != 0 || s.p[0].confirmed) {
				t.Fatalf("rejected start changed state: %+v %v", err, types(evs))
			}
			if s.Risk() != tt.risk {
				t.Fatalf("risk = %+v, want %+v", s.Risk(), tt.risk)
			}
		})
	}
}

func TestHeartbeatFlood(t *testing.T) {
	s := active(t, DefaultConfig())
	beat(t, s, "a", at(5*time.Second))
	before := *s
	ack, evs, err := s.Heartbeat("a", token(t, s, "b", t0), rssi, at(5500*time.Millisecond), nil)
	if code(err) != protocol.CodeRateLimited || len(evs) != 0 || ack.SessionActive {
		t.Fatalf("second heartbeat within 1s: %v %v %+v", code(err), types(evs), ack)
	}
	if s.p != before.p || s.clock != before.clock || s.accumulated != before.accumulated || s.risk != before.risk {
		t.Fatal("a rate-limited heartbeat changed the state")
	}
	beat(t, s, "a", at(6*time.Second)) // one second later is fine again
}

func TestRunAcrossMidnight(t *testing.T) {
	start0 := time.Date(2026, 4, 17, 23, 59, 0, 0, time.UTC)
	s := newState(DefaultConfig())
	start(t, s, "a", start0)
	start(t, s, "b", start0)
	for d := 5 * time.Second; d <= 2*time.Minute; d += 5 * time.Second {
		beat(t, s, "a", start0.Add(d))
		beat(t, s, "b", start0.Add(d))
	}
	s.Advance(start0.Add(2 * time.Minute))
	want := map[string]time.Duration{"2026-04-17": time.Minute, "2026-04-18": time.Minute}
	if got := s.Daily(); len(got) != 2 || got["2026-04-17"] != want["2026-04-17"] || got["2026-04-18"] != want["2026-04-18"] {
		t.Fatalf("daily = %v, want %v", got, want)
	}
	if s.Accumulated() != 2*time.Minute {
		t.Fatalf("accumulated = %v", s.Accumulated())
	}
}

func milestones(evs []Event) []protocol.ProximityMilestone {
	var out []protocol.ProximityMilestone
	for _, e := range evs {
		if e.Type == protocol.TypeProximityMilestone {
			out = append(out, e.Payload.(protocol.ProximityMilestone))
		}
	}
	return out
}

func TestMilestoneOnce(t *testing.T) {
	cfg := DefaultConfig()
	cfg.HeartbeatTimeout = 2 * time.Hour // so Advance can jump far without heartbeats
	s := active(t, cfg)
	steps := []struct {
		name string
		to   time.Duration
		want []protocol.ProximityMilestone
	}{
		{"before the first", 4 * time.Minute, nil},
		{"exactly 5 minutes", 5 * time.Minute, []protocol.ProximityMilestone{{ConnectionID: "conn_1", Milestone: 5, GiftTier: 1, Message: "You've been together 5 minutes - a new gift is ready."}}},
		{"same instant again", 5 * time.Minute, nil},
		{"jump over 15 and 30", 31 * time.Minute, []protocol.ProximityMilestone{
			{ConnectionID: "conn_1", Milestone: 15, GiftTier: 2, Message: "You've been together 15 minutes - a new gift is ready."},
			{ConnectionID: "conn_1", Milestone: 30, GiftTier: 3, Message: "You've been together 30 minutes - a new gift is ready."},
		}},
		{"later, nothing new", 40 * time.Minute, nil},
	}
	for _, st := range steps {
		if got := milestones(s.Advance(at(st.to))); !slices.Equal(got, st.want) {
			t.Fatalf("%s: milestones %+v, want %+v", st.name, got, st.want)
		}
	}
	// After a restart the unlocked milestones stay unlocked and never re-fire.
	r := Restore(s.Snapshot(), cfg, seq(0x200))
	if !slices.Equal(r.Unlocked(), []int{5, 15, 30}) || r.Accumulated() != 40*time.Minute {
		t.Fatalf("restored %v %v", r.Unlocked(), r.Accumulated())
	}
	t1 := at(time.Hour)
	start(t, r, "a", t1)
	_, evs := start(t, r, "b", t1)
	evs = append(evs, r.Advance(t1.Add(19*time.Minute))...)
	if got := milestones(evs); len(got) != 0 {
		t.Fatalf("restore re-fired %+v", got)
	}
	if got := milestones(r.Advance(t1.Add(20 * time.Minute))); len(got) != 1 || got[0].Milestone != 60 || got[0].GiftTier != 4 {
		t.Fatalf("next milestone = %+v", got)
	}
}

func TestClose(t *testing.T) {
	s := active(t, DefaultConfig())
	tokA, tokB := token(t, s, "a", t0), token(t, s, "b", t0)
	evs := s.Close(at(10 * time.Second))
	if u := updated(t, evs); s.Status() != StatusEnded || u.Status != StatusEnded || u.SessionActive || !s.Closed() {
		t.Fatalf("status %s, update %+v", s.Status(), u)
	}
	if s.Accumulated() != 10*time.Second || len(s.runs) != 1 {
		t.Fatalf("accumulated %v, runs %+v", s.Accumulated(), s.runs)
	}
	if s.p[0].validFor(tokA, at(11*time.Second)) || s.p[1].validFor(tokB, at(11*time.Second)) {
		t.Fatal("tokens survive the close")
	}
	if _, _, err := s.Heartbeat("a", tokB, rssi, at(11*time.Second), nil); code(err) != protocol.CodeActiveConnectionRequired {
		t.Fatalf("heartbeat after close: %v", err)
	}
	if _, err := s.IssueToken("a", at(11*time.Second)); code(err) != protocol.CodeActiveConnectionRequired {
		t.Fatalf("token after close: %v", err)
	}
	if v := s.Session("a", at(11*time.Second)); v.Status != StatusEnded || v.BLEToken != "" {
		t.Fatalf("session view = %+v", v)
	}
}
