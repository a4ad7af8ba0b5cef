package radar

import (
	"math"
	"math/rand/v2"
	"testing"
)

// geoTestDest returns the point reached from (lat, lng) by travelling distM
// metres along the great circle with initial bearing brg (degrees). Tests use
// it to place points at known distances. It rotates the unit vector in the
// local east/north plane, which stays accurate at the poles, where the
// textbook asin formula loses digits.
func geoTestDest(lat, lng, brg, distM float64) (float64, float64) {
	φ, λ, θ, δ := lat*geoRad, lng*geoRad, brg*geoRad, distM/EarthRadiusM
	u := [3]float64{math.Cos(φ) * math.Cos(λ), math.Cos(φ) * math.Sin(λ), math.Sin(φ)}
	east := [3]float64{-math.Sin(λ), math.Cos(λ), 0}
	north := [3]float64{-math.Sin(φ) * math.Cos(λ), -math.Sin(φ) * math.Sin(λ), math.Cos(φ)}
	var p [3]float64
	for i := range p {
		p[i] = math.Cos(δ)*u[i] + math.Sin(δ)*(math.Cos(θ)*north[i]+math.Sin(θ)*east[i])
	}
	return math.Atan2(p[2], math.Hypot(p[0], p[1])) / geoRad, math.Atan2(p[1], p[0]) / geoRad
}

// geoTestAngleDiff is the circular difference of two bearings in degrees.
func geoTestAngleDiff(a, b float64) float64 {
	d := math.Mod(math.Abs(a-b), 360)
	return min(d, 360-d)
}

// geoTestHaversine is the textbook asin form, an independent reference for
// distances where it is well conditioned.
func geoTestHaversine(lat1, lng1, lat2, lng2 float64) float64 {
	φ1, φ2 := lat1*geoRad, lat2*geoRad
	dφ, dλ := φ2-φ1, (lng2-lng1)*geoRad
	h := math.Sin(dφ/2)*math.Sin(dφ/2) + math.Cos(φ1)*math.Cos(φ2)*math.Sin(dλ/2)*math.Sin(dλ/2)
	return 2 * EarthRadiusM * math.Asin(math.Sqrt(h))
}

func TestDistanceBearingKnownValues(t *testing.T) {
	const quarter = math.Pi / 2 * EarthRadiusM
	tests := []struct {
		name                   string
		lat1, lng1, lat2, lng2 float64
		dist, distTol          float64 // metres
		brg                    float64 // degrees; NaN: not checked
	}{
		{"London to Paris", 51.5074, -0.1278, 48.8566, 2.3522, 343556.535, 0.01, 148.1156},
		{"Paris to London", 48.8566, 2.3522, 51.5074, -0.1278, 343556.535, 0.01, 330.0211},
		{"Lagos to New York", 6.5244, 3.3792, 40.7128, -74.0060, 8472734.562, 0.01, 310.3868},
		{"quarter meridian north", 0, 0, 90, 0, quarter, 1e-6, 0},
		{"quarter meridian south", 0, 0, -90, 0, quarter, 1e-6, 180},
		{"quarter equator east", 0, 0, 0, 90, quarter, 1e-6, 90},
		{"quarter equator west", 0, 0, 0, -90, quarter, 1e-6, 270},
		{"antimeridian eastwards", 0, 179.9, 0, -179.9, 22239.016, 0.001, 90},
		{"antimeridian westwards", 0, -179.9, 0, 179.9, 22239.016, 0.001, 270},
		{"antimeridian at 60N", 60, 179.99, 60, -179.99, 1111.950798, 1e-5, 89.99134},
		{"same point", 6.5244, 3.3792, 6.5244, 3.3792, 0, 0, 0},
		{"same point at pole", 90, 0, 90, 0, 0, 0, 0},
		{"same place, other longitude at pole", 90, 10, 90, -170, 0, 1e-6, math.NaN()},
		{"from north pole", 90, 0, 89, 0, 111195.08, 0.01, 180},
		{"to north pole", 10, 45, 90, 0, 80 * math.Pi / 180 * EarthRadiusM, 1e-6, 0},
		{"antipodal on equator", 0, 0, 0, 180, math.Pi * EarthRadiusM, 1e-6, math.NaN()},
		{"antipodal oblique", 10, 20, -10, -160, math.Pi * EarthRadiusM, 1e-6, math.NaN()},
		{"nearly antipodal", 0, 0, 0, 180 - 1e-9, math.Pi*EarthRadiusM - 1e-9*geoRad*EarthRadiusM, 1e-6, 90},
		{"a tenth of a millimetre", 0, 0, 0, 1e-9, 1e-9 * geoRad * EarthRadiusM, 1e-12, 90},
		{"a micrometre north", 45, 7, 45 + 1e-6/(geoRad*EarthRadiusM), 7, 1e-6, 1e-9, 0}, // 1 ulp of 45° is 0.8 nm
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Distance(tt.lat1, tt.lng1, tt.lat2, tt.lng2)
			if math.Abs(d-tt.dist) > tt.distTol {
				t.Errorf("Distance = %.9f m, want %.9f ± %g", d, tt.dist, tt.distTol)
			}
			if r := Distance(tt.lat2, tt.lng2, tt.lat1, tt.lng1); math.Abs(r-d) > 1e-6 {
				t.Errorf("Distance not symmetric: %.9f vs %.9f", d, r)
			}
			b := Bearing(tt.lat1, tt.lng1, tt.lat2, tt.lng2)
			if b < 0 || b >= 360 {
				t.Errorf("Bearing = %v, outside [0, 360)", b)
			}
			if !math.IsNaN(tt.brg) && geoTestAngleDiff(b, tt.brg) > 1e-3 {
				t.Errorf("Bearing = %.6f°, want %.4f°", b, tt.brg)
			}
		})
	}
}

func TestDistanceMatchesHaversine(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		lat1, lng1 := rng.Float64()*180-90, rng.Float64()*360-180
		lat2, lng2 := geoTestDest(lat1, lng1, rng.Float64()*360, rng.Float64()*5e6)
		d, h := Distance(lat1, lng1, lat2, lng2), geoTestHaversine(lat1, lng1, lat2, lng2)
		if math.Abs(d-h) > 1e-6*max(1, h) {
			t.Fatalf("(%v,%v)-(%v,%v): Distance %.9f, haversine %.9f", lat1, lng1, lat2, lng2, d, h)
		}
	}
}

// TestDestinationRoundTrip checks Distance and Bearing against points placed
// at a known distance and bearing, across poles and the antimeridian.
func TestDestinationRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 20000 {
		var lat, lng float64
		switch i % 4 {
		case 0:
			lat, lng = rng.Float64()*180-90, rng.Float64()*360-180
		case 1: // near a pole
			lat, lng = math.Copysign(90-rng.Float64()*0.02, rng.Float64()-0.5), rng.Float64()*360-180
		case 2: // near the antimeridian
			lat, lng = rng.Float64()*160-80, math.Copysign(180-rng.Float64()*0.02, rng.Float64()-0.5)
		case 3:
			lat, lng = 6.5244+rng.NormFloat64()*0.1, 3.3792+rng.NormFloat64()*0.1
		}
		if math.Abs(lat) > 89.9999 { // bearing from (near) a pole is ill defined
			continue
		}
		brg, dist := rng.Float64()*360, rng.Float64()*3000
		lat2, lng2 := geoTestDest(lat, lng, brg, dist)
		if d := Distance(lat, lng, lat2, lng2); math.Abs(d-dist) > 1e-6 {
			t.Fatalf("(%v,%v) %v° %v m: Distance %.9f", lat, lng, brg, dist, d)
		}
		if dist > 0.01 {
			if b := Bearing(lat, lng, lat2, lng2); geoTestAngleDiff(b, brg) > 1e-5 {
				t.Fatalf("(%v,%v) %v° %v m: Bearing %.9f", lat, lng, brg, dist, b)
			}
		}
	}
}

// TestFrameMatchesBearing checks the vector bearing used by Query against the
// trigonometric Bearing, and the chord distance against Distance.
func TestFrameMatchesBearing(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		lat1, lng1 := rng.Float64()*180-90, rng.Float64()*360-180
		lat2, lng2 := geoTestDest(lat1, lng1, rng.Float64()*360, math.Pow(10, rng.Float64()*9-3)) // 1 mm to 1,000 km
		f := geoNewFrame(lat1, lng1)
		p := geoUnit(lat2, lng2)
		want := Bearing(lat1, lng1, lat2, lng2)
		d := Distance(lat1, lng1, lat2, lng2)
		// Bearing's cancellation costs ~1e-16 rad of absolute error, which
		// is 1e-6° at a few millimetres; the vector form does better.
		tol := max(1e-7, 1e-13/(d/EarthRadiusM))
		if got := f.bearing(p); geoTestAngleDiff(got, want) > tol {
			t.Fatalf("(%v,%v)-(%v,%v): frame bearing %.9f, Bearing %.9f", lat1, lng1, lat2, lng2, got, want)
		}
		if got := geoAngleFromChord2(geoChord2(f.u, p)) * EarthRadiusM; math.Abs(got-d) > 1e-6 {
			t.Fatalf("(%v,%v)-(%v,%v): chord distance %.9f, Distance %.9f", lat1, lng1, lat2, lng2, got, d)
		}
		if got := geoAngle(f.u, p) * EarthRadiusM; math.Abs(got-d) > 1e-6 {
			t.Fatalf("(%v,%v)-(%v,%v): vector angle distance %.9f, Distance %.9f", lat1, lng1, lat2, lng2, got, d)
		}
	}
	f := geoNewFrame(6.5, 3.4)
	if b := f.bearing(geoUnit(6.5, 3.4)); b != 0 {
		t.Errorf("bearing to self = %v, want 0", b)
	}
}

func TestGeoDegrees360(t *testing.T) {
	tests := []struct{ rad, want float64 }{
		{0, 0}, {math.Pi / 2, 90}, {math.Pi, 180}, {-math.Pi / 2, 270}, {-math.Pi, 180},
		{-1e-300, 0}, // 360 - tiny rounds to 360: must fold to 0
	}
	for _, tt := range tests {
		if got := geoDegrees360(tt.rad); math.Abs(got-tt.want) > 1e-12 || got >= 360 {
			t.Errorf("geoDegrees360(%v) = %v, want %v", tt.rad, got, tt.want)
		}
	}
}

func TestChordThreshold(t *testing.T) {
	tests := []struct{ theta, want float64 }{
		{0, 0}, {-1, 0}, {math.Pi, 4}, {10, 4}, {math.Pi / 2, 2}, {math.Pi / 3, 1},
	}
	for _, tt := range tests {
		if got := geoChord2ForAngle(tt.theta); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("geoChord2ForAngle(%v) = %v, want %v", tt.theta, got, tt.want)
		}
	}
	for _, theta := range []float64{0, 1e-12, 1e-9, 1e-4, 0.0199, 0.02, 0.0201, 0.5, 3, math.Pi} {
		if got := geoAngleFromChord2(geoChord2ForAngle(theta)); math.Abs(got-theta) > 1e-15*max(1e-3, theta) {
			t.Errorf("round trip %v -> %v (%.3g relative)", theta, got, (got-theta)/theta)
		}
	}
	// The series branch against math.Asin, right up to where it hands over.
	for h := 1e-6; h < 1e-2; h *= 1.01 {
		want := 2 * math.Asin(h)
		if got := geoAngleFromChord2(4 * h * h); math.Abs(got-want) > 5e-16*want { // a couple of ulps
			t.Fatalf("h=%v: %v, asin gives %v", h, got, want)
		}
	}
}
