package proximity

import (
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

// wireTime is RFC 3339 in UTC with exactly milliseconds, the one timestamp
// format of the wire (protocol.FormatTime).
var wireTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

// field marshals v as a client would see it and returns the value at path
// (object keys; an int index for arrays).
func field(t *testing.T, v any, path ...any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var cur any
	if err := json.Unmarshal(b, &cur); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := cur.(map[string]any)
			cur = m[k]
		case int:
			a, _ := cur.([]any)
			if k >= len(a) {
				t.Fatalf("%s: no element %d in %s", path, k, b)
			}
			cur = a[k]
		}
	}
	return cur
}

// TestWireTimesHaveMilliseconds: every timestamp proximity puts on the wire
// is RFC 3339 UTC with milliseconds, even when the server clock has
// nanoseconds (it always has).
func TestWireTimesHaveMilliseconds(t *testing.T) {
	ns := t0.Add(123456789 * time.Nanosecond)
	tests := []struct {
		name string
		v    func(t *testing.T, s *State) any
		path []any
	}{
		{"token expiresAt", func(t *testing.T, s *State) any {
			k, err := s.IssueToken("a", ns)
			if err != nil {
				t.Fatal(err)
			}
			return k
		}, []any{"expiresAt"}},
		{"bootstrap bleTokenExpiresAt", func(t *testing.T, s *State) any {
			if _, err := s.IssueToken("a", ns); err != nil {
				t.Fatal(err)
			}
			return s.Session("a", ns)
		}, []any{"bleTokenExpiresAt"}},
		{"proximity.token.rotate expiresAt", func(t *testing.T, s *State) any {
			evs := s.Rotate("a", ns)
			if len(evs) != 1 {
				t.Fatalf("rotate events = %v", types(evs))
			}
			return evs[0].Payload
		}, []any{"expiresAt"}},
		{"summary sessions[].startedAt", func(t *testing.T, s *State) any {
			start(t, s, "a", ns)
			start(t, s, "b", ns)
			return s.Summary(ns.Add(time.Second))
		}, []any{"sessions", 0, "startedAt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := field(t, tt.v(t, newState(DefaultConfig())), tt.path...)
			if s, _ := got.(string); !wireTime.MatchString(s) {
				t.Fatalf("%v = %v, want RFC 3339 UTC with milliseconds", tt.path, got)
			}
		})
	}
}

// TestSessionViewStatus: the ProximitySession model says ended only for a
// closed connection; an open one with no run going is paused, however its
// last run ended.
func TestSessionViewStatus(t *testing.T) {
	cfg := DefaultConfig()
	gone := cfg.HeartbeatTimeout + cfg.Grace + time.Second
	tests := []struct {
		name string
		run  func(t *testing.T) (*State, time.Time)
		want string
	}{
		{"never started", func(t *testing.T) (*State, time.Time) { return newState(cfg), t0 }, StatusPaused},
		{"active run", func(t *testing.T) (*State, time.Time) { return active(t, cfg), at(time.Second) }, StatusActive},
		{"paused within grace", func(t *testing.T) (*State, time.Time) {
			return active(t, cfg), at(cfg.HeartbeatTimeout + time.Second)
		}, StatusPaused},
		{"last run ended after the grace", func(t *testing.T) (*State, time.Time) {
			s := active(t, cfg)
			s.Advance(at(gone))
			if s.Status() != StatusEnded {
				t.Fatalf("run status = %s, want the run ended", s.Status())
			}
			return s, at(gone)
		}, StatusPaused},
		{"restored after its run ended", func(t *testing.T) (*State, time.Time) {
			s := active(t, cfg)
			s.Advance(at(gone))
			return Restore(s.Snapshot(), cfg, seq(10)), at(gone)
		}, StatusPaused},
		{"connection closed", func(t *testing.T) (*State, time.Time) {
			s := active(t, cfg)
			s.Close(at(time.Second))
			return s, at(2 * time.Second)
		}, StatusEnded},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, now := tt.run(t)
			if got := field(t, s.Session("a", now), "status"); got != tt.want {
				t.Fatalf("status = %v, want %s", got, tt.want)
			}
		})
	}
}
