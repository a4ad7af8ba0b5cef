package loadgen

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

var errBadFrame = errors.New("malformed frame")

// decodeFrame reads a server frame's envelope without decoding its payload.
// Radar answers are ~16 KB of JSON that the generator only counts, and
// encoding/json would spend most of the generator's CPU scanning them, so
// this skims the top-level object: it finds each key and skips its value
// by tracking strings and nesting, at memory speed. On the way through an
// object payload it counts the entries of nearbyUsers (f.nearby), so a
// radar answer is read once, never decoded. Anything it does not expect
// goes to encoding/json, which decides.
func decodeFrame(b []byte, f *inFrame) error {
	f.nearby = -1
	if err := skimFrame(b, f); err == nil {
		return nil
	}
	*f = inFrame{recvAt: f.recvAt, nearby: -1}
	if err := json.Unmarshal(b, f); err != nil {
		return err
	}
	// A frame the skim would not judge is rare: count as encoding/json
	// would read it.
	var p struct {
		NearbyUsers []json.RawMessage `json:"nearbyUsers"`
	}
	if len(f.Payload) > 0 && f.Payload[0] == '{' && json.Unmarshal(f.Payload, &p) == nil && p.NearbyUsers != nil {
		f.nearby = len(p.NearbyUsers)
	}
	return nil
}

// frameKeys are the envelope keys; encoding/json matches keys regardless
// of case, so any other spelling of one is left to it.
var frameKeys = [...]string{"type", "timestamp", "requestId", "payload"}

func skimFrame(b []byte, f *inFrame) error {
	end, err := walkObject(b, skipSpace(b, 0), func(key []byte, vs int) (int, error) {
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, errBadFrame // an escaped key may spell an envelope key: encoding/json decides
		}
		if string(key) == "payload" && vs < len(b) && b[vs] == '{' {
			ve, n, err := skimPayload(b, vs)
			if err != nil {
				return 0, err
			}
			f.Payload, f.nearby = b[vs:ve], n
			return ve, nil
		}
		ve, _, err := scanValue(b, vs)
		if err != nil {
			return 0, err
		}
		val := b[vs:ve]
		switch string(key) {
		case "type":
			err = plainString(val, &f.Type)
		case "timestamp":
			err = plainString(val, &f.Timestamp)
		case "requestId":
			err = plainString(val, &f.RequestID)
		case "payload":
			f.Payload, f.nearby = val, -1
		default:
			for _, k := range frameKeys {
				if bytes.EqualFold(key, []byte(k)) {
					return 0, errBadFrame
				}
			}
		}
		return ve, err
	})
	if err != nil {
		return err
	}
	if skipSpace(b, end) != len(b) {
		return errBadFrame
	}
	return nil
}

var nearbyKey = []byte("nearbyUsers")

// skimPayload skips the payload object at b[i] and returns its end and the
// number of entries of its nearbyUsers array (-1 without one): the radar
// answer's result count, in the same pass that skips it.
func skimPayload(b []byte, i int) (end, nearby int, err error) {
	nearby = -1
	end, err = walkObject(b, i, func(key []byte, vs int) (int, error) {
		if bytes.IndexByte(key, '\\') >= 0 {
			return 0, errBadFrame // an escaped key: encoding/json decides
		}
		ve, n, err := scanValue(b, vs)
		// encoding/json matches keys regardless of case, and the last of
		// two wins: so does this.
		if err == nil && bytes.EqualFold(key, nearbyKey) {
			nearby = -1
			if b[vs] == '[' {
				nearby = n
			}
		}
		return ve, err
	})
	return end, nearby, err
}

// walkObject walks the object at b[i]: for each member it calls value with
// the raw key (no quotes, escapes left in) and where its value starts, and
// value returns where the value ends. walkObject returns the end of the
// object.
func walkObject(b []byte, i int, value func(key []byte, vs int) (int, error)) (int, error) {
	if i >= len(b) || b[i] != '{' {
		return 0, errBadFrame
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		ks, ke, err := stringSpan(b, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return 0, errBadFrame
		}
		ve, err := value(b[ks+1:ke-1], skipSpace(b, i+1))
		if err != nil {
			return 0, err
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		return 0, errBadFrame
	}
}

// plainString sets *dst to a JSON string without escapes; anything else
// (escapes, numbers, null) is left to encoding/json.
func plainString(v []byte, dst *string) error {
	if len(v) < 2 || v[0] != '"' || bytes.IndexByte(v, '\\') >= 0 || !utf8.Valid(v) {
		return errBadFrame // encoding/json would replace invalid UTF-8
	}
	*dst = string(v[1 : len(v)-1])
	return nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// stringSpan returns the span of the JSON string starting at b[i], quotes
// included.
func stringSpan(b []byte, i int) (start, end int, err error) {
	if i >= len(b) || b[i] != '"' {
		return 0, 0, errBadFrame
	}
	q := closingQuote(b, i+1)
	if q < 0 {
		return 0, 0, errBadFrame
	}
	return i, q + 1, nil
}

// closingQuote returns the index of the quote that ends the string whose
// content starts at b[j], or -1. It jumps from quote to quote with
// bytes.IndexByte (vectorised) instead of looking at every byte: a quote
// ends the string unless an odd run of backslashes escapes it.
func closingQuote(b []byte, j int) int {
	for {
		k := bytes.IndexByte(b[j:], '"')
		if k < 0 {
			return -1
		}
		q := j + k
		n := 0
		for q-n-1 >= j && b[q-n-1] == '\\' {
			n++
		}
		if n%2 == 0 {
			return q
		}
		j = q + 1
	}
}

// Byte classes of scanValue. Most bytes of a radar answer are none of
// these, and one table load per byte is what keeps the scan fast.
const (
	clsQuote = 1 + iota
	clsOpen
	clsClose
	clsComma
)

var jsonClass = [256]uint8{'"': clsQuote, '{': clsOpen, '[': clsOpen, '}': clsClose, ']': clsClose, ',': clsComma}

// scanValue returns the end of the JSON value starting at b[i] and, for an
// object or array, the number of members at its top level (0 when empty).
// It checks the nesting, not the grammar: a malformed payload inside a
// well-nested frame is the payload reader's problem.
func scanValue(b []byte, i int) (end, members int, err error) {
	if i >= len(b) {
		return 0, 0, errBadFrame
	}
	switch b[i] {
	case '"':
		_, end, err := stringSpan(b, i)
		return end, 0, err
	case '{', '[':
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, 0, errBadFrame
		}
		return j, 0, nil
	}
	// Members are the commas at depth 1, plus one unless it is empty.
	if k := skipSpace(b, i+1); k < len(b) && (b[k] != '}' && b[k] != ']') {
		members = 1
	}
	var buf [32]byte
	stack := buf[:0]
	for j := i; j < len(b); j++ {
		c := b[j]
		switch jsonClass[c] {
		case 0:
		case clsQuote:
			q := closingQuote(b, j+1)
			if q < 0 {
				return 0, 0, errBadFrame
			}
			j = q
		case clsOpen:
			stack = append(stack, c)
		case clsClose:
			if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
				return 0, 0, errBadFrame
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return j + 1, members, nil
			}
		case clsComma:
			if len(stack) == 1 {
				members++
			}
		}
	}
	return 0, 0, errBadFrame
}

// decodeLegacyFrame reads a legacy `{event, data}` frame into f: Type is
// the event and Payload its data, so the rest of the generator handles
// both dialects' frames alike. Legacy frames carry no radar payloads, so
// encoding/json reads them whole.
func decodeLegacyFrame(b []byte, f *inFrame) error {
	var raw struct {
		Event string          `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw.Event == "" {
		return errBadFrame
	}
	f.Type, f.Payload = raw.Event, raw.Data
	return nil
}
