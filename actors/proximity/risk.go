package proximity

import (
	"fmt"
	"math"
	"time"

	"github.com/gisbi/engine/protocol"
)

// Risk counts anti-spoofing signals of the connection.
type Risk struct {
	LocationMismatches int `json:"locationMismatches"`
	InvalidTokens      int `json:"invalidTokens"`
	RSSIRejects        int `json:"rssiRejects"`
}

// verify checks a scan by user of the partner's token. Failures are
// counted as risk signals; nothing else changes.
func (s *State) verify(user, token string, rssi int, now time.Time, locs *Locations) *protocol.Error {
	if rssi < s.cfg.RSSIMin || rssi > s.cfg.RSSIMax {
		s.risk.RSSIRejects++
		return fail(protocol.CodeRSSIOutOfRange, fmt.Sprintf("rssi must be between %d and %d dBm", s.cfg.RSSIMin, s.cfg.RSSIMax))
	}
	_, partner := s.side(user)
	if !partner.validFor(token, now) {
		s.risk.InvalidTokens++
		return fail(protocol.CodeInvalidToken, "this is not your partner's current token")
	}
	if locs != nil && locs.A != nil && locs.B != nil &&
		distance(locs.A.Lat, locs.A.Lng, locs.B.Lat, locs.B.Lng) > s.cfg.MaxDistanceM {
		s.risk.LocationMismatches++
		return fail(protocol.CodeLocationMismatch, "your locations are too far apart for a BLE scan")
	}
	return nil
}

const earthRadiusM = 6371008.8

// distance is the great-circle distance in metres (the atan2 haversine form
// radar.Distance uses; copied so this pure package does not pull in radar).
func distance(lat1, lng1, lat2, lng2 float64) float64 {
	const rad = math.Pi / 180
	s1, c1 := math.Sincos(lat1 * rad)
	s2, c2 := math.Sincos(lat2 * rad)
	sd, cd := math.Sincos((lng2 - lng1) * rad)
	return math.Atan2(math.Hypot(c2*sd, c1*s2-s1*c2*cd), s1*s2+c1*c2*cd) * earthRadiusM
}
