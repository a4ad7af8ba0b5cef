package radar

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"strconv"

	"github.com/gisbi/engine/protocol"
)

// Nearby renders query hits as NearbyUser models for a viewer with the
// given interests. Distances are rounded to 0.1 m and angles to 0.1°: finer
// figures are GPS noise and only make payloads longer.
func Nearby(hits []Hit, viewerInterests []string) []protocol.NearbyUser {
	out := make([]protocol.NearbyUser, 0, len(hits))
	for _, h := range hits {
		e := h.Entry
		out = append(out, protocol.NearbyUser{
			User:            json.RawMessage(e.UserJSON),
			Distance:        round1(h.Distance),
			Angle:           math.Mod(round1(h.Bearing), 360),
			IsLive:          true, // the query keeps live users only
			SharedInterests: SharedInterests(viewerInterests, e.Interests),
			Location: protocol.Location{
				Lat: e.Lat, Lng: e.Lng, AccuracyMeters: e.AccuracyMeters, Heading: e.Heading, Speed: e.Speed,
				UpdatedAt: protocol.FormatTime(e.UpdatedAt),
			},
		})
	}
	return out
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// Fingerprint summarises what a viewer would see in a result, so a pushed
// update is sent only when something visible changed: who, how far (to the
// metre), which way (to the degree), their profile and shared interests. A
// timestamp refresh alone is not a change.
func Fingerprint(users []protocol.NearbyUser) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, u := range users {
		buf = buf[:0]
		buf = append(buf, u.User...)
		buf = strconv.AppendInt(buf, int64(math.Round(u.Distance)), 10)
		buf = append(buf, '/')
		buf = strconv.AppendInt(buf, int64(math.Round(u.Angle)), 10)
		for _, s := range u.SharedInterests {
			buf = append(buf, '#')
			buf = append(buf, s...)
		}
		buf = append(buf, 0)
		_, _ = h.Write(buf)
	}
	return h.Sum64()
}
