package protocol

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func hour(h int) *int { return &h }

// specScore is spec 001's score-updated example, as the server builds it.
func specScore() Score {
	return Score{
		Date: "2025-11-07T18:30:00.000Z", ReelsSeen: 3, TotalScore: 1,
		Sections: []ScoreSection{
			{Name: "social", Score: 0.5, Day: "saturday", Actions: []ScoreAction{
				{Label: "Reply mindfully to a comment in the home feed", SubLabel: "Cultivate empathy", Type: "mindful-comment-reply", Value: 1, Completed: true},
				{Label: "Send a DM to a friend", Type: "send-dm-message"},
			}},
			{Name: "mindfulness", Day: "saturday", Actions: []ScoreAction{
				{Label: "Watch a Focus video (1 min)", Type: "focus-video", StartAt: hour(8)},
				{Label: "Write in Your Journal", Type: "journalism", StartAt: hour(0)},
			}},
		},
	}
}

func TestScoreEncoding(t *testing.T) {
	got, err := json.Marshal(specScore())
	if err != nil {
		t.Fatal(err)
	}
	want := `{"date":"2025-11-07T18:30:00.000Z","reelsSeen":3,"totalScore":1,` +
		`"social":{"score":0.5,"day":"saturday","actions":[` +
		`{"label":"Reply mindfully to a comment in the home feed","subLabel":"Cultivate empathy","type":"mindful-comment-reply","value":1,"completed":true},` +
		`{"label":"Send a DM to a friend","type":"send-dm-message","value":0,"completed":false}]},` +
		`"mindfulness":{"score":0,"day":"saturday","actions":[` +
		`{"label":"Watch a Focus video (1 min)","type":"focus-video","value":0,"completed":false,"startAt":8},` +
		`{"label":"Write in Your Journal","type":"journalism","value":0,"completed":false,"startAt":0}]}}`
	if string(got) != want {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
	// Sections keep their order, whichever it is.
	s := specScore()
	s.Sections[0], s.Sections[1] = s.Sections[1], s.Sections[0]
	got, _ = json.Marshal(s)
	if strings.Index(string(got), `"mindfulness"`) > strings.Index(string(got), `"social"`) {
		t.Fatalf("sections reordered: %s", got)
	}
	// Inside a legacy frame too.
	frame, err := EncodeLegacyFrame(EventScoreUpdated, specScore())
	if err != nil || !strings.HasPrefix(string(frame), `{"event":"score-updated","data":{"date":"2025-11-07T18:30:00.000Z","reelsSeen":3,`) {
		t.Fatalf("frame %s, %v", frame, err)
	}
}

func TestScoreRoundTrip(t *testing.T) {
	for _, s := range []Score{specScore(), {Date: "2026-01-01T00:00:00.000Z"}} {
		raw, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Score
		if err := json.Unmarshal(raw, &back); err != nil {
			t.Fatalf("decode %s: %v", raw, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip of %s gave %+v", raw, back)
		}
	}
	var s Score
	if err := json.Unmarshal([]byte(specJSON), &s); err != nil {
		t.Fatal(err)
	}
	if a := s.Action("mindful-comment-reply"); a == nil || !a.Completed || a.Value != 1 {
		t.Fatalf("spec example read as %+v", s)
	}
	if s.Section("mindfulness") == nil || s.Section("mindfulness").Actions[3].Type != "journalism" || s.Section("nope") != nil || s.Action("nope") != nil {
		t.Fatalf("spec example sections %+v", s.Sections)
	}
}

// specJSON is spec 001's example data, verbatim.
const specJSON = `{ "date": "2025-11-07T18:30:00.000Z", "reelsSeen": 3, "totalScore": 1, "social": { "score": 0.5, "day": "saturday", "actions": [ { "label": "Reply mindfully to a comment in the home feed", "subLabel": "Cultivate empathy by responding with kindness and understanding different perspectives", "type": "mindful-comment-reply", "value": 1, "completed": true }, { "label": "Send a DM to a friend", "subLabel": "Strengthen real connection and presence through one-to-one mindful conversation", "type": "send-dm-message", "value": 0 } ] }, "mindfulness": { "score": 0, "actions": [ { "label": "Watch a Focus video (1 min)", "type": "focus-video", "value": 0, "startAt": 8 }, { "label": "Watch a Mindfulness video (1 min)", "type": "mindfulness-video", "value": 0, "startAt": 15 }, { "label": "Watch a Reflection video (1 min)", "type": "reflection-video", "value": 0, "startAt": 20 }, { "label": "Write in Your Journal", "type": "journalism", "value": 0, "startAt": 20 } ] } }`

func TestScoreRefusesRepeatedKeys(t *testing.T) {
	for _, name := range []string{"date", "totalScore", "social"} {
		s := specScore()
		s.Sections = append(s.Sections, ScoreSection{Name: name})
		if _, err := json.Marshal(s); err == nil {
			t.Errorf("a section named %q encoded", name)
		}
	}
	for _, bad := range []string{`[]`, `{"date":1}`, `{"social":[]}`, `{"date":"x"`} {
		var s Score
		if err := json.Unmarshal([]byte(bad), &s); err == nil {
			t.Errorf("%s decoded as %+v", bad, s)
		}
	}
}
