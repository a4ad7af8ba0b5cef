package radar

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

func TestMergeHandOver(t *testing.T) {
	cases := []struct {
		name    string
		present []*grainpb.CellEntry // already in the new activation
		removed []string             // removed from it while absent
		handed  []*grainpb.CellEntry
		taken   []string
		want    map[string]float64 // user -> lat afterwards
	}{
		{
			name:   "absent users are taken",
			handed: []*grainpb.CellEntry{pe("u1", 0, 0), pe("u2", 0.001, 0)},
			taken:  []string{"u1", "u2"},
			want:   map[string]float64{"u1": 6.5, "u2": 6.501},
		},
		{
			name:    "a user removed here before the hand-over stays out",
			removed: []string{"u1"},
			handed:  []*grainpb.CellEntry{pe("u1", 0, 0), pe("u2", 0, 0)},
			taken:   []string{"u2"},
			want:    map[string]float64{"u2": 6.5},
		},
		{
			name:    "a user who wrote here since keeps the newer entry",
			present: []*grainpb.CellEntry{pe("u1", 0.002, time.Second), pe("u2", 0.002, 0)},
			handed:  []*grainpb.CellEntry{pe("u1", 0, 0), pe("u2", 0, 0)},
			taken:   nil,
			want:    map[string]float64{"u1": 6.502, "u2": 6.502},
		},
		{
			name:    "an older entry here gives way to a newer handed one",
			present: []*grainpb.CellEntry{pe("u1", 0.002, 0)},
			handed:  []*grainpb.CellEntry{pe("u1", 0, time.Second)},
			taken:   []string{"u1"},
			want:    map[string]float64{"u1": 6.5},
		},
		{
			name:   "malformed entries are skipped",
			handed: []*grainpb.CellEntry{nil, {UserId: ""}, pe("u1", 0, 0)},
			taken:  []string{"u1"},
			want:   map[string]float64{"u1": 6.5},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			members := map[string]*Entry{}
			for _, p := range tc.present {
				members[p.UserId] = EntryFromProto(p)
			}
			removed := map[string]struct{}{}
			for _, id := range tc.removed {
				removed[id] = struct{}{}
			}
			var taken []string
			for _, p := range mergeHandOver(members, removed, tc.handed) {
				taken = append(taken, p.UserId)
			}
			if !slices.Equal(taken, tc.taken) {
				t.Fatalf("took %v, want %v", taken, tc.taken)
			}
			got := map[string]float64{}
			for id, e := range members {
				got[id] = e.Lat
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("members %v, want %v", got, tc.want)
			}
		})
	}
}

// Removes are remembered only while a hand-over may come, and a hand-over
// is taken only then.
func TestHandOverWindow(t *testing.T) {
	clk := clock.NewFake(replicaT0)
	members := cluster.NewMembership()
	g := &cellGrain{deps: CellDeps{Clock: clk, Membership: members}, born: clk.Now(), members: map[string]*Entry{}}
	g.tombstone("u0")
	if g.removed != nil {
		t.Fatal("a node alone remembers removes")
	}
	members.SetForTest(ownerA, []string{ownerA, ownerB})
	g.tombstone("u1")
	if _, ok := g.removed["u1"]; !ok || !g.handOverOpen() {
		t.Fatal("a remove at the start is not remembered")
	}
	clk.Advance(handOverWindow)
	if g.handOverOpen() || g.removed != nil {
		t.Fatal("the hand-over window did not close")
	}
	g.tombstone("u2")
	if g.removed != nil {
		t.Fatal("a remove after the window is remembered")
	}
}

// Every member must name the same owner for a cell, whichever of them
// asks, or a moved cell would be handed over to the wrong one (or kept).
func TestOwnerOfAgreesAcrossMembers(t *testing.T) {
	members := []string{"127.0.0.1:4001", "127.0.0.1:4002", "127.0.0.1:4003"}
	owners := map[string]int{}
	for i := range 200 {
		id := CellID(replicaCell) + fmt.Sprint(i)
		var first string
		for j, self := range members {
			peers := slices.Delete(slices.Clone(members), j, j+1)
			o := ownerOf(id, self, peers)
			if !slices.Contains(members, o) {
				t.Fatalf("%s: owner %q is no member", id, o)
			}
			if j == 0 {
				first = o
			} else if o != first {
				t.Fatalf("%s: %s says %s, %s says %s", id, members[0], first, self, o)
			}
		}
		owners[first]++
	}
	if len(owners) != len(members) {
		t.Fatalf("cells spread over %v, want all %d members", owners, len(members))
	}
	if o := ownerOf("x", "127.0.0.1:4001", nil); o != "127.0.0.1:4001" {
		t.Fatalf("alone, the owner is %q", o)
	}
	if o := ownerOf("x", "nonhost", []string{"127.0.0.1:4001"}); o != "" {
		t.Fatalf("an address that does not parse gave owner %q", o)
	}
}
