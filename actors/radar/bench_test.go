package radar

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster/grainpb"
)

// benchQueryWorld is the TARGETS.md radar set-up: 100,000 users uniformly random
// in a 20 km × 20 km box centred on Lagos (250 users/km²), one snapshot per
// res-9 cell, and random viewers in the same box.
type benchQueryWorld struct {
	g       *Grid
	cells   map[h3.Cell]*Snapshot
	viewers [][2]float64
}

var (
	benchQueryOnce   sync.Once
	benchQueryShared *benchQueryWorld
)

func benchQueryWorld100k() *benchQueryWorld {
	benchQueryOnce.Do(func() {
		const users, viewers = 100_000, 1 << 14
		const lat0, lng0 = 6.5244, 3.3792
		rng := rand.New(rand.NewPCG(42, 43))
		dLat := 10e3 / (EarthRadiusM * geoRad)
		dLng := dLat / math.Cos(lat0*geoRad)
		point := func() (float64, float64) {
			return lat0 + (rng.Float64()*2-1)*dLat, lng0 + (rng.Float64()*2-1)*dLng
		}
		w := &benchQueryWorld{g: NewGrid(1000), cells: map[h3.Cell]*Snapshot{}}
		byCell := map[h3.Cell][]*Entry{}
		for i := range users {
			lat, lng := point()
			e := NewEntry(Entry{UserID: fmt.Sprintf("user_%06d", i), Lat: lat, Lng: lng, UpdatedAt: queryTestT0})
			c := w.g.Cell(lat, lng)
			byCell[c] = append(byCell[c], e)
		}
		for c, es := range byCell {
			w.cells[c] = NewSnapshot(es)
		}
		for range viewers {
			lat, lng := point()
			w.viewers = append(w.viewers, [2]float64{lat, lng})
			w.g.Cover(w.g.Cell(lat, lng)) // warm the cover cache, as a running server is
		}
		benchQueryShared = w
	})
	return benchQueryShared
}

// benchReportLatency adds percentiles and throughput from per-op latencies.
func benchReportLatency(b *testing.B, lat []time.Duration, elapsed time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(pct(0.50), "p50-ns")
	b.ReportMetric(pct(0.99), "p99-ns")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "queries/s")
}

// BenchmarkQuery100k measures one viewer's radar on one core: 1 km, nearest
// 50, over 100,000 users. "full" is everything a User grain does per query
// (cell, cached cover, snapshot lookups in a map standing in for the
// Directory, Query with a keep filter); "query" is Query alone on the
// snapshots gathered beforehand (1,024 viewers, so the data is not all
// cache-hot); "query-literal" the same with Snapshot literals.
func BenchmarkQuery100k(b *testing.B) {
	w := benchQueryWorld100k()
	keep := func(e *Entry) bool { return e.UserID != "user_000000" }

	b.Run("full", func(b *testing.B) {
		snaps := make([]*Snapshot, 0, 128)
		lat := make([]time.Duration, 0, b.N)
		hits := 0
		b.ReportAllocs()
		b.ResetTimer()
		start := time.Now()
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			v := w.viewers[i%len(w.viewers)]
			snaps = snaps[:0]
			for _, c := range w.g.Cover(w.g.Cell(v[0], v[1])) {
				if s := w.cells[c]; s != nil {
					snaps = append(snaps, s)
				}
			}
			hits += len(Query(v[0], v[1], w.g.RadiusM, 50, snaps, keep))
			lat = append(lat, time.Since(t0))
		}
		benchReportLatency(b, lat, time.Since(start))
		b.ReportMetric(float64(hits)/float64(len(lat)), "hits/op")
	})

	gather := func(literal bool) [][]*Snapshot {
		pre := make([][]*Snapshot, 1024)
		for i := range pre {
			v := w.viewers[i]
			for _, c := range w.g.Cover(w.g.Cell(v[0], v[1])) {
				if s := w.cells[c]; s != nil {
					if literal {
						s = &Snapshot{Entries: s.Entries}
					}
					pre[i] = append(pre[i], s)
				}
			}
		}
		return pre
	}
	query := func(pre [][]*Snapshot) func(b *testing.B) {
		return func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; b.Loop(); i++ {
				t0 := time.Now()
				v := w.viewers[i%len(pre)]
				Query(v[0], v[1], w.g.RadiusM, 50, pre[i%len(pre)], keep)
				lat = append(lat, time.Since(t0))
			}
			benchReportLatency(b, lat, time.Since(start))
		}
	}
	b.Run("query", query(gather(false)))
	// Snapshots built as literals, without NewSnapshot's packed points.
	b.Run("query-literal", query(gather(true)))
}

// BenchmarkCover: "cached" is the steady state of a running node; "uncached"
// computes covers of distinct cells on a fresh grid (cold start, geometry
// cache filling as it goes).
func BenchmarkCover(b *testing.B) {
	w := benchQueryWorld100k()
	b.Run("cached", func(b *testing.B) {
		cells := make([]h3.Cell, len(w.viewers))
		for i, v := range w.viewers {
			cells[i] = w.g.Cell(v[0], v[1])
		}
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			w.g.Cover(cells[i%len(cells)])
		}
	})
	b.Run("uncached", func(b *testing.B) {
		g := NewGrid(1000)
		cells := h3.GridDisk(g.Cell(6.5244, 3.3792), 60) // 10,981 distinct cells
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i > 0 && i%len(cells) == 0 {
				b.StopTimer()
				g = NewGrid(1000)
				b.StartTimer()
			}
			g.Cover(cells[i%len(cells)])
		}
	})
}

func BenchmarkNewGrid(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NewGrid(1000)
	}
}

// BenchmarkMirrorApply is the radar mirror's cost per CellDelta, the work
// every member does for every change of a cell another member hosts: apply
// a one-user delta (a user moving within the cell) to the replica of a
// cell holding n users, then publish the cell's new snapshot to the
// Directory. The delta is already decoded; "decode" is the wire part, a
// one-entry delta with a 300-byte user JSON. At 250 users/km² a res-9 cell
// holds ~25 users.
func BenchmarkMirrorApply(b *testing.B) {
	const owner = "10.0.0.1:4000"
	peers := []string{owner}
	cell := NewGrid(1000).Cell(6.5244, 3.3792)
	userJSON := []byte(`{"id":"user_000000","name":"` + strings.Repeat("x", 270) + `"}`)
	entry := func(i int, lat float64) *grainpb.CellEntry {
		return &grainpb.CellEntry{UserId: fmt.Sprintf("user_%06d", i), Lat: lat, Lng: 3.3792, UpdatedUnixMs: queryTestT0.UnixMilli(), UserJson: userJSON}
	}
	for _, n := range []int{1, 25, 100} {
		b.Run(fmt.Sprintf("users=%d", n), func(b *testing.B) {
			r, dir := newReplica(time.Minute), NewDirectory()
			first := &grainpb.CellDelta{Cell: CellID(cell), Owner: owner, Epoch: 1, Seq: 1, Full: true}
			for i := range n {
				first.Upserts = append(first.Upserts, entry(i, 6.5244+float64(i)*1e-5))
			}
			r.apply(first, peers, queryTestT0)
			// Deltas are built beforehand: one user moving back and forth.
			deltas := make([]*grainpb.CellDelta, 1024)
			for i := range deltas {
				deltas[i] = &grainpb.CellDelta{Cell: CellID(cell), Owner: owner, Epoch: 1, Upserts: []*grainpb.CellEntry{entry(0, 6.5244+float64(i%2)*1e-5)}}
			}
			b.ReportAllocs()
			seq := uint64(1)
			for i := 0; b.Loop(); i++ {
				seq++
				d := deltas[i%len(deltas)]
				d.Seq = seq
				c, res := r.apply(d, peers, queryTestT0)
				if !res.publish {
					b.Fatal("delta not applied")
				}
				dir.storeRemote(c, r.snapshot(c))
			}
		})
	}
	b.Run("decode", func(b *testing.B) {
		wire, err := proto.Marshal(&grainpb.CellDelta{Cell: CellID(cell), Owner: owner, Epoch: 1, Seq: 2, Upserts: []*grainpb.CellEntry{entry(0, 6.5244)}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(wire)), "bytes")
		b.ReportAllocs()
		for b.Loop() {
			var d grainpb.CellDelta
			if err := proto.Unmarshal(wire, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}
