package user

import (
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

var (
	stateT0      = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC) // last update of the stored user
	stateNow     = time.Date(2026, 4, 14, 14, 12, 20, 123456789, time.UTC)
	stateOldVibe = stateNow.Add(20 * time.Minute) // expiry of the vibe already set
)

func strPtr(s string) *string             { return &s }
func intPtr(i int) *int                   { return &i }
func timePtr(t time.Time) *time.Time      { return &t }
func nullString() *grainpb.NullableString { return &grainpb.NullableString{Null: true} }
func valString(v string) *grainpb.NullableString {
	return &grainpb.NullableString{Value: v}
}

// baseUser is a stored user with every profile field set.
func baseUser() storage.User {
	return storage.User{
		ID: "user_1", Name: "Ada", Age: intPtr(36), Avatar: strPtr("https://cdn.example.com/a.png"),
		Gender: strPtr("female"), Username: strPtr("ada"), Bio: strPtr("Engines"),
		Vibe: strPtr("coffee"), VibeExpiresAt: timePtr(stateOldVibe),
		Provider: "dev", Subject: "ada", CreatedAt: stateT0, UpdatedAt: stateT0,
	}
}

// bareUser is a stored user with no optional field.
func bareUser() storage.User {
	return storage.User{ID: "user_1", Name: "Ada", Provider: "dev", Subject: "ada", CreatedAt: stateT0, UpdatedAt: stateT0}
}

func TestApplyPatch(t *testing.T) {
	tests := []struct {
		name  string
		user  func() storage.User
		patch *grainpb.UpdateProfile
		edit  func(u *storage.User) // expected change, UpdatedAt excluded
		want  PatchResult
	}{
		{name: "empty patch", user: baseUser, patch: &grainpb.UpdateProfile{}},

		{name: "name changed", user: baseUser, patch: &grainpb.UpdateProfile{Name: strPtr("Ada L.")},
			edit: func(u *storage.User) { u.Name = "Ada L." }, want: PatchResult{Changed: true}},
		{name: "name unchanged", user: baseUser, patch: &grainpb.UpdateProfile{Name: strPtr("Ada")}},

		// Nullable strings: avatar, gender, username, bio.
		{name: "avatar changed", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: valString("https://cdn.example.com/b.png")},
			edit: func(u *storage.User) { u.Avatar = strPtr("https://cdn.example.com/b.png") }, want: PatchResult{Changed: true}},
		{name: "avatar set from none", user: bareUser, patch: &grainpb.UpdateProfile{Avatar: valString("https://cdn.example.com/b.png")},
			edit: func(u *storage.User) { u.Avatar = strPtr("https://cdn.example.com/b.png") }, want: PatchResult{Changed: true}},
		{name: "avatar same value", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: valString("https://cdn.example.com/a.png")}},
		{name: "avatar cleared", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: nullString()},
			edit: func(u *storage.User) { u.Avatar = nil }, want: PatchResult{Changed: true}},
		{name: "avatar cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Avatar: nullString()}},

		{name: "gender changed", user: baseUser, patch: &grainpb.UpdateProfile{Gender: valString("non-binary")},
			edit: func(u *storage.User) { u.Gender = strPtr("non-binary") }, want: PatchResult{Changed: true}},
		{name: "gender same value", user: baseUser, patch: &grainpb.UpdateProfile{Gender: valString("female")}},
		{name: "gender cleared", user: baseUser, patch: &grainpb.UpdateProfile{Gender: nullString()},
			edit: func(u *storage.User) { u.Gender = nil }, want: PatchResult{Changed: true}},
		{name: "gender cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Gender: nullString()}},

		{name: "username changed", user: baseUser, patch: &grainpb.UpdateProfile{Username: valString("ada.l")},
			edit: func(u *storage.User) { u.Username = strPtr("ada.l") }, want: PatchResult{Changed: true}},
		{name: "username set from none", user: bareUser, patch: &grainpb.UpdateProfile{Username: valString("ada")},
			edit: func(u *storage.User) { u.Username = strPtr("ada") }, want: PatchResult{Changed: true}},
		{name: "username same value", user: baseUser, patch: &grainpb.UpdateProfile{Username: valString("ada")}},
		{name: "username cleared", user: baseUser, patch: &grainpb.UpdateProfile{Username: nullString()},
			edit: func(u *storage.User) { u.Username = nil }, want: PatchResult{Changed: true}},

		{name: "bio changed", user: baseUser, patch: &grainpb.UpdateProfile{Bio: valString("Engines.\nPoetry.")},
			edit: func(u *storage.User) { u.Bio = strPtr("Engines.\nPoetry.") }, want: PatchResult{Changed: true}},
		{name: "bio same value", user: baseUser, patch: &grainpb.UpdateProfile{Bio: valString("Engines")}},
		{name: "bio cleared", user: baseUser, patch: &grainpb.UpdateProfile{Bio: nullString()},
			edit: func(u *storage.User) { u.Bio = nil }, want: PatchResult{Changed: true}},
		{name: "bio cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Bio: nullString()}},

		// Age.
		{name: "age changed", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 37}},
			edit: func(u *storage.User) { u.Age = intPtr(37) }, want: PatchResult{Changed: true}},
		{name: "age set to 0 from none", user: bareUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 0}},
			edit: func(u *storage.User) { u.Age = intPtr(0) }, want: PatchResult{Changed: true}},
		{name: "age same value", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 36}}},
		{name: "age cleared", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Null: true}},
			edit: func(u *storage.User) { u.Age = nil }, want: PatchResult{Changed: true}},
		{name: "age cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Null: true}}},

		// Vibe.
		{name: "vibe set with duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: valString("tea"), VibeDurationMinutes: 30},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = strPtr("tea"), timePtr(stateNow.Add(30*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(30 * time.Minute)}},
		{name: "vibe set with default duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: valString("tea")},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = strPtr("tea"), timePtr(stateNow.Add(60*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(60 * time.Minute)}},
		{name: "vibe negative duration falls back to default", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: valString("tea"), VibeDurationMinutes: -5},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = strPtr("tea"), timePtr(stateNow.Add(time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(time.Hour)}},
		{name: "vibe with max duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: valString("tea"), VibeDurationMinutes: protocol.MaxVibeMins},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = strPtr("tea"), timePtr(stateNow.Add(24*time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(24 * time.Hour)}},
		{name: "vibe replaced", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: valString("tea"), VibeDurationMinutes: 5},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = strPtr("tea"), timePtr(stateNow.Add(5*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(5 * time.Minute)}},
		{name: "same vibe renews its expiry", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: valString("coffee")},
			edit: func(u *storage.User) { u.VibeExpiresAt = timePtr(stateNow.Add(time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: stateNow.Add(time.Hour)}},
		{name: "duration without vibe ignored", user: baseUser, patch: &grainpb.UpdateProfile{VibeDurationMinutes: 5}},
		{name: "vibe cleared", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: nullString()},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = nil, nil },
			want: PatchResult{Changed: true, VibeCleared: true}},
		{name: "vibe cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nullString()}},

		// Several fields at once.
		{name: "several fields", user: baseUser,
			patch: &grainpb.UpdateProfile{Name: strPtr("Ada"), Gender: nullString(), Bio: valString("Engines"), Age: &grainpb.NullableInt{Value: 40}, Vibe: nullString()},
			edit:  func(u *storage.User) { u.Gender, u.Age, u.Vibe, u.VibeExpiresAt = nil, intPtr(40), nil, nil },
			want:  PatchResult{Changed: true, VibeCleared: true}},
		{name: "several fields none changed", user: baseUser,
			patch: &grainpb.UpdateProfile{Name: strPtr("Ada"), Gender: valString("female"), Age: &grainpb.NullableInt{Value: 36}, Avatar: valString("https://cdn.example.com/a.png")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user()
			want := tc.user()
			if tc.edit != nil {
				tc.edit(&want)
			}
			if tc.want.Changed {
				want.UpdatedAt = stateNow
			}
			got := ApplyPatch(&u, tc.patch, stateNow)
			if got != tc.want {
				t.Errorf("result = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(u, want) {
				t.Errorf("user = %s\nwant   %s", dumpUser(u), dumpUser(want))
			}
			if !got.Changed && !u.UpdatedAt.Equal(stateT0) {
				t.Errorf("UpdatedAt moved to %v without a change", u.UpdatedAt)
			}
		})
	}
}

// TestApplyPatchDoesNotAlias checks that the stored user does not keep
// pointers into the patch, which the grain may reuse.
func TestApplyPatchDoesNotAlias(t *testing.T) {
	u := bareUser()
	p := &grainpb.UpdateProfile{Avatar: valString("https://a.example/x.png"), Vibe: valString("tea")}
	ApplyPatch(&u, p, stateNow)
	p.Avatar.Value, p.Vibe.Value = "changed", "changed"
	if *u.Avatar != "https://a.example/x.png" || *u.Vibe != "tea" {
		t.Errorf("user follows the patch: avatar %q, vibe %q", *u.Avatar, *u.Vibe)
	}
}

func dumpUser(u storage.User) string {
	s := func(p *string) string {
		if p == nil {
			return "nil"
		}
		return *p
	}
	age, exp := "nil", "nil"
	if u.Age != nil {
		age = strconv.Itoa(*u.Age)
	}
	if u.VibeExpiresAt != nil {
		exp = u.VibeExpiresAt.Format(time.RFC3339Nano)
	}
	return "{name=" + u.Name + " avatar=" + s(u.Avatar) + " gender=" + s(u.Gender) + " username=" + s(u.Username) +
		" bio=" + s(u.Bio) + " age=" + age + " vibe=" + s(u.Vibe) + " vibeExpiresAt=" + exp +
		" updatedAt=" + u.UpdatedAt.Format(time.RFC3339Nano) + "}"
}

func TestExpireVibe(t *testing.T) {
	expiry := stateNow
	tests := []struct {
		name    string
		vibe    *string
		expires *time.Time
		at      time.Time
		want    bool
	}{
		{name: "no vibe", at: stateNow},
		{name: "no vibe but stale expiry", expires: timePtr(expiry), at: stateNow.Add(time.Hour)},
		{name: "vibe without expiry", vibe: strPtr("tea"), at: stateNow.Add(time.Hour)},
		{name: "before expiry", vibe: strPtr("tea"), expires: timePtr(expiry), at: expiry.Add(-time.Millisecond)},
		{name: "at expiry", vibe: strPtr("tea"), expires: timePtr(expiry), at: expiry, want: true},
		{name: "after expiry", vibe: strPtr("tea"), expires: timePtr(expiry), at: expiry.Add(3 * time.Hour), want: true},
		{name: "renewed to a later time", vibe: strPtr("tea"), expires: timePtr(expiry.Add(time.Hour)), at: expiry},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := bareUser()
			u.Vibe, u.VibeExpiresAt = tc.vibe, tc.expires
			before := u
			got, at := ExpireVibe(&u, tc.at)
			if got != tc.want {
				t.Fatalf("ExpireVibe = %v, want %v", got, tc.want)
			}
			if !tc.want {
				if !at.IsZero() {
					t.Errorf("expiredAt = %v, want zero", at)
				}
				if !reflect.DeepEqual(u, before) {
					t.Errorf("user changed: %s", dumpUser(u))
				}
				return
			}
			if !at.Equal(*tc.expires) {
				t.Errorf("expiredAt = %v, want the stored expiry %v", at, *tc.expires)
			}
			if u.Vibe != nil || u.VibeExpiresAt != nil {
				t.Errorf("vibe not cleared: %s", dumpUser(u))
			}
			if !u.UpdatedAt.Equal(tc.at) {
				t.Errorf("UpdatedAt = %v, want %v", u.UpdatedAt, tc.at)
			}
		})
	}
}

func TestWire(t *testing.T) {
	expiry := time.Date(2026, 4, 14, 15, 12, 20, 987654321, time.UTC)
	full := func() storage.User {
		u := baseUser()
		u.VibeExpiresAt = timePtr(expiry)
		u.Email, u.HiddenFromRadar = "ada@example.com", true
		return u
	}
	profile := protocol.User{
		ID: "user_1", Name: "Ada", Age: intPtr(36), Avatar: strPtr("https://cdn.example.com/a.png"),
		Gender: strPtr("female"), Username: strPtr("ada"), Bio: strPtr("Engines"),
	}
	withVibe := profile
	withVibe.Vibe, withVibe.VibeExpiresAt = strPtr("coffee"), strPtr("2026-04-14T15:12:20.987Z")

	tests := []struct {
		name string
		user func() storage.User
		at   time.Time
		want protocol.User
	}{
		{name: "bare user", user: bareUser, at: stateNow, want: protocol.User{ID: "user_1", Name: "Ada"}},
		{name: "vibe before expiry", user: full, at: expiry.Add(-time.Nanosecond), want: withVibe},
		{name: "vibe at expiry hidden", user: full, at: expiry, want: profile},
		{name: "vibe after expiry hidden before the reminder fires", user: full, at: expiry.Add(time.Minute), want: profile},
		{name: "vibe without expiry shown", user: func() storage.User {
			u := full()
			u.VibeExpiresAt = nil
			return u
		}, at: stateNow, want: func() protocol.User { w := profile; w.Vibe = strPtr("coffee"); return w }()},
		{name: "expiry in another zone rendered in UTC", user: func() storage.User {
			u := full()
			u.VibeExpiresAt = timePtr(expiry.In(time.FixedZone("WAT", 3600)))
			return u
		}, at: stateNow, want: withVibe},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user()
			before := tc.user()
			got := Wire(&u, tc.at)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Wire = %s\nwant   %s", wireString(got), wireString(tc.want))
			}
			if !reflect.DeepEqual(u, before) {
				t.Error("Wire changed the stored user")
			}
		})
	}
}

func wireString(w protocol.User) string {
	s := func(p *string) string {
		if p == nil {
			return "nil"
		}
		return "\"" + *p + "\""
	}
	age := "nil"
	if w.Age != nil {
		age = strconv.Itoa(*w.Age)
	}
	return "{id=" + w.ID + " name=" + w.Name + " age=" + age + " avatar=" + s(w.Avatar) + " gender=" + s(w.Gender) +
		" vibe=" + s(w.Vibe) + " vibeExpiresAt=" + s(w.VibeExpiresAt) + " username=" + s(w.Username) + " bio=" + s(w.Bio) + "}"
}

func sessionRef(id, addr string) *grainpb.SessionRef {
	return &grainpb.SessionRef{SessionId: id, Address: addr, PidId: "pid-" + id}
}

func sessionIDs(refs []*grainpb.SessionRef) []string {
	ids := make([]string, 0, len(refs))
	for _, r := range refs {
		ids = append(ids, r.SessionId)
	}
	return ids
}

func TestStateAttach(t *testing.T) {
	type step struct {
		id, addr    string
		max         int
		wantEvicted []string
	}
	tests := []struct {
		name      string
		initial   []string
		steps     []step
		want      []string // session ids, oldest first
		wantAddrs []string // addresses in the same order; nil: not checked
	}{
		{name: "first session", steps: []step{{id: "s1", max: 3}}, want: []string{"s1"}},
		{name: "under max", steps: []step{{id: "s1", max: 3}, {id: "s2", max: 3}, {id: "s3", max: 3}}, want: []string{"s1", "s2", "s3"}},
		{name: "re-attach does not duplicate and becomes newest", initial: []string{"s1", "s2", "s3"},
			steps: []step{{id: "s1", addr: "node-b", max: 3}}, want: []string{"s2", "s3", "s1"},
			wantAddrs: []string{"node-a", "node-a", "node-b"}},
		{name: "re-attach at max evicts nothing", initial: []string{"s1", "s2"},
			steps: []step{{id: "s2", max: 2}, {id: "s1", max: 2}}, want: []string{"s2", "s1"}},
		{name: "over max evicts the oldest", initial: []string{"s1", "s2", "s3"},
			steps: []step{{id: "s4", max: 3, wantEvicted: []string{"s1"}}}, want: []string{"s2", "s3", "s4"}},
		{name: "evictions in order over several attaches", initial: []string{"s1", "s2"},
			steps: []step{
				{id: "s3", max: 2, wantEvicted: []string{"s1"}},
				{id: "s4", max: 2, wantEvicted: []string{"s2"}},
				{id: "s3", max: 2},
				{id: "s5", max: 2, wantEvicted: []string{"s4"}},
			}, want: []string{"s3", "s5"}},
		{name: "lowered max evicts several, oldest first", initial: []string{"s1", "s2", "s3", "s4"},
			steps: []step{{id: "s5", max: 2, wantEvicted: []string{"s1", "s2", "s3"}}}, want: []string{"s4", "s5"}},
		{name: "max 1 keeps only the newest", initial: []string{"s1"},
			steps: []step{{id: "s2", max: 1, wantEvicted: []string{"s1"}}}, want: []string{"s2"}},
		{name: "max 0 is unlimited", initial: []string{"s1", "s2", "s3"},
			steps: []step{{id: "s4", max: 0}, {id: "s5", max: 0}}, want: []string{"s1", "s2", "s3", "s4", "s5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for _, id := range tc.initial {
				s.Sessions = append(s.Sessions, sessionRef(id, "node-a"))
			}
			for i, st := range tc.steps {
				addr := st.addr
				if addr == "" {
					addr = "node-a"
				}
				evicted := s.Attach(sessionRef(st.id, addr), st.max)
				if got := sessionIDs(evicted); !slices.Equal(got, st.wantEvicted) {
					t.Errorf("step %d (%s): evicted %v, want %v", i, st.id, got, st.wantEvicted)
				}
			}
			if got := sessionIDs(s.Sessions); !slices.Equal(got, tc.want) {
				t.Errorf("sessions = %v, want %v", got, tc.want)
			}
			if tc.wantAddrs != nil {
				var addrs []string
				for _, r := range s.Sessions {
					addrs = append(addrs, r.Address)
				}
				if !slices.Equal(addrs, tc.wantAddrs) {
					t.Errorf("addresses = %v, want %v", addrs, tc.wantAddrs)
				}
			}
		})
	}
}

// TestStateAttachEvictedStable checks that the evicted list is not a view
// of the sessions slice that later attaches would overwrite.
func TestStateAttachEvictedStable(t *testing.T) {
	var s State
	for _, id := range []string{"s1", "s2"} {
		s.Attach(sessionRef(id, "a"), 2)
	}
	evicted := s.Attach(sessionRef("s3", "a"), 2)
	for _, id := range []string{"s4", "s5", "s6"} {
		s.Attach(sessionRef(id, "a"), 2)
	}
	s.Detach("s6")
	if got := sessionIDs(evicted); !slices.Equal(got, []string{"s1"}) {
		t.Errorf("evicted list changed to %v", got)
	}
}

func TestStateDetach(t *testing.T) {
	tests := []struct {
		name    string
		initial []string
		detach  []string
		want    []string
	}{
		{"only session", []string{"s1"}, []string{"s1"}, []string{}},
		{"oldest", []string{"s1", "s2", "s3"}, []string{"s1"}, []string{"s2", "s3"}},
		{"middle keeps order", []string{"s1", "s2", "s3"}, []string{"s2"}, []string{"s1", "s3"}},
		{"newest", []string{"s1", "s2", "s3"}, []string{"s3"}, []string{"s1", "s2"}},
		{"unknown id ignored", []string{"s1", "s2"}, []string{"s9"}, []string{"s1", "s2"}},
		{"twice", []string{"s1", "s2"}, []string{"s1", "s1"}, []string{"s2"}},
		{"empty id ignored", []string{"s1"}, []string{""}, []string{"s1"}},
		{"no sessions", nil, []string{"s1"}, []string{}},
		{"all", []string{"s1", "s2", "s3"}, []string{"s2", "s3", "s1"}, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s State
			for _, id := range tc.initial {
				s.Sessions = append(s.Sessions, sessionRef(id, "a"))
			}
			for _, id := range tc.detach {
				s.Detach(id)
			}
			if got := sessionIDs(s.Sessions); !slices.Equal(got, tc.want) {
				t.Errorf("sessions = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStateSessionLookups: a session is found by its id (DetachSession)
// and by its actor's PID (a watched session's Terminated), on any node.
func TestStateSessionLookups(t *testing.T) {
	s := State{Sessions: []*grainpb.SessionRef{sessionRef("s1", "node-a"), sessionRef("s2", "node-b")}}
	tests := []struct {
		name          string
		id            string
		address, pid  string
		byID, byActor string // the session found, "" for none
	}{
		{"local", "s1", "node-a", "pid-s1", "s1", "s1"},
		{"remote", "s2", "node-b", "pid-s2", "s2", "s2"},
		{"same actor id on another node", "s9", "node-b", "pid-s1", "", ""},
		{"unknown", "s9", "node-c", "pid-s9", "", ""},
		{"empty", "", "", "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.Session(tc.id).GetSessionId(); got != tc.byID {
				t.Errorf("Session(%q) = %q, want %q", tc.id, got, tc.byID)
			}
			if got := s.SessionAt(tc.address, tc.pid).GetSessionId(); got != tc.byActor {
				t.Errorf("SessionAt(%q, %q) = %q, want %q", tc.address, tc.pid, got, tc.byActor)
			}
		})
	}
}

func TestStateBlockedIDs(t *testing.T) {
	tests := []struct {
		name    string
		blocked map[string]time.Time
		want    []string
	}{
		{"nil map", nil, []string{}},
		{"empty map", map[string]time.Time{}, []string{}},
		{"one", map[string]time.Time{"user_2": stateT0}, []string{"user_2"}},
		{"sorted", map[string]time.Time{"user_c": stateT0, "user_a": stateT0, "user_B": stateT0, "user_b": stateT0, "user_10": stateT0, "user_9": stateT0},
			[]string{"user_10", "user_9", "user_B", "user_a", "user_b", "user_c"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := State{Blocked: tc.blocked}
			got := s.BlockedIDs()
			if got == nil {
				t.Fatal("BlockedIDs = nil, want a non-nil slice so it encodes as []")
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("BlockedIDs = %v, want %v", got, tc.want)
			}
			// Blockers never leak into the list.
			s.Blockers = map[string]bool{"user_z": true}
			if slices.Contains(s.BlockedIDs(), "user_z") {
				t.Error("a blocker is listed as blocked")
			}
		})
	}
}

func TestStateHidden(t *testing.T) {
	s := State{
		Blocked:  map[string]time.Time{"blocked": stateT0, "both": {}},
		Blockers: map[string]bool{"blocker": true, "both": true},
	}
	tests := []struct {
		other string
		want  bool
	}{
		{"blocked", true},
		{"blocker", true},
		{"both", true},
		{"stranger", false},
		{"", false},
	}
	for _, tc := range tests {
		if got := s.Hidden(tc.other); got != tc.want {
			t.Errorf("Hidden(%q) = %v, want %v", tc.other, got, tc.want)
		}
	}
	var empty State
	if empty.Hidden("anyone") {
		t.Error("Hidden with nil maps = true")
	}
}

func TestStateBlocks(t *testing.T) {
	s := State{Blocked: map[string]time.Time{"user_c": stateNow, "user_a": stateT0}, Blockers: map[string]bool{"user_z": true}}
	want := []storage.Block{
		{BlockerID: "user_1", BlockedID: "user_a", CreatedAt: stateT0},
		{BlockerID: "user_1", BlockedID: "user_c", CreatedAt: stateNow},
	}
	if got := s.Blocks("user_1"); !reflect.DeepEqual(got, want) {
		t.Errorf("Blocks = %+v, want %+v", got, want)
	}
	var empty State
	if got := empty.Blocks("user_1"); got == nil || len(got) != 0 {
		t.Errorf("Blocks of nobody = %#v, want an empty list (it encodes as [])", got)
	}
}
