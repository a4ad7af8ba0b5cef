package config

import (
	"strings"
	"testing"
)

// The built-in catalog is the spec's: its sections, types, hours and reels
// in order, and a label for every action.
func TestDefaultScoreCatalog(t *testing.T) {
	c := DefaultScoreCatalog()
	type row struct {
		section, typ string
		startAt      int // -1: none
		reel         bool
	}
	want := []row{
		{"social", "mindful-comment-reply", -1, false},
		{"social", "send-dm-message", -1, false},
		{"social", "create-meetme-request", -1, false},
		{"social", "add-new-friend", -1, false},
		{"mindfulness", "focus-video", 8, true},
		{"mindfulness", "mindfulness-video", 15, true},
		{"mindfulness", "reflection-video", 20, true},
		{"mindfulness", "journalism", 20, false},
	}
	var got []row
	for _, s := range c.Sections {
		for _, a := range s.Actions {
			r := row{s.Name, a.Type, -1, a.Reel}
			if a.StartAt != nil {
				r.startAt = *a.StartAt
			}
			got = append(got, r)
			if a.Label == "" || (s.Name == "social" && a.SubLabel == "") {
				t.Errorf("%s: label %q, subLabel %q", a.Type, a.Label, a.SubLabel)
			}
		}
	}
	if len(got) != len(want) {
		t.Fatalf("catalog %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("action %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if a := c.Sections[0].Actions[0]; a.Label != "Reply mindfully to a comment in the home feed" ||
		a.SubLabel != "Cultivate empathy by responding with kindness and understanding different perspectives" {
		t.Errorf("first action is not the spec's: %+v", a)
	}
}

// Check reports every problem of a catalog in one error.
func TestScoreCatalogCheckReportsEveryProblem(t *testing.T) {
	hour := 30
	c := ScoreCatalog{Sections: []ScoreSection{
		{Name: "date", Actions: []ScoreAction{{Type: "a", Label: "A"}, {Type: "a", Label: ""}}},
		{Name: "empty"},
		{Name: "x", Actions: []ScoreAction{{Type: "b", Label: "B", StartAt: &hour}}},
	}}
	err := c.Check()
	for _, want := range []string{"key of the score itself", `type "a" appears twice`, "label is required", `section "empty" has no actions`, "startAt 30"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
	many := ScoreCatalog{Sections: []ScoreSection{{Name: "x"}}}
	for i := range maxScoreActions + 1 {
		many.Sections[0].Actions = append(many.Sections[0].Actions, ScoreAction{Type: strings.Repeat("a", i%60+1) + string(rune('a'+i/60)), Label: "L"})
	}
	if err := many.Check(); err == nil || !strings.Contains(err.Error(), "101 actions, at most 100") {
		t.Errorf("101 actions: %v", err)
	}
}
