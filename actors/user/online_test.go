package user

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/gisbi/engine/cluster/grainpb"
)

// onlineOp is one step of a table test of the online index: a local
// grain's count, a peer's delta, a member forgotten (left, or asking for
// a sync).
type onlineOp struct {
	local  string // user whose local count is set to n
	n      int
	delta  *grainpb.OnlineDelta
	forget string
}

func TestOnlineIndex(t *testing.T) {
	const self, b, c = "10.0.0.1:7000", "10.0.0.2:7000", "10.0.0.3:7000"
	peers := []string{b, c} // sorted, as Membership.Peers is
	on := func(user, owner string, n int32) onlineOp {
		return onlineOp{delta: &grainpb.OnlineDelta{UserId: user, Owner: owner, Sockets: n}}
	}
	local := func(user string, n int) onlineOp { return onlineOp{local: user, n: n} }
	forget := func(owner string) onlineOp { return onlineOp{forget: owner} }
	tests := []struct {
		name   string
		ops    []onlineOp
		online []string // users online after the ops, sorted
		owned  []string // user:sockets answered to a sync, sorted
	}{
		{name: "local sockets count", ops: []onlineOp{local("u1", 2)}, online: []string{"u1"}, owned: []string{"u1:2"}},
		{name: "local last socket closed", ops: []onlineOp{local("u1", 2), local("u1", 0)}},
		{name: "peer's user online", ops: []onlineOp{on("u1", b, 1)}, online: []string{"u1"}},
		{name: "peer's user offline", ops: []onlineOp{on("u1", b, 1), on("u1", b, 0)}},
		{
			// The grain moved from b to c; c's count arrived before b's
			// farewell, which must not clear it.
			name: "old owner's offline after the new owner's online",
			ops:  []onlineOp{on("u1", b, 1), on("u1", c, 1), on("u1", b, 0)}, online: []string{"u1"},
		},
		{name: "new owner's offline after the old one's", ops: []onlineOp{on("u1", b, 1), on("u1", c, 1), on("u1", c, 0)}},
		{
			// The grain moved here from b: b's farewell and a late online
			// from b touch only b's claim, never the local count.
			name: "local count and a peer's claim are separate",
			ops:  []onlineOp{on("u1", b, 1), local("u1", 1), on("u1", b, 0)}, online: []string{"u1"}, owned: []string{"u1:1"},
		},
		{
			name: "moved away: local offline, the peer's claim stays",
			ops:  []onlineOp{local("u1", 1), on("u1", b, 1), local("u1", 0)}, online: []string{"u1"},
		},
		{
			name:   "a member that left takes its users with it",
			ops:    []onlineOp{on("u1", b, 1), on("u2", b, 3), on("u3", c, 1), local("u4", 1), forget(b)},
			online: []string{"u3", "u4"}, owned: []string{"u4:1"},
		},
		{
			// A sync from b supersedes what b sent before; b's part follows it.
			name: "forget then b's part again",
			ops:  []onlineOp{on("u1", b, 1), on("u2", b, 1), forget(b), on("u2", b, 1)}, online: []string{"u2"},
		},
		{name: "a delta from a non-member is dropped", ops: []onlineOp{on("u1", "10.0.0.9:7000", 1)}},
		{name: "offline of a user never seen", ops: []onlineOp{on("u1", b, 0), local("u2", 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := newOnlineIndex()
			for _, op := range tc.ops {
				switch {
				case op.delta != nil:
					x.apply(op.delta, peers)
				case op.forget != "":
					x.forget(op.forget)
				default:
					x.setLocal(op.local, op.n)
				}
			}
			var online []string
			for _, u := range []string{"u1", "u2", "u3", "u4"} {
				if x.is(u) {
					online = append(online, u)
				}
			}
			if !slices.Equal(online, tc.online) {
				t.Errorf("online %v, want %v", online, tc.online)
			}
			var owned []string
			for _, d := range x.owned(self) {
				if d.Owner != self {
					t.Errorf("owned delta %v not from self", d)
				}
				owned = append(owned, fmt.Sprintf("%s:%d", d.UserId, d.Sockets))
			}
			slices.Sort(owned)
			if !slices.Equal(owned, tc.owned) {
				t.Errorf("owned %v, want %v", owned, tc.owned)
			}
		})
	}
}

func TestOnlineIndexSetLocalReportsChange(t *testing.T) {
	x := newOnlineIndex()
	for i, step := range []struct {
		n       int
		changed bool
	}{{1, true}, {1, false}, {2, true}, {0, true}, {0, false}} {
		if got := x.setLocal("u1", step.n); got != step.changed {
			t.Errorf("step %d: set %d changed=%v, want %v", i, step.n, got, step.changed)
		}
	}
	if d := x.delta("u1", "me"); d.Sockets != 0 || d.Owner != "me" {
		t.Errorf("delta of an offline user %v", d)
	}
}

// TestOnlineIndexSharesOwners: a mirror keeps one entry per online user of
// the other members; each decoded delta brings its own copy of the owner's
// address, which is not kept.
func TestOnlineIndexSharesOwners(t *testing.T) {
	x := newOnlineIndex()
	peers := []string{"10.0.0.2:7000"}
	x.apply(&grainpb.OnlineDelta{UserId: "u1", Owner: strings.Clone(peers[0]), Sockets: 1}, peers)
	x.apply(&grainpb.OnlineDelta{UserId: "u2", Owner: strings.Clone(peers[0]), Sockets: 1}, peers)
	if a, b := x.remote["u1"], x.remote["u2"]; unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("each entry keeps its own copy of the owner's address")
	}
	x.forget(peers[0])
	if len(x.owners) != 0 || len(x.remote) != 0 {
		t.Fatalf("after the owner left: owners %v, entries %v", x.owners, x.remote)
	}
}
