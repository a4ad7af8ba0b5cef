package loadgen

import (
	"math"
	"math/rand/v2"
	"sync"
)

const metresPerDegree = 111_320.0

// walker is a person (or a pair walking together) strolling through the
// box: a random walk at a steady speed that turns a little at each step and
// bounces off the edges. Position is a function of server-clock time, so a
// fast clock makes people cover more ground per real second, as it should.
type walker struct {
	mu       sync.Mutex
	box      Box
	speed    float64 // metres per server second
	lat, lng float64
	heading  float64 // degrees clockwise from north
	last     float64 // server-clock seconds of the last step; <0 before the first
	rng      *rand.Rand
}

func newWalker(box Box, speed float64, seed uint64) *walker {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	return &walker{
		box: box, speed: speed,
		lat:     box.MinLat + rng.Float64()*(box.MaxLat-box.MinLat),
		lng:     box.MinLng + rng.Float64()*(box.MaxLng-box.MinLng),
		heading: rng.Float64() * 360,
		last:    -1,
		rng:     rng,
	}
}

// at moves the walker to server-clock time t (seconds) and returns where it is.
func (w *walker) at(t float64) (lat, lng, heading float64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last >= 0 && t > w.last {
		w.step(w.speed * (t - w.last))
	}
	if t > w.last {
		w.last = t
	}
	return w.lat, w.lng, w.heading
}

func (w *walker) step(dist float64) {
	w.heading = math.Mod(w.heading+w.rng.Float64()*40-20+360, 360)
	rad := w.heading * math.Pi / 180
	w.lat += dist * math.Cos(rad) / metresPerDegree
	w.lng += dist * math.Sin(rad) / (metresPerDegree * math.Cos(w.lat*math.Pi/180))
	b := w.box
	if w.lat < b.MinLat || w.lat > b.MaxLat {
		w.lat = min(max(w.lat, b.MinLat), b.MaxLat)
		w.heading = math.Mod(540-w.heading, 360) // mirror north/south
	}
	if w.lng < b.MinLng || w.lng > b.MaxLng {
		w.lng = min(max(w.lng, b.MinLng), b.MaxLng)
		w.heading = math.Mod(360-w.heading, 360) // mirror east/west
	}
}

// pairOffset places pair members a few metres from their shared walker, in
// degrees, so they are well within BLE range and the server's 250 m
// plausibility distance.
func pairOffset(idx, side int, lat float64) (dLat, dLng float64) {
	m := 5.0 + float64(idx%10) // 5–14 m
	if side == 1 {
		m = -m
	}
	return m / metresPerDegree, m / (metresPerDegree * math.Cos(lat*math.Pi/180))
}
