package pair

import (
	"testing"
	"time"

	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

var t0 = time.Date(2026, 4, 17, 14, 0, 0, 0, time.UTC)

const ttl = 10 * time.Minute

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

// pending returns a pair with a pending request a → b sent at t0.
func pending(t *testing.T) (*State, *storage.Request) {
	t.Helper()
	s := New("b", "a")
	r, _, err := s.Send("a", "b", SendGuards{}, t0, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestSend(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(*State)
		from, to string
		guards   SendGuards
		want     protocol.Code
	}{
		{"ok", nil, "a", "b", SendGuards{}, ""},
		{"self", nil, "a", "a", SendGuards{}, CodeSelfRequest},
		{"stranger", nil, "a", "c", SendGuards{}, protocol.CodeForbidden},
		{"target gone", nil, "a", "b", SendGuards{TargetMissing: true}, protocol.CodeUserNotFound},
		{"blocked", nil, "a", "b", SendGuards{Blocked: true}, CodeBlocked},
		{"vibe required, none", nil, "a", "b", SendGuards{RequireVibe: true}, protocol.CodeVibeRequired},
		{"vibe required, present", nil, "a", "b", SendGuards{RequireVibe: true, TargetHasVibe: true}, ""},
		{"vibe not required", nil, "a", "b", SendGuards{TargetHasVibe: false}, ""},
		{"duplicate", func(s *State) { s.Send("a", "b", SendGuards{}, t0, ttl) }, "a", "b", SendGuards{}, CodeRequestExists},
		{"crossing", func(s *State) { s.Send("b", "a", SendGuards{}, t0, ttl) }, "a", "b", SendGuards{}, CodeRequestExists},
		{"connected", func(s *State) {
			r, _, _ := s.Send("b", "a", SendGuards{}, t0, ttl)
			s.Accept("a", r.ID, nil, t0.Add(time.Minute))
		}, "a", "b", SendGuards{}, CodeAlreadyConnected},
		{"after decline", func(s *State) {
			r, _, _ := s.Send("a", "b", SendGuards{}, t0, ttl)
			s.Reject("b", r.ID, t0)
		}, "a", "b", SendGuards{}, ""},
		{"after expiry", func(s *State) { s.Send("b", "a", SendGuards{}, t0.Add(-ttl-time.Second), ttl) }, "a", "b", SendGuards{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New("a", "b")
			if tt.setup != nil {
				tt.setup(s)
			}
			r, evs, err := s.Send(tt.from, tt.to, tt.guards, t0, ttl)
			if code(err) != tt.want {
				t.Fatalf("code = %q, want %q", code(err), tt.want)
			}
			if tt.want == CodeRequestExists {
				if d, ok := err.Details.(*storage.Request); !ok || d.Status != StatusPending {
					t.Fatalf("request_exists must carry the pending request, got %#v", err.Details)
				}
			}
			if tt.want != "" {
				return
			}
			if r.Status != StatusPending || r.LegacyStatus != LegacyPending || !r.ExpiresAt.Equal(t0.Add(ttl)) || r.ResolvedAt != nil {
				t.Fatalf("request = %+v", r)
			}
			if got := types(evs); got[len(got)-1] != protocol.TypeRequestSend {
				t.Fatalf("events = %v", got)
			}
			n := 0
			for _, x := range s.Requests {
				if x.Status == StatusPending {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d pending requests", n)
			}
		})
	}
}

func TestAcceptRejectCancel(t *testing.T) {
	loc := &storage.LatLng{Lat: 6.5, Lng: 3.4}
	tests := []struct {
		name   string
		act    func(s *State, id string) (any, []Event, *protocol.Error)
		want   protocol.Code
		status string
		legacy string
		events []string
	}{
		{"accept", func(s *State, id string) (any, []Event, *protocol.Error) {
			return s.Accept("b", id, loc, t0.Add(time.Minute))
		},
			"", StatusAccepted, LegacyAccepted, []string{protocol.TypeRequestAccept}},
		{"accept by sender", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Accept("a", id, nil, t0) },
			protocol.CodeForbidden, StatusPending, LegacyPending, nil},
		{"accept by stranger", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Accept("c", id, nil, t0) },
			protocol.CodeForbidden, StatusPending, LegacyPending, nil},
		{"accept unknown", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Accept("b", "req_nope", nil, t0) },
			CodeRequestNotFound, StatusPending, LegacyPending, nil},
		{"accept at expiry", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Accept("b", id, nil, t0.Add(ttl)) },
			protocol.CodeRequestExpired, StatusMissed, LegacyMissed, []string{protocol.TypeRequestMissed}},
		{"accept a second before expiry", func(s *State, id string) (any, []Event, *protocol.Error) {
			return s.Accept("b", id, nil, t0.Add(ttl-time.Second))
		}, "", StatusAccepted, LegacyAccepted, []string{protocol.TypeRequestAccept}},
		{"accept twice", func(s *State, id string) (any, []Event, *protocol.Error) {
			s.Accept("b", id, nil, t0)
			return s.Accept("b", id, nil, t0)
		}, CodeAlreadyConnected, StatusAccepted, LegacyAccepted, nil},
		{"reject", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Reject("b", id, t0) },
			"", StatusDeclined, LegacyRejected, []string{protocol.TypeRequestReject}},
		{"reject by sender", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Reject("a", id, t0) },
			protocol.CodeForbidden, StatusPending, LegacyPending, nil},
		{"reject after expiry", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Reject("b", id, t0.Add(time.Hour)) },
			protocol.CodeRequestExpired, StatusMissed, LegacyMissed, []string{protocol.TypeRequestMissed}},
		{"cancel", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Cancel("a", id, t0) },
			"", StatusClosed, LegacyCancelled, []string{protocol.TypeRequestCancel}},
		{"cancel by receiver", func(s *State, id string) (any, []Event, *protocol.Error) { return s.Cancel("b", id, t0) },
			protocol.CodeForbidden, StatusPending, LegacyPending, nil},
		{"cancel after reject", func(s *State, id string) (any, []Event, *protocol.Error) {
			s.Reject("b", id, t0)
			return s.Cancel("a", id, t0)
		}, CodeRequestNotFound, StatusDeclined, LegacyRejected, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := pending(t)
			_, evs, err := tt.act(s, r.ID)
			if code(err) != tt.want {
				t.Fatalf("code = %q, want %q", code(err), tt.want)
			}
			got := s.Request(r.ID)
			if got.Status != tt.status || got.LegacyStatus != tt.legacy {
				t.Fatalf("request is %s/%s, want %s/%s", got.Status, got.LegacyStatus, tt.status, tt.legacy)
			}
			if (got.Status == StatusPending) != (got.ResolvedAt == nil) {
				t.Fatalf("resolvedAt %v with status %s", got.ResolvedAt, got.Status)
			}
			if g := types(evs); len(g) != len(tt.events) || (len(g) > 0 && g[0] != tt.events[0]) {
				t.Fatalf("events = %v, want %v", g, tt.events)
			}
		})
	}
}

func TestAcceptMakesOneConnection(t *testing.T) {
	s, r := pending(t)
	loc := &storage.LatLng{Lat: 1, Lng: 2}
	c, _, err := s.Accept("b", r.ID, loc, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if c.SenderID != "a" || c.ReceiverID != "b" || c.RequestID != r.ID || c.Status != ConnActive ||
		!c.CreatedAt.Equal(t0) || !c.AcceptedAt.Equal(t0.Add(time.Minute)) || c.ConnectedLocation != loc || c.ClosedAt != nil {
		t.Fatalf("connection = %+v", c)
	}
	if s.Request(r.ID).ConnectionID != c.ID {
		t.Fatal("request does not name its connection")
	}
	for i := 0; i < 50; i++ {
		if _, _, err := s.Accept("b", r.ID, nil, t0.Add(time.Minute)); code(err) != CodeAlreadyConnected {
			t.Fatalf("accept #%d: %v", i, err)
		}
	}
	if len(s.Connections) != 1 {
		t.Fatalf("%d connections", len(s.Connections))
	}
}

func TestExpiry(t *testing.T) {
	s, r := pending(t)
	if evs := s.Expire(t0.Add(ttl - time.Nanosecond)); len(evs) != 0 {
		t.Fatal("expired early")
	}
	// Looked at long after (e.g. the server was down): resolvedAt is the expiry time.
	evs := s.Expire(t0.Add(3 * time.Hour))
	if len(evs) != 1 || evs[0].Type != protocol.TypeRequestMissed {
		t.Fatalf("events = %v", types(evs))
	}
	got := s.Request(r.ID)
	if got.Status != StatusMissed || got.LegacyStatus != LegacyMissed || !got.ResolvedAt.Equal(t0.Add(ttl)) {
		t.Fatalf("request = %+v", got)
	}
	if evs := s.Expire(t0.Add(4 * time.Hour)); len(evs) != 0 {
		t.Fatal("missed twice")
	}
}

func TestCloseEndAndRing(t *testing.T) {
	connected := func(t *testing.T) (*State, *storage.Connection) {
		s, r := pending(t)
		c, _, err := s.Accept("b", r.ID, nil, t0)
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	t.Run("close by either user", func(t *testing.T) {
		for _, by := range []string{"a", "b"} {
			s, c := connected(t)
			got, evs, err := s.Close(by, c.ID, "", t0.Add(time.Hour))
			if err != nil || got.Status != ConnClosed || *got.ClosureReason != ReasonUserLeft || *got.ClosedByUserID != by || !got.ClosedAt.Equal(t0.Add(time.Hour)) {
				t.Fatalf("close by %s: %+v %v", by, got, err)
			}
			if types(evs)[0] != protocol.TypeConnClose {
				t.Fatalf("events = %v", types(evs))
			}
			if _, _, err := s.Close(by, c.ID, "x", t0); code(err) != protocol.CodeActiveConnectionRequired {
				t.Fatalf("close twice: %v", err)
			}
		}
	})
	t.Run("close by stranger or unknown", func(t *testing.T) {
		s, c := connected(t)
		if _, _, err := s.Close("c", c.ID, "", t0); code(err) != protocol.CodeForbidden {
			t.Fatalf("stranger: %v", err)
		}
		if _, _, err := s.Close("a", "conn_nope", "", t0); code(err) != protocol.CodeNotFound {
			t.Fatalf("unknown: %v", err)
		}
	})
	t.Run("block ends everything", func(t *testing.T) {
		s, c := connected(t)
		evs := s.End("b", ReasonBlocked, t0.Add(time.Hour))
		if got := s.connection(c.ID); got.Status != ConnClosed || *got.ClosureReason != ReasonBlocked || *got.ClosedByUserID != "b" {
			t.Fatalf("connection = %+v", got)
		}
		if len(evs) != 1 {
			t.Fatalf("events = %v", types(evs))
		}
		p, r := pending(t)
		evs = p.End("a", ReasonAccountDeleted, t0)
		if got := p.Request(r.ID); got.Status != StatusClosed || *got.ClosureReason != ReasonAccountDeleted || got.ResolvedAt == nil {
			t.Fatalf("request = %+v", got)
		}
		if len(evs) != 1 || evs[0].Type != protocol.TypeRequestCancel {
			t.Fatalf("events = %v", types(evs))
		}
	})
	t.Run("ring", func(t *testing.T) {
		p, _ := pending(t)
		if _, err := p.Ring("a", "b", false, t0); code(err) != protocol.CodeActiveConnectionRequired {
			t.Fatalf("ring without connection: %v", err)
		}
		s, _ := connected(t)
		if _, err := s.Ring("a", "b", false, t0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Ring("b", "a", false, t0.Add(RingInterval-time.Millisecond)); code(err) != protocol.CodeRateLimited {
			t.Fatalf("second ring within 10 s: %v", err)
		}
		if _, err := s.Ring("b", "a", false, t0.Add(RingInterval)); err != nil {
			t.Fatalf("ring after 10 s: %v", err)
		}
		if _, err := s.Ring("c", "a", false, t0.Add(time.Hour)); code(err) != protocol.CodeActiveConnectionRequired {
			t.Fatalf("stranger ring: %v", err)
		}
	})
}

func TestRingRefusalsByName(t *testing.T) {
	tests := []struct {
		name          string
		by, to        string
		targetMissing bool
		want          protocol.Code
	}{
		{"self", "a", "a", false, CodeSelfRequest},
		{"unknown user", "a", "b", true, protocol.CodeUserNotFound},
		{"connected", "a", "b", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := pending(t)
			if _, _, err := s.Accept("b", r.ID, nil, t0); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Ring(tt.by, tt.to, tt.targetMissing, t0); code(err) != tt.want {
				t.Fatalf("code = %q, want %q", code(err), tt.want)
			}
		})
	}
}

// CanAccept must agree with Accept: the grain only gathers locations for an
// accept that would succeed.
func TestCanAcceptAgreesWithAccept(t *testing.T) {
	tests := []struct {
		name  string
		setup func(s *State, id string)
		by    string
		id    string
		at    time.Time
	}{
		{"receiver", nil, "b", "", t0},
		{"sender", nil, "a", "", t0},
		{"stranger", nil, "c", "", t0},
		{"unknown", nil, "b", "req_nope", t0},
		{"at expiry", nil, "b", "", t0.Add(ttl)},
		{"rejected", func(s *State, id string) { s.Reject("b", id, t0) }, "b", "", t0},
		{"accepted", func(s *State, id string) { s.Accept("b", id, nil, t0) }, "b", "", t0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, r := pending(t)
			id := r.ID
			if tt.id != "" {
				id = tt.id
			}
			if tt.setup != nil {
				tt.setup(s, r.ID)
			}
			can := s.CanAccept(tt.by, id, tt.at)
			_, _, err := s.Accept(tt.by, id, nil, tt.at)
			if can != (err == nil) {
				t.Fatalf("CanAccept = %v, Accept error = %v", can, err)
			}
		})
	}
}

func TestMidpoint(t *testing.T) {
	a := &grainpb.LocationReply{Fresh: true, Lat: 6, Lng: 3}
	b := &grainpb.LocationReply{Fresh: true, Lat: 7, Lng: 4}
	tests := []struct {
		name string
		a, b *grainpb.LocationReply
		want *storage.LatLng
	}{
		{"both", a, b, &storage.LatLng{Lat: 6.5, Lng: 3.5}},
		{"first unknown", nil, b, nil},
		{"second unknown", a, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := midpoint(tt.a, tt.b)
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Fatalf("midpoint = %v, want %v", got, tt.want)
			}
		})
	}
}
