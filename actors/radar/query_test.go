package radar

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
)

var queryTestSeedFlag = flag.Uint64("radar.seed", 0, "extra seed for TestQueryMatchesBruteForce (also RADAR_SEED); 0: fixed seed only")

var queryTestT0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// queryTestWorld is a population of users placed where a grid is most likely
// to go wrong, bucketed into per-cell snapshots the way Cell grains publish
// them.
type queryTestWorld struct {
	g       *Grid
	users   []*Entry
	byLat   []*Entry              // users sorted by latitude, for the brute force
	cells   map[h3.Cell]*Snapshot // built by NewSnapshot
	raw     map[h3.Cell]*Snapshot // the same as Snapshot literals (no packed points)
	centres [][2]float64          // city cluster centres
}

// queryTestKinds are the kinds of places users and viewers are drawn from.
var queryTestKinds = []struct {
	name   string
	weight int
}{
	{"cluster", 30}, {"uniform", 20}, {"boundary", 15}, {"pentagon", 10},
	{"north pole", 8}, {"south pole", 7}, {"antimeridian", 10},
}

func queryTestKind(rng *rand.Rand) string {
	n := rng.IntN(100)
	for _, k := range queryTestKinds {
		if n < k.weight {
			return k.name
		}
		n -= k.weight
	}
	panic("weights must sum to 100")
}

// point draws a position of the given kind.
func (w *queryTestWorld) point(rng *rand.Rand, kind string) (float64, float64) {
	const lagosLat, lagosLng = 6.5244, 3.3792
	switch kind {
	case "cluster": // a gaussian crowd around one of the city's hot spots
		c := w.centres[rng.IntN(len(w.centres))]
		sigma := []float64{150, 400, 1200}[rng.IntN(3)]
		return geoTestDest(c[0], c[1], rng.Float64()*360, math.Abs(rng.NormFloat64())*sigma)
	case "uniform": // the 20 km × 20 km box around Lagos
		dLat := 10e3 / (EarthRadiusM * geoRad)
		return lagosLat + (rng.Float64()*2-1)*dLat, lagosLng + (rng.Float64()*2-1)*dLat/math.Cos(lagosLat*geoRad)
	case "boundary": // exactly on a vertex, on an edge, or a hair off a vertex
		lat, lng := w.point(rng, "uniform")
		b := w.g.Cell(lat, lng).Boundary()
		i := rng.IntN(len(b))
		v, u := b[i], b[(i+1)%len(b)]
		switch rng.IntN(3) {
		case 0:
			return v.Lat, v.Lng
		case 1:
			f := rng.Float64()
			return v.Lat + f*(u.Lat-v.Lat), v.Lng + f*(u.Lng-v.Lng)
		default:
			return v.Lat + rng.NormFloat64()*1e-7, v.Lng + rng.NormFloat64()*1e-7
		}
	case "pentagon": // within 2.5 km of a pentagon, sometimes on its centre or a vertex
		p := h3.Pentagons(w.g.Resolution)[3]
		c := p.LatLng()
		switch rng.IntN(10) {
		case 0:
			return c.Lat, c.Lng
		case 1:
			b := p.Boundary()
			v := b[rng.IntN(len(b))]
			return v.Lat, v.Lng
		}
		return geoTestDest(c.Lat, c.Lng, rng.Float64()*360, rng.Float64()*2500)
	case "north pole", "south pole": // within 2 km of a pole, sometimes on it
		lat := 90.0
		if kind == "south pole" {
			lat = -90
		}
		if rng.IntN(20) == 0 {
			return lat, rng.Float64()*360 - 180
		}
		return geoTestDest(lat, 0, rng.Float64()*360, rng.Float64()*2000)
	case "antimeridian": // within 2 km of ±180°, in Fiji or the Bering Strait, sometimes on it
		lat := []float64{-16.5, 65.7}[rng.IntN(2)] + (rng.Float64()*2-1)*0.01
		if rng.IntN(20) == 0 {
			return lat, []float64{-180, 180}[rng.IntN(2)]
		}
		return geoTestDest(lat, 180, []float64{90, 270}[rng.IntN(2)], rng.Float64()*2000)
	}
	panic("unknown kind " + kind)
}

func newQueryTestWorld(seed uint64, n int) (*queryTestWorld, *rand.Rand) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	w := &queryTestWorld{g: NewGrid(1000), cells: map[h3.Cell]*Snapshot{}, raw: map[h3.Cell]*Snapshot{}}
	for range 6 {
		w.centres = append(w.centres, [2]float64{6.5244 + rng.NormFloat64()*0.03, 3.3792 + rng.NormFloat64()*0.03})
	}
	for i := range n {
		lat, lng := w.point(rng, queryTestKind(rng))
		e := NewEntry(Entry{
			UserID:    fmt.Sprintf("u%05d", i),
			Lat:       lat,
			Lng:       lng,
			UpdatedAt: queryTestT0.Add(time.Duration(rng.IntN(3600)) * time.Second),
		})
		w.users = append(w.users, e)
		c := w.g.Cell(lat, lng)
		if w.raw[c] == nil {
			w.raw[c] = &Snapshot{}
		}
		w.raw[c].Entries = append(w.raw[c].Entries, e)
	}
	for c, s := range w.raw {
		w.cells[c] = NewSnapshot(slices.Clone(s.Entries))
	}
	w.byLat = slices.Clone(w.users)
	slices.SortFunc(w.byLat, func(a, b *Entry) int { return cmp.Compare(a.Lat, b.Lat) })
	return w, rng
}

// snapshots returns what a viewer at (lat, lng) reads: the snapshots of its
// cover, in cover order, packed or not.
func (w *queryTestWorld) snapshots(lat, lng float64, packed bool) []*Snapshot {
	src := w.cells
	if !packed {
		src = w.raw
	}
	var out []*Snapshot
	for _, c := range w.g.Cover(w.g.Cell(lat, lng)) {
		if s := src[c]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// queryTestWant is one brute-force result.
type queryTestWant struct {
	e    *Entry
	dist float64
	brg  float64
}

// bruteForce scans every user with the package's plain trigonometric
// Distance and Bearing: no cells, no vectors, no heap. It skips users whose
// latitude alone puts them out of range (a great circle cannot change
// latitude faster than its length, so |Δlat|·R is an exact lower bound on the
// distance), which keeps the test fast under the race detector.
func (w *queryTestWorld) bruteForce(lat, lng, radiusM float64, keep func(*Entry) bool) []queryTestWant {
	band := radiusM/(EarthRadiusM*geoRad)*(1+1e-9) + 1e-12
	i, _ := slices.BinarySearchFunc(w.byLat, lat-band, func(e *Entry, t float64) int { return cmp.Compare(e.Lat, t) })
	var out []queryTestWant
	for _, e := range w.byLat[i:] {
		if e.Lat > lat+band {
			break
		}
		if d := Distance(lat, lng, e.Lat, e.Lng); d <= radiusM && (keep == nil || keep(e)) {
			out = append(out, queryTestWant{e, d, Bearing(lat, lng, e.Lat, e.Lng)})
		}
	}
	slices.SortFunc(out, func(a, b queryTestWant) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return cmp.Compare(a.e.UserID, b.e.UserID)
	})
	return out
}

// queryTestNearTieM is how close two brute-force distances must be for their
// order to be decided by rounding rather than geometry. Query orders by
// chord, the brute force by Distance; both are exact to nanometres, so they
// may only disagree between users (practically) equidistant from the viewer.
// In this population that happens for users on the same H3 vertex: the
// vertex computed from each of its three cells differs in the last bits.
const queryTestNearTieM = 1e-6

type queryTestStats struct {
	viewers, hits, nearTies int
	maxDistErr, maxBrgErr   float64
}

// compare checks got against the brute-force list want (all matches, not
// yet limited).
func compareQuery(got []Hit, want []queryTestWant, limit int, st *queryTestStats) error {
	top := want[:min(limit, len(want))]
	if len(got) != len(top) {
		return fmt.Errorf("got %d hits, brute force %d", len(got), len(top))
	}
	byID := make(map[string]queryTestWant, len(want))
	for _, x := range want {
		byID[x.e.UserID] = x
	}
	seen := map[string]bool{}
	for i, h := range got {
		id := h.Entry.UserID
		if seen[id] {
			return fmt.Errorf("hit %d: %s twice", i, id)
		}
		seen[id] = true
		ref, ok := byID[id]
		if !ok {
			return fmt.Errorf("hit %d: %s at %.3f m is not within the radius (or was filtered)", i, id, h.Distance)
		}
		if id != top[i].e.UserID {
			// Accept only a swap between users equidistant to the nanometre.
			if math.Abs(ref.dist-top[i].dist) > queryTestNearTieM {
				return fmt.Errorf("hit %d: got %s at %.6f m, brute force %s at %.6f m", i, id, ref.dist, top[i].e.UserID, top[i].dist)
			}
			st.nearTies++
		}
		if d := math.Abs(h.Distance - ref.dist); d > 0.5 {
			return fmt.Errorf("hit %d (%s): distance %.6f, brute force %.6f", i, id, h.Distance, ref.dist)
		} else {
			st.maxDistErr = max(st.maxDistErr, d)
		}
		// Below a millimetre a bearing is noise in both computations.
		if ref.dist > 1e-3 {
			if d := geoTestAngleDiff(h.Bearing, ref.brg); d > 0.5 {
				return fmt.Errorf("hit %d (%s) at %.3f m: bearing %.6f°, brute force %.6f°", i, id, ref.dist, h.Bearing, ref.brg)
			} else {
				st.maxBrgErr = max(st.maxBrgErr, d)
			}
		}
		if h.Bearing < 0 || h.Bearing >= 360 {
			return fmt.Errorf("hit %d: bearing %v outside [0, 360)", i, h.Bearing)
		}
	}
	st.viewers++
	st.hits += len(got)
	return nil
}

// TestQueryMatchesBruteForce is the property test of the grid and the query
// together: for viewers anywhere, including the places where cells are
// irregular, reading the cover's snapshots gives exactly what scanning every
// user gives. Seed 1 always runs; -radar.seed=N or RADAR_SEED=N adds one.
func TestQueryMatchesBruteForce(t *testing.T) {
	seeds := []uint64{1}
	if *queryTestSeedFlag != 0 {
		seeds = append(seeds, *queryTestSeedFlag)
	} else if s, err := strconv.ParseUint(os.Getenv("RADAR_SEED"), 10, 64); err == nil && s != 0 {
		seeds = append(seeds, s)
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			const users, viewers = 10000, 2000
			w, rng := newQueryTestWorld(seed, users)
			var st queryTestStats
			for v := range viewers {
				var lat, lng float64
				kind := queryTestKind(rng)
				if rng.IntN(10) == 0 { // on top of a user: distance 0, exact ties
					u := w.users[rng.IntN(len(w.users))]
					lat, lng, kind = u.Lat, u.Lng, "on a user"
				} else {
					lat, lng = w.point(rng, kind)
				}
				limit := []int{50, 50, 50, 10, 1, users}[rng.IntN(6)]
				radius := []float64{w.g.RadiusM, w.g.RadiusM, 250, 999.999}[rng.IntN(4)]
				var keep func(*Entry) bool
				if rng.IntN(2) == 0 {
					// Hide every third user, as blocks and the viewer itself are.
					keep = func(e *Entry) bool { return e.UserID[len(e.UserID)-1]%3 != 0 }
				}
				packed := v%4 != 0 // most viewers read NewSnapshot snapshots, some literals
				got := Query(lat, lng, radius, limit, w.snapshots(lat, lng, packed), keep)
				want := w.bruteForce(lat, lng, radius, keep)
				if err := compareQuery(got, want, limit, &st); err != nil {
					t.Fatalf("viewer %d (%s) at (%v, %v), radius %v, limit %d, keep %v, packed %v: %v", v, kind, lat, lng, radius, limit, keep != nil, packed, err)
				}
			}
			t.Logf("%d viewers, %d hits compared; %d near-tie swaps; max distance error %.3g m, max bearing error %.3g°",
				st.viewers, st.hits, st.nearTies, st.maxDistErr, st.maxBrgErr)
		})
	}
}

// queryTestAt returns an entry at distM metres from (0, 0) on bearing brg.
func queryTestAt(id string, brg, distM float64, updated time.Time) *Entry {
	lat, lng := geoTestDest(0, 0, brg, distM)
	return NewEntry(Entry{UserID: id, Lat: lat, Lng: lng, UpdatedAt: updated})
}

func queryTestIDs(hits []Hit) []string {
	ids := make([]string, len(hits))
	for i, h := range hits {
		ids[i] = h.Entry.UserID
	}
	return ids
}

func TestQueryOrderLimitKeep(t *testing.T) {
	t0 := queryTestT0
	snaps := []*Snapshot{
		{Entries: []*Entry{
			queryTestAt("far", 10, 900, t0),
			queryTestAt("out", 20, 1000.5, t0),
			queryTestAt("b-east", 90, 300, t0),  // b-east and a-west are exactly
			queryTestAt("a-west", 270, 300, t0), // equidistant: UserID decides
		}},
		nil, // cells without a snapshot may be passed as nil
		{Entries: []*Entry{
			nil,
			queryTestAt("near", 45, 10, t0),
			queryTestAt("z-here", 0, 0, t0), // same point as the viewer
			queryTestAt("y-here", 0, 0, t0),
			queryTestAt("edge", 180, 999.9, t0),
		}},
	}
	tests := []struct {
		name   string
		radius float64
		limit  int
		keep   func(*Entry) bool
		want   []string
	}{
		{"all", 1000, 50, nil, []string{"y-here", "z-here", "near", "a-west", "b-east", "far", "edge"}},
		{"limit", 1000, 3, nil, []string{"y-here", "z-here", "near"}},
		{"limit splits a tie by UserID", 1000, 4, nil, []string{"y-here", "z-here", "near", "a-west"}},
		{"limit 1", 1000, 1, nil, []string{"y-here"}},
		{"limit 0", 1000, 0, nil, nil},
		{"negative limit", 1000, -1, nil, nil},
		{"keep", 1000, 50, func(e *Entry) bool { return e.UserID[0] != 'y' && e.UserID != "near" }, []string{"z-here", "a-west", "b-east", "far", "edge"}},
		{"keep with limit", 1000, 2, func(e *Entry) bool { return e.UserID[0] != 'y' }, []string{"z-here", "near"}},
		{"small radius", 300.001, 50, nil, []string{"y-here", "z-here", "near", "a-west", "b-east"}},
		{"zero radius", 0, 50, nil, []string{"y-here", "z-here"}},
		{"negative radius", -1, 50, nil, nil},
		{"NaN radius", math.NaN(), 50, nil, nil},
		{"huge radius", 1e9, 50, nil, []string{"y-here", "z-here", "near", "a-west", "b-east", "far", "edge", "out"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Query(0, 0, tt.radius, tt.limit, snaps, tt.keep)
			if ids := queryTestIDs(got); !slices.Equal(ids, tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			if tt.want == nil && got != nil {
				t.Errorf("got empty non-nil result, want nil")
			}
			for _, h := range got {
				e := h.Entry
				if d := Distance(0, 0, e.Lat, e.Lng); math.Abs(h.Distance-d) > 1e-6 {
					t.Errorf("%s: distance %v, want %v", e.UserID, h.Distance, d)
				}
				if d := Distance(0, 0, e.Lat, e.Lng); d > 1e-3 {
					if b := Bearing(0, 0, e.Lat, e.Lng); geoTestAngleDiff(h.Bearing, b) > 1e-6 {
						t.Errorf("%s: bearing %v, want %v", e.UserID, h.Bearing, b)
					}
				} else if h.Bearing != 0 {
					t.Errorf("%s: bearing %v at the viewer's position, want 0", e.UserID, h.Bearing)
				}
			}
		})
	}
	if got := Query(math.NaN(), 0, 1000, 50, snaps, nil); got != nil {
		t.Errorf("NaN viewer: got %v, want nil", queryTestIDs(got))
	}
}

// TestQueryKeepOnlyNearCandidates checks keep is not called for entries that
// cannot make the result: it may be a map lookup or worse.
func TestQueryKeepOnlyNearCandidates(t *testing.T) {
	var entries []*Entry
	for i := range 200 {
		entries = append(entries, queryTestAt(fmt.Sprintf("u%03d", i), float64(i*37%360), float64(i)*10, queryTestT0))
	}
	calls := map[string]int{}
	Query(0, 0, 1000, 5, []*Snapshot{{Entries: entries}}, func(e *Entry) bool {
		calls[e.UserID]++
		if Distance(0, 0, e.Lat, e.Lng) > 1000 {
			t.Errorf("keep called for %s beyond the radius", e.UserID)
		}
		return true
	})
	for id, n := range calls {
		if n > 1 {
			t.Errorf("keep called %d times for %s", n, id)
		}
	}
	if len(calls) > 5 { // entries arrive nearest first: the first five fill the heap for good
		t.Errorf("keep called for %d entries, want 5", len(calls))
	}
}

// TestQueryKeepRejectsMost: when keep rejects more than the heap's slack,
// Query must select again rather than return too few, also while a user is
// mid-move.
func TestQueryKeepRejectsMost(t *testing.T) {
	var entries []*Entry
	for i := range 300 {
		entries = append(entries, queryTestAt(fmt.Sprintf("u%03d", i), float64(i*7%360), float64(i+1), queryTestT0))
	}
	moved := queryTestAt("u001", 0, 2.5, queryTestT0.Add(time.Second)) // u001 moved from 2 m to 2.5 m
	odd := func(e *Entry) bool { return (e.UserID[3]-'0')%2 == 1 }
	for _, tt := range []struct {
		name  string
		snaps []*Snapshot
	}{
		{"packed", []*Snapshot{NewSnapshot(slices.Clone(entries))}},
		{"literal", []*Snapshot{{Entries: entries}}},
		{"mid-move", []*Snapshot{NewSnapshot(slices.Clone(entries)), NewSnapshot([]*Entry{moved})}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hits := Query(0, 0, 1000, 50, tt.snaps, odd)
			var want []string
			for i := 1; len(want) < 50; i += 2 {
				want = append(want, fmt.Sprintf("u%03d", i))
			}
			if got := queryTestIDs(hits); !slices.Equal(got, want) {
				t.Fatalf("got %v\nwant %v", got, want)
			}
			wantD := 2.0
			if tt.name == "mid-move" {
				wantD = 2.5
			}
			if math.Abs(hits[0].Distance-wantD) > 1e-6 {
				t.Errorf("u001 at %v m, want %v m", hits[0].Distance, wantD)
			}
		})
	}
}

func TestQueryDeduplicatesMoves(t *testing.T) {
	t0, t1 := queryTestT0, queryTestT0.Add(time.Second)
	shared := queryTestAt("twice", 0, 100, t0)
	tests := []struct {
		name  string
		a, b  []*Entry // two snapshots: the old cell and the new
		limit int
		want  []string
		dist  map[string]float64 // expected distance of some hits
	}{
		{
			name:  "newer entry in the other cell wins",
			a:     []*Entry{queryTestAt("mover", 0, 100, t0), queryTestAt("other", 0, 500, t0)},
			b:     []*Entry{queryTestAt("mover", 90, 700, t1)},
			limit: 50,
			want:  []string{"other", "mover"},
			dist:  map[string]float64{"mover": 700},
		},
		{
			name:  "newer entry first in cells order still wins",
			a:     []*Entry{queryTestAt("mover", 90, 700, t1)},
			b:     []*Entry{queryTestAt("mover", 0, 100, t0)},
			limit: 50,
			want:  []string{"mover"},
			dist:  map[string]float64{"mover": 700},
		},
		{
			name:  "newer entry beyond the radius hides the stale one",
			a:     []*Entry{queryTestAt("mover", 0, 100, t0), queryTestAt("other", 0, 500, t0)},
			b:     []*Entry{queryTestAt("mover", 90, 1500, t1)},
			limit: 50,
			want:  []string{"other"},
		},
		{
			name:  "stale copy does not take a slot",
			a:     []*Entry{queryTestAt("a", 0, 10, t0), queryTestAt("mover", 0, 20, t0), queryTestAt("b", 0, 30, t0)},
			b:     []*Entry{queryTestAt("mover", 0, 40, t1)},
			limit: 2,
			want:  []string{"a", "b"},
		},
		{
			name:  "equal timestamps: the one seen last wins",
			a:     []*Entry{queryTestAt("mover", 0, 100, t0)},
			b:     []*Entry{queryTestAt("mover", 0, 200, t0)},
			limit: 50,
			want:  []string{"mover"},
			dist:  map[string]float64{"mover": 200},
		},
		{
			name:  "the same entry in two snapshots counts once",
			a:     []*Entry{shared, queryTestAt("x", 0, 150, t0)},
			b:     []*Entry{shared},
			limit: 50,
			want:  []string{"twice", "x"},
		},
		{
			name:  "a duplicate outside the selection changes nothing",
			a:     []*Entry{queryTestAt("a", 0, 10, t0), queryTestAt("mover", 0, 800, t0)},
			b:     []*Entry{queryTestAt("mover", 0, 900, t1)},
			limit: 1,
			want:  []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Query(0, 0, 1000, tt.limit, []*Snapshot{{Entries: tt.a}, {Entries: tt.b}}, nil)
			if ids := queryTestIDs(got); !slices.Equal(ids, tt.want) {
				t.Fatalf("got %v, want %v", ids, tt.want)
			}
			for _, h := range got {
				if d, ok := tt.dist[h.Entry.UserID]; ok && math.Abs(h.Distance-d) > 1e-6 {
					t.Errorf("%s at %v m, want the entry at %v m", h.Entry.UserID, h.Distance, d)
				}
			}
		})
	}
}

// TestQueryEntryWithoutNewEntry: an Entry built as a literal lacks the
// derived fields; Query must compute them rather than place it at (0,0,0).
func TestQueryEntryWithoutNewEntry(t *testing.T) {
	lat, lng := geoTestDest(50, 8, 30, 400)
	raw := &Entry{UserID: "raw", Lat: lat, Lng: lng, UpdatedAt: queryTestT0}
	dup := &Entry{UserID: "raw", Lat: lat, Lng: lng, UpdatedAt: queryTestT0.Add(-time.Second)}
	got := Query(50, 8, 1000, 50, []*Snapshot{{Entries: []*Entry{raw}}, {Entries: []*Entry{dup}}}, nil)
	if len(got) != 1 || got[0].Entry != raw || math.Abs(got[0].Distance-400) > 1e-6 || math.Abs(got[0].Bearing-30) > 1e-6 {
		t.Fatalf("got %+v", got)
	}
}

func TestNewEntryCopies(t *testing.T) {
	acc := 4.5
	in := Entry{UserID: "u", Lat: 1, Lng: 2, AccuracyMeters: &acc, Interests: []string{"jazz"}}
	e := NewEntry(in)
	in.Lat = 9
	if e.Lat != 1 || *e.AccuracyMeters != 4.5 || e.Interests[0] != "jazz" {
		t.Errorf("NewEntry did not copy: %+v", e)
	}
	if e.v != geoUnit(1, 2) || e.hash == 0 || e.hash != queryHashID("u") {
		t.Errorf("derived fields not set: %+v", e)
	}
}

func TestQueryConcurrent(t *testing.T) {
	w, _ := newQueryTestWorld(2, 3000)
	lat, lng := 6.5244, 3.3792
	snaps := w.snapshots(lat, lng, true)
	want := queryTestIDs(Query(lat, lng, 1000, 50, snaps, nil))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if got := queryTestIDs(Query(lat, lng, 1000, 50, snaps, nil)); !slices.Equal(got, want) {
					t.Errorf("concurrent query differs")
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestQueryAllocations: the result slice is the only steady-state
// allocation. Not under the race detector, whose sync.Pool drops items on
// purpose.
func TestQueryAllocations(t *testing.T) {
	if queryTestRace() {
		t.Skip("sync.Pool does not pool under the race detector")
	}
	w, _ := newQueryTestWorld(3, 5000)
	lat, lng := 6.5244, 3.3792
	snaps := w.snapshots(lat, lng, true)
	keep := func(e *Entry) bool { return e.UserID != "u00000" }
	allocs := testing.AllocsPerRun(200, func() { Query(lat, lng, 1000, 50, snaps, keep) })
	if allocs > 1 {
		t.Errorf("%.2f allocations per query, want 1", allocs)
	}
}

func queryTestRace() bool {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return false
	}
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}
