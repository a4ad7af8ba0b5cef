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
// by tracking strings and nesting, at memory speed. Anything it does not
// expect goes to encoding/json, which decides.
func decodeFrame(b []byte, f *inFrame) error {
	if err := skimFrame(b, f); err == nil {
		return nil
	}
	*f = inFrame{recvAt: f.recvAt}
	return json.Unmarshal(b, f)
}

func skimFrame(b []byte, f *inFrame) error {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return errBadFrame
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return trailing(b, i+1)
	}
	for {
		i = skipSpace(b, i)
		ks, ke, err := stringSpan(b, i)
		if err != nil {
			return err
		}
		key := b[ks+1 : ke-1]
		i = skipSpace(b, ke)
		if i >= len(b) || b[i] != ':' {
			return errBadFrame
		}
		i = skipSpace(b, i+1)
		ve, err := skipValue(b, i)
		if err != nil {
			return err
		}
		val := b[i:ve]
		switch string(key) {
		case "type":
			err = plainString(val, &f.Type)
		case "timestamp":
			err = plainString(val, &f.Timestamp)
		case "requestId":
			err = plainString(val, &f.RequestID)
		case "payload":
			f.Payload = val
		default:
			// encoding/json matches keys regardless of case: let it.
			for _, k := range [...]string{"type", "timestamp", "requestId", "payload"} {
				if bytes.EqualFold(key, []byte(k)) {
					return errBadFrame
				}
			}
		}
		if err != nil {
			return err
		}
		i = skipSpace(b, ve)
		if i < len(b) && b[i] == ',' {
			i++
			continue
		}
		if i < len(b) && b[i] == '}' {
			return trailing(b, i+1)
		}
		return errBadFrame
	}
}

func trailing(b []byte, i int) error {
	if skipSpace(b, i) != len(b) {
		return errBadFrame
	}
	return nil
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
	j := i + 1
	for j < len(b) {
		switch b[j] {
		case '\\':
			j += 2
		case '"':
			return i, j + 1, nil
		default:
			j++
		}
	}
	return 0, 0, errBadFrame
}

// skipValue returns the end of the JSON value starting at b[i]. It checks
// the nesting, not the grammar: a malformed payload inside a well-nested
// frame is the payload reader's problem.
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errBadFrame
	}
	switch b[i] {
	case '"':
		_, end, err := stringSpan(b, i)
		return end, err
	case '{', '[':
		var buf [32]byte
		stack := buf[:0]
		for j := i; j < len(b); j++ {
			switch c := b[j]; c {
			case '"':
				_, end, err := stringSpan(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				stack = append(stack, c)
			case '}', ']':
				if len(stack) == 0 || (c == '}') != (stack[len(stack)-1] == '{') {
					return 0, errBadFrame
				}
				stack = stack[:len(stack)-1]
				if len(stack) == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errBadFrame
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\r' && b[j] != '\t' {
			j++
		}
		if j == i {
			return 0, errBadFrame
		}
		return j, nil
	}
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
