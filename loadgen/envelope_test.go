package loadgen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

var frameSamples = []string{
	`{"type":"radar.nearby.updated","payload":{"nearbyUsers":[{"user":{"id":"user_1","name":"a \"quoted\" }{ name"},"distance":12.5,"angle":[1,[2,{}]]}]},"timestamp":"2026-11-22T08:00:00.000Z"}`,
	`{"type":"proximity.heartbeat","payload":{"sessionActive":true,"accumulatedSeconds":42},"timestamp":"2026-11-22T08:00:00.000Z","requestId":"1a"}`,
	`{"type":"error","payload":{"code":"unknown_type","message":"unknown type","domain":"session","requestId":"r1"},"timestamp":"…","requestId":"r1"}`,
	` { "requestId" : "x" , "payload" : [ ] , "type" : "t" } `,
	`{"type":"chat.message.created","payload":{"content":"back\\slash \u00e9 \n"},"timestamp":"t"}`,
	`{"type":"a","payload":null}`,
	`{"type":"a","payload":"s","extra":{"deep":[[[["]"]]]]}}`,
	`{"type":"t\"esc","payload":{}}`,
	`{"type":"a","requestId":17,"payload":{}}`,
	`{"TYPE":"upper","payload":{}}`,
	`{"type":"a","payload":{"x":1},"type":"b"}`,
	`{}`,
}

func TestDecodeFrameMatchesEncodingJSON(t *testing.T) {
	for _, in := range frameSamples {
		checkDecodeFrame(t, []byte(in))
	}
}

func checkDecodeFrame(t *testing.T, in []byte) {
	t.Helper()
	var want inFrame
	wantErr := json.Unmarshal(in, &want)
	var got inFrame
	err := decodeFrame(in, &got)
	if wantErr != nil {
		return // the skimmer may accept what it cannot judge; consumers decode payloads themselves
	}
	if err != nil {
		t.Fatalf("decodeFrame(%s): %v, encoding/json accepts it", in, err)
	}
	if got.Type != want.Type || got.RequestID != want.RequestID || got.Timestamp != want.Timestamp {
		t.Fatalf("decodeFrame(%s) = %q %q %q, encoding/json %q %q %q", in, got.Type, got.RequestID, got.Timestamp, want.Type, want.RequestID, want.Timestamp)
	}
	var nb struct {
		Payload struct {
			NearbyUsers []json.RawMessage `json:"nearbyUsers"`
		} `json:"payload"`
	}
	if json.Unmarshal(in, &nb) == nil && nb.Payload.NearbyUsers != nil && len(nb.Payload.NearbyUsers) != got.nearby {
		t.Fatalf("decodeFrame(%s) counts %d nearby users, encoding/json %d", in, got.nearby, len(nb.Payload.NearbyUsers))
	}
	var g, w bytes.Buffer
	if len(got.Payload) != len(want.Payload) && (json.Compact(&g, got.Payload) != nil || json.Compact(&w, want.Payload) != nil || g.String() != w.String()) {
		t.Fatalf("decodeFrame(%s) payload %s, encoding/json %s", in, got.Payload, want.Payload)
	}
}

func TestDecodeFrameCountsNearby(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want int
	}{
		{"radar answer", string(radarAnswer(50)), 50},
		{"one", string(radarAnswer(1)), 1},
		{"empty", `{"type":"radar.nearby.updated","payload":{"nearbyUsers":[]},"requestId":"1"}`, 0},
		{"empty with spaces", `{"type":"radar.nearby.updated","payload":{ "nearbyUsers" : [ ] }}`, 0},
		{"payload first", `{"payload":{"nearbyUsers":[{"a":1},{"b":[2,3]}]},"type":"radar.nearby.updated"}`, 2},
		{"strings with brackets, commas and quotes", `{"type":"r","payload":{"nearbyUsers":[{"name":"a,]}\\\",{"},{"name":"\\"},{"x":"[["}]}}`, 3},
		{"other keys around", `{"type":"r","payload":{"before":[1,2,3],"nearbyUsers":[1,2],"after":{"nearbyUsers":[1]}}}`, 2},
		{"nested deeper is not the radar", `{"type":"session.bootstrap","payload":{"currentUser":{"nearbyUsers":[1,2,3]}}}`, -1},
		{"no nearbyUsers", `{"type":"presence.updated","payload":{"userId":"u","presence":{"isLive":true}},"requestId":"1"}`, -1},
		{"null", `{"type":"r","payload":{"nearbyUsers":null}}`, -1},
		{"payload not an object", `{"type":"r","payload":[1,2]}`, -1},
		{"escaped type goes to encoding/json, still counted", `{"type":"radar.nearby\u002eupdated","payload":{"nearbyUsers":[{},{}]}}`, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f inFrame
			if err := decodeFrame([]byte(tt.in), &f); err != nil {
				t.Fatalf("decodeFrame: %v", err)
			}
			if f.nearby != tt.want {
				t.Fatalf("nearby = %d, want %d", f.nearby, tt.want)
			}
			var want struct {
				Payload struct {
					NearbyUsers []json.RawMessage `json:"nearbyUsers"`
				} `json:"payload"`
			}
			if json.Unmarshal([]byte(tt.in), &want) == nil && want.Payload.NearbyUsers != nil && len(want.Payload.NearbyUsers) != f.nearby {
				t.Fatalf("nearby = %d, encoding/json counts %d", f.nearby, len(want.Payload.NearbyUsers))
			}
		})
	}
}

func TestDecodeFrameRefusesMalformed(t *testing.T) {
	for _, in := range []string{``, `[]`, `{"type":"a"`, `{"type":"a",}`, `{"type":"a","payload":{]}`, `{"type":"a"} x`, `{"type" "a"}`, `{"payload":"unterminated}`} {
		var f inFrame
		if err := decodeFrame([]byte(in), &f); err == nil {
			t.Errorf("decodeFrame(%q) accepted it: %+v", in, f)
		}
	}
}

func FuzzDecodeFrame(f *testing.F) {
	for _, s := range frameSamples {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		checkDecodeFrame(t, in)
	})
}

// radarAnswer is a radar answer as the server sends it: 50 nearby users,
// about 16 KB.
func radarAnswer(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"type":"radar.nearby.updated","payload":{"nearbyUsers":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`{"user":{"id":"user_01jd5x0000000000000000000","name":"lg1-123","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null},"distance":123.4,"angle":210.3,"isLive":true,"sharedInterests":[],"location":{"lat":6.5244,"lng":3.3792,"accuracyMeters":5,"heading":120,"speed":1.4,"updatedAt":"2026-11-22T08:00:00.000Z"}}`)
	}
	sb.WriteString(`]},"timestamp":"2026-11-22T08:00:00.000Z","requestId":"k2"}`)
	return []byte(sb.String())
}

// BenchmarkDecodeRadarFrame compares ways to read what the radar scenario
// needs of an answer (type, requestId, how many nearby users): the skim
// (one pass, nothing decoded), encoding/json into a struct holding only
// those fields (it still scans and validates every byte), and a full
// decode. On a shared 2-core AMD EPYC (2026-11-27): skim 18–38 µs and 4
// allocs, fields about ten times that, whole about twenty times with
// ~2,300 allocs.
func BenchmarkDecodeRadarFrame(b *testing.B) {
	in := radarAnswer(50)
	b.SetBytes(int64(len(in)))
	b.Run("skim", func(b *testing.B) {
		for range b.N {
			var f inFrame
			if err := decodeFrame(in, &f); err != nil || f.nearby != 50 {
				b.Fatal(err, f.nearby)
			}
		}
	})
	b.Run("encoding/json envelope", func(b *testing.B) {
		for range b.N {
			var f inFrame
			if err := json.Unmarshal(in, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json fields", func(b *testing.B) {
		for range b.N {
			var f struct {
				Type      string `json:"type"`
				RequestID string `json:"requestId"`
				Payload   struct {
					NearbyUsers []struct{} `json:"nearbyUsers"`
				} `json:"payload"`
			}
			if err := json.Unmarshal(in, &f); err != nil || len(f.Payload.NearbyUsers) != 50 {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json whole", func(b *testing.B) {
		for range b.N {
			var f map[string]any
			if err := json.Unmarshal(in, &f); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestDecodeLegacyFrame(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		wantEvent string // "" = refused
		wantData  string
	}{
		{"error event", `{"event":"not-found","data":{"message":"chat not found"}}`, "not-found", `{"message":"chat not found"}`},
		{"keys in any order", ` {"data":{"chat":"chat_a~b"},"event":"typing-started"} `, "typing-started", `{"chat":"chat_a~b"}`},
		{"no data", `{"event":"user-online"}`, "user-online", ``},
		{"escaped event", `{"event":"server\u002derror","data":{}}`, "server-error", `{}`},
		{"no event", `{"data":{"message":"x"}}`, "", ""},
		{"empty event", `{"event":"","data":{}}`, "", ""},
		{"event not a string", `{"event":5,"data":{}}`, "", ""},
		{"a /ws frame", `{"type":"error","payload":{"code":"not_found"}}`, "", ""},
		{"null", `null`, "", ""},
		{"array", `[]`, "", ""},
		{"not JSON", `{"event":`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f inFrame
			err := decodeLegacyFrame([]byte(tt.in), &f)
			if tt.wantEvent == "" {
				if err == nil {
					t.Fatalf("accepted: %+v", f)
				}
				return
			}
			if err != nil || f.Type != tt.wantEvent || string(f.Payload) != tt.wantData {
				t.Fatalf("= %q %s, %v; want %q %s", f.Type, f.Payload, err, tt.wantEvent, tt.wantData)
			}
		})
	}
}
