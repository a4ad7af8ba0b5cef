package protocol

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// clientFrameSeeds are realistic `/ws` frames plus the edge cases of the
// envelope, so the fuzzer starts from the shapes clients send.
var clientFrameSeeds = []string{
	`{"type":"session.start","payload":{},"requestId":"req_123","correlationId":"corr_123"}`,
	`{"type":"session.start","payload":{"lastSeenAt":"2026-04-19T08:00:00Z"},"requestId":"req_1"}`,
	`{"type":"session.refresh","payload":{"accessToken":"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln"},"requestId":"r2"}`,
	`{"type":"presence.location_update","payload":{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2,"heading":120.0,"speed":1.7},"requestId":17}`,
	`{"type":"radar.set_visible","payload":{"isOnRadar":false},"correlationId":"c-9"}`,
	`{"type":"connection.request.send","payload":{"userId":"user_456"},"requestId":"req_9"}`,
	`{"type":"connection.request.accept","payload":{"requestId":"cr_1"},"requestId":"req_10"}`,
	`{"type":"chat.message.created","payload":{"recipientId":"user_2","content":"hi 👋 <b>&amp;</b>\u2028"},"requestId":"m1"}`,
	`{"type":"chat.typing","payload":{"recipientId":"user_2","isTyping":true}}`,
	`{"type":"proximity.heartbeat","payload":{"connectionId":"conn_1","observedTokens":[{"token":"a3f9c2e1","rssi":-61}]}}`,
	`{"type":"safety.report","payload":{"reportedUserId":"user_5","reason":"spam"},"requestId":1.5e3}`,
	`{"type":"gift.create","payload":null}`,
	`{"type":"session.start"}`,
	` {"payload":{"a":[1,{"b":null}]},"type":"x","requestId":null,"correlationId":-0} `,
	`{"type":"a","TYPE":"b","Payload":[1],"RequestID":"R"}`,
	`{"type":"a","payload":"str"}`,
	`{"type":"a","payload":{"dup":1,"dup":2}}`,
	`{"type":"\u00e9\ud83d\ude00","requestId":"\u0000"}`,
	`{"type":"` + strings.Repeat("t", 65) + `"}`,
	`{"type":"a","requestId":"` + strings.Repeat("r", 129) + `"}`,
	`{"type":5}`,
	`{"type":""}`,
	`{"type":"a"`,
	`[{"type":"a"}]`,
	`null`,
	``,
	"{\"type\":\"a\",\"payload\":\"\xff\xfe\"}",
}

func FuzzDecodeClientFrame(f *testing.F) {
	for _, s := range clientFrameSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, perr := DecodeClientFrame(data)
		if perr != nil {
			switch perr.Code {
			case CodeInvalidJSON, CodeInvalidPayload, CodeUnknownType:
			default:
				t.Fatalf("unexpected code %s for %q", perr.Code, data)
			}
			if perr.Domain != DomainSession {
				t.Fatalf("domain = %q", perr.Domain)
			}
			if len(fr.RequestID) > MaxIDLength || len(fr.CorrelationID) > MaxIDLength {
				t.Fatalf("oversized id echoed on error: %q / %q", fr.RequestID, fr.CorrelationID)
			}
			return
		}
		if fr.Type == "" || len(fr.Type) > 64 || !utf8.ValidString(fr.Type) {
			t.Fatalf("bad type %q accepted from %q", fr.Type, data)
		}
		if len(fr.RequestID) > MaxIDLength || len(fr.CorrelationID) > MaxIDLength {
			t.Fatalf("oversized id accepted: %q / %q", fr.RequestID, fr.CorrelationID)
		}
		if !utf8.ValidString(fr.RequestID) || !utf8.ValidString(fr.CorrelationID) {
			t.Fatalf("ids not valid UTF-8: %q / %q", fr.RequestID, fr.CorrelationID)
		}
		if !json.Valid(fr.Payload) {
			t.Fatalf("payload %q is not valid JSON (input %q)", fr.Payload, data)
		}

		// Stable round trip: the frame re-encoded decodes to the same frame,
		// and a second encoding is byte-identical to the first.
		enc, err := json.Marshal(fr)
		if err != nil {
			t.Fatalf("re-encode %+v: %v", fr, err)
		}
		fr2, perr := DecodeClientFrame(enc)
		if perr != nil {
			t.Fatalf("re-decode of %s: %v (input %q)", enc, perr, data)
		}
		if fr2.Type != fr.Type || fr2.RequestID != fr.RequestID || fr2.CorrelationID != fr.CorrelationID {
			t.Fatalf("round trip changed the envelope: %+v -> %+v", fr, fr2)
		}
		if !sameJSON(fr.Payload, fr2.Payload) {
			t.Fatalf("round trip changed the payload: %s -> %s", fr.Payload, fr2.Payload)
		}
		enc2, err := json.Marshal(fr2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s (%v)", enc, enc2, err)
		}
	})
}

// profilePatchSeeds are realistic PATCH /users/profile bodies.
var profilePatchSeeds = []string{
	`{}`,
	`{"name":"Ada Lovelace"}`,
	`{"name":"  Ada  ","bio":"Engines.\nPoetry."}`,
	`{"avatar":"https://cdn.example.com/u/1.png?s=128","age":36,"gender":"female"}`,
	`{"username":"ada_l.99","bio":""}`,
	`{"vibe":"coffee #latte ☕️","vibeDurationMinutes":90}`,
	`{"vibe":null}`,
	`{"vibe":"","vibeDurationMinutes":null}`,
	`{"avatar":null,"age":null,"gender":null,"username":null,"bio":null,"vibe":null,"vibeDurationMinutes":null}`,
	`{"name":"` + strings.Repeat("é", 64) + `","vibe":"` + strings.Repeat("🎉", 140) + `"}`,
	`{"gender":"` + strings.Repeat("ü", 33) + `"}`,
	`{"age":28.5}`,
	`{"age":"28"}`,
	`{"vibeDurationMinutes":30}`,
	`{"avatar":"javascript:alert(1)"}`,
	`{"name":"A\u0000\u0085\u2028"}`,
	`{"email":"a@example.com"}`,
	`{"bio":"\ud800"}`,
	"{\"name\":\"\xff\xfe\"}",
	`null`,
	`[]`,
}

var usernameSyntax = regexp.MustCompile(`^[A-Za-z0-9._]{3,30}$`)

func FuzzDecodeProfilePatch(f *testing.F) {
	for _, s := range profilePatchSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		p, perr := DecodeProfilePatch(body)
		if perr != nil {
			if perr.Code != CodeInvalidJSON && perr.Code != CodeInvalidPayload {
				t.Fatalf("unexpected code %s", perr.Code)
			}
			if perr.Domain != DomainUsers || !utf8.ValidString(perr.Message) {
				t.Fatalf("bad error %+v", perr)
			}
			return
		}
		strs := []struct {
			name     string
			v        Nullable[string]
			maxRunes int
		}{
			{"name", p.Name, MaxNameChars},
			{"avatar", p.Avatar, MaxAvatarChars},
			{"gender", p.Gender, MaxGenderChars},
			{"username", p.Username, 30},
			{"bio", p.Bio, MaxBioChars},
			{"vibe", p.Vibe, MaxVibeChars},
		}
		for _, s := range strs {
			if !s.v.Set {
				if s.v.Null || s.v.Value != "" {
					t.Fatalf("%s: unset field carries %+v", s.name, s.v)
				}
				continue
			}
			if s.v.Null {
				if s.v.Value != "" {
					t.Fatalf("%s: null field carries value %q", s.name, s.v.Value)
				}
				continue
			}
			v := s.v.Value
			if !utf8.ValidString(v) {
				t.Fatalf("%s: invalid UTF-8 %q", s.name, v)
			}
			if n := utf8.RuneCountInString(v); n > s.maxRunes || n == 0 {
				t.Fatalf("%s: %d runes accepted (max %d): %q", s.name, n, s.maxRunes, v)
			}
			if strings.TrimSpace(v) != v {
				t.Fatalf("%s: not trimmed: %q", s.name, v)
			}
			if strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
				t.Fatalf("%s: control character accepted: %q", s.name, v)
			}
		}
		if p.Name.Set && p.Name.Null {
			t.Fatal("name cleared")
		}
		if p.Avatar.Set && !p.Avatar.Null && !strings.HasPrefix(strings.ToLower(p.Avatar.Value), "http") {
			t.Fatalf("avatar %q accepted", p.Avatar.Value)
		}
		if p.Username.Set && !p.Username.Null && !usernameSyntax.MatchString(p.Username.Value) {
			t.Fatalf("username %q accepted", p.Username.Value)
		}
		if p.Age.Set && !p.Age.Null && (p.Age.Value < 0 || p.Age.Value > MaxAge) {
			t.Fatalf("age %d accepted", p.Age.Value)
		}
		if d := p.VibeDurationMinutes; d.Set && !d.Null {
			if d.Value < 1 || d.Value > MaxVibeMins {
				t.Fatalf("vibeDurationMinutes %d accepted", d.Value)
			}
			if !p.Vibe.Set || p.Vibe.Null {
				t.Fatal("vibeDurationMinutes accepted without a vibe")
			}
		}

		// Idempotent: the validated patch, written back as a body, decodes to itself.
		again, perr := DecodeProfilePatch(encodePatch(t, p))
		if perr != nil {
			t.Fatalf("re-decode of %s: %v", encodePatch(t, p), perr)
		}
		if again != p {
			t.Fatalf("patch not stable:\n%+v\n%+v", p, again)
		}
	})
}

// encodePatch writes a validated patch back as a PATCH body.
func encodePatch(t *testing.T, p ProfilePatch) []byte {
	m := map[string]any{}
	str := func(k string, n Nullable[string]) {
		switch {
		case !n.Set:
		case n.Null:
			m[k] = nil
		default:
			m[k] = n.Value
		}
	}
	num := func(k string, n Nullable[int]) {
		switch {
		case !n.Set:
		case n.Null:
			m[k] = nil
		default:
			m[k] = n.Value
		}
	}
	str("name", p.Name)
	str("avatar", p.Avatar)
	str("gender", p.Gender)
	str("username", p.Username)
	str("bio", p.Bio)
	str("vibe", p.Vibe)
	num("age", p.Age)
	num("vibeDurationMinutes", p.VibeDurationMinutes)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
