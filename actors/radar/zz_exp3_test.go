package radar

import "testing"

func TestExpCountOffers(t *testing.T) {
	w := benchWorld100k()
	total, inr, cand, cells := 0, 0, 0, 0
	const n = 500
	for k := range n {
		v := w.viewers[k]
		var snaps []*Snapshot
		for _, c := range w.g.Cover(w.g.Cell(v[0], v[1])) {
			if s := w.cells[c]; s != nil {
				snaps = append(snaps, s)
			}
		}
		cells += len(snaps)
		f := geoNewFrame(v[0], v[1])
		s := new(queryScratch)
		max2 := geoChord2ForAngle(1000 / EarthRadiusM)
		s.start(62, max2)
		for _, snap := range snaps {
			for i := range snap.pts {
				d2 := geoChord2(f.u, snap.pts[i].v)
				cand++
				if d2 <= max2 {
					inr++
				}
				if d2 <= s.bound {
					total++
					s.offer(d2, queryItem{snap.Entries[i], snap.pts[i].v, snap.pts[i].hash}, nil)
				}
			}
		}
	}
	t.Logf("per query: cells %.1f candidates %.0f in radius %.0f offers %.1f", float64(cells)/n, float64(cand)/n, float64(inr)/n, float64(total)/n)
}
