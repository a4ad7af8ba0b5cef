package protocol

import (
	"encoding/json"
	"testing"
)

func TestProximityScanValidate(t *testing.T) {
	rssi := -60
	long := string(make([]byte, MaxScannedToken+1))
	tests := []struct {
		name string
		in   string
		code Code
	}{
		{"ok", `{"connectionId":"conn_1","token":"0a1b2c3d","rssi":-60}`, ""},
		{"no connection", `{"token":"0a1b2c3d","rssi":-60}`, CodeInvalidPayload},
		{"no token", `{"connectionId":"conn_1","rssi":-60}`, CodeInvalidPayload},
		{"no rssi", `{"connectionId":"conn_1","token":"0a1b2c3d"}`, CodeInvalidPayload},
		{"rssi 0 is a value", `{"connectionId":"conn_1","token":"0a1b2c3d","rssi":0}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p ProximityScan
			if err := DecodePayload(json.RawMessage(tt.in), DomainProximity, &p); err != nil {
				t.Fatal(err)
			}
			var got Code
			if err := p.Validate(); err != nil {
				got = err.Code
			}
			if got != tt.code {
				t.Fatalf("code = %q, want %q", got, tt.code)
			}
		})
	}
	p := ProximityScan{ConnectionID: "conn_1", Token: long, RSSI: &rssi}
	if err := p.Validate(); err == nil || err.Code != CodeInvalidToken {
		t.Fatalf("a token longer than any real one: %v, want invalid_token", err)
	}
	for in, want := range map[int]int32{-60: -60, 1 << 40: 1000, -(1 << 40): -1000} {
		p.RSSI = &in
		if got := p.ClampedRSSI(); got != want {
			t.Errorf("ClampedRSSI(%d) = %d, want %d", in, got, want)
		}
	}
}

func TestProximityEndRequestValidate(t *testing.T) {
	if err := (&ProximityEndRequest{}).Validate(); err == nil || err.Code != CodeInvalidPayload {
		t.Fatalf("no connectionId: %v, want invalid_payload", err)
	}
	if err := (&ProximityEndRequest{ConnectionID: "conn_1"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestProximityShapes pins the field names mobile apps read.
func TestProximityShapes(t *testing.T) {
	exp := "2026-04-17T14:00:00.000Z"
	one := 1
	tests := []struct {
		v    any
		want string
	}{
		{ProximityToken{Token: "0a1b2c3d", ExpiresAt: exp, ConnectionID: "c"}, `{"token":"0a1b2c3d","expiresAt":"` + exp + `","connectionId":"c"}`},
		{ProximityStartAck{SessionActive: true}, `{"sessionActive":true,"yourTokenReceived":false,"waitingForPartner":false}`},
		{ProximityHeartbeatAck{AccumulatedSeconds: 3}, `{"sessionActive":false,"accumulatedSeconds":3}`},
		{ProximityConfirmed{ConnectionID: "c"}, `{"connectionId":"c"}`},
		{ProximityUpdated{ConnectionID: "c", Status: "paused", UnlockedMilestones: []int{}, GracePeriodSeconds: &one},
			`{"connectionId":"c","accumulatedSeconds":0,"sessionActive":false,"status":"paused","currentSessionSeconds":0,"unlockedMilestones":[],"nextMilestoneMinutes":null,"gracePeriodSeconds":1}`},
		{ProximityMilestone{ConnectionID: "c", Milestone: 5, GiftTier: 1, Message: "m"}, `{"connectionId":"c","milestone":5,"giftTier":1,"message":"m"}`},
		{ProximityRotate{ConnectionID: "c", Token: "t", ExpiresAt: exp}, `{"connectionId":"c","token":"t","expiresAt":"` + exp + `"}`},
		{ProximitySession{ConnectionID: "c", Status: "paused", UnlockedMilestones: []int{}},
			`{"connectionId":"c","accumulatedSeconds":0,"status":"paused","currentSessionSeconds":0,"unlockedMilestones":[]}`},
		{ProximitySummary{ConnectionID: "c", UnlockedMilestones: []int{}, Sessions: []ProximityRun{{StartedAt: exp, DurationSeconds: 2, Status: "ended"}}},
			`{"connectionId":"c","accumulatedSeconds":0,"accumulatedMinutes":0,"unlockedMilestones":[],"nextMilestone":null,"secondsUntilNext":null,"sessions":[{"startedAt":"` + exp + `","durationSeconds":2,"status":"ended"}]}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tt.want {
			t.Errorf("%T:\n got %s\nwant %s", tt.v, b, tt.want)
		}
	}
}
