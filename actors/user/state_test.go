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
	t0      = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC) // last update of the stored user
	now     = time.Date(2026, 4, 14, 14, 12, 20, 123456789, time.UTC)
	oldVibe = now.Add(20 * time.Minute) // expiry of the vibe already set
)

func sp(s string) *string             { return &s }
func ip(i int) *int                   { return &i }
func tp(t time.Time) *time.Time       { return &t }
func nsNull() *grainpb.NullableString { return &grainpb.NullableString{Null: true} }
func nsVal(v string) *grainpb.NullableString {
	return &grainpb.NullableString{Value: v}
}

// baseUser is a stored user with every profile field set.
func baseUser() storage.User {
	return storage.User{
		ID: "user_1", Name: "Ada", Age: ip(36), Avatar: sp("https://cdn.example.com/a.png"),
		Gender: sp("female"), Username: sp("ada"), Bio: sp("Engines"),
		Vibe: sp("coffee"), VibeExpiresAt: tp(oldVibe),
		Provider: "dev", Subject: "ada", CreatedAt: t0, UpdatedAt: t0,
	}
}

// bareUser is a stored user with no optional field.
func bareUser() storage.User {
	return storage.User{ID: "user_1", Name: "Ada", Provider: "dev", Subject: "ada", CreatedAt: t0, UpdatedAt: t0}
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

		{name: "name changed", user: baseUser, patch: &grainpb.UpdateProfile{Name: sp("Ada L.")},
			edit: func(u *storage.User) { u.Name = "Ada L." }, want: PatchResult{Changed: true}},
		{name: "name unchanged", user: baseUser, patch: &grainpb.UpdateProfile{Name: sp("Ada")}},

		// Nullable strings: avatar, gender, username, bio.
		{name: "avatar changed", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: nsVal("https://cdn.example.com/b.png")},
			edit: func(u *storage.User) { u.Avatar = sp("https://cdn.example.com/b.png") }, want: PatchResult{Changed: true}},
		{name: "avatar set from none", user: bareUser, patch: &grainpb.UpdateProfile{Avatar: nsVal("https://cdn.example.com/b.png")},
			edit: func(u *storage.User) { u.Avatar = sp("https://cdn.example.com/b.png") }, want: PatchResult{Changed: true}},
		{name: "avatar same value", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: nsVal("https://cdn.example.com/a.png")}},
		{name: "avatar cleared", user: baseUser, patch: &grainpb.UpdateProfile{Avatar: nsNull()},
			edit: func(u *storage.User) { u.Avatar = nil }, want: PatchResult{Changed: true}},
		{name: "avatar cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Avatar: nsNull()}},

		{name: "gender changed", user: baseUser, patch: &grainpb.UpdateProfile{Gender: nsVal("non-binary")},
			edit: func(u *storage.User) { u.Gender = sp("non-binary") }, want: PatchResult{Changed: true}},
		{name: "gender same value", user: baseUser, patch: &grainpb.UpdateProfile{Gender: nsVal("female")}},
		{name: "gender cleared", user: baseUser, patch: &grainpb.UpdateProfile{Gender: nsNull()},
			edit: func(u *storage.User) { u.Gender = nil }, want: PatchResult{Changed: true}},
		{name: "gender cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Gender: nsNull()}},

		{name: "username changed", user: baseUser, patch: &grainpb.UpdateProfile{Username: nsVal("ada.l")},
			edit: func(u *storage.User) { u.Username = sp("ada.l") }, want: PatchResult{Changed: true}},
		{name: "username set from none", user: bareUser, patch: &grainpb.UpdateProfile{Username: nsVal("ada")},
			edit: func(u *storage.User) { u.Username = sp("ada") }, want: PatchResult{Changed: true}},
		{name: "username same value", user: baseUser, patch: &grainpb.UpdateProfile{Username: nsVal("ada")}},
		{name: "username cleared", user: baseUser, patch: &grainpb.UpdateProfile{Username: nsNull()},
			edit: func(u *storage.User) { u.Username = nil }, want: PatchResult{Changed: true}},

		{name: "bio changed", user: baseUser, patch: &grainpb.UpdateProfile{Bio: nsVal("Engines.\nPoetry.")},
			edit: func(u *storage.User) { u.Bio = sp("Engines.\nPoetry.") }, want: PatchResult{Changed: true}},
		{name: "bio same value", user: baseUser, patch: &grainpb.UpdateProfile{Bio: nsVal("Engines")}},
		{name: "bio cleared", user: baseUser, patch: &grainpb.UpdateProfile{Bio: nsNull()},
			edit: func(u *storage.User) { u.Bio = nil }, want: PatchResult{Changed: true}},
		{name: "bio cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Bio: nsNull()}},

		// Age.
		{name: "age changed", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 37}},
			edit: func(u *storage.User) { u.Age = ip(37) }, want: PatchResult{Changed: true}},
		{name: "age set to 0 from none", user: bareUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 0}},
			edit: func(u *storage.User) { u.Age = ip(0) }, want: PatchResult{Changed: true}},
		{name: "age same value", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Value: 36}}},
		{name: "age cleared", user: baseUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Null: true}},
			edit: func(u *storage.User) { u.Age = nil }, want: PatchResult{Changed: true}},
		{name: "age cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Age: &grainpb.NullableInt{Null: true}}},

		// Vibe.
		{name: "vibe set with duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("tea"), VibeDurationMinutes: 30},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = sp("tea"), tp(now.Add(30*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(30 * time.Minute)}},
		{name: "vibe set with default duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("tea")},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = sp("tea"), tp(now.Add(60*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(60 * time.Minute)}},
		{name: "vibe negative duration falls back to default", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("tea"), VibeDurationMinutes: -5},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = sp("tea"), tp(now.Add(time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(time.Hour)}},
		{name: "vibe with max duration", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("tea"), VibeDurationMinutes: protocol.MaxVibeMins},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = sp("tea"), tp(now.Add(24*time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(24 * time.Hour)}},
		{name: "vibe replaced", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("tea"), VibeDurationMinutes: 5},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = sp("tea"), tp(now.Add(5*time.Minute)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(5 * time.Minute)}},
		{name: "same vibe renews its expiry", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: nsVal("coffee")},
			edit: func(u *storage.User) { u.VibeExpiresAt = tp(now.Add(time.Hour)) },
			want: PatchResult{Changed: true, VibeDue: now.Add(time.Hour)}},
		{name: "duration without vibe ignored", user: baseUser, patch: &grainpb.UpdateProfile{VibeDurationMinutes: 5}},
		{name: "vibe cleared", user: baseUser, patch: &grainpb.UpdateProfile{Vibe: nsNull()},
			edit: func(u *storage.User) { u.Vibe, u.VibeExpiresAt = nil, nil },
			want: PatchResult{Changed: true, VibeCleared: true}},
		{name: "vibe cleared when none", user: bareUser, patch: &grainpb.UpdateProfile{Vibe: nsNull()}},

		// Several fields at once.
		{name: "several fields", user: baseUser,
			patch: &grainpb.UpdateProfile{Name: sp("Ada"), Gender: nsNull(), Bio: nsVal("Engines"), Age: &grainpb.NullableInt{Value: 40}, Vibe: nsNull()},
			edit:  func(u *storage.User) { u.Gender, u.Age, u.Vibe, u.VibeExpiresAt = nil, ip(40), nil, nil },
			want:  PatchResult{Changed: true, VibeCleared: true}},
		{name: "several fields none changed", user: baseUser,
			patch: &grainpb.UpdateProfile{Name: sp("Ada"), Gender: nsVal("female"), Age: &grainpb.NullableInt{Value: 36}, Avatar: nsVal("https://cdn.example.com/a.png")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.user()
			want := tc.user()
			if tc.edit != nil {
				tc.edit(&want)
			}
			if tc.want.Changed {
				want.UpdatedAt = now
			}
			got := ApplyPatch(&u, tc.patch, now)
			if got != tc.want {
				t.Errorf("result = %+v, want %+v", got, tc.want)
			}
			if !reflect.DeepEqual(u, want) {
				t.Errorf("user = %s\nwant   %s", dumpUser(u), dumpUser(want))
			}
			if !got.Changed && !u.UpdatedAt.Equal(t0) {
				t.Errorf("UpdatedAt moved to %v without a change", u.UpdatedAt)
			}
		})
	}
}

// TestApplyPatchDoesNotAlias checks that the stored user does not keep
// pointers into the patch, which the grain may reuse.
func TestApplyPatchDoesNotAlias(t *testing.T) {
	u := bareUser()
	p := &grainpb.UpdateProfile{Avatar: nsVal("https://a.example/x.png"), Vibe: nsVal("tea")}
	ApplyPatch(&u, p, now)
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
	expiry := now
	tests := []struct {
		name    string
		vibe    *string
		expires *time.Time
		at      time.Time
		want    bool
	}{
		{name: "no vibe", at: now},
		{name: "no vibe but stale expiry", expires: tp(expiry), at: now.Add(time.Hour)},
		{name: "vibe without expiry", vibe: sp("tea"), at: now.Add(time.Hour)},
		{name: "before expiry", vibe: sp("tea"), expires: tp(expiry), at: expiry.Add(-time.Millisecond)},
		{name: "at expiry", vibe: sp("tea"), expires: tp(expiry), at: expiry, want: true},
		{name: "after expiry", vibe: sp("tea"), expires: tp(expiry), at: expiry.Add(3 * time.Hour), want: true},
		{name: "renewed to a later time", vibe: sp("tea"), expires: tp(expiry.Add(time.Hour)), at: expiry},
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
		u.VibeExpiresAt = tp(expiry)
		u.Email, u.HiddenFromRadar = "ada@example.com", true
		return u
	}
	profile := protocol.User{
		ID: "user_1", Name: "Ada", Age: ip(36), Avatar: sp("https://cdn.example.com/a.png"),
		Gender: sp("female"), Username: sp("ada"), Bio: sp("Engines"),
	}
	withVibe := profile
	withVibe.Vibe, withVibe.VibeExpiresAt = sp("coffee"), sp("2026-04-14T15:12:20.987Z")

	tests := []struct {
		name string
		user func() storage.User
		at   time.Time
		want protocol.User
	}{
		{name: "bare user", user: bareUser, at: now, want: protocol.User{ID: "user_1", Name: "Ada"}},
		{name: "vibe before expiry", user: full, at: expiry.Add(-time.Nanosecond), want: withVibe},
		{name: "vibe at expiry hidden", user: full, at: expiry, want: profile},
		{name: "vibe after expiry hidden before the reminder fires", user: full, at: expiry.Add(time.Minute), want: profile},
		{name: "vibe without expiry shown", user: func() storage.User {
			u := full()
			u.VibeExpiresAt = nil
			return u
		}, at: now, want: func() protocol.User { w := profile; w.Vibe = sp("coffee"); return w }()},
		{name: "expiry in another zone rendered in UTC", user: func() storage.User {
			u := full()
			u.VibeExpiresAt = tp(expiry.In(time.FixedZone("WAT", 3600)))
			return u
		}, at: now, want: withVibe},
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

func ref(id, addr string) *grainpb.SessionRef {
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
				s.Sessions = append(s.Sessions, ref(id, "node-a"))
			}
			for i, st := range tc.steps {
				addr := st.addr
				if addr == "" {
					addr = "node-a"
				}
				evicted := s.Attach(ref(st.id, addr), st.max)
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
		s.Attach(ref(id, "a"), 2)
	}
	evicted := s.Attach(ref("s3", "a"), 2)
	for _, id := range []string{"s4", "s5", "s6"} {
		s.Attach(ref(id, "a"), 2)
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
				s.Sessions = append(s.Sessions, ref(id, "a"))
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

func TestStateBlockedIDs(t *testing.T) {
	tests := []struct {
		name    string
		blocked map[string]bool
		want    []string
	}{
		{"nil map", nil, []string{}},
		{"empty map", map[string]bool{}, []string{}},
		{"one", map[string]bool{"user_2": true}, []string{"user_2"}},
		{"sorted", map[string]bool{"user_c": true, "user_a": true, "user_B": true, "user_b": true, "user_10": true, "user_9": true},
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
		Blocked:  map[string]bool{"blocked": true, "both": true},
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
