package radar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/uber/h3-go/v4"
)

// gridTestPlace is a named position where grids misbehave if the maths
// assumes a flat plane or a regular tiling.
type gridTestPlace struct {
	name     string
	lat, lng float64
}

// gridTestPlaces returns the awkward places every grid test visits: the
// poles, the antimeridian, the 12 pentagons of res, a pentagon's vertex, an
// ordinary vertex, and an ordinary city.
func gridTestPlaces(res int) []gridTestPlace {
	ps := []gridTestPlace{
		{"Lagos", 6.5244, 3.3792},
		{"north pole", 90, 0},
		{"south pole", -90, 0},
		{"near north pole", 89.995, 123.4},
		{"near south pole", -89.996, -57},
		{"antimeridian east side", -16.5, 179.9999},
		{"antimeridian west side", -16.5, -179.9999},
		{"antimeridian exact", 65, 180},
		{"antimeridian exact west", 65, -180},
		{"high latitude", 80.1, -40},
	}
	lagos := h3.LatLngToCell(h3.LatLng{Lat: 6.5244, Lng: 3.3792}, res)
	v := lagos.Boundary()[0]
	ps = append(ps, gridTestPlace{"Lagos cell vertex", v.Lat, v.Lng})
	for i, p := range h3.Pentagons(res) {
		c := p.LatLng()
		ps = append(ps, gridTestPlace{fmt.Sprintf("pentagon %d centre", i), c.Lat, c.Lng})
		b := p.Boundary()[0]
		ps = append(ps, gridTestPlace{fmt.Sprintf("pentagon %d vertex", i), b.Lat, b.Lng})
	}
	return ps
}

func TestNewGrid(t *testing.T) {
	g := NewGrid(1000)
	if g.Resolution != 9 || g.RadiusM != 1000 {
		t.Fatalf("NewGrid(1000) = res %d radius %v, want res 9", g.Resolution, g.RadiusM)
	}
	// The smallest res-9 cells have 141 m edges: ring k starts ≈ 1.5·k·141 m
	// out, and 1 km plus two circumradii needs k ≥ 7.
	if g.K < 7 || g.K > 12 {
		t.Errorf("K = %d, want 7..12", g.K)
	}
	t.Logf("NewGrid(1000): res %d K %d", g.Resolution, g.K)

	prev := h3.MaxResolution
	for _, r := range []float64{10, 100, 300, 1000, 3000, 10e3, 50e3, 100e3} {
		g := NewGrid(r)
		if g.Resolution > prev {
			t.Errorf("radius %v m: resolution %d finer than for a smaller radius (%d)", r, g.Resolution, prev)
		}
		prev = g.Resolution
		t.Logf("radius %8.0f m: res %2d K %d", r, g.Resolution, g.K)
	}

	for _, bad := range []float64{0, -1, math.NaN(), math.Inf(1), 101e3} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewGrid(%v) did not panic", bad)
				}
			}()
			NewGrid(bad)
		}()
	}
}

// TestResolutionCosts measures, for the NewGrid doc comment, what a 1 km
// query reads at each resolution around Lagos at 250 users/km². It asserts
// nothing, so it runs only with -v, where its table is seen.
func TestResolutionCosts(t *testing.T) {
	if !testing.Verbose() {
		t.Skip("measurement; run with -v")
	}
	rng := rand.New(rand.NewPCG(7, 8))
	for res := 7; res <= 10; res++ {
		g := gridNewAt(1000, res)
		const viewers = 200
		var cells, area float64
		for range viewers {
			lat, lng := geoTestDest(6.5244, 3.3792, rng.Float64()*360, math.Sqrt(rng.Float64())*10e3)
			cover := g.Cover(g.Cell(lat, lng))
			cells += float64(len(cover))
			for _, c := range cover {
				area += h3.CellAreaM2(c)
			}
		}
		cells /= viewers
		cand := area / viewers * gridCityDensityPerM2
		mc, mcand, mns := gridCostNs(res, 1000, gridCityDensityPerM2)
		t.Logf("res %2d edge %5.0f m K %2d: cells %6.1f candidates %6.0f cost %5.1f µs, in radius %3.0f%% | model cells %6.1f candidates %6.0f cost %5.1f µs",
			res, h3.HexagonEdgeLengthAvgM(res), g.K, cells, cand, (cells*gridCostPerCellNs+cand*gridCostPerCandidateNs)/1000,
			100*math.Pi*1e6*gridCityDensityPerM2/cand, mc, mcand, mns/1000)
	}
}

func TestCoverInvariants(t *testing.T) {
	g := NewGrid(1000)
	fresh := NewGrid(1000)
	for _, p := range gridTestPlaces(g.Resolution) {
		t.Run(p.name, func(t *testing.T) {
			cell := g.Cell(p.lat, p.lng)
			cover := g.Cover(cell)
			if !slices.Contains(cover, cell) {
				t.Fatalf("cover of %v lacks the cell itself", cell)
			}
			if cover[0] != cell {
				t.Errorf("cover starts with %v, want the cell itself (nearest first)", cover[0])
			}
			seen := map[h3.Cell]bool{}
			origin := g.geom(cell)
			prev := -1.0
			for _, c := range cover {
				if !c.IsValid() || c.Resolution() != g.Resolution {
					t.Errorf("invalid cell %v in cover", c)
				}
				if seen[c] {
					t.Errorf("duplicate cell %v", c)
				}
				seen[c] = true
				a := geoAngle(origin.v, g.geom(c).v)
				if a < prev {
					t.Errorf("cover not sorted by centre distance at %v", c)
				}
				prev = a
			}
			if again := g.Cover(cell); &again[0] != &cover[0] {
				t.Errorf("second Cover not served from the cache")
			}
			if other := fresh.Cover(cell); !slices.Equal(other, cover) {
				t.Errorf("Cover not deterministic:\n%v\n%v", cover, other)
			}
			// A pentagon's disk has fewer cells; a cover of 1 km still spans
			// dozens of res-9 cells everywhere.
			if len(cover) < 20 || len(cover) > 200 {
				t.Errorf("cover has %d cells", len(cover))
			}
		})
	}
	if c := g.Cover(0); c != nil {
		t.Errorf("Cover(0) = %v, want nil", c)
	}
	if c := g.Cover(h3.LatLngToCell(h3.LatLng{Lat: 1, Lng: 1}, 5)); c != nil {
		t.Errorf("Cover of a res-5 cell = %v, want nil", c)
	}
	if c := g.Cell(math.NaN(), 0); c != 0 && c.IsValid() {
		t.Errorf("Cell(NaN) = %v, want an invalid cell", c)
	}
}

// TestCoverGrowsK starts Cover with K = 1: it must notice the outermost ring
// still has cells inside the bound and grow until the cover is complete.
func TestCoverGrowsK(t *testing.T) {
	want := NewGrid(1000)
	for _, p := range gridTestPlaces(want.Resolution) {
		g := NewGrid(1000)
		g.K = 1
		cell := g.Cell(p.lat, p.lng)
		if got, w := g.Cover(cell), want.Cover(cell); !slices.Equal(got, w) {
			t.Errorf("%s: K=1 cover has %d cells, default has %d", p.name, len(got), len(w))
		}
	}
}

// TestCoverNeverNeedsToGrow checks K is not merely corrected by the growth
// loop but right: no cell's survivors reach the outermost ring of K.
func TestCoverNeverNeedsToGrow(t *testing.T) {
	g := NewGrid(1000)
	rng := rand.New(rand.NewPCG(9, 10))
	check := func(cell h3.Cell) {
		origin := g.geom(cell)
		rings := h3.GridDiskDistances(cell, g.K)
		for _, c := range rings[g.K] {
			if c == 0 {
				continue
			}
			gm := g.geom(c)
			if geoAngle(origin.v, gm.v) <= g.angle+origin.r+gm.r {
				t.Errorf("cell %v: ring %d cell %v survives pruning; K too small", cell, g.K, c)
				return
			}
		}
	}
	for _, p := range gridTestPlaces(g.Resolution) {
		check(g.Cell(p.lat, p.lng))
	}
	for _, p := range h3.Pentagons(g.Resolution) {
		for _, c := range h3.GridDisk(p, 3) {
			check(c)
		}
	}
	for range 300 {
		check(g.Cell(math.Asin(rng.Float64()*2-1)/geoRad, rng.Float64()*360-180))
	}
}

// gridTestCellPoint returns a random point near cell c's centre that H3
// assigns to c.
func gridTestCellPoint(rng *rand.Rand, g *Grid, c h3.Cell) (float64, float64) {
	ctr := c.LatLng()
	r := g.geom(c).r * EarthRadiusM
	for {
		lat, lng := geoTestDest(ctr.Lat, ctr.Lng, rng.Float64()*360, math.Sqrt(rng.Float64())*r)
		if g.Cell(lat, lng) == c {
			return lat, lng
		}
	}
}

// TestCellWithinCircumradius checks the premises of Cover's bounds: no point
// H3 assigns to a cell is farther from the cell's centre than its farthest
// vertex, nor outside the cell's polygon. Sampled globally, around the pentagons and along the icosahedron's
// edges, where class III cells are split between two faces.
func TestCellWithinCircumradius(t *testing.T) {
	g := NewGrid(1000)
	rng := rand.New(rand.NewPCG(11, 12))
	worst := 0.0   // largest distance / raw circumradius seen
	outside := 0.0 // farthest outside its polygon, metres
	check := func(lat, lng float64) {
		c := g.Cell(lat, lng)
		ctr := c.LatLng()
		cv := geoUnit(ctr.Lat, ctr.Lng)
		raw := 0.0
		for _, b := range c.Boundary() {
			raw = max(raw, geoAngle(cv, geoUnit(b.Lat, b.Lng)))
		}
		p := geoUnit(lat, lng)
		a := geoAngle(cv, p)
		worst = max(worst, a/raw)
		if a > g.geom(c).r {
			t.Fatalf("(%v, %v) in %v is %.3f m from the centre, circumradius %.3f m", lat, lng, c, a*EarthRadiusM, g.geom(c).r*EarthRadiusM)
		}
		// The exact cover test assumes the point is inside its polygon (or
		// a hair off its boundary).
		if poly := g.geom(c).poly; !gridTestInPolygon(p, cv, poly) {
			d := gridArcsDistance(p, poly) * EarthRadiusM
			outside = max(outside, d)
			if d > 0.01 {
				t.Fatalf("(%v, %v) in %v is %.6f m outside its polygon", lat, lng, c, d)
			}
		}
	}
	for range 20000 {
		check(math.Asin(rng.Float64()*2-1)/geoRad, rng.Float64()*360-180)
	}
	pents := h3.Pentagons(0)
	for _, p := range pents {
		ll := p.LatLng()
		for range 1000 {
			check(geoTestDest(ll.Lat, ll.Lng, rng.Float64()*360, rng.Float64()*3000))
		}
	}
	// Icosahedron edges join neighbouring res-0 pentagon centres (63.4° apart).
	for i, a := range pents {
		for _, b := range pents[i+1:] {
			la, lb := a.LatLng(), b.LatLng()
			if math.Abs(Distance(la.Lat, la.Lng, lb.Lat, lb.Lng)/EarthRadiusM-63.435*geoRad) > 0.01 {
				continue
			}
			brg, length := Bearing(la.Lat, la.Lng, lb.Lat, lb.Lng), Distance(la.Lat, la.Lng, lb.Lat, lb.Lng)
			for range 300 {
				lat, lng := geoTestDest(la.Lat, la.Lng, brg, rng.Float64()*length)
				check(geoTestDest(lat, lng, rng.Float64()*360, rng.Float64()*400))
			}
		}
	}
	t.Logf("farthest sampled point / farthest vertex = %.9f; farthest outside its polygon %.3g m", worst, outside)
}

// gridTestInPolygon reports whether p is inside the polygon, by the even-odd
// rule in the gnomonic projection around centre c, where great-circle edges
// are straight lines. H3 polygons are not always convex: a class III cell
// crossing an icosahedron edge gets an extra vertex there, which can be
// reflex, so a per-edge side test would be wrong.
func gridTestInPolygon(p, c geoVec, poly []geoVec) bool {
	// Tangent-plane basis at c.
	e1 := geoCross(geoVec{0, 0, 1}, c)
	if geoDot(e1, e1) < 1e-20 {
		e1 = geoVec{1, 0, 0}
	}
	n1 := math.Sqrt(geoDot(e1, e1))
	e1 = geoVec{e1.x / n1, e1.y / n1, e1.z / n1}
	e2 := geoCross(c, e1)
	proj := func(v geoVec) (float64, float64) {
		k := geoDot(v, c)
		return geoDot(v, e1) / k, geoDot(v, e2) / k
	}
	px, py := proj(p)
	in := false
	for i := range poly {
		ax, ay := proj(poly[i])
		bx, by := proj(poly[(i+1)%len(poly)])
		if (ay > py) != (by > py) && px < ax+(py-ay)*(bx-ax)/(by-ay) {
			in = !in
		}
	}
	return in
}

// TestCoverContainsDisc checks Cover's guarantee directly: points within the
// radius of viewers anywhere in a cell, including at exactly the radius,
// fall in the viewer cell's cover.
func TestCoverContainsDisc(t *testing.T) {
	g := NewGrid(1000)
	rng := rand.New(rand.NewPCG(13, 14))
	var centres []gridTestPlace
	centres = append(centres, gridTestPlaces(g.Resolution)...)
	for range 100 {
		centres = append(centres, gridTestPlace{"random", math.Asin(rng.Float64()*2-1) / geoRad, rng.Float64()*360 - 180})
	}
	for _, p := range centres {
		base := g.Cell(p.lat, p.lng)
		for _, cell := range h3.GridDisk(base, 1) {
			cover := map[h3.Cell]bool{}
			for _, c := range g.Cover(cell) {
				cover[c] = true
			}
			for range 3 {
				vlat, vlng := gridTestCellPoint(rng, g, cell)
				for i := range 48 {
					d := g.RadiusM
					if i%2 == 1 {
						d *= math.Sqrt(rng.Float64())
					}
					lat, lng := geoTestDest(vlat, vlng, float64(i)*7.5+rng.Float64()*7.5, d)
					if c := g.Cell(lat, lng); !cover[c] {
						t.Fatalf("%s: viewer (%v,%v) in %v: point (%v,%v) at %.1f m is in %v, not in the cover", p.name, vlat, vlng, cell, lat, lng, d, c)
					}
				}
			}
		}
	}
}

func TestCoverConcurrent(t *testing.T) {
	g := NewGrid(1000)
	ref := NewGrid(1000)
	cells := h3.GridDisk(g.Cell(6.5244, 3.3792), 6)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 3 * len(cells) {
				c := cells[(i*7+w*13)%len(cells)]
				if got := g.Cover(c); !slices.Equal(got, ref.Cover(c)) {
					t.Errorf("concurrent Cover(%v) differs", c)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestGridCacheBounded(t *testing.T) {
	var c gridCache[int]
	c.init(4)
	count := func() int {
		n := 0
		g := c.gen.Load()
		for _, m := range []*sync.Map{g.cur, g.old} {
			m.Range(func(any, any) bool { n++; return true })
		}
		return n
	}
	for i := range 100 {
		c.put(h3.Cell(i+1), i)
		if _, ok := c.get(h3.Cell(i + 1)); !ok {
			t.Fatalf("entry %d missing right after put", i)
		}
		// A hot entry keeps being promoted and survives every rotation.
		if v, ok := c.get(1); !ok || v != 0 {
			t.Fatalf("hot entry evicted after %d puts", i)
		}
		if n := count(); n > 2*4+1 {
			t.Fatalf("cache holds %d entries, bound 8 (+1 promoted)", n)
		}
	}
	if _, ok := c.get(50); ok {
		t.Errorf("cold entry 50 not evicted")
	}
}

// TestPolygonDistance checks the exact cover test against brute force:
// the distance between two cells' polygons, sampled densely along both
// boundaries.
func TestPolygonDistance(t *testing.T) {
	g := NewGrid(1000)
	rng := rand.New(rand.NewPCG(15, 16))
	sample := func(poly []geoVec) []geoVec {
		var out []geoVec
		for i, a := range poly {
			b := poly[(i+1)%len(poly)]
			for k := range 50 {
				f := float64(k) / 50
				v := geoVec{a.x + f*(b.x-a.x), a.y + f*(b.y-a.y), a.z + f*(b.z-a.z)}
				n := math.Sqrt(geoDot(v, v))
				out = append(out, geoVec{v.x / n, v.y / n, v.z / n})
			}
		}
		return out
	}
	for _, p := range gridTestPlaces(g.Resolution)[:12] {
		cell := g.Cell(p.lat, p.lng)
		disk := h3.GridDisk(cell, 8)
		for range 4 {
			other := disk[rng.IntN(len(disk))]
			pp, qp := g.geom(cell).poly, g.geom(other).poly
			got := gridPolygonDistance(pp, qp)
			want := math.Inf(1)
			for _, a := range sample(pp) {
				for _, b := range sample(qp) {
					want = min(want, geoAngle(a, b))
				}
			}
			// Sampling overestimates by at most about a sample step (≤ 4 m).
			if got > want+1e-12 || want-got > 4/EarthRadiusM {
				t.Errorf("%s: %v to %v: polygon distance %.3f m, sampled %.3f m", p.name, cell, other, got*EarthRadiusM, want*EarthRadiusM)
			}
			if got < 1e-9 { // touching: shared vertices differ in the last bits
				continue
			}
			for _, angle := range []float64{got * 0.999, got * 1.001} {
				if within := gridPolygonsWithin(pp, qp, angle); within != (got <= angle) {
					t.Errorf("gridPolygonsWithin(%.3f m) = %v, distance %.3f m", angle*EarthRadiusM, within, got*EarthRadiusM)
				}
			}
		}
	}
}
