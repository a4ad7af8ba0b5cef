package radar

import (
	"slices"
	"testing"
)

func TestInterests(t *testing.T) {
	tests := []struct {
		name string
		vibe string
		want []string
	}{
		{"empty", "", nil},
		{"blank", "   \t\n", nil},
		{"tags only", "#Jazz and #coffee", []string{"coffee", "jazz"}},
		{"tags win over words", "Looking for #jazz tonight downtown", []string{"jazz"}},
		{"tags lower-cased and deduplicated", "#JAZZ #jazz #Jazz #blues", []string{"blues", "jazz"}},
		{"tag ends at punctuation", "#jazz, #coffee! (#tea) #wine.", []string{"coffee", "jazz", "tea", "wine"}},
		{"tag with digits and underscore", "#café_2 #K_Pop", []string{"café_2", "k_pop"}},
		{"unicode tags", "#Música #ΚΑΦΕΣ #東京", []string{"música", "καφεσ", "東京"}},
		{"digits only is not a tag", "#1 fan of live music", []string{"live", "music"}},
		{"lone hash is not a tag", "# coffee time", []string{"coffee", "time"}},
		{"hash inside a word is not a tag", "c# and f# devs, email me a#b", []string{"devs", "email"}},
		{"double hash", "##jazz", []string{"jazz"}},
		{"words of 4+ letters", "Coffee at the park, anyone?", []string{"anyone", "coffee", "park"}},
		{"short words dropped", "a an the fun run", nil},
		{"words lower-cased and deduplicated", "Jazz JAZZ jazz Blues", []string{"blues", "jazz"}},
		{"punctuation splits words", "rock'n'roll, hip-hop; drum&bass", []string{"bass", "drum", "rock", "roll"}},
		{"digits split words", "abc123defg 2024", []string{"defg"}},
		{"unicode letters", "Café Größe ÉCOLE niño", []string{"café", "größe", "niño", "école"}},
		{"combining marks stay in the word", "cafe\u0301 नमस्ते", []string{"cafe\u0301", "नमस्ते"}},
		{"three letters plus mark is short", "abc\u0301", nil},
		{"cjk runs are words", "東京タワー 行く", []string{"東京タワー"}},
		{"emoji separate words", "coffee☕tonight🎉", []string{"coffee", "tonight"}},
		{"invalid utf-8 separates words", "jazz\xffblues", []string{"blues", "jazz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Interests(tt.vibe)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Interests(%q) = %q, want %q", tt.vibe, got, tt.want)
			}
			if tt.want == nil && got != nil {
				t.Errorf("Interests(%q) = %#v, want nil", tt.vibe, got)
			}
			if !slices.IsSorted(got) {
				t.Errorf("not sorted: %q", got)
			}
		})
	}
}

func TestSharedInterests(t *testing.T) {
	tests := []struct {
		name string
		a, b []string
		want []string
	}{
		{"both nil", nil, nil, []string{}},
		{"one nil", []string{"jazz"}, nil, []string{}},
		{"disjoint", []string{"coffee", "jazz"}, []string{"blues", "tea"}, []string{}},
		{"overlap", []string{"blues", "coffee", "jazz"}, []string{"coffee", "jazz", "wine"}, []string{"coffee", "jazz"}},
		{"identical", []string{"a", "b"}, []string{"a", "b"}, []string{"a", "b"}},
		{"unicode", []string{"café", "東京"}, []string{"東京"}, []string{"東京"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SharedInterests(tt.a, tt.b)
			if got == nil {
				t.Fatalf("SharedInterests returned nil")
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("SharedInterests(%q, %q) = %q, want %q", tt.a, tt.b, got, tt.want)
			}
			if rev := SharedInterests(tt.b, tt.a); !slices.Equal(rev, got) {
				t.Errorf("not symmetric: %q vs %q", got, rev)
			}
		})
	}
	// End to end: two vibes, one with tags, one without.
	if got := SharedInterests(Interests("Anyone for #Jazz or #coffee?"), Interests("jazz brunch with coffee")); !slices.Equal(got, []string{"coffee", "jazz"}) {
		t.Errorf("vibes share %q, want [coffee jazz]", got)
	}
}
