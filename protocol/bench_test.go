package protocol

import (
	"encoding/json"
	"testing"
)

// Run with: go test -run=^$ -bench=. -benchmem ./protocol/

func BenchmarkDecodeClientFrame(b *testing.B) {
	frames := []struct {
		name string
		data []byte
	}{
		{"location_update", []byte(`{"type":"presence.location_update","payload":{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2,"heading":120.0,"speed":1.7},"requestId":"req_123","correlationId":"corr_123"}`)},
		{"chat_message", []byte(`{"type":"chat.message.created","payload":{"recipientId":"user_01HV3KQ8","content":"On my way, see you at the usual spot by the fountain in ten minutes 👋"},"requestId":"req_124"}`)},
		{"minimal", []byte(`{"type":"session.start"}`)},
	}
	for _, f := range frames {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(f.data)))
			for b.Loop() {
				if _, err := DecodeClientFrame(f.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	acc := 6.2
	payloads := []struct {
		name    string
		payload any
		reqID   string
	}{
		{"presence_updated", map[string]any{
			"userId": "user_123",
			"presence": Presence{IsLive: true, IsOnRadar: true, Location: &Location{
				Lat: 6.5244, Lng: 3.3792, AccuracyMeters: &acc, UpdatedAt: "2026-04-14T14:12:20.123Z",
			}},
		}, "req_123"},
		{"raw_payload", json.RawMessage(`{"user":{"id":"user_1","name":"Ada","age":null,"avatar":null,"gender":null,"vibe":"coffee","vibeExpiresAt":"2026-04-14T15:12:20.123Z","username":null,"bio":null}}`), ""},
		{"empty", nil, ""},
	}
	for _, p := range payloads {
		b.Run(p.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := EncodeFrame(TypePresenceUpdated, p.payload, testNow, p.reqID, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
