package radar

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/uber/h3-go/v4"
)

// Cost model used by NewGrid to choose a resolution (see NewGrid).
const (
	gridCostPerCellNs      = 50.0    // directory lookup + loop setup per cell read
	gridCostPerCandidateNs = 5.0     // one chord test per point in a read cell
	gridCityDensityPerM2   = 250e-6  // 250 users/km², a busy city
	gridMaxRadiusM         = 100e3   // a radar, not a map: larger disks are thousands of cells
	gridCoverCacheSize     = 1 << 14 // cells per cover-cache generation (two kept; ~600 B per cell)
	gridGeomCacheSize      = 1 << 15 // cells per geometry-cache generation (two kept; ~350 B per cell)
)

// gridSlack widens Cover's bounds (each circumradius, and the radius in the
// polygon test) by 0.1% plus half a metre. The bounds are exact on the
// sphere, so the slack only absorbs floating point and the lat/lng round
// trip of H3's vertices; it costs well under one extra cell per cover.
const (
	gridSlackRel = 1e-3
	gridSlackM   = 0.5
)

// Grid maps positions to H3 cells at one resolution and tells a viewer which
// cells to read for a radius. It is safe for concurrent use; create it with
// NewGrid.
type Grid struct {
	Resolution int     // H3 resolution of the cells
	K          int     // starting grid-disk radius of Cover, enough for the smallest cells
	RadiusM    float64 // radius Cover guarantees

	angle  float64 // RadiusM on the unit sphere
	covers gridCache[[]h3.Cell]
	geoms  gridCache[gridGeom]
}

// NewGrid returns the grid for a radar radius in metres. It panics on a
// radius that is not positive or exceeds 100 km: that is a configuration
// bug, not a runtime condition.
//
// # Resolution
//
// A query reads every snapshot of its cover and tests every point in them,
// so its cost is about cells × 50 ns + candidates × 5 ns. Fine cells hug the
// circle (few wasted candidates) but there are many of them; coarse cells
// are few but drag in points far outside the radius. For each resolution
// NewGrid estimates the cover as the cells whose centre lies within R + 2e
// of the viewer's cell centre (e = H3's average edge length, which is also
// a hexagon's circumradius, so this is Cover's coarse bound), i.e. cells =
// π(R+2e)²/A and candidates = ρ·π(R+2e)² with A the average cell area and
// ρ = 250 users/km² (a busy city), and takes the cheapest. For R = 1 km:
//
//	        model                         measured around Lagos
//	res  edge    cells  candidates  cost    cells  candidates  cost     in radius
//	 7   1221 m    7.2     9,300   46.9 µs    7.0     7,390   37.3 µs    11%
//	 8    461 m   15.8     2,900   15.3 µs   19.0     2,860   15.3 µs    27%
//	 9    174 m   54.3     1,430    9.9 µs   67.0     1,440   10.6 µs    54%  ← chosen
//	10     66 m  267       1,010   18.4 µs    333      1,020   21.8 µs    77%
//
// (measured: the mean cover of 200 random viewers in the 20 km box around
// Lagos, whose cells are smaller than H3's average; candidates = cover area
// × ρ). The whole query agrees: BenchmarkQuery100k's Query alone takes
// ≈ 25 µs at res 8, 21 µs at res 9 and 26 µs at res 10 (2-vCPU EPYC VM).
// Res 10 would make 77% of the candidates count, but reads five times the
// cells, and per cell a query pays for at least two cache misses.
//
// # K
//
// Ring k of a hexagonal grid with edge e starts 1.5·k·e from the centre,
// and Cover keeps a cell only if its centre is within R + r₀ + r of the
// viewer cell's centre (circumradii r ≈ e), so k must exceed
// (R + r₀ + r)/(1.5·e) for the smallest cells of the resolution, which sit
// around the 12 pentagons. NewGrid measures the shortest edge there (H3
// hexagons vary about 2:1 in area; the shortest edge is ≈ 0.81 × the
// average: 141 m at res 9), takes 90% of it as e and 1.25 × the average
// edge as the circumradii, and adds one ring: K = 9 at res 9 for 1 km (331
// cells to prune, of which 67 remain). K is only the starting point: Cover
// doubles it whenever the outermost ring still had a cell inside the bound,
// so a wrong estimate costs time, never coverage.
func NewGrid(radiusM float64) *Grid {
	if !(radiusM > 0) || radiusM > gridMaxRadiusM {
		panic(fmt.Sprintf("radar: NewGrid radius %v m out of range (0, %v]", radiusM, gridMaxRadiusM))
	}
	return gridNewAt(radiusM, gridChooseResolution(radiusM, gridCityDensityPerM2))
}

// gridNewAt returns the grid for a radius at a given resolution.
func gridNewAt(radiusM float64, res int) *Grid {
	eMin := gridMinEdgeM(res) * 0.9
	rMax := 1.25 * h3.HexagonEdgeLengthAvgM(res)
	k := int(math.Ceil((radiusM+2*rMax)/(1.5*eMin))) + 1
	g := &Grid{Resolution: res, K: k, RadiusM: radiusM, angle: radiusM / EarthRadiusM}
	g.covers.init(gridCoverCacheSize)
	g.geoms.init(gridGeomCacheSize)
	return g
}

// gridCostNs is the model cost of one query at a resolution (see NewGrid).
func gridCostNs(res int, radiusM, density float64) (cells, candidates, ns float64) {
	e := h3.HexagonEdgeLengthAvgM(res)
	a := h3.HexagonAreaAvgM2(res)
	reach := radiusM + 2*e
	disk := math.Pi * reach * reach
	cells = disk / a
	candidates = disk * density
	return cells, candidates, cells*gridCostPerCellNs + candidates*gridCostPerCandidateNs
}

// gridChooseResolution returns the resolution of least model cost. Only
// resolutions whose cells are smaller than the radius are considered finer
// than needed; coarser ones are allowed, the model penalises them itself.
func gridChooseResolution(radiusM, density float64) int {
	best, bestNs := 0, math.Inf(1)
	for res := 0; res <= h3.MaxResolution; res++ {
		if _, _, ns := gridCostNs(res, radiusM, density); ns < bestNs {
			best, bestNs = res, ns
		}
	}
	return best
}

// gridMinEdgeM returns the shortest edge, in metres, among the cells within
// two steps of the 12 pentagons of a resolution: H3's smallest cells are
// there, where the icosahedron's vertices distort the grid the most.
func gridMinEdgeM(res int) float64 {
	m := math.Inf(1)
	for _, p := range h3.Pentagons(res) {
		for _, c := range h3.GridDisk(p, 2) {
			for _, e := range c.DirectedEdges() {
				if l := h3.EdgeLengthM(e); l > 0 && l < m {
					m = l
				}
			}
		}
	}
	if math.IsInf(m, 1) {
		return h3.HexagonEdgeLengthAvgM(res) / 2
	}
	return m
}

// Cell returns the cell of a position at the grid's resolution (0 for an
// invalid position such as NaN).
func (g *Grid) Cell(lat, lng float64) h3.Cell {
	return h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, g.Resolution)
}

// Cover returns the cells a viewer located anywhere inside cell must read so
// that every point within RadiusM of the viewer lies in one of them, nearest
// cells first (by centre distance, then by index), so a query's nearest-k
// bound tightens early. The result is cached (bounded, safe for concurrent
// use) and shared: do not modify it. An invalid cell or one of another
// resolution gives nil.
//
// Correctness. A cell D is needed iff some point of D is within R of some
// point of the viewer's cell C. Two tests, all on the sphere:
//
//   - Coarse: if p ∈ D is within R of v ∈ C, the triangle inequality gives
//     |c_C − c_D| ≤ |c_C − v| + |v − p| + |p − c_D| ≤ r_C + R + r_D
//     (c = centre, r = circumradius = farthest vertex: a cell lies inside
//     the hull of its vertices, where distance from the centre peaks at a
//     vertex). Cells failing it are dropped.
//   - Exact: of the survivors, a cell whose centre is farther than R from
//     C's centre is kept only if its polygon is within R of C's polygon
//     (vertex-to-arc distances, both ways). H3 cell edges are great-circle
//     arcs (gnomonic faces), so the polygon is the cell; this saves ~6% of
//     the cells.
//
// Both tests allow 0.1% + 0.5 m of slack for rounding. Cover examines
// GridDisk(C, K). The great-circle path from v to p crosses a chain of
// neighbouring cells that all contain a point within R of v, so all pass
// the coarse test, and grid distance changes by at most one per step: if D
// were beyond ring K, some cell of ring K would pass the coarse test. Cover
// therefore checks ring K and, if anything in it passes, doubles K and
// starts over. Coverage is never truncated, near pentagons or anywhere else.
func (g *Grid) Cover(cell h3.Cell) []h3.Cell {
	if c, ok := g.covers.get(cell); ok {
		return c
	}
	if cell == 0 || !cell.IsValid() || cell.Resolution() != g.Resolution {
		return nil
	}
	c := g.computeCover(cell)
	g.covers.put(cell, c)
	return c
}

func (g *Grid) computeCover(cell h3.Cell) []h3.Cell {
	type ranked struct {
		c     h3.Cell
		angle float64
	}
	origin := g.geom(cell)
	exact := g.angle*(1+gridSlackRel) + gridSlackM/EarthRadiusM
	for k := max(g.K, 1); ; k *= 2 {
		var keep []ranked
		outer := false
		for d, ring := range h3.GridDiskDistances(cell, k) {
			for _, c := range ring {
				if c == 0 { // h3-go leaves holes where a disk crosses a pentagon
					continue
				}
				gm := g.geom(c)
				a := geoAngle(origin.v, gm.v)
				if a > g.angle+origin.r+gm.r {
					continue
				}
				// Inside the coarse bound. That is what the growth check
				// needs; the cover itself keeps only cells really within
				// reach: centre within the radius of the viewer cell's
				// centre, or polygon within the radius of its polygon.
				outer = outer || d == k
				if a > g.angle && !gridPolygonsWithin(origin.poly, gm.poly, exact) {
					continue
				}
				keep = append(keep, ranked{c, a})
			}
		}
		if outer && len(keep) < h3.NumCells(g.Resolution) {
			continue
		}
		slices.SortFunc(keep, func(a, b ranked) int {
			if c := cmp.Compare(a.angle, b.angle); c != 0 {
				return c
			}
			return cmp.Compare(a.c, b.c)
		})
		out := make([]h3.Cell, 0, len(keep))
		for _, r := range keep {
			out = append(out, r.c)
		}
		return gridCompact(out)
	}
}

// gridPolygonsWithin reports whether two cells' polygons come within angle
// of each other. Any pair of vertices that close settles it cheaply (chords,
// no trigonometry); otherwise the exact vertex-to-arc distance decides.
func gridPolygonsWithin(p, q []geoVec, angle float64) bool {
	c2 := geoChord2ForAngle(angle)
	for _, a := range p {
		for _, b := range q {
			if geoChord2(a, b) <= c2 {
				return true
			}
		}
	}
	return gridPolygonDistance(p, q) <= angle
}

// gridPolygonDistance is the central angle between two cells' polygons
// (0 when they touch). Two cells never overlap, and the distance between
// two non-crossing segments is always reached at an endpoint of one of
// them, so the minimum over every vertex of each against every edge of the
// other is exact, convex polygons or not (H3's are not always: see
// gridGeom).
func gridPolygonDistance(p, q []geoVec) float64 {
	d := math.Inf(1)
	for _, v := range p {
		d = min(d, gridArcsDistance(v, q))
	}
	for _, v := range q {
		d = min(d, gridArcsDistance(v, p))
	}
	return d
}

// gridArcsDistance is the angle from p to the closed polygon ring.
func gridArcsDistance(p geoVec, ring []geoVec) float64 {
	d := math.Inf(1)
	for i, a := range ring {
		d = min(d, gridArcDistance(p, a, ring[(i+1)%len(ring)]))
	}
	return d
}

// gridArcDistance is the angle from p to the minor great-circle arc a–b.
// If the foot of the perpendicular from p to the great circle falls on the
// arc, it is the angle to the circle's plane; otherwise the nearer end.
func gridArcDistance(p, a, b geoVec) float64 {
	n := geoCross(a, b)
	nn := math.Sqrt(geoDot(n, n))
	if nn == 0 { // degenerate arc
		return geoAngle(p, a)
	}
	n = geoVec{n.x / nn, n.y / nn, n.z / nn}
	// The foot lies between a and b iff it is on b's side of the plane
	// through a and n, and on a's side of the plane through b and n.
	if geoDot(geoCross(a, p), n) >= 0 && geoDot(geoCross(p, b), n) >= 0 {
		return math.Asin(min(1, math.Abs(geoDot(p, n))))
	}
	return min(geoAngle(p, a), geoAngle(p, b))
}

// gridCompact removes duplicate cells while keeping the first occurrence's
// position. H3's disk never repeats a cell, so this is a guard, not a path.
func gridCompact(cells []h3.Cell) []h3.Cell {
	seen := make(map[h3.Cell]struct{}, len(cells))
	out := cells[:0]
	for _, c := range cells {
		if _, dup := seen[c]; dup {
			continue
		}
		seen[c] = struct{}{}
		out = append(out, c)
	}
	return slices.Clip(out)
}

// gridGeom is what Cover needs of a cell: its centre, its circumradius and
// its polygon, on the unit sphere. The polygon is H3's boundary, counter-
// clockwise, including the extra vertex H3 adds where a class III cell
// crosses an icosahedron edge; that vertex can be reflex, so the polygon is
// not always convex.
type gridGeom struct {
	v    geoVec
	r    float64
	poly []geoVec
}

func (g *Grid) geom(c h3.Cell) gridGeom {
	if gm, ok := g.geoms.get(c); ok {
		return gm
	}
	gm := gridComputeGeom(c)
	g.geoms.put(c, gm)
	return gm
}

func gridComputeGeom(c h3.Cell) gridGeom {
	ll := h3.CellToLatLng(c)
	v := geoUnit(ll.Lat, ll.Lng)
	b := h3.CellToBoundary(c)
	poly := make([]geoVec, len(b))
	r := 0.0
	for i, p := range b {
		poly[i] = geoUnit(p.Lat, p.Lng)
		r = max(r, geoAngle(v, poly[i]))
	}
	return gridGeom{v: v, r: r*(1+gridSlackRel) + gridSlackM/EarthRadiusM, poly: poly}
}

// gridCache is a bounded concurrent map from cell to V. Reads are lock-free
// (sync.Map); it keeps two generations and drops the older one when the
// current fills, so it holds at most 2×size entries and anything used
// within the last generation survives (an approximate LRU with no per-read
// bookkeeping).
type gridCache[V any] struct {
	size int64
	mu   sync.Mutex // serialises rotations only
	gen  atomic.Pointer[gridCacheGen]
}

type gridCacheGen struct {
	cur, old *sync.Map
	n        atomic.Int64
}

func (c *gridCache[V]) init(size int64) {
	c.size = size
	c.gen.Store(&gridCacheGen{cur: new(sync.Map), old: new(sync.Map)})
}

func (c *gridCache[V]) get(k h3.Cell) (V, bool) {
	g := c.gen.Load()
	if v, ok := g.cur.Load(k); ok {
		return v.(V), true
	}
	if v, ok := g.old.Load(k); ok {
		c.put(k, v.(V)) // still in use: promote it so the next rotation keeps it
		return v.(V), true
	}
	var zero V
	return zero, false
}

func (c *gridCache[V]) put(k h3.Cell, v V) {
	g := c.gen.Load()
	if _, loaded := g.cur.LoadOrStore(k, v); loaded {
		return
	}
	if g.n.Add(1) < c.size {
		return
	}
	c.mu.Lock()
	if c.gen.Load() == g {
		c.gen.Store(&gridCacheGen{cur: new(sync.Map), old: g.cur})
	}
	c.mu.Unlock()
}
