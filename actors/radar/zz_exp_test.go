package radar

import "testing"

func BenchmarkExp(b *testing.B) {
	w := benchWorld100k()
	pre := make([][]*Snapshot, 1024)
	for i := range pre {
		v := w.viewers[i]
		for _, c := range w.g.Cover(w.g.Cell(v[0], v[1])) {
			if s := w.cells[c]; s != nil {
				pre[i] = append(pre[i], s)
			}
		}
	}
	keep := func(e *Entry) bool { return e.UserID != "user_000000" }
	b.Run("nilkeep", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%len(pre)]
			Query(v[0], v[1], 1000, 50, pre[i%len(pre)], nil)
		}
	})
	b.Run("hot", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			v := w.viewers[0]
			Query(v[0], v[1], 1000, 50, pre[0], keep)
		}
	})
	b.Run("hot8", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%8]
			Query(v[0], v[1], 1000, 50, pre[i%8], keep)
		}
	})
	b.Run("collectonly", func(b *testing.B) {
		s := new(queryScratch)
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%len(pre)]
			f := geoNewFrame(v[0], v[1])
			s.collect(&f, pre[i%len(pre)], 62, geoChord2ForAngle(1000/EarthRadiusM), nil)
		}
	})
	b.Run("scanonly", func(b *testing.B) {
		n := 0
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%len(pre)]
			u := geoUnit(v[0], v[1])
			for _, s := range pre[i%len(pre)] {
				for _, q := range s.pts {
					p := q.v
					dx, dy, dz := p.x-u.x, p.y-u.y, p.z-u.z
					if dx*dx+dy*dy+dz*dz < 2.4e-8 {
						n++
					}
				}
			}
		}
		b.ReportMetric(float64(n)/float64(b.N), "inradius/op")
	})
	b.Run("cell", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%len(pre)]
			w.g.Cell(v[0], v[1])
		}
	})
	b.Run("lookup", func(b *testing.B) {
		snaps := make([]*Snapshot, 0, 128)
		cs := w.g.Cover(w.g.Cell(w.viewers[0][0], w.viewers[0][1]))
		for i := 0; b.Loop(); i++ {
			v := w.viewers[i%len(pre)]
			cs = w.g.Cover(w.g.Cell(v[0], v[1]))
			snaps = snaps[:0]
			for _, c := range cs {
				if s := w.cells[c]; s != nil {
					snaps = append(snaps, s)
				}
			}
		}
	})
}
