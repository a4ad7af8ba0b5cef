package cluster

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const self = "10.0.0.1:7000"

var t0 = time.Date(2026, 3, 14, 18, 25, 0, 0, time.UTC)

// step is one observation fed to the watchdog: a topology, a tick or a
// probe result, at an offset from t0.
type step struct {
	at       time.Duration
	topology []string     // fed when non-nil
	tick     bool         // a freeze-detector tick
	probe    *probeResult // fed when non-nil
}

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestWatchdog(t *testing.T) {
	ok := func(rev int64) *probeResult { return &probeResult{reached: true, present: true, createRev: rev} }
	tests := []struct {
		name  string
		steps []step
		want  string // part of the loss reported at the last step; "" means none at any step
	}{
		{"self present, peers come and go", []step{
			{topology: []string{self}},
			{topology: []string{self, "10.0.0.2:7000"}},
			{topology: []string{self}},
		}, ""},
		{"self left the topology", []step{
			{topology: []string{self, "10.0.0.2:7000"}},
			{topology: []string{"10.0.0.2:7000"}},
		}, "this member (10.0.0.1:7000) left the cluster topology"},
		{"every member dropped, self included", []step{
			{topology: []string{self}},
			{topology: []string{}},
		}, "left the cluster topology"},
		{"no self before it ever joined is no loss", []step{
			{topology: []string{"10.0.0.2:7000"}},
			{topology: []string{}},
		}, ""},
		{"ticks on time", []step{
			{at: 250 * time.Millisecond, tick: true},
			{at: 500 * time.Millisecond, tick: true},
			{at: 3500 * time.Millisecond, tick: true}, // a 3s gap is the lease, not beyond it
		}, ""},
		{"frozen longer than the lease", []step{
			{at: 250 * time.Millisecond, tick: true},
			{at: 5250 * time.Millisecond, tick: true},
		}, "frozen or stalled for 5s, longer than the 3s etcd lease"},
		{"frozen from the start", []step{
			{at: 4 * time.Second, tick: true},
		}, "frozen or stalled for 4s"},
		{"own key stays", []step{
			{at: time.Second, probe: ok(7)},
			{at: 2 * time.Second, probe: ok(7)},
		}, ""},
		{"own key gone", []step{
			{at: time.Second, probe: ok(7)},
			{at: 2 * time.Second, probe: &probeResult{reached: true}},
		}, "etcd key is gone"},
		{"own key gone at the first probe", []step{
			{at: time.Second, probe: &probeResult{reached: true}},
		}, "etcd key is gone"},
		{"own key written anew after a lapse", []step{
			{at: time.Second, probe: ok(7)},
			{at: 2 * time.Second, probe: ok(12)},
		}, "deleted and written again (revision 12, first 7)"},
		{"etcd silent for less than the lease", []step{
			{at: time.Second, probe: ok(7)},
			{at: 2 * time.Second, probe: &probeResult{}},
			{at: 4 * time.Second, probe: &probeResult{}},
			{at: 5 * time.Second, probe: ok(7)},
			{at: 7 * time.Second, probe: &probeResult{}},
		}, ""},
		{"etcd silent for longer than the lease is no loss by itself", []step{
			{at: time.Second, probe: ok(7)},
			{at: 2 * time.Second, probe: &probeResult{}},
			{at: 4500 * time.Millisecond, probe: &probeResult{}},
		}, ""}, // the key read decides once etcd answers again
		{"etcd silent since start-up", []step{
			{at: 3100 * time.Millisecond, probe: &probeResult{}},
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWatchdog(self, LeaseTTL, t0)
			for i, s := range tt.steps {
				var err error
				switch {
				case s.topology != nil:
					err = w.topology(s.topology)
				case s.tick:
					err = w.tick(at(s.at))
				case s.probe != nil:
					err = w.probe(at(s.at), *s.probe)
				}
				last := i == len(tt.steps)-1
				switch {
				case err != nil && (!last || tt.want == ""):
					t.Fatalf("step %d: unexpected loss: %v", i, err)
				case last && tt.want != "" && err == nil:
					t.Fatalf("no loss reported, want %q", tt.want)
				case last && tt.want != "":
					if !errors.Is(err, ErrMembershipLost) || !strings.Contains(err.Error(), tt.want) {
						t.Fatalf("loss %q, want ErrMembershipLost with %q", err, tt.want)
					}
				}
			}
		})
	}
}
