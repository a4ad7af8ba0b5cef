package protocol

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestBootstrapKeysUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range BootstrapKeys {
		if seen[k] {
			t.Errorf("BootstrapKeys lists %q twice", k)
		}
		seen[k] = true
	}
}

func TestNewBootstrapEncoding(t *testing.T) {
	nb := NewBootstrap()
	b, err := nb.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, b)

	got := keysOf(m)
	slices.Sort(got)
	want := slices.Clone(BootstrapKeys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bootstrap keys = %v\nwant %v", got, want)
	}

	tests := []struct {
		key  string
		want string
	}{
		{"nearbyUsers", `[]`},
		{"incomingRequests", `[]`},
		{"sentRequests", `[]`},
		{"requests", `[]`},
		{"activeConnections", `[]`},
		{"closedConnections", `[]`},
		{"messages", `[]`},
		{"gifts", `[]`},
		{"sponsoredGifts", `[]`},
		{"blockedUserIds", `[]`},
		{"safetyReports", `[]`},
		{"conversations", `{}`},
		{"unreadMessageCount", `{}`},
		{"totalUnreadMessageCount", `0`},
		{"proximitySession", `null`},
		{"sponsoredGiftsNextCursor", `null`},
		{"presence", `{"isLive":false,"isOnRadar":false,"location":null}`},
		{"currentUser", `{"id":"","name":"","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null,"username":null,"bio":null}`},
	}
	for _, tc := range tests {
		if string(m[tc.key]) != tc.want {
			t.Errorf("%s = %s, want %s", tc.key, m[tc.key], tc.want)
		}
	}
	if len(tests) != len(BootstrapKeys) {
		t.Errorf("checked %d keys, BootstrapKeys has %d", len(tests), len(BootstrapKeys))
	}
}

// TestBootstrapAppendJSONMatchesMarshal: the hand-assembled encoding is
// byte for byte what encoding/json makes of the struct, keys in order.
func TestBootstrapAppendJSONMatchesMarshal(t *testing.T) {
	age, cursor := 31, "c2"
	filled := NewBootstrap()
	filled.CurrentUser = User{ID: "user_1", Name: "Ada \"A\" <ada>", Age: &age}
	filled.Presence = Presence{IsLive: true, IsOnRadar: true}
	filled.NearbyUsers = json.RawMessage(`[{"user":{"id":"user_2"},"distance":12.5}]`)
	filled.Messages = json.RawMessage(`[{"messageId":"msg_1","content":"hi"}]`)
	filled.ActiveConnections = json.RawMessage(`[{"connectionId":"conn_1","accumulatedMinutes":17}]`)
	filled.Conversations["user_2"] = Conversation{LastMessage: json.RawMessage(`{"messageId":"msg_1"}`), UnreadCount: 2}
	filled.UnreadMessageCount["user_2"] = 2
	filled.TotalUnreadMessageCount = 2
	filled.SponsoredGiftsNextCursor = &cursor
	filled.ProximitySession = json.RawMessage(`{"connectionId":"conn_1","status":"paused"}`)
	filled.BlockedUserIDs = []string{"user_9"}
	filled.SafetyReports = []SafetyReport{{ReportID: "sr_1", ReportedUserID: "user_9", Reason: "spam", Status: "open"}}
	for name, b := range map[string]Bootstrap{"empty": NewBootstrap(), "filled": filled} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(&b)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.AppendJSON([]byte("prefix"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "prefix"+string(want) {
				t.Errorf("AppendJSON =\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestNewBootstrapIndependent(t *testing.T) {
	a, b := NewBootstrap(), NewBootstrap()
	a.Conversations["c1"] = Conversation{UnreadCount: 1}
	a.UnreadMessageCount["u1"] = 1
	a.BlockedUserIDs = append(a.BlockedUserIDs, "u2")
	if len(b.Conversations) != 0 || len(b.UnreadMessageCount) != 0 || len(b.BlockedUserIDs) != 0 {
		t.Errorf("bootstraps share state: %+v", b)
	}
}

func TestBootstrapFilled(t *testing.T) {
	bs := NewBootstrap()
	bs.CurrentUser = User{ID: "user_1", Name: "Ada"}
	bs.BlockedUserIDs = append(bs.BlockedUserIDs, "user_2")
	bs.NearbyUsers = json.RawMessage(`[{"user":{"id":"user_3"}}]`)
	bs.Conversations["user_4"] = Conversation{LastMessage: json.RawMessage(`{"messageId":"m1"}`), UnreadCount: 2}
	bs.SafetyReports = append(bs.SafetyReports, SafetyReport{ReportID: "r1", ReportedUserID: "user_5", Reason: "spam", Status: "open", CreatedAt: "2026-04-14T14:12:20.123Z"})
	b, err := json.Marshal(bs)
	if err != nil {
		t.Fatal(err)
	}
	m := decodeObject(t, b)
	if len(m) != len(BootstrapKeys) {
		t.Errorf("filled bootstrap has %d keys, want %d", len(m), len(BootstrapKeys))
	}
	checks := map[string]string{
		"blockedUserIds": `["user_2"]`,
		"nearbyUsers":    `[{"user":{"id":"user_3"}}]`,
		"conversations":  `{"user_4":{"lastMessage":{"messageId":"m1"},"unreadCount":2}}`,
		"safetyReports":  `[{"reportId":"r1","reportedUserId":"user_5","reason":"spam","status":"open","createdAt":"2026-04-14T14:12:20.123Z"}]`,
	}
	for k, want := range checks {
		if !sameJSON(m[k], []byte(want)) {
			t.Errorf("%s = %s, want %s", k, m[k], want)
		}
	}
	// The shared empty list is not altered by filling one bootstrap.
	if string(NewBootstrap().NearbyUsers) != `[]` {
		t.Errorf("NewBootstrap().NearbyUsers = %s after filling another", NewBootstrap().NearbyUsers)
	}
}

func TestUserEncoding(t *testing.T) {
	ptr := func(s string) *string { return &s }
	age := 36
	tests := []struct {
		name string
		in   User
		want string
	}{
		{
			name: "only required fields",
			in:   User{ID: "user_1", Name: "Ada"},
			want: `{"id":"user_1","name":"Ada","age":null,"avatar":null,"gender":null,"vibe":null,"vibeExpiresAt":null,"username":null,"bio":null}`,
		},
		{
			name: "every field",
			in: User{ID: "user_1", Name: "Ada", Age: &age, Avatar: ptr("https://cdn.example.com/a.png"), Gender: ptr("female"),
				Vibe: ptr("coffee"), VibeExpiresAt: ptr("2026-04-14T15:12:20.123Z"), Username: ptr("ada"), Bio: ptr("")},
			want: `{"id":"user_1","name":"Ada","age":36,"avatar":"https://cdn.example.com/a.png","gender":"female","vibe":"coffee","vibeExpiresAt":"2026-04-14T15:12:20.123Z","username":"ada","bio":""}`,
		},
	}
	wantKeys := []string{"age", "avatar", "bio", "gender", "id", "name", "username", "vibe", "vibeExpiresAt"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Errorf("User = %s\nwant   %s", b, tc.want)
			}
			keys := keysOf(decodeObject(t, b))
			slices.Sort(keys)
			if !slices.Equal(keys, wantKeys) {
				t.Errorf("keys = %v, want %v", keys, wantKeys)
			}
		})
	}
}

func TestPresenceEncoding(t *testing.T) {
	acc := 6.2
	tests := []struct {
		name string
		in   Presence
		want string
	}{
		{"no location", Presence{IsOnRadar: true}, `{"isLive":false,"isOnRadar":true,"location":null}`},
		{"location with optional fields omitted", Presence{IsLive: true, IsOnRadar: true, Location: &Location{Lat: 6.5244, Lng: 3.3792, UpdatedAt: "2026-04-14T14:12:20.123Z"}},
			`{"isLive":true,"isOnRadar":true,"location":{"lat":6.5244,"lng":3.3792,"updatedAt":"2026-04-14T14:12:20.123Z"}}`},
		{"location with accuracy", Presence{IsLive: true, Location: &Location{Lat: 1, Lng: 2, AccuracyMeters: &acc, UpdatedAt: "t"}},
			`{"isLive":true,"isOnRadar":false,"location":{"lat":1,"lng":2,"accuracyMeters":6.2,"updatedAt":"t"}}`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(tc.in)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: Presence = %s (%v), want %s", tc.name, b, err, tc.want)
		}
	}
}
