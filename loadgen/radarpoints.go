package loadgen

import (
	"math"
	"math/rand"
)

// The radar scenario's points. They are what the Tile38 side-by-side
// (bench/tile38radar) loads and queries, drawn by this same code, so both
// systems hold the same live users and answer the same questions: uniform
// in a RadarBoxKm square whose south-west corner is RadarLat0, RadarLng0
// (Lagos), from math/rand (whose sequence for a seed is fixed across Go
// releases) with seed 1 for the N live users in order, and seed w+7 for the
// updates of worker w.
const (
	RadarLat0, RadarLng0 = 6.45, 3.35
	RadarBoxKm           = 20.0
)

// RadarPoints draws the radar scenario's points.
type RadarPoints struct {
	rng        *rand.Rand
	dLat, dLng float64
	users      int
}

func newRadarPoints(seed int64, users int) *RadarPoints {
	return &RadarPoints{
		rng:   rand.New(rand.NewSource(seed)),
		dLat:  RadarBoxKm * 1000 / metresPerDegree,
		dLng:  RadarBoxKm * 1000 / (metresPerDegree * math.Cos(RadarLat0*math.Pi/180)),
		users: users,
	}
}

// NewRadarLoadPoints draws where the live users are: the i-th point is
// user i's.
func NewRadarLoadPoints() *RadarPoints { return newRadarPoints(1, 0) }

// NewRadarQueryPoints draws the updates of worker w among users live users.
func NewRadarQueryPoints(w, users int) *RadarPoints { return newRadarPoints(int64(w)+7, users) }

// Next is the next point: latitude, then longitude.
func (p *RadarPoints) Next() (lat, lng float64) {
	return RadarLat0 + p.rng.Float64()*p.dLat, RadarLng0 + p.rng.Float64()*p.dLng
}

// NextUpdate is the next update: where to, and which of the live users the
// Tile38 client moves there (a SET of that user, then NEARBY at the point).
// A GISBI socket can only move its own user, so the generator moves the
// worker's user and ignores mover; it still draws it, so both clients'
// sequences of points stay the same.
func (p *RadarPoints) NextUpdate() (lat, lng float64, mover int) {
	lat, lng = p.Next()
	return lat, lng, p.rng.Intn(p.users)
}
