package server_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"

	"github.com/gisbi/engine/protocol"
)

// socketSeeds are realistic payloads by "dialect:type", placeholders
// included (see fuzzFixtures). Every served type is also seeded with `{}`,
// so a new type is fuzzed before anyone writes it a seed.
var socketSeeds = map[string][]string{
	"ws:session.start":   {`{"lastSeenAt":"2026-04-19T08:00:00Z"}`, `{"lastSeenAt":"yesterday"}`, `{"lastSeenAt":null}`},
	"ws:session.refresh": {`{"accessToken":"$ACCESS"}`, `{"accessToken":"$REFRESH"}`, `{"accessToken":"eyJhbGciOiJub25lIn0.e30."}`},
	"ws:presence.location_update": {
		`{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2,"heading":120.0,"speed":1.7}`,
		`{"lat":-90,"lng":180}`, `{"lat":91,"lng":0}`, `{"lat":"6.5","lng":3.3}`, `{"lat":6.5}`,
	},
	"ws:radar.set_visible":         {`{"isOnRadar":false}`, `{"isOnRadar":true}`, `{"isOnRadar":"yes"}`},
	"ws:connection.request.send":   {`{"userId":"$STRANGER"}`, `{"userId":"$PEER"}`, `{"userId":"$ME"}`, `{"userId":"user_\u0000"}`},
	"ws:connection.request.accept": {`{"requestId":"$REQ"}`, `{"requestId":"req_nope"}`},
	"ws:connection.request.reject": {`{"requestId":"$REQ"}`},
	"ws:connection.request.cancel": {`{"requestId":"$REQ"}`},
	"ws:connection.close":          {`{"connectionId":"$CONN","closureReason":"moved away"}`, `{"connectionId":"$CONN","closureReason":7}`},
	"ws:connection.ring":           {`{"userId":"$PEER"}`, `{"userId":"$PEND"}`},
	"ws:chat.message.created": {
		`{"recipientId":"$PEER","content":"hi 👋 <b>&amp;</b>"}`, `{"recipientId":"$PEER","content":"   "}`,
		`{"recipientId":"$STRANGER","content":"hello"}`, `{"recipientId":"$ME","content":"me"}`,
		`{"recipientId":"$PEER","content":"once","clientMessageId":"fuzz-key-1"}`, `{"recipientId":"$PEER","content":"again","clientMessageId":"$MSG"}`,
	},
	"ws:chat.message.read": {`{"messageId":"$MSG"}`, `{"messageId":"msg_nope"}`},
	"ws:chat.typing":       {`{"recipientId":"$PEER","isTyping":true}`, `{"recipientId":"$PEER"}`},
	"ws:chat.location.share.start": {
		`{"recipientId":"$PEER","location":{"lat":6.5244,"lng":3.3792,"accuracyMeters":5,"updatedAt":"2026-04-19T08:00:00Z"}}`,
		`{"recipientId":"$PEER","location":{"lat":6.5244,"lng":3.3792,"updatedAt":"noon"}}`,
	},
	"ws:chat.location.updated":    {`{"recipientId":"$PEER","location":{"lat":6.5245,"lng":3.3793,"heading":90,"speed":1.2}}`},
	"ws:chat.location.share.stop": {`{"recipientId":"$PEER"}`},
	"ws:proximity.session.start":  {`{"connectionId":"$CONN","token":"$BLE","rssi":-61}`, `{"connectionId":"$CONN","token":"$BLE","rssi":-200}`},
	"ws:proximity.heartbeat":      {`{"connectionId":"$CONN","token":"$BLE","rssi":-55}`, `{"connectionId":"$CONN","token":"ffffffff","rssi":-55}`},
	"ws:proximity.session.end":    {`{"connectionId":"$CONN"}`, `{"connectionId":"conn_nope"}`},
	"ws:safety.report":            {`{"reportedUserId":"$STRANGER","reason":"spam"}`, `{"reportedUserId":"$PEER","reason":""}`},
	"ws:safety.block":             {`{"blockedUserId":"$STRANGER"}`},
	"ws:safety.unblock":           {`{"blockedUserId":"$STRANGER"}`},
	"ws:gift.history.fetch":       {`{"limit":10}`, `{"limit":0}`, `{"cursor":"ZzE6c2dnXzAx"}`, `{"limit":5,"cursor":null}`},
	"ws:gift.claim":               {`{"giftId":"$GIFT"}`, `{"giftId":"sgg_nope"}`},
	"socket:typing-started":       {`{"chat":"$CHAT"}`, `{"chat":"chat_nope"}`},
	"socket:typing-stopped":       {`{"chat":"$CHAT"}`},
	"socket:messages-read":        {`{"chat":"$CHAT"}`, `{"chat":5}`},
}

// FuzzSocketFrames sends each input as a frame of a type the server
// serves, in its dialect, on a real socket: every `/ws` frame type and
// every `/socket` event the sessions' dispatch table registers, through
// the same decode, validation and handler a client's frame meets. The
// input is a type name (an unregistered one picks a registered type by
// its hash) and the payload; a payload that is not JSON is sent as a JSON
// string.
//
// Properties: every `/ws` frame is answered, with an error whose code is
// documented (never `internal`) or with a type docs/protocol.md lists as
// its answer; every `/socket` event is served in order and only
// documented events come back; the server never answers `internal`, never
// logs an error and never closes a socket, but with 1009 for a frame over
// the limit. Every served `/ws` type must be in the docs' table.
func FuzzSocketFrames(f *testing.F) {
	w := newFuzzWorld(f, false)
	var registry []string
	for _, typ := range w.srv.FrameTypes(protocol.DialectWS) {
		if _, ok := w.replies[typ]; !ok {
			f.Errorf("docs/protocol.md's client → server table lacks %s, a type the server serves", typ)
		}
		registry = append(registry, "ws:"+typ)
	}
	for _, typ := range w.srv.FrameTypes(protocol.DialectLegacy) {
		registry = append(registry, "socket:"+typ)
	}
	for name := range socketSeeds {
		if !slices.Contains(registry, name) {
			f.Errorf("socketSeeds has %s, which the server does not serve", name)
		}
	}
	for _, name := range registry {
		f.Add(name, []byte(`{}`))
		for _, s := range socketSeeds[name] {
			f.Add(name, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, name string, payload []byte) {
		fx := w.next(t)
		name = pick(name, registry)
		dialect, typ, _ := strings.Cut(name, ":")
		body := jsonPayload(fx.fill.Replace(string(payload)))
		// Deferred, so an input that fails otherwise is still checked and
		// the next one is not blamed for it.
		defer w.checkQuiet(t, fmt.Sprintf("%s %s", name, body))
		if dialect == "ws" {
			w.exchangeWS(t, fx, typ, body)
		} else {
			w.exchangeLegacy(t, fx, typ, body)
		}
	})
}

// jsonPayload is s when it is JSON, else s as a JSON string.
func jsonPayload(s string) []byte {
	if json.Valid([]byte(s)) {
		return []byte(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (w *fuzzWorld) exchangeWS(t *testing.T, fx *fuzzFixtures, typ string, payload []byte) {
	w.seq++
	id := "fz" + strconv.Itoa(w.seq)
	frame := []byte(`{"type":` + jsonString(typ) + `,"payload":` + string(payload) + `,"requestId":"` + id + `"}`)
	if err := fx.ws.WriteMessage(websocket.TextMessage, frame); err != nil {
		fx.spent = true
		t.Fatalf("%s %s: write: %v", typ, payload, err)
	}
	for {
		f, raw, err := read(fx.ws)
		if err != nil {
			w.closed(t, fx, err, len(frame), typ, payload)
			return
		}
		if f.RequestID != id {
			continue // a push, or the late second answer of an earlier frame
		}
		if f.Type == protocol.TypeError {
			w.checkErrorPayload(t, typ, payload, id, f.Payload)
			return
		}
		if !slices.Contains(w.replies[typ], f.Type) {
			t.Fatalf("%s %s answered %s; docs/protocol.md lists %v", typ, payload, raw, w.replies[typ])
		}
		return
	}
}

// exchangeLegacy sends the event and then an unknown one: the dialect has
// no acknowledgements, so the sentinel's refusal is what says the event
// was served (frames are served in order).
func (w *fuzzWorld) exchangeLegacy(t *testing.T, fx *fuzzFixtures, event string, data []byte) {
	frame := []byte(`{"event":` + jsonString(event) + `,"data":` + string(data) + `}`)
	for _, b := range [][]byte{frame, []byte(`{"event":"fuzz-sentinel"}`)} {
		if err := fx.legacy.WriteMessage(websocket.TextMessage, b); err != nil {
			fx.spent = true
			t.Fatalf("%s %s: write: %v", event, data, err)
		}
	}
	for {
		f, raw, err := read(fx.legacy)
		if err != nil {
			w.closed(t, fx, err, len(frame), event, data)
			return
		}
		if f.Event == "" || !w.legacyEvents[f.Event] {
			t.Fatalf("%s %s: undocumented legacy frame %s", event, data, raw)
		}
		var text protocol.LegacyText
		_ = json.Unmarshal(f.Data, &text)
		if f.Event == protocol.EventValidationFailed && strings.Contains(text.Message, "fuzz-sentinel") {
			return
		}
	}
}

// closed judges a socket the server closed (or that went silent): only an
// oversized frame may close it.
func (w *fuzzWorld) closed(t *testing.T, fx *fuzzFixtures, err error, size int, typ string, payload []byte) {
	fx.spent = true
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		if ce.Code == websocket.CloseMessageTooBig && size > w.srv.Config.MaxFrameBytes {
			return
		}
		t.Fatalf("%s %s: the server closed the socket with %d %q", typ, payload, ce.Code, ce.Text)
	}
	t.Fatalf("%s %s: no answer: %v", typ, payload, err)
}

// checkErrorPayload checks an error frame's payload: a documented code
// other than internal, a known domain, the request's id.
func (w *fuzzWorld) checkErrorPayload(t *testing.T, typ string, payload []byte, id string, raw json.RawMessage) {
	t.Helper()
	var e protocol.ErrorPayload
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatalf("%s %s: error payload %s: %v", typ, payload, raw, err)
	}
	if _, ok := w.codes[string(e.Code)]; !ok || e.Code == protocol.CodeInternal {
		t.Fatalf("%s %s: error code %q (%s) is not a documented client error", typ, payload, e.Code, e.Message)
	}
	switch e.Domain {
	case protocol.DomainAuth, protocol.DomainSession, protocol.DomainPresence, protocol.DomainConnections,
		protocol.DomainProximity, protocol.DomainChat, protocol.DomainGifts, protocol.DomainSafety, protocol.DomainUsers:
	default:
		t.Fatalf("%s %s: error domain %q", typ, payload, e.Domain)
	}
	if e.RequestID != id {
		t.Fatalf("%s %s: error for request %q, want %q", typ, payload, e.RequestID, id)
	}
}
