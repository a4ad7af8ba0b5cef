package radar

import "math"

// EarthRadiusM is the mean Earth radius (IUGG), the radius of the sphere every
// distance in this package is measured on. H3 uses the same sphere.
const EarthRadiusM = 6371008.8

const geoRad = math.Pi / 180

// Distance returns the great-circle distance in metres between two points
// given in degrees.
//
// It is the haversine distance, evaluated in the atan2 form
// atan2(|u×v|, u·v) written out in latitude and longitude (Vincenty's formula
// on a sphere). The classic asin(√hav) form loses half its digits near the
// antipode and the acos form loses them for tiny distances; this form keeps
// nanometre accuracy for points millimetres apart and for antipodal points.
func Distance(lat1, lng1, lat2, lng2 float64) float64 {
	s1, c1 := math.Sincos(lat1 * geoRad)
	s2, c2 := math.Sincos(lat2 * geoRad)
	sd, cd := math.Sincos((lng2 - lng1) * geoRad)
	y := math.Hypot(c2*sd, c1*s2-s1*c2*cd)
	x := s1*s2 + c1*c2*cd
	return math.Atan2(y, x) * EarthRadiusM
}

// Bearing returns the initial bearing (forward azimuth) of the great circle
// from point 1 to point 2, in degrees in [0, 360), clockwise from north. It is
// 0 for identical points. At a pole every direction is south (or north); the
// result then follows the meridian of lng1, as the usual formula does.
func Bearing(lat1, lng1, lat2, lng2 float64) float64 {
	s1, c1 := math.Sincos(lat1 * geoRad)
	s2, c2 := math.Sincos(lat2 * geoRad)
	sd, cd := math.Sincos((lng2 - lng1) * geoRad)
	return geoDegrees360(math.Atan2(sd*c2, c1*s2-s1*c2*cd))
}

// geoDegrees360 converts an angle from atan2 (radians in [-π, π]) to degrees
// in [0, 360). A tiny negative angle rounds to 360 after adding 360; it is
// folded back to 0 so the range is really half-open.
func geoDegrees360(rad float64) float64 {
	d := rad / geoRad
	if d < 0 {
		d += 360
	}
	if d >= 360 {
		d = 0
	}
	return d
}

// geoVec is a point on the unit sphere (Earth-centred, x towards lat 0 lng 0,
// z towards the north pole). Filtering with vectors replaces trigonometry per
// candidate by a few multiplications, and has no seam at the antimeridian or
// singularity at the poles.
type geoVec struct{ x, y, z float64 }

// geoUnit returns the unit vector of a point given in degrees.
func geoUnit(lat, lng float64) geoVec {
	sinLat, cosLat := math.Sincos(lat * geoRad)
	sinLng, cosLng := math.Sincos(lng * geoRad)
	return geoVec{cosLat * cosLng, cosLat * sinLng, sinLat}
}

// geoChord2 is the squared straight-line (chord) distance between two unit
// vectors. It grows monotonically with the great-circle distance, so it can
// order and filter points without trigonometry. Computed from component
// differences it stays exact for nearby points (no 1-cos cancellation, as a
// dot product would suffer).
func geoChord2(a, b geoVec) float64 {
	dx, dy, dz := a.x-b.x, a.y-b.y, a.z-b.z
	return dx*dx + dy*dy + dz*dz
}

// geoChord2ForAngle returns the squared chord of a central angle in radians:
// (2 sin(θ/2))². Angles of π or more span the whole sphere and give 4.
func geoChord2ForAngle(theta float64) float64 {
	if theta >= math.Pi {
		return 4
	}
	if theta <= 0 {
		return 0
	}
	c := 2 * math.Sin(theta/2)
	return c * c
}

// geoAngleFromChord2 inverts geoChord2ForAngle: θ = 2 asin(chord/2). It is
// well conditioned for all but near-antipodal points, far beyond any radar.
func geoAngleFromChord2(c2 float64) float64 {
	h := math.Sqrt(c2) / 2
	if h < 1e-2 {
		// Radar distances: asin's Taylor series to h⁹ is exact to double
		// precision here (next term < 1e-21 relative) and 5× cheaper.
		h2 := h * h
		return 2 * h * (1 + h2*(1.0/6+h2*(3.0/40+h2*(5.0/112+h2*(35.0/1152)))))
	}
	if h >= 1 {
		return math.Pi
	}
	return 2 * math.Asin(h)
}

// geoAngle is the central angle between two unit vectors, atan2(|a×b|, a·b),
// accurate at every separation.
func geoAngle(a, b geoVec) float64 {
	c := geoCross(a, b)
	return math.Atan2(math.Sqrt(geoDot(c, c)), geoDot(a, b))
}

func geoDot(a, b geoVec) float64 { return a.x*b.x + a.y*b.y + a.z*b.z }

func geoCross(a, b geoVec) geoVec {
	return geoVec{a.y*b.z - a.z*b.y, a.z*b.x - a.x*b.z, a.x*b.y - a.y*b.x}
}

// geoFrame is a viewer's position with its local east and north unit
// vectors, so the bearing to any point is one atan2 of two dot products.
type geoFrame struct {
	u, east, north geoVec
}

func geoNewFrame(lat, lng float64) geoFrame {
	sinLat, cosLat := math.Sincos(lat * geoRad)
	sinLng, cosLng := math.Sincos(lng * geoRad)
	return geoFrame{
		u:     geoVec{cosLat * cosLng, cosLat * sinLng, sinLat},
		east:  geoVec{-sinLng, cosLng, 0},
		north: geoVec{-sinLat * cosLng, -sinLat * sinLng, cosLat},
	}
}

// bearing is the initial great-circle bearing from the frame's point to p,
// in degrees in [0, 360). The tangent direction of the great circle is the
// component of p orthogonal to u; east and north are orthogonal to u, so the
// dot products of p-u with them give it directly. Using p-u rather than p
// keeps tiny separations exact and makes an identical point give 0.
func (f *geoFrame) bearing(p geoVec) float64 {
	dx, dy, dz := p.x-f.u.x, p.y-f.u.y, p.z-f.u.z
	e := dx*f.east.x + dy*f.east.y + dz*f.east.z
	n := dx*f.north.x + dy*f.north.y + dz*f.north.z
	return geoDegrees360(math.Atan2(e, n))
}
