package radar

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"strconv"

	"github.com/gisbi/engine/protocol"
)

// encodeWire encodes the parts of a NearbyUser that are the same for every
// viewer. Entries are immutable, so this runs once per published update
// instead of once per viewer per push.
func (e *Entry) encodeWire() {
	e.wire = protocol.EncodeNearbyParts(e.UserJSON, &protocol.Location{
		Lat: e.Lat, Lng: e.Lng, AccuracyMeters: e.AccuracyMeters, Heading: e.Heading, Speed: e.Speed,
		UpdatedAt: protocol.FormatTime(e.UpdatedAt),
	})
	e.userHash = hashUser(e.UserJSON)
	e.encoded = true
}

// AppendNearby appends the JSON list of NearbyUser models for the hits, as
// seen by a viewer with the given interests.
func AppendNearby(b []byte, hits []Hit, viewerInterests []string) []byte {
	var shared []string
	return protocol.AppendNearbyList(b, len(hits), func(b []byte, i int) []byte {
		b, shared = appendHit(b, &hits[i], viewerInterests, shared)
		return b
	})
}

// AppendNearbyPayload appends the radar.nearby.updated payload for the hits.
func AppendNearbyPayload(b []byte, hits []Hit, viewerInterests []string) []byte {
	var shared []string
	return protocol.AppendNearbyPayloadList(b, len(hits), func(b []byte, i int) []byte {
		b, shared = appendHit(b, &hits[i], viewerInterests, shared)
		return b
	})
}

// appendHit writes one NearbyUser. Distances are rounded to 0.1 m and
// angles to 0.1°: finer figures are GPS noise. isLive is always true:
// queries keep live users only. scratch holds the shared interests, reused
// from hit to hit.
func appendHit(b []byte, h *Hit, viewerInterests, scratch []string) ([]byte, []string) {
	e := h.Entry
	if !e.encoded {
		e.encodeWire() // an Entry built without NewEntry
	}
	scratch = appendShared(scratch[:0], viewerInterests, e.Interests)
	b = e.wire.AppendNearbyUser(b, round1(h.Distance), math.Mod(round1(h.Bearing), 360), true, scratch)
	return b, scratch
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

func hashUser(userJSON []byte) uint64 {
	h := fnv.New64a()
	_, _ = h.Write(userJSON)
	return h.Sum64()
}

// Fingerprint summarises what a viewer would see in a result, so a pushed
// update is sent only when something visible changed: who, how far (to the
// metre), which way (to the degree), their profile and shared interests. A
// timestamp refresh alone is not a change. The profile counts by the hash
// each entry took of it when published: hashing 50 profiles again for
// every answer and push cost as much as encoding them.
func Fingerprint(hits []Hit, viewerInterests []string) uint64 {
	h := fnv.New64a()
	buf := make([]byte, 0, 64)
	var shared []string
	for _, x := range hits {
		e := x.Entry
		uh := e.userHash
		if !e.encoded {
			uh = hashUser(e.UserJSON) // an Entry built without NewEntry
		}
		buf = binary.LittleEndian.AppendUint64(buf[:0], uh)
		buf = strconv.AppendInt(buf, int64(math.Round(x.Distance)), 10)
		buf = append(buf, '/')
		buf = strconv.AppendInt(buf, int64(math.Round(x.Bearing))%360, 10)
		shared = appendShared(shared[:0], viewerInterests, e.Interests)
		for _, s := range shared {
			buf = append(buf, '#')
			buf = append(buf, s...)
		}
		buf = append(buf, 0)
		_, _ = h.Write(buf)
	}
	return h.Sum64()
}
