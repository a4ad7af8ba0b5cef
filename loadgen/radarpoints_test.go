package loadgen

import "testing"

// The expected points come from running the reference Tile38 radar client's
// own generator (lat0 + r.Float64()*dLat, lng0 + r.Float64()*dLng, then
// r.Intn(points) with --updates) with these seeds and 10,000 points: the
// two clients must hold and query the same points.
func TestRadarPoints(t *testing.T) {
	type pt struct {
		lat, lng float64
		mover    int
	}
	tests := []struct {
		name string
		gen  *RadarPoints
		want []pt
	}{
		{"load, seed 1", NewRadarLoadPoints(), []pt{
			{6.558634618753076, 3.520050338239338, -1},
			{6.569396344451759, 3.429141654801044, -1},
			{6.526291321787867, 3.4741822086955145, -1},
		}},
		{"worker 0, seed 7", NewRadarQueryPoints(0, 10000), []pt{
			{6.615090219053677, 3.3918580466177692, 5853},
			{6.613773297587463, 3.4762456598251514, 7508},
			{6.513639004325855, 3.4119592086144332, 8952},
		}},
		{"worker 31, seed 38", NewRadarQueryPoints(31, 10000), []pt{
			{6.48169393324865, 3.436635034455504, 7163},
			{6.461469267394817, 3.5062540540653195, 3213},
			{6.509573118328778, 3.4523406484672137, 3272},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i, w := range tt.want {
				var got pt
				if w.mover < 0 {
					got.lat, got.lng = tt.gen.Next()
					got.mover = -1
				} else {
					got.lat, got.lng, got.mover = tt.gen.NextUpdate()
				}
				if got != w {
					t.Fatalf("point %d = %+v, want %+v", i, got, w)
				}
			}
		})
	}
}

// TestRadarPointsInBox: every point is inside the 20 km box.
func TestRadarPointsInBox(t *testing.T) {
	g := NewRadarLoadPoints()
	maxLat, maxLng := RadarLat0+0.17967, RadarLng0+0.18081 // 20 km north and east
	for range 10000 {
		lat, lng := g.Next()
		if lat < RadarLat0 || lat > maxLat || lng < RadarLng0 || lng > maxLng {
			t.Fatalf("point %v,%v outside the box", lat, lng)
		}
	}
}
