package protocol

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestDecodeClientFrame(t *testing.T) {
	id128 := strings.Repeat("r", MaxIDLength)
	id129 := strings.Repeat("r", MaxIDLength+1)
	type64 := strings.Repeat("t", 64)

	tests := []struct {
		name    string
		in      string
		code    Code   // empty: success
		msg     string // substring of the error message
		typ     string
		reqID   string
		corrID  string
		payload string // compared semantically; empty: not checked
	}{
		// Valid frames.
		{name: "spec example", in: `{"type":"session.start","payload":{},"requestId":"req_123","correlationId":"corr_123"}`,
			typ: "session.start", reqID: "req_123", corrID: "corr_123", payload: `{}`},
		{name: "payload kept", in: `{"type":"presence.location_update","payload":{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2}}`,
			typ: "presence.location_update", payload: `{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2}`},
		{name: "keys in any order with whitespace", in: " \n\t{ \"requestId\" : \"r\" , \"payload\" : { \"a\" : [1, 2] } , \"type\" : \"chat.typing\" }\r\n",
			typ: "chat.typing", reqID: "r", payload: `{"a":[1,2]}`},
		{name: "unknown keys ignored", in: `{"type":"chat.typing","payload":{},"extra":{"x":1},"timestamp":"now"}`,
			typ: "chat.typing", payload: `{}`},
		{name: "escaped type", in: `{"type":"session.st\u0061rt"}`, typ: "session.start", payload: `{}`},
		{name: "type of 64 bytes", in: `{"type":"` + type64 + `"}`, typ: type64, payload: `{}`},
		{name: "non-object payload left to DecodePayload", in: `{"type":"chat.typing","payload":[1,2]}`,
			typ: "chat.typing", payload: `[1,2]`},

		// requestId and correlationId echo.
		{name: "only requestId", in: `{"type":"a","requestId":"r1"}`, typ: "a", reqID: "r1"},
		{name: "only correlationId", in: `{"type":"a","correlationId":"c1"}`, typ: "a", corrID: "c1"},
		{name: "null ids", in: `{"type":"a","requestId":null,"correlationId":null}`, typ: "a"},
		{name: "empty string ids", in: `{"type":"a","requestId":"","correlationId":""}`, typ: "a"},
		{name: "numeric ids", in: `{"type":"a","requestId":42,"correlationId":7}`, typ: "a", reqID: "42", corrID: "7"},
		{name: "numeric ids kept as written", in: `{"type":"a","requestId":-1.50e3,"correlationId":12345678901234567890123}`,
			typ: "a", reqID: "-1.50e3", corrID: "12345678901234567890123"},
		{name: "id with unicode escapes", in: `{"type":"a","requestId":"r\u00e9\n"}`, typ: "a", reqID: "ré\n"},
		{name: "id of 128 bytes", in: `{"type":"a","requestId":"` + id128 + `","correlationId":"` + id128 + `"}`,
			typ: "a", reqID: id128, corrID: id128},

		// Missing, empty or non-string type.
		{name: "missing type", in: `{"payload":{}}`, code: CodeInvalidPayload, msg: "type is required"},
		{name: "null type", in: `{"type":null}`, code: CodeInvalidPayload, msg: "type is required"},
		{name: "empty type", in: `{"type":""}`, code: CodeInvalidPayload, msg: "type"},
		{name: "numeric type", in: `{"type":5}`, code: CodeInvalidPayload, msg: "type"},
		{name: "boolean type", in: `{"type":true}`, code: CodeInvalidPayload, msg: "type"},
		{name: "object type", in: `{"type":{"name":"a"}}`, code: CodeInvalidPayload, msg: "type"},
		{name: "array type", in: `{"type":["a"]}`, code: CodeInvalidPayload, msg: "type"},
		{name: "empty object", in: `{}`, code: CodeInvalidPayload, msg: "type is required"},
		{name: "type longer than 64", in: `{"type":"` + type64 + `x"}`, code: CodeUnknownType},

		// Not JSON, not an object, truncated.
		{name: "empty frame", in: ``, code: CodeInvalidJSON},
		{name: "only whitespace", in: " \n\t ", code: CodeInvalidJSON},
		{name: "plain text", in: `hello`, code: CodeInvalidJSON},
		{name: "JSON null", in: `null`, code: CodeInvalidJSON},
		{name: "JSON array", in: `[{"type":"a"}]`, code: CodeInvalidJSON},
		{name: "JSON string", in: `"session.start"`, code: CodeInvalidJSON},
		{name: "JSON number", in: `42`, code: CodeInvalidJSON},
		{name: "truncated object", in: `{"type":"session.start","payload":{`, code: CodeInvalidJSON},
		{name: "truncated string", in: `{"type":"sess`, code: CodeInvalidJSON},
		{name: "only open brace", in: `{`, code: CodeInvalidJSON},
		{name: "trailing garbage", in: `{"type":"a"} {"type":"b"}`, code: CodeInvalidJSON},
		{name: "single quotes", in: `{'type':'a'}`, code: CodeInvalidJSON},
		{name: "trailing comma", in: `{"type":"a",}`, code: CodeInvalidJSON},
		{name: "bad payload JSON", in: `{"type":"a","payload":{"a":}}`, code: CodeInvalidJSON},
		{name: "form feed before object is not JSON whitespace", in: "\f{\"type\":\"a\"}", code: CodeInvalidJSON},
		{name: "no-break space before object is not JSON", in: "\u00a0{\"type\":\"a\"}", code: CodeInvalidJSON},

		// Null or missing payload.
		{name: "missing payload", in: `{"type":"session.start"}`, typ: "session.start", payload: `{}`},
		{name: "null payload", in: `{"type":"session.start","payload":null}`, typ: "session.start", payload: `{}`},
		{name: "null payload with spaces", in: `{"type":"session.start","payload" :  null  }`, typ: "session.start", payload: `{}`},

		// Bad ids.
		{name: "requestId longer than 128", in: `{"type":"a","requestId":"` + id129 + `"}`, code: CodeInvalidPayload, msg: "requestId"},
		{name: "correlationId longer than 128", in: `{"type":"a","correlationId":"` + id129 + `"}`, code: CodeInvalidPayload, msg: "correlationId"},
		{name: "numeric requestId longer than 128", in: `{"type":"a","requestId":` + strings.Repeat("9", MaxIDLength+1) + `}`,
			code: CodeInvalidPayload, msg: "requestId"},
		{name: "requestId counted in bytes", in: `{"type":"a","requestId":"` + strings.Repeat("é", 65) + `"}`,
			code: CodeInvalidPayload, msg: "requestId"},
		{name: "boolean requestId", in: `{"type":"a","requestId":true}`, code: CodeInvalidPayload, msg: "requestId must be a string"},
		{name: "object correlationId", in: `{"type":"a","correlationId":{}}`, code: CodeInvalidPayload, msg: "correlationId must be a string"},
		{name: "array requestId", in: `{"type":"a","requestId":["r"]}`, code: CodeInvalidPayload, msg: "requestId"},

		// The ids survive a bad frame so the error can echo them.
		{name: "ids kept when type missing", in: `{"requestId":"r1","correlationId":"c1","payload":{}}`,
			code: CodeInvalidPayload, reqID: "r1", corrID: "c1"},
		{name: "numeric ids kept when type is not a string", in: `{"type":5,"requestId":9,"correlationId":"c9"}`,
			code: CodeInvalidPayload, reqID: "9", corrID: "c9"},
		{name: "ids kept when type empty", in: `{"type":"","requestId":"r2","correlationId":"c2"}`,
			code: CodeInvalidPayload, reqID: "r2", corrID: "c2"},
		{name: "ids kept when type too long", in: `{"type":"` + type64 + `x","requestId":"r3","correlationId":"c3"}`,
			code: CodeUnknownType, reqID: "r3", corrID: "c3"},
		{name: "requestId kept when correlationId bad", in: `{"type":"a","requestId":"r4","correlationId":"` + id129 + `"}`,
			code: CodeInvalidPayload, reqID: "r4"},
		{name: "correlationId kept when requestId bad", in: `{"type":"a","requestId":"` + id129 + `","correlationId":"c5"}`,
			code: CodeInvalidPayload, corrID: "c5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := DecodeClientFrame([]byte(tc.in))
			var fails []string
			switch {
			case tc.code == "" && err != nil:
				fails = append(fails, fmt.Sprintf("unexpected error %v", err))
			case tc.code != "" && err == nil:
				fails = append(fails, fmt.Sprintf("got frame %+v, want error %s", f, tc.code))
			case tc.code != "" && err.Code != tc.code:
				fails = append(fails, fmt.Sprintf("code = %s (%q), want %s", err.Code, err.Message, tc.code))
			case tc.code != "" && !strings.Contains(err.Message, tc.msg):
				fails = append(fails, fmt.Sprintf("message = %q, want it to contain %q", err.Message, tc.msg))
			}
			if err != nil && err.Domain != DomainSession {
				fails = append(fails, fmt.Sprintf("domain = %q, want %q", err.Domain, DomainSession))
			}
			if f.RequestID != tc.reqID || f.CorrelationID != tc.corrID {
				fails = append(fails, fmt.Sprintf("ids = (%q, %q), want (%q, %q)", f.RequestID, f.CorrelationID, tc.reqID, tc.corrID))
			}
			if tc.code == "" {
				if f.Type != tc.typ {
					fails = append(fails, fmt.Sprintf("type = %q, want %q", f.Type, tc.typ))
				}
				if !json.Valid(f.Payload) {
					fails = append(fails, fmt.Sprintf("payload %q is not valid JSON", f.Payload))
				}
				if tc.payload != "" && !sameJSON(f.Payload, []byte(tc.payload)) {
					fails = append(fails, fmt.Sprintf("payload = %s, want %s", f.Payload, tc.payload))
				}
			}
			reportFailures(t, fails)
		})
	}
}

var wireTimestamp = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestFormatTime(t *testing.T) {
	tests := []struct {
		name string
		in   time.Time
		want string
	}{
		{"UTC with nanoseconds truncated to ms", testNow, "2026-04-14T14:12:20.123Z"},
		{"whole second keeps .000", time.Date(2026, 4, 14, 14, 12, 20, 0, time.UTC), "2026-04-14T14:12:20.000Z"},
		{"999.9 ms is truncated, not rounded", time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, time.UTC), "2026-12-31T23:59:59.999Z"},
		{"positive offset converted to UTC", time.Date(2026, 4, 14, 15, 12, 20, 5_000_000, time.FixedZone("WAT", 3600)), "2026-04-14T14:12:20.005Z"},
		{"negative offset crosses midnight", time.Date(2026, 4, 14, 20, 0, 0, 0, time.FixedZone("PDT", -7*3600)), "2026-04-15T03:00:00.000Z"},
		{"local time zone", testNow.In(time.FixedZone("X", 5*3600+1800)), "2026-04-14T14:12:20.123Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FormatTime(tc.in)
			if got != tc.want {
				t.Errorf("FormatTime = %q, want %q", got, tc.want)
			}
			if !wireTimestamp.MatchString(got) {
				t.Errorf("%q is not RFC 3339 UTC with milliseconds", got)
			}
			back, err := time.Parse(time.RFC3339Nano, got)
			if err != nil || !back.Equal(tc.in.Truncate(time.Millisecond)) {
				t.Errorf("%q parses back as %v (%v), want %v", got, back, err, tc.in.Truncate(time.Millisecond))
			}
		})
	}
}

func TestEncodeFrame(t *testing.T) {
	type location struct {
		Lat float64 `json:"lat"`
		Lng float64 `json:"lng"`
	}
	tests := []struct {
		name     string
		typ      string
		payload  any
		now      time.Time
		reqID    string
		corrID   string
		wantKeys []string
		want     map[string]string // key -> raw JSON value
	}{
		{
			name: "event without ids", typ: TypeSessionConnected, payload: map[string]any{}, now: testNow,
			wantKeys: []string{"type", "payload", "timestamp"},
			want:     map[string]string{"type": `"session.connected"`, "payload": `{}`, "timestamp": `"2026-04-14T14:12:20.123Z"`},
		},
		{
			name: "nil payload is an empty object", typ: TypeSessionConnected, payload: nil, now: testNow,
			wantKeys: []string{"type", "payload", "timestamp"},
			want:     map[string]string{"payload": `{}`},
		},
		{
			name: "reply echoes both ids", typ: TypeRadarNearby, payload: map[string]any{"nearbyUsers": []any{}}, now: testNow,
			reqID: "req_123", corrID: "corr_123",
			wantKeys: []string{"type", "payload", "timestamp", "requestId", "correlationId"},
			want:     map[string]string{"requestId": `"req_123"`, "correlationId": `"corr_123"`, "payload": `{"nearbyUsers":[]}`},
		},
		{
			name: "only requestId", typ: TypeSafetyBlock, payload: map[string]string{"blockedUserId": "u1"}, now: testNow, reqID: "r",
			wantKeys: []string{"type", "payload", "timestamp", "requestId"},
			want:     map[string]string{"requestId": `"r"`},
		},
		{
			name: "only correlationId", typ: TypeSafetyBlock, payload: map[string]string{}, now: testNow, corrID: "c",
			wantKeys: []string{"type", "payload", "timestamp", "correlationId"},
			want:     map[string]string{"correlationId": `"c"`},
		},
		{
			name: "struct payload", typ: TypePresenceUpdated, payload: location{Lat: 6.5244, Lng: 3.3792}, now: testNow,
			wantKeys: []string{"type", "payload", "timestamp"},
			want:     map[string]string{"payload": `{"lat":6.5244,"lng":3.3792}`},
		},
		{
			name: "pre-encoded payload embedded as is", typ: TypeSessionBootstrap, payload: json.RawMessage(`{"a":[1,2]}`), now: testNow,
			wantKeys: []string{"type", "payload", "timestamp"},
			want:     map[string]string{"payload": `{"a":[1,2]}`},
		},
		{
			name: "timestamp in UTC from another zone", typ: TypeVibeExpired, payload: nil,
			now:      time.Date(2026, 4, 14, 23, 30, 0, 7_000_000, time.FixedZone("EST", -5*3600)),
			wantKeys: []string{"type", "payload", "timestamp"},
			want:     map[string]string{"timestamp": `"2026-04-15T04:30:00.007Z"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeFrame(tc.typ, tc.payload, tc.now, tc.reqID, tc.corrID)
			if err != nil {
				t.Fatalf("EncodeFrame: %v", err)
			}
			m := decodeObject(t, b)
			keys := keysOf(m)
			slices.Sort(keys)
			wantKeys := slices.Clone(tc.wantKeys)
			slices.Sort(wantKeys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("keys = %v, want %v\n%s", keys, wantKeys, b)
			}
			if got := string(m["type"]); got != `"`+tc.typ+`"` {
				t.Errorf("type = %s, want %q", got, tc.typ)
			}
			var ts string
			if err := json.Unmarshal(m["timestamp"], &ts); err != nil || !wireTimestamp.MatchString(ts) {
				t.Errorf("timestamp = %s, want RFC 3339 UTC with milliseconds", m["timestamp"])
			}
			for k, want := range tc.want {
				if !sameJSON(m[k], []byte(want)) {
					t.Errorf("%s = %s, want %s", k, m[k], want)
				}
			}
		})
	}
}

func TestEncodeFrameUnencodablePayload(t *testing.T) {
	if _, err := EncodeFrame(TypeSessionBootstrap, map[string]any{"c": make(chan int)}, testNow, "", ""); err == nil {
		t.Fatal("EncodeFrame of a channel succeeded, want an error")
	}
}

func TestEncodeError(t *testing.T) {
	tests := []struct {
		name        string
		err         *Error
		reqID       string
		corrID      string
		wantTop     []string          // keys of the frame
		wantPayload map[string]string // key -> raw JSON; exactly these keys
	}{
		{
			name:    "spec example",
			err:     Errorf(CodeMissingUserID, DomainConnections, "userId is required"),
			reqID:   "req_123",
			wantTop: []string{"type", "payload", "timestamp", "requestId"},
			wantPayload: map[string]string{
				"code": `"missing_userId"`, "message": `"userId is required"`,
				"domain": `"connections"`, "requestId": `"req_123"`,
			},
		},
		{
			name:    "correlationId echoed at the top",
			err:     Errorf(CodeRateLimited, DomainChat, "slow down"),
			reqID:   "r1",
			corrID:  "c1",
			wantTop: []string{"type", "payload", "timestamp", "requestId", "correlationId"},
			wantPayload: map[string]string{
				"code": `"rate_limited"`, "message": `"slow down"`, "domain": `"chat"`, "requestId": `"r1"`,
			},
		},
		{
			name:    "no requestId to echo",
			err:     Errorf(CodeInvalidJSON, DomainSession, "frame is not valid JSON"),
			wantTop: []string{"type", "payload", "timestamp"},
			wantPayload: map[string]string{
				"code": `"invalid_json"`, "message": `"frame is not valid JSON"`, "domain": `"session"`,
			},
		},
		{
			name:    "details encoded",
			err:     &Error{Code: "request_exists", Message: "a request is pending", Domain: DomainConnections, Details: map[string]string{"requestId": "cr_1"}},
			reqID:   "r2",
			wantTop: []string{"type", "payload", "timestamp", "requestId"},
			wantPayload: map[string]string{
				"code": `"request_exists"`, "message": `"a request is pending"`, "domain": `"connections"`,
				"requestId": `"r2"`, "details": `{"requestId":"cr_1"}`,
			},
		},
		{
			name:    "unencodable details dropped",
			err:     &Error{Code: CodeInternal, Message: "boom", Domain: DomainGifts, Details: func() {}},
			reqID:   "r3",
			wantTop: []string{"type", "payload", "timestamp", "requestId"},
			wantPayload: map[string]string{
				"code": `"internal"`, "message": `"boom"`, "domain": `"gifts"`, "requestId": `"r3"`,
			},
		},
		{
			name:    "message escaped",
			err:     Errorf(CodeInvalidPayload, DomainUsers, "unknown field %q", `a"<b>`),
			wantTop: []string{"type", "payload", "timestamp"},
			wantPayload: map[string]string{
				"code": `"invalid_payload"`, "message": `"unknown field \"a\\\"\u003cb\u003e\""`, "domain": `"users"`,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := EncodeError(tc.err, testNow, tc.reqID, tc.corrID)
			m := decodeObject(t, b)
			keys := keysOf(m)
			slices.Sort(keys)
			wantTop := slices.Clone(tc.wantTop)
			slices.Sort(wantTop)
			if !slices.Equal(keys, wantTop) {
				t.Errorf("frame keys = %v, want %v\n%s", keys, wantTop, b)
			}
			if string(m["type"]) != `"error"` {
				t.Errorf("type = %s, want \"error\"", m["type"])
			}
			if string(m["timestamp"]) != `"2026-04-14T14:12:20.123Z"` {
				t.Errorf("timestamp = %s", m["timestamp"])
			}
			if tc.corrID != "" && string(m["correlationId"]) != `"`+tc.corrID+`"` {
				t.Errorf("correlationId = %s, want %q", m["correlationId"], tc.corrID)
			}
			p := decodeObject(t, m["payload"])
			if len(p) != len(tc.wantPayload) {
				t.Errorf("payload keys = %v, want %d keys\n%s", keysOf(p), len(tc.wantPayload), m["payload"])
			}
			for k, want := range tc.wantPayload {
				if !sameJSON(p[k], []byte(want)) {
					t.Errorf("payload.%s = %s, want %s", k, p[k], want)
				}
			}
		})
	}
}

func TestRESTErrorShape(t *testing.T) {
	b, err := json.Marshal(RESTError{Detail: "user not found", Code: CodeUserNotFound})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"detail":"user not found","code":"user_not_found"}`; string(b) != want {
		t.Errorf("RESTError = %s, want %s", b, want)
	}
}

// A frame written in place (head, payload, tail) is byte for byte the frame
// EncodeRawFrame builds, and both are what encoding/json makes of the
// envelope, also for ids that need escaping.
func TestFrameHeadTailMatchEncodeRawFrame(t *testing.T) {
	now := time.Date(2026, 11, 27, 19, 30, 0, 123_000_000, time.UTC)
	cases := []struct {
		name, typ, req, corr string
		payload              string
	}{
		{"no ids", TypeRadarNearby, "", "", `{"nearbyUsers":[]}`},
		{"request id", TypeRadarNearby, "req-1", "", `{"nearbyUsers":[]}`},
		{"both ids", TypePresenceUpdated, "r", "c-9", `{"a":1}`},
		{"ids needing escapes", TypePresenceUpdated, `q"<&>\` + "\x01", "é", `{}`},
		{"empty payload", TypePresenceUpdated, "r", "", ``},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := EncodeRawFrame(c.typ, []byte(c.payload), now, c.req, c.corr)
			p := c.payload
			if p == "" {
				p = "{}"
			}
			got := AppendFrameTail(append(AppendFrameHead(nil, c.typ), p...), now, c.req, c.corr)
			if string(got) != string(want) {
				t.Fatalf("in place %s\nencoded  %s", got, want)
			}
			var env struct {
				Type          string          `json:"type"`
				Payload       json.RawMessage `json:"payload"`
				Timestamp     string          `json:"timestamp"`
				RequestID     string          `json:"requestId"`
				CorrelationID string          `json:"correlationId"`
			}
			if err := json.Unmarshal(want, &env); err != nil {
				t.Fatalf("not JSON: %v: %s", err, want)
			}
			if env.Type != c.typ || env.RequestID != c.req || env.CorrelationID != c.corr || string(env.Payload) != p || env.Timestamp != FormatTime(now) {
				t.Fatalf("decoded %+v from %s", env, want)
			}
			b, _ := json.Marshal(c.req)
			if c.req != "" && !strings.Contains(string(want), `"requestId":`+string(b)) {
				t.Fatalf("requestId not escaped as encoding/json does: %s", want)
			}
		})
	}
}
