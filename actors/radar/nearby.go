package radar

import (
	"encoding/json"
	"hash/fnv"
	"math"
	"strconv"

	"github.com/gisbi/engine/protocol"
)

// encodeWire encodes the parts of a NearbyUser that are the same for every
// viewer. Entries are immutable, so this runs once per published update
// instead of once per viewer per push.
func (e *Entry) encodeWire() {
	user := e.UserJSON
	if len(user) == 0 {
		user = []byte("null")
	}
	b := make([]byte, 0, len(user)+160)
	b = append(b, `"user":`...)
	b = append(b, user...)
	e.wire = b

	l := make([]byte, 0, 160)
	l = append(l, `"location":{"lat":`...)
	l = appendFloat(l, e.Lat)
	l = append(l, `,"lng":`...)
	l = appendFloat(l, e.Lng)
	if e.AccuracyMeters != nil {
		l = append(l, `,"accuracyMeters":`...)
		l = appendFloat(l, *e.AccuracyMeters)
	}
	if e.Heading != nil {
		l = append(l, `,"heading":`...)
		l = appendFloat(l, *e.Heading)
	}
	if e.Speed != nil {
		l = append(l, `,"speed":`...)
		l = appendFloat(l, *e.Speed)
	}
	l = append(l, `,"updatedAt":"`...)
	l = e.UpdatedAt.UTC().AppendFormat(l, protocol.TimeFormat)
	l = append(l, `"}`...)
	e.wireLoc = l
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

// AppendNearby appends the JSON array of NearbyUser models for the hits, as
// seen by a viewer with the given interests. Distances are rounded to 0.1 m
// and angles to 0.1°: finer figures are GPS noise. isLive is always true:
// queries keep live users only.
func AppendNearby(b []byte, hits []Hit, viewerInterests []string) []byte {
	b = append(b, '[')
	for i, h := range hits {
		if i > 0 {
			b = append(b, ',')
		}
		e := h.Entry
		if e.wire == nil {
			e.encodeWire() // an Entry built without NewEntry
		}
		b = append(b, '{')
		b = append(b, e.wire...)
		b = append(b, `,"distance":`...)
		b = appendFloat(b, round1(h.Distance))
		b = append(b, `,"angle":`...)
		b = appendFloat(b, math.Mod(round1(h.Bearing), 360))
		b = append(b, `,"isLive":true,"sharedInterests":`...)
		b = appendStrings(b, SharedInterests(viewerInterests, e.Interests))
		b = append(b, ',')
		b = append(b, e.wireLoc...)
		b = append(b, '}')
	}
	return append(b, ']')
}

func appendStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		q, _ := json.Marshal(s)
		b = append(b, q...)
	}
	return append(b, ']')
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// Fingerprint summarises what a viewer would see in a result, so a pushed
// update is sent only when something visible changed: who, how far (to the
// metre), which way (to the degree), their profile and shared interests. A
// timestamp refresh alone is not a change.
func Fingerprint(hits []Hit, viewerInterests []string) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, x := range hits {
		e := x.Entry
		buf = buf[:0]
		buf = append(buf, e.UserJSON...)
		buf = strconv.AppendInt(buf, int64(math.Round(x.Distance)), 10)
		buf = append(buf, '/')
		buf = strconv.AppendInt(buf, int64(math.Round(x.Bearing))%360, 10)
		for _, s := range SharedInterests(viewerInterests, e.Interests) {
			buf = append(buf, '#')
			buf = append(buf, s...)
		}
		buf = append(buf, 0)
		_, _ = h.Write(buf)
	}
	return h.Sum64()
}
