package radar

import (
	"hash/maphash"
	"sync"
	"time"
)

// Entry is one user's published radar position. It is immutable once
// published: snapshots and query results share it between goroutines. Build
// it with NewEntry, which fills the derived fields the query needs.
type Entry struct {
	// Derived by NewEntry, first so that the fields a query touches for every
	// candidate share a cache line.
	v    geoVec // unit vector of Lat, Lng
	hash uint64 // hash of UserID, never 0

	UserID                         string
	Lat, Lng                       float64
	AccuracyMeters, Heading, Speed *float64
	UpdatedAt                      time.Time
	UserJSON                       []byte   // pre-encoded User model of this user (opaque here)
	Interests                      []string // Interests(vibe): sorted, may be nil
}

// NewEntry copies e and computes its derived fields.
func NewEntry(e Entry) *Entry {
	c := e
	c.v = geoUnit(c.Lat, c.Lng)
	c.hash = queryHashID(c.UserID)
	return &c
}

// vec and id return the derived fields, computing them for an Entry built
// without NewEntry (a zero vector is never a unit vector, a zero hash never
// produced), so such entries are slower but still correct.
func (e *Entry) vec() geoVec {
	if e.v == (geoVec{}) {
		return geoUnit(e.Lat, e.Lng)
	}
	return e.v
}

func (e *Entry) id() uint64 {
	if e.hash == 0 {
		return queryHashID(e.UserID)
	}
	return e.hash
}

var queryHashSeed = maphash.MakeSeed()

func queryHashID(id string) uint64 {
	if h := maphash.String(queryHashSeed, id); h != 0 {
		return h
	}
	return 1
}

// Snapshot is the immutable content of one cell: share it, never modify it.
type Snapshot struct {
	Entries []*Entry
}

// Hit is one result of Query: an entry, its great-circle distance from the
// viewer in metres and the initial bearing from the viewer to it in degrees
// [0, 360), clockwise from north.
type Hit struct {
	Entry    *Entry
	Distance float64
	Bearing  float64
}

// Query returns the entries within radiusM of the viewer, nearest first
// (ties broken by UserID), at most limit of them, skipping entries for which
// keep returns false (keep may be nil; it is called only for entries close
// enough to make the result, so it may be moderately expensive). cells are
// the snapshots of the viewer's Grid.Cover, in any order; nil snapshots and
// nil entries are ignored. The result is nil when nothing is in range.
//
// The same UserID may appear in two snapshots while it moves between cells.
// Only its entry with the latest UpdatedAt counts (on a tie, the one seen
// last in cells order), wherever that entry is, so a move is atomic to
// readers: a viewer sees the user at the old or the new position, never both
// and never neither.
//
// How it stays fast (about 1,400 candidates and 50 cells for 1 km at
// 250 users/km²): the viewer becomes a unit vector once, and each candidate
// costs a squared chord (three subtractions, three multiply-adds, exact for
// nearby points, no trigonometry) compared with a threshold that starts at
// the radius and shrinks to the current limit-th best once the bounded
// max-heap is full, so most candidates are rejected by one comparison.
// Distance and bearing are computed for the returned hits only. Duplicate
// users are rare, so they are not searched for in the hot loop: afterwards
// one pass over the candidates' precomputed ID hashes, probed into a small
// table of the selected hits' hashes, proves the selection has none; only if
// it finds one does Query fall back to a map of the newest entry per user and
// select again. Scratch space comes from a sync.Pool; the only allocation is
// the result.
func Query(lat, lng, radiusM float64, limit int, cells []*Snapshot, keep func(*Entry) bool) []Hit {
	if limit <= 0 || !(radiusM >= 0) {
		return nil
	}
	f := geoNewFrame(lat, lng)
	s := queryPool.Get().(*queryScratch)
	s.reset(limit, geoChord2ForAngle(radiusM/EarthRadiusM))

	for _, snap := range cells {
		if snap == nil {
			continue
		}
		for _, e := range snap.Entries {
			if e == nil {
				continue
			}
			// Written out rather than calling e.vec() and geoChord2 so the
			// common path stays in registers; !(d2 <= bound) also drops NaN.
			v := e.v
			if v == (geoVec{}) {
				v = geoUnit(e.Lat, e.Lng)
			}
			dx, dy, dz := v.x-f.u.x, v.y-f.u.y, v.z-f.u.z
			d2 := dx*dx + dy*dy + dz*dz
			if !(d2 <= s.bound) {
				continue
			}
			s.offer(d2, e, keep)
		}
	}
	if s.duplicated(cells) {
		s.selectDeduplicated(&f, cells, keep)
	}
	hits := s.hits(&f)
	s.release()
	return hits
}

// queryItem is a candidate in the selection heap.
type queryItem struct {
	d2 float64 // squared chord to the viewer
	e  *Entry
}

// queryBefore orders results: nearer first, then by UserID.
func queryBefore(a, b queryItem) bool {
	return a.d2 < b.d2 || (a.d2 == b.d2 && a.e.UserID < b.e.UserID)
}

// querySlot is one slot of the duplicate-detection hash table.
type querySlot struct {
	hash uint64
	n    uint32
}

type queryScratch struct {
	heap  []queryItem // max-heap by queryBefore: heap[0] is the worst kept
	limit int
	max2  float64 // squared chord of the radius
	bound float64 // admit d2 <= bound: max2, or heap[0].d2 once full
	table []querySlot
}

var queryPool = sync.Pool{New: func() any { return new(queryScratch) }}

// queryPoolMaxItems bounds what a scratch may keep when pooled, so one query
// with a huge limit does not pin memory forever.
const queryPoolMaxItems = 4096

func (s *queryScratch) reset(limit int, max2 float64) {
	s.heap = s.heap[:0]
	s.limit = limit
	s.max2 = max2
	s.bound = max2
}

func (s *queryScratch) release() {
	clear(s.heap) // drop entry pointers so pooled scratch does not keep them alive
	s.heap = s.heap[:0]
	if cap(s.heap) > queryPoolMaxItems || cap(s.table) > 4*queryPoolMaxItems {
		return
	}
	queryPool.Put(s)
}

// offer considers an entry already known to satisfy d2 <= s.bound.
func (s *queryScratch) offer(d2 float64, e *Entry, keep func(*Entry) bool) {
	it := queryItem{d2, e}
	full := len(s.heap) == s.limit
	if full && !queryBefore(it, s.heap[0]) {
		return // ties the worst kept item but loses on UserID
	}
	if keep != nil && !keep(e) {
		return
	}
	if !full {
		s.heap = append(s.heap, it)
		s.up(len(s.heap) - 1)
	} else {
		s.heap[0] = it
		s.down(0, len(s.heap))
	}
	if len(s.heap) == s.limit {
		s.bound = s.heap[0].d2
	}
}

func (s *queryScratch) up(i int) {
	h := s.heap
	for i > 0 {
		p := (i - 1) / 2
		if !queryBefore(h[p], h[i]) {
			return
		}
		h[p], h[i] = h[i], h[p]
		i = p
	}
}

func (s *queryScratch) down(i, n int) {
	h := s.heap
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		c := l
		if r := l + 1; r < n && queryBefore(h[l], h[r]) {
			c = r
		}
		if !queryBefore(h[i], h[c]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}

// duplicated reports whether any selected user has another entry among the
// snapshots (a stale copy mid-move, or the same entry published twice). If
// none has, the selection is exactly what deduplicating first would have
// given: entries of users not selected cannot displace anyone.
func (s *queryScratch) duplicated(cells []*Snapshot) bool {
	if len(s.heap) == 0 {
		return false
	}
	size := 8
	for size < 2*len(s.heap) {
		size *= 2
	}
	if cap(s.table) < size {
		s.table = make([]querySlot, size)
	}
	t := s.table[:size]
	clear(t)
	mask := uint64(size - 1)
	for _, it := range s.heap {
		h := it.e.id()
		i := h & mask
		for t[i].hash != 0 {
			if t[i].hash == h {
				return true
			}
			i = (i + 1) & mask
		}
		t[i].hash = h
	}
	for _, snap := range cells {
		if snap == nil {
			continue
		}
		for _, e := range snap.Entries {
			if e == nil {
				continue
			}
			h := e.id()
			for i := h & mask; t[i].hash != 0; i = (i + 1) & mask {
				if t[i].hash == h {
					t[i].n++
					if t[i].n > 1 {
						return true
					}
					break
				}
			}
		}
	}
	return false
}

// selectDeduplicated redoes the selection over the newest entry of each
// user. It allocates a map, which is fine: it only runs while a user in the
// result is mid-move.
func (s *queryScratch) selectDeduplicated(f *geoFrame, cells []*Snapshot, keep func(*Entry) bool) {
	newest := make(map[string]*Entry)
	for _, snap := range cells {
		if snap == nil {
			continue
		}
		for _, e := range snap.Entries {
			if e == nil {
				continue
			}
			if cur, ok := newest[e.UserID]; !ok || !e.UpdatedAt.Before(cur.UpdatedAt) {
				newest[e.UserID] = e
			}
		}
	}
	clear(s.heap)
	s.reset(s.limit, s.max2)
	for _, snap := range cells {
		if snap == nil {
			continue
		}
		for _, e := range snap.Entries {
			if e == nil || newest[e.UserID] != e {
				continue
			}
			delete(newest, e.UserID) // the same entry twice counts once
			if d2 := geoChord2(f.u, e.vec()); d2 <= s.bound {
				s.offer(d2, e, keep)
			}
		}
	}
}

// hits sorts the heap in place (heapsort: the max-heap pops worst first into
// the tail) and converts it to the result.
func (s *queryScratch) hits(f *geoFrame) []Hit {
	n := len(s.heap)
	if n == 0 {
		return nil
	}
	for end := n - 1; end > 0; end-- {
		s.heap[0], s.heap[end] = s.heap[end], s.heap[0]
		s.down(0, end)
	}
	out := make([]Hit, n)
	for i, it := range s.heap {
		out[i] = Hit{
			Entry:    it.e,
			Distance: geoAngleFromChord2(it.d2) * EarthRadiusM,
			Bearing:  f.bearing(it.e.vec()),
		}
	}
	return out
}
