package protocol

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
)

func f64(f float64) *float64 { return &f }

// oddStrings are strings whose JSON escapes differ between encoders: quotes,
// backslashes, control characters, HTML characters, non-ASCII, invalid
// UTF-8 and the JavaScript line separators.
var oddStrings = []string{
	"",
	`say "hi"`,
	`back\slash`,
	"tab\tnew\nline\rret\bbell\ffeed\x00nul\x1fus\x7fdel",
	"<b>&amp;</b>",
	"café 👋 日本",
	"bad \xff\xfe utf8 \xe2\x82",
	"line\u2028para\u2029end",
}

func nearbyCases() map[string]NearbyUser {
	full := Location{Lat: 6.4281, Lng: 3.4219, AccuracyMeters: f64(4.8), Heading: f64(210.3), Speed: f64(1.2), UpdatedAt: "2026-04-14T14:12:20.123Z"}
	cases := map[string]NearbyUser{
		"typical": {User: json.RawMessage(`{"id":"user_2","name":"Bo","age":null,"vibe":"#coffee"}`), Distance: 12.4, Angle: 210.3, IsLive: true,
			SharedInterests: []string{"coffee", "jazz"}, Location: full},
		"no optional location fields": {User: json.RawMessage(`{"id":"user_3"}`), Distance: 0, Angle: 0, SharedInterests: []string{},
			Location: Location{Lat: -33.8688, Lng: 151.2093, UpdatedAt: "2026-04-14T14:12:20.000Z"}},
		"null user":  {User: nil, SharedInterests: []string{}, Location: full},
		"zero place": {User: json.RawMessage(`null`), SharedInterests: []string{"a"}, Location: Location{Lat: 0, Lng: 0, AccuracyMeters: f64(0), Heading: f64(0), Speed: f64(0)}},
		"extreme floats": {User: json.RawMessage(`{}`), Distance: 1e-7, Angle: 359.99999999999994, SharedInterests: []string{},
			Location: Location{Lat: -90, Lng: 180, AccuracyMeters: f64(1e21), Heading: f64(5e-324), Speed: f64(math.MaxFloat64), UpdatedAt: "x"}},
		"negative zero": {User: json.RawMessage(`{}`), Distance: math.Copysign(0, -1), SharedInterests: []string{}, Location: Location{Lat: math.Copysign(0, -1)}},
	}
	for i, s := range oddStrings {
		cases["odd string "+string(rune('a'+i))] = NearbyUser{
			User: json.RawMessage(`{"id":"user_4","name":` + string(mustJSON(s)) + `}`), Distance: 1.5, Angle: 90, IsLive: true,
			SharedInterests: []string{s, "x" + s}, Location: Location{Lat: 1, Lng: 2, UpdatedAt: s},
		}
	}
	return cases
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestAppendNearbyUserMatchesEncodingJSON: for every value json.Marshal can
// encode (non-nil lists, finite numbers), the fast encoder writes the same
// bytes, and they decode to the same struct.
func TestAppendNearbyUserMatchesEncodingJSON(t *testing.T) {
	for name, u := range nearbyCases() {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(u)
			if err != nil {
				t.Fatal(err)
			}
			got := AppendNearbyUser([]byte("prefix"), &u)
			if !bytes.HasPrefix(got, []byte("prefix")) {
				t.Fatalf("the encoder dropped what b held: %s", got)
			}
			got = got[len("prefix"):]
			if !bytes.Equal(got, want) {
				t.Errorf("fast encoder:\n %s\nencoding/json:\n %s", got, want)
			}
			var back, ref NearbyUser
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("fast output does not decode: %v: %s", err, got)
			}
			if err := json.Unmarshal(want, &ref); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, ref) {
				t.Errorf("decoded %+v, want %+v", back, ref)
			}
			if utf8Clean(u) && !reflect.DeepEqual(back, normalizeNearby(u)) {
				t.Errorf("round trip changed the value:\n got %+v\nwant %+v", back, u)
			}

			parts := EncodeNearbyParts(u.User, &u.Location)
			viaParts := parts.AppendNearbyUser(nil, u.Distance, u.Angle, u.IsLive, u.SharedInterests)
			if !bytes.Equal(viaParts, want) {
				t.Errorf("pre-encoded parts:\n %s\nencoding/json:\n %s", viaParts, want)
			}
		})
	}
}

// utf8Clean reports whether u survives a JSON round trip unchanged (invalid
// UTF-8 becomes U+FFFD in any encoder).
func utf8Clean(u NearbyUser) bool {
	for _, s := range append([]string{u.Location.UpdatedAt, string(u.User)}, u.SharedInterests...) {
		if !json.Valid(mustJSON(s)) || string(mustJSONDecode(mustJSON(s))) != s {
			return false
		}
	}
	return true
}

func mustJSONDecode(b []byte) string {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		panic(err)
	}
	return s
}

// normalizeNearby is u as a decoder sees it: an absent user is null.
func normalizeNearby(u NearbyUser) NearbyUser {
	if len(u.User) == 0 {
		u.User = json.RawMessage("null")
	}
	return u
}

// TestAppendNearbyNilListsAndBadNumbers: where json.Marshal would write null
// (a nil list) or fail (NaN, ±Inf), the fast encoder keeps to the spec: a
// list, and valid JSON.
func TestAppendNearbyNilListsAndBadNumbers(t *testing.T) {
	u := NearbyUser{User: json.RawMessage(`{"id":"user_5"}`), Distance: math.NaN(), Angle: math.Inf(1),
		Location: Location{Lat: math.Inf(-1), Lng: 3, AccuracyMeters: f64(math.NaN()), UpdatedAt: "t"}}
	got := AppendNearbyUser(nil, &u)
	want := `{"user":{"id":"user_5"},"distance":0,"angle":0,"isLive":false,"sharedInterests":[],"location":{"lat":0,"lng":3,"accuracyMeters":0,"updatedAt":"t"}}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}

	tests := []struct {
		name string
		p    NearbyPayload
		want string
	}{
		{"nil list", NearbyPayload{}, `{"nearbyUsers":[]}`},
		{"empty list", NearbyPayload{NearbyUsers: []NearbyUser{}}, `{"nearbyUsers":[]}`},
	}
	for _, tt := range tests {
		if got := AppendNearbyPayload(nil, &tt.p); string(got) != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAppendNearbyPayloadMatchesEncodingJSON(t *testing.T) {
	var all []NearbyUser
	for _, u := range nearbyCases() {
		all = append(all, u)
	}
	for _, p := range []NearbyPayload{{NearbyUsers: all[:1]}, {NearbyUsers: all}, {NearbyUsers: []NearbyUser{}}} {
		want := mustJSON(p)
		got := AppendNearbyPayload(nil, &p)
		if !bytes.Equal(got, want) {
			t.Errorf("fast encoder:\n %s\nencoding/json:\n %s", got, want)
		}
		var back NearbyPayload
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		if len(back.NearbyUsers) != len(p.NearbyUsers) {
			t.Errorf("decoded %d users, want %d", len(back.NearbyUsers), len(p.NearbyUsers))
		}
	}
}

func TestAppendPresencePayloadMatchesEncodingJSON(t *testing.T) {
	loc := &Location{Lat: 6.4281, Lng: 3.4219, AccuracyMeters: f64(5), Heading: f64(90), Speed: f64(1.2), UpdatedAt: "2026-04-14T14:12:20.123Z"}
	tests := []PresencePayload{
		{UserID: "user_1", Presence: Presence{IsLive: true, IsOnRadar: true, Location: loc}},
		{UserID: "user_1", Presence: Presence{IsOnRadar: true}},
		{UserID: "user_1", Presence: Presence{Location: &Location{Lat: -1, Lng: -2}}},
	}
	for _, s := range oddStrings {
		tests = append(tests, PresencePayload{UserID: s, Presence: Presence{Location: &Location{UpdatedAt: s}}})
	}
	for _, p := range tests {
		want := mustJSON(p)
		got := AppendPresencePayload(nil, &p)
		if !bytes.Equal(got, want) {
			t.Errorf("fast encoder:\n %s\nencoding/json:\n %s", got, want)
		}
		var back, ref PresencePayload
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		_ = json.Unmarshal(want, &ref)
		if !reflect.DeepEqual(back, ref) {
			t.Errorf("decoded %+v, want %+v", back, ref)
		}
	}
}

func BenchmarkAppendNearby(b *testing.B) {
	u := nearbyCases()["typical"]
	parts := EncodeNearbyParts(u.User, &u.Location)
	b.Run("parts-50", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 32<<10)
		for b.Loop() {
			buf = AppendNearbyPayloadList(buf[:0], 50, func(b []byte, i int) []byte {
				return parts.AppendNearbyUser(b, 12.4, 210.3, true, u.SharedInterests)
			})
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("struct-50", func(b *testing.B) {
		p := NearbyPayload{NearbyUsers: make([]NearbyUser, 50)}
		for i := range p.NearbyUsers {
			p.NearbyUsers[i] = u
		}
		b.ReportAllocs()
		buf := make([]byte, 0, 32<<10)
		for b.Loop() {
			buf = AppendNearbyPayload(buf[:0], &p)
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("encoding-json-50", func(b *testing.B) {
		p := NearbyPayload{NearbyUsers: make([]NearbyUser, 50)}
		for i := range p.NearbyUsers {
			p.NearbyUsers[i] = u
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkAppendPresencePayload(b *testing.B) {
	p := PresencePayload{UserID: "user_1", Presence: Presence{IsLive: true, IsOnRadar: true,
		Location: &Location{Lat: 6.4281, Lng: 3.4219, AccuracyMeters: f64(5), Heading: f64(90), Speed: f64(1.2), UpdatedAt: "2026-04-14T14:12:20.123Z"}}}
	b.ReportAllocs()
	buf := make([]byte, 0, 256)
	for b.Loop() {
		buf = AppendPresencePayload(buf[:0], &p)
	}
}
