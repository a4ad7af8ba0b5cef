package radar

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
)

// TestAppendNearbyPayload: what the radar writes for its hits is the
// NearbyUser the protocol defines, with distance and angle rounded to a
// tenth, the angle kept below 360, and the viewer's shared interests.
func TestAppendNearbyPayload(t *testing.T) {
	acc := 4.8
	published := NewEntry(Entry{UserID: "user_2", Lat: 6.5, Lng: 3.4, AccuracyMeters: &acc, UpdatedAt: queryTestT0,
		UserJSON: json.RawMessage(`{"id":"user_2","name":"Bo \"B\" <3"}`), Interests: []string{"coffee", "jazz"}})
	literal := &Entry{UserID: "user_3", Lat: -1, Lng: 2, UpdatedAt: queryTestT0} // built without NewEntry
	hits := []Hit{
		{Entry: published, Distance: 12.449, Bearing: 359.96},
		{Entry: literal, Distance: 999.95, Bearing: 0.04},
	}
	got := AppendNearbyPayload([]byte("x"), hits, []string{"jazz", "tea"})
	if got[0] != 'x' {
		t.Fatalf("AppendNearbyPayload dropped the buffer's content: %s", got)
	}
	var p protocol.NearbyPayload
	if err := json.Unmarshal(got[1:], &p); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	at := protocol.FormatTime(queryTestT0)
	want := protocol.NearbyPayload{NearbyUsers: []protocol.NearbyUser{
		{User: json.RawMessage(`{"id":"user_2","name":"Bo \"B\" <3"}`), Distance: 12.4, Angle: 0, IsLive: true,
			SharedInterests: []string{"jazz"}, Location: protocol.Location{Lat: 6.5, Lng: 3.4, AccuracyMeters: &acc, UpdatedAt: at}},
		{User: json.RawMessage(`null`), Distance: 1000, Angle: 0, IsLive: true,
			SharedInterests: []string{}, Location: protocol.Location{Lat: -1, Lng: 2, UpdatedAt: at}},
	}}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", p, want)
	}
	if list := AppendNearby(nil, nil, nil); string(list) != "[]" {
		t.Errorf("no hits: %s, want []", list)
	}
}

func BenchmarkAppendNearby50(b *testing.B) {
	acc, heading, speed := 4.8, 90.0, 1.2
	hits := make([]Hit, 50)
	for i := range hits {
		hits[i] = Hit{Entry: NewEntry(Entry{UserID: "user_2", Lat: 6.5, Lng: 3.4, AccuracyMeters: &acc, Heading: &heading, Speed: &speed,
			UpdatedAt: queryTestT0, UserJSON: json.RawMessage(`{"id":"user_000002","name":"Somebody","age":31,"avatar":"https://cdn.example.com/avatars/user_000002.png","gender":null,"vibe":"#coffee and #jazz tonight","vibeExpiresAt":"2026-04-14T15:12:20.123Z","username":"somebody","bio":null}`),
			Interests: []string{"coffee", "jazz"}}), Distance: float64(i) * 17.3, Bearing: float64(i) * 7.1}
	}
	viewer := []string{"jazz"}
	b.ReportAllocs()
	buf := make([]byte, 0, 32<<10)
	for b.Loop() {
		buf = AppendNearbyPayload(buf[:0], hits, viewer)
	}
	b.SetBytes(int64(len(buf)))
}

// TestFingerprint: a push goes out only when the viewer would see a
// difference, so the fingerprint changes with who, the distance to the
// metre, the bearing to the degree, the profile and the shared interests,
// and not with a timestamp or sub-metre jitter.
func TestFingerprint(t *testing.T) {
	profile := json.RawMessage(`{"id":"user_2","name":"Bo"}`)
	entry := func(edit func(e *Entry)) *Entry {
		e := Entry{UserID: "user_2", Lat: 6.5, Lng: 3.4, UpdatedAt: queryTestT0, UserJSON: profile, Interests: []string{"coffee", "jazz"}}
		if edit != nil {
			edit(&e)
		}
		return NewEntry(e)
	}
	viewer := []string{"jazz"}
	base := Fingerprint([]Hit{{Entry: entry(nil), Distance: 100.2, Bearing: 45.2}}, viewer)
	tests := []struct {
		name    string
		hits    []Hit
		viewer  []string
		changed bool
	}{
		{"same", []Hit{{Entry: entry(nil), Distance: 100.2, Bearing: 45.2}}, viewer, false},
		{"newer timestamp", []Hit{{Entry: entry(func(e *Entry) { e.UpdatedAt = queryTestT0.Add(time.Minute) }), Distance: 100.2, Bearing: 45.2}}, viewer, false},
		{"sub-metre jitter", []Hit{{Entry: entry(nil), Distance: 100.4, Bearing: 45.4}}, viewer, false},
		{"entry built without NewEntry", []Hit{{Entry: &Entry{UserID: "user_2", UserJSON: profile, Interests: []string{"coffee", "jazz"}}, Distance: 100.2, Bearing: 45.2}}, viewer, false},
		{"a metre closer", []Hit{{Entry: entry(nil), Distance: 99.4, Bearing: 45.2}}, viewer, true},
		{"a degree round", []Hit{{Entry: entry(nil), Distance: 100.2, Bearing: 46.2}}, viewer, true},
		{"profile changed", []Hit{{Entry: entry(func(e *Entry) { e.UserJSON = json.RawMessage(`{"id":"user_2","name":"Bob"}`) }), Distance: 100.2, Bearing: 45.2}}, viewer, true},
		{"shared interests changed", []Hit{{Entry: entry(nil), Distance: 100.2, Bearing: 45.2}}, []string{"coffee", "jazz"}, true},
		{"somebody else too", []Hit{{Entry: entry(nil), Distance: 100.2, Bearing: 45.2}, {Entry: entry(func(e *Entry) { e.UserID = "user_3" }), Distance: 200, Bearing: 1}}, viewer, true},
		{"nobody", nil, viewer, true},
	}
	for _, tt := range tests {
		if got := Fingerprint(tt.hits, tt.viewer) != base; got != tt.changed {
			t.Errorf("%s: changed = %v, want %v", tt.name, got, tt.changed)
		}
	}
}

func BenchmarkFingerprint50(b *testing.B) {
	hits := make([]Hit, 50)
	for i := range hits {
		hits[i] = Hit{Entry: NewEntry(Entry{UserID: "user_2", Lat: 6.5, Lng: 3.4, UpdatedAt: queryTestT0,
			UserJSON:  json.RawMessage(`{"id":"user_000002","name":"Somebody","age":31,"avatar":"https://cdn.example.com/avatars/user_000002.png","gender":null,"vibe":"#coffee and #jazz tonight","vibeExpiresAt":"2026-04-14T15:12:20.123Z","username":"somebody","bio":null}`),
			Interests: []string{"coffee", "jazz"}}), Distance: float64(i) * 17.3, Bearing: float64(i) * 7.1}
	}
	viewer := []string{"jazz"}
	b.ReportAllocs()
	for b.Loop() {
		Fingerprint(hits, viewer)
	}
}
