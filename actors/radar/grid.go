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
	gridCoverCacheSize     = 1 << 15 // cells per cover-cache generation (two generations kept)
	gridGeomCacheSize      = 1 << 17 // cells per geometry-cache generation
)

// gridSlack widens every circumradius: 0.1% plus half a metre. The bound is a
// triangle inequality that is exact on the sphere, so the slack only absorbs
// floating point and the lat/lng round trip of H3's vertices; it costs well
// under one extra cell per cover.
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
// radius that is not positive or exceeds 100 km: that is a
// configuration bug, not a runtime condition.
//
// # Resolution
//
// A query reads every snapshot of its cover and tests every point in them,
// so its cost is about cells × 50 ns + candidates × 5 ns. Fine cells hug the
// circle (few wasted candidates) but there are many of them; coarse cells are
// few but drag in points far outside the radius. For each resolution NewGrid
// estimates the cover as the cells whose centre lies within R + 2·e of the
// viewer's cell centre (e = H3's average edge length, which is also a
// hexagon's circumradius: exactly the pruning bound Cover applies), i.e.
// cells = π(R+2e)²/A and candidates = ρ·π(R+2e)² with A the average cell area
// and ρ = 250 users/km², and takes the cheapest. Measured for R = 1 km around
// Lagos (mean over 2,000 random viewer cells, ρ = 250/km²):
//
//	res  edge    cells  candidates  estimated cost
//	 7   1221 m    7.0     8,950      45.1 µs
//	 8    461 m   16.9     3,070      16.2 µs
//	 9    174 m   51.4     1,390       9.5 µs   ← chosen
//	10     66 m  264       1,000      18.2 µs
//
// (model: 7 → 8.3 cells, 8 → 17, 9 → 55, 10 → 280; same ranking). At res 9
// about 57% of the candidates are within the radius; res 10 would raise that
// to 79% but reads five times the cells.
//
// # K
//
// Ring k of a hexagonal grid with edge e starts 1.5·k·e from the centre, and
// Cover keeps a cell only if its centre is within R + r₀ + r of the viewer
// cell's centre (circumradii r ≈ e). So k must exceed (R + 2·e)/(1.5·e) for
// the smallest cells of the resolution, which sit near the 12 pentagons.
// NewGrid measures the shortest edge around the pentagons (H3 hexagons vary
// about 2:1 in area, so the shortest edge is ≈ 0.81 × the average: 141 m at
// res 9) and uses 90% of it, and a circumradius of 1.25 × the average edge:
// K = 8 at res 9 for 1 km. K is only the starting point: Cover grows it when
// the outermost ring still had a cell inside the bound, so a wrong estimate
// costs time, never coverage.
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
// threshold tightens early. The result is shared and cached: do not modify
// it. An invalid cell or one of another resolution gives nil.
//
// Correctness: a point p within R of a viewer v in cell C, and p in cell D,
// satisfies |c_C − c_D| ≤ |c_C − v| + |v − p| + |p − c_D| ≤ r_C + R + r_D on
// the sphere (c = centre, r = circumradius, the largest centre-to-vertex
// distance: cell edges are great-circle arcs in H3's gnomonic faces, so no
// point of a cell is farther than its farthest vertex). Cover keeps exactly
// the cells of GridDisk(C, K) passing that bound. The great-circle path from
// v to p crosses a chain of neighbouring cells that all contain a point
// within R of v, hence all pass the bound, and grid distance changes by at
// most one per step; so if D were beyond ring K, some cell of ring K would
// pass the bound. Cover therefore checks ring K and, if anything in it
// survives, doubles K and starts over: coverage is never truncated, near
// pentagons or anywhere else.
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
	var originPoly []geoVec // computed on first need
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
				if a > g.angle {
					if originPoly == nil {
						originPoly = gridPolygon(cell)
					}
					if gridPolygonDistance(originPoly, gridPolygon(c)) > exact {
						continue
					}
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

// gridPolygon returns a cell's boundary as unit vectors, counter-clockwise,
// including the extra vertices H3 adds where a class III cell crosses an
// icosahedron edge.
func gridPolygon(c h3.Cell) []geoVec {
	b := h3.CellToBoundary(c)
	out := make([]geoVec, len(b))
	for i, p := range b {
		out[i] = geoUnit(p.Lat, p.Lng)
	}
	return out
}

// gridPolygonDistance is the central angle between two cells' polygons
// (0 when they touch). Two cells never overlap, and the distance between
// two non-crossing segments is always reached at an endpoint of one of
// them, so the minimum over every vertex of each against every edge of the
// other is exact.
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

// gridGeom is what the cover bound needs of a cell: its centre and its
// circumradius, both on the unit sphere.
type gridGeom struct {
	v geoVec
	r float64
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
	r := 0.0
	for _, p := range h3.CellToBoundary(c) {
		r = max(r, geoAngle(v, geoUnit(p.Lat, p.Lng)))
	}
	return gridGeom{v: v, r: r*(1+gridSlackRel) + gridSlackM/EarthRadiusM}
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
