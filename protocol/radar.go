package protocol

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// The radar answers every location update with up to 50 NearbyUsers (about
// 16 KB) and pushes the same shape to every watcher whose view changed, so
// these shapes have hand-written encoders. Each writes the bytes
// json.Marshal writes for the same value (keys in field order, HTML-safe
// string escapes, Go's float forms), with two deliberate differences: a nil
// list is written [] (the spec's lists are never null), and a NaN or
// infinite number, which json.Marshal refuses, is written 0. Round-trip
// tests (radar_test.go) hold each one to its struct.

// NearbyParts is the part of a NearbyUser that every viewer sees alike:
// "user" and "location". The radar encodes it once when a position is
// published, so an answer copies these bytes instead of formatting the same
// profile and floats again for each viewer and each push.
type NearbyParts struct {
	b   []byte // `"user":…` then `,"location":{…}`
	loc int    // where the location starts in b
}

// EncodeNearbyParts encodes the viewer-independent fields of a NearbyUser.
// user is compact JSON the server encoded (copied as is; empty is null).
func EncodeNearbyParts(user json.RawMessage, loc *Location) NearbyParts {
	b := make([]byte, 0, len(user)+192)
	b = appendRawField(b, `"user":`, user)
	at := len(b)
	b = append(b, `,"location":`...)
	b = AppendLocation(b, loc)
	return NearbyParts{b: b, loc: at}
}

// AppendNearbyUser appends the NearbyUser made of p and the fields that
// depend on the viewer.
func (p *NearbyParts) AppendNearbyUser(b []byte, distance, angle float64, isLive bool, sharedInterests []string) []byte {
	b = append(b, '{')
	b = append(b, p.b[:p.loc]...)
	b = appendViewerFields(b, distance, angle, isLive, sharedInterests)
	b = append(b, p.b[p.loc:]...)
	return append(b, '}')
}

// AppendNearbyUser appends u as JSON.
func AppendNearbyUser(b []byte, u *NearbyUser) []byte {
	b = append(b, '{')
	b = appendRawField(b, `"user":`, u.User)
	b = appendViewerFields(b, u.Distance, u.Angle, u.IsLive, u.SharedInterests)
	b = append(b, `,"location":`...)
	b = AppendLocation(b, &u.Location)
	return append(b, '}')
}

func appendViewerFields(b []byte, distance, angle float64, isLive bool, shared []string) []byte {
	b = append(b, `,"distance":`...)
	b = appendWireFloat(b, distance)
	b = append(b, `,"angle":`...)
	b = appendWireFloat(b, angle)
	b = append(b, `,"isLive":`...)
	b = strconv.AppendBool(b, isLive)
	b = append(b, `,"sharedInterests":`...)
	return appendWireStrings(b, shared)
}

// AppendNearbyList appends a JSON list of n NearbyUsers, each appended by
// item. It lets the radar write its hits without first copying them into
// NearbyUser values.
func AppendNearbyList(b []byte, n int, item func(b []byte, i int) []byte) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = item(b, i)
	}
	return append(b, ']')
}

// AppendNearbyPayloadList appends the radar.nearby.updated payload around a
// list written as by AppendNearbyList.
func AppendNearbyPayloadList(b []byte, n int, item func(b []byte, i int) []byte) []byte {
	b = append(b, `{"nearbyUsers":`...)
	b = AppendNearbyList(b, n, item)
	return append(b, '}')
}

// AppendNearbyPayload appends p as JSON.
func AppendNearbyPayload(b []byte, p *NearbyPayload) []byte {
	return AppendNearbyPayloadList(b, len(p.NearbyUsers), func(b []byte, i int) []byte {
		return AppendNearbyUser(b, &p.NearbyUsers[i])
	})
}

// AppendLocation appends l as JSON; a nil l is null.
func AppendLocation(b []byte, l *Location) []byte {
	if l == nil {
		return append(b, "null"...)
	}
	b = append(b, `{"lat":`...)
	b = appendWireFloat(b, l.Lat)
	b = append(b, `,"lng":`...)
	b = appendWireFloat(b, l.Lng)
	if l.AccuracyMeters != nil {
		b = append(b, `,"accuracyMeters":`...)
		b = appendWireFloat(b, *l.AccuracyMeters)
	}
	if l.Heading != nil {
		b = append(b, `,"heading":`...)
		b = appendWireFloat(b, *l.Heading)
	}
	if l.Speed != nil {
		b = append(b, `,"speed":`...)
		b = appendWireFloat(b, *l.Speed)
	}
	b = append(b, `,"updatedAt":`...)
	b = appendWireString(b, l.UpdatedAt)
	return append(b, '}')
}

// AppendPresencePayload appends the presence.updated payload, which answers
// every location update.
func AppendPresencePayload(b []byte, p *PresencePayload) []byte {
	b = append(b, `{"userId":`...)
	b = appendWireString(b, p.UserID)
	b = append(b, `,"presence":{"isLive":`...)
	b = strconv.AppendBool(b, p.Presence.IsLive)
	b = append(b, `,"isOnRadar":`...)
	b = strconv.AppendBool(b, p.Presence.IsOnRadar)
	b = append(b, `,"location":`...)
	b = AppendLocation(b, p.Presence.Location)
	return append(b, "}}"...)
}

func appendRawField(b []byte, key string, raw json.RawMessage) []byte {
	b = append(b, key...)
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// appendWireFloat writes f as encoding/json does: the shortest form that
// reads back the same, exponent only for very small or very large numbers.
func appendWireFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	abs := math.Abs(f)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		b = strconv.AppendFloat(b, f, 'e', -1, 64)
		// e-07 → e-7, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func appendWireStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendWireString(b, s)
	}
	return append(b, ']')
}

const wireHex = "0123456789abcdef"

// appendWireString quotes s as encoding/json does by default: control
// characters, quotes and backslashes escaped, <, > and & escaped for HTML,
// invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped for
// JavaScript.
func appendWireString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', wireHex[c>>4], wireHex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', wireHex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
