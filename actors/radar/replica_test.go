package radar

import (
	"slices"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/cluster/grainpb"
)

var (
	replicaT0    = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	replicaCell  = h3.LatLngToCell(h3.LatLng{Lat: 6.5, Lng: 3.4}, 9)
	replicaCell2 = h3.LatLngToCell(h3.LatLng{Lat: 6.6, Lng: 3.5}, 9)
)

const ownerA, ownerB = "10.0.0.1:4000", "10.0.0.2:4000"

// pe is user id's entry at lat 6.5+dlat, located at t0+age.
func pe(id string, dlat float64, at time.Duration) *grainpb.CellEntry {
	return &grainpb.CellEntry{UserId: id, Lat: 6.5 + dlat, Lng: 3.4, UpdatedUnixMs: replicaT0.Add(at).UnixMilli()}
}

func full(owner string, epoch, seq uint64, es ...*grainpb.CellEntry) *grainpb.CellDelta {
	return &grainpb.CellDelta{Cell: CellID(replicaCell), Owner: owner, Epoch: epoch, Seq: seq, Full: true, Upserts: es}
}

func upsert(owner string, epoch, seq uint64, es ...*grainpb.CellEntry) *grainpb.CellDelta {
	return &grainpb.CellDelta{Cell: CellID(replicaCell), Owner: owner, Epoch: epoch, Seq: seq, Upserts: es}
}

func remove(owner string, epoch, seq uint64, ids ...string) *grainpb.CellDelta {
	return &grainpb.CellDelta{Cell: CellID(replicaCell), Owner: owner, Epoch: epoch, Seq: seq, Removes: ids}
}

func stopped(owner string, epoch, seq uint64) *grainpb.CellDelta {
	return &grainpb.CellDelta{Cell: CellID(replicaCell), Owner: owner, Epoch: epoch, Seq: seq, Stopped: true}
}

func inCell(c h3.Cell, d *grainpb.CellDelta) *grainpb.CellDelta {
	d.Cell = CellID(c)
	return d
}

// replicaStep is one delta (or, with left set, a member leaving) and what
// it must do. users is the cell's published content after it ("id@lat"
// would be overkill: ids, sorted, duplicates kept).
type replicaStep struct {
	d     *grainpb.CellDelta
	left  string
	peers []string // nil: both owners are live
	want  applied
	users []string
	// for left: how many cells it reports
	lost int
}

func TestReplicaRules(t *testing.T) {
	pub := applied{publish: true}
	news := applied{publish: true, wake: true}
	moved := func(id string) applied { return applied{publish: true, wake: true, mover: id} }
	resync := applied{resync: true}
	cases := []struct {
		name  string
		steps []replicaStep
	}{
		{"a full then the next deltas apply in order", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: upsert(ownerA, 7, 2, pe("u2", 0.001, 0)), want: moved("u2"), users: []string{"u1", "u2"}},
			{d: remove(ownerA, 7, 3, "u1"), want: moved("u1"), users: []string{"u2"}},
			{d: remove(ownerA, 7, 4, "nobody"), want: applied{}, users: []string{"u2"}},
		}},
		{"a refresh publishes the new time and wakes nobody", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: upsert(ownerA, 7, 2, pe("u1", 0, time.Second)), want: pub, users: []string{"u1"}},
			{d: upsert(ownerA, 7, 3, pe("u1", 0.001, 2*time.Second)), want: moved("u1"), users: []string{"u1"}},
		}},
		{"a full identical to the content wakes nobody", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0), pe("u2", 0, 0)), want: news, users: []string{"u1", "u2"}},
			{d: full(ownerA, 7, 1, pe("u1", 0, 0), pe("u2", 0, 0)), want: pub, users: []string{"u1", "u2"}},
		}},
		{"a gap asks for the content and keeps the old until the full comes", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: upsert(ownerA, 7, 3, pe("u2", 0, 0)), want: resync, users: []string{"u1"}},
			{d: upsert(ownerA, 7, 4, pe("u3", 0, 0)), want: applied{}, users: []string{"u1"}},
			{d: full(ownerA, 7, 4, pe("u1", 0, 0), pe("u2", 0, 0), pe("u3", 0, 0)), want: news, users: []string{"u1", "u2", "u3"}},
			{d: remove(ownerA, 7, 5, "u3"), want: moved("u3"), users: []string{"u1", "u2"}},
		}},
		{"deltas already covered by a full are ignored", []replicaStep{
			{d: full(ownerA, 7, 5, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: remove(ownerA, 7, 5, "u1"), want: applied{}, users: []string{"u1"}},
			{d: remove(ownerA, 7, 2, "u1"), want: applied{}, users: []string{"u1"}},
		}},
		{"an unknown activation's delta asks for its content", []replicaStep{
			{d: upsert(ownerA, 7, 4, pe("u1", 0, 0)), want: resync, users: nil},
			{d: upsert(ownerA, 7, 5, pe("u2", 0, 0)), want: applied{}, users: nil},
			{d: full(ownerA, 7, 5, pe("u1", 0, 0), pe("u2", 0, 0)), want: news, users: []string{"u1", "u2"}},
		}},
		{"a lost answer is asked for again after a while", []replicaStep{
			{d: upsert(ownerA, 7, 4, pe("u1", 0, 0)), want: resync},
			{d: upsert(ownerA, 7, 4+reaskAfter-1, pe("u1", 0, 0)), want: applied{}},
			{d: upsert(ownerA, 7, 4+reaskAfter, pe("u1", 0, 0)), want: resync},
			{d: upsert(ownerA, 7, 5+reaskAfter, pe("u1", 0, 0)), want: applied{}},
		}},
		{"a new activation of the owner whose full was lost: old content kept, content asked for", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: upsert(ownerA, 8, 2, pe("u2", 0, 0)), want: resync, users: []string{"u1"}},
			{d: stopped(ownerA, 7, 1), want: applied{}, users: []string{"u1"}},
			{d: full(ownerA, 8, 2, pe("u2", 0, 0)), want: news, users: []string{"u2"}},
		}},
		{"a new activation's full replaces the owner's old one", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: full(ownerA, 8, 1, pe("u2", 0, 0)), want: news, users: []string{"u2"}},
			{d: upsert(ownerA, 8, 2, pe("u3", 0, 0)), want: moved("u3"), users: []string{"u2", "u3"}},
		}},
		{"stopped drops the activation it names, and only that one", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: stopped(ownerA, 6, 9), want: applied{}, users: []string{"u1"}},
			{d: stopped(ownerB, 7, 1), want: applied{}, users: []string{"u1"}},
			{d: stopped(ownerA, 7, 1), want: news, users: nil},
			{d: upsert(ownerA, 7, 2, pe("u1", 0, 0)), want: resync, users: nil},
		}},
		{"an empty activation stopping wakes nobody", []replicaStep{
			{d: full(ownerA, 7, 0), want: pub, users: nil},
			{d: stopped(ownerA, 7, 0), want: pub, users: nil},
		}},
		{"a member that is not live is not heard", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), peers: []string{ownerB}, want: applied{}, users: nil},
			{d: upsert(ownerA, 7, 2, pe("u1", 0, 0)), peers: []string{ownerB}, want: applied{}, users: nil},
			{d: full(ownerA, 7, 2, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			// A late stopped from a member that left must not matter either.
			{d: stopped(ownerA, 7, 2), peers: []string{ownerB}, want: applied{}, users: []string{"u1"}},
		}},
		{"while a cell moves both activations show, until the old one stops", []replicaStep{
			{d: full(ownerA, 7, 3, pe("u1", 0, 0), pe("u2", 0, 0)), want: news, users: []string{"u1", "u2"}},
			{d: full(ownerB, 9, 1, pe("u1", 0.001, time.Second)), want: moved("u1"), users: []string{"u1", "u1", "u2"}},
			{d: upsert(ownerA, 7, 4, pe("u3", 0, 0)), want: moved("u3"), users: []string{"u1", "u1", "u2", "u3"}},
			{d: stopped(ownerA, 7, 4), want: news, users: []string{"u1"}},
			{d: upsert(ownerB, 9, 2, pe("u2", 0, 0)), want: moved("u2"), users: []string{"u1", "u2"}},
		}},
		{"a member that leaves takes its activations", []replicaStep{
			{d: full(ownerA, 7, 1, pe("u1", 0, 0)), want: moved("u1"), users: []string{"u1"}},
			{d: full(ownerB, 9, 1, pe("u2", 0, 0)), want: moved("u2"), users: []string{"u1", "u2"}},
			{d: inCell(replicaCell2, full(ownerA, 5, 1, pe("u3", 0.1, 0))), want: moved("u3"), users: []string{"u1", "u2"}},
			{left: ownerA, lost: 2, users: []string{"u2"}},
			{left: ownerA, lost: 0, users: []string{"u2"}},
			{left: ownerB, lost: 1, users: nil},
		}},
		{"a delta for no valid cell is ignored", []replicaStep{
			{d: &grainpb.CellDelta{Cell: "nope", Owner: ownerA, Epoch: 1, Seq: 1, Full: true, Upserts: []*grainpb.CellEntry{pe("u1", 0, 0)}}, want: applied{}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplica(time.Minute)
			for i, s := range tc.steps {
				if s.left != "" {
					if got := r.left(s.left); len(got) != s.lost {
						t.Fatalf("step %d: %s left: %d cells lost, want %d", i, s.left, len(got), s.lost)
					}
				} else {
					peers := s.peers
					if peers == nil {
						peers = []string{ownerA, ownerB}
					}
					_, got := r.apply(s.d, peers, replicaT0.Add(time.Duration(i)*time.Second))
					if got != s.want {
						t.Fatalf("step %d: applied %+v, want %+v", i, got, s.want)
					}
				}
				var users []string
				if snap := r.snapshot(replicaCell); snap != nil {
					for _, e := range snap.Entries {
						users = append(users, e.UserID)
					}
				}
				slices.Sort(users)
				if !slices.Equal(users, s.users) {
					t.Fatalf("step %d: cell holds %v, want %v", i, users, s.users)
				}
			}
		})
	}
}

// An entry keeps what the wire says, so a full delta built from a replica
// (or a hand-over) carries the same entry on.
func TestEntryProtoRoundTrip(t *testing.T) {
	acc, heading := 5.5, 90.0
	in := &grainpb.CellEntry{
		UserId: "u1", Lat: 6.5, Lng: 3.4, AccuracyMeters: &acc, Heading: &heading,
		UpdatedUnixMs: replicaT0.UnixMilli(), UserJson: []byte(`{"id":"u1"}`), Interests: []string{"a", "b"},
	}
	out := EntryToProto(EntryFromProto(in))
	if out.UserId != in.UserId || out.Lat != in.Lat || out.Lng != in.Lng || *out.AccuracyMeters != acc || *out.Heading != heading ||
		out.Speed != nil || out.UpdatedUnixMs != in.UpdatedUnixMs || string(out.UserJson) != string(in.UserJson) || !slices.Equal(out.Interests, in.Interests) {
		t.Fatalf("round trip: %+v, want %+v", out, in)
	}
}
