package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// DomainScore names the daily social score's errors.
const DomainScore = "score"

// Score is a user's daily social score (the legacy score-updated event and
// the /score routes):
//
//	{date, reelsSeen, totalScore, <section>: {score, day, actions}, ...}
//
// Its sections are keys of the object itself, in the catalog's order, so
// Score encodes itself: a Go map would sort them.
type Score struct {
	// Date is the first instant of the day in the server's day zone.
	Date string
	// ReelsSeen sums the values of the video actions.
	ReelsSeen int
	// TotalScore counts the completed actions.
	TotalScore int
	Sections   []ScoreSection
}

// ScoreSection is one section of the catalog as it stands today.
type ScoreSection struct {
	// Name is the section's key in the Score object.
	Name string `json:"-"`
	// Score is the share of the section's actions completed, 0 to 1.
	Score float64 `json:"score"`
	// Day is the day's weekday in lower case ("saturday").
	Day     string        `json:"day"`
	Actions []ScoreAction `json:"actions"`
}

// ScoreAction is one action of the catalog and what the user did of it today.
type ScoreAction struct {
	Label    string `json:"label"`
	SubLabel string `json:"subLabel,omitempty"`
	Type     string `json:"type"`
	// Value is how many times the action was done today.
	Value     int  `json:"value"`
	Completed bool `json:"completed"`
	// StartAt is the catalog's suggested hour (0–23); it gates nothing.
	StartAt *int `json:"startAt,omitempty"`
}

// scoreKeys are Score's own keys; no section may take one.
var scoreKeys = map[string]bool{"date": true, "reelsSeen": true, "totalScore": true}

// MarshalJSON writes the sections after the totals, in order.
func (s Score) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"date":`)
	b.Write(appendJSONString(nil, s.Date))
	b.WriteString(`,"reelsSeen":`)
	b.WriteString(strconv.Itoa(s.ReelsSeen))
	b.WriteString(`,"totalScore":`)
	b.WriteString(strconv.Itoa(s.TotalScore))
	seen := make(map[string]bool, len(s.Sections))
	for _, sec := range s.Sections {
		if scoreKeys[sec.Name] || seen[sec.Name] {
			// Two values under one key: a client would keep either.
			return nil, fmt.Errorf("protocol: score section %q repeats a key", sec.Name)
		}
		seen[sec.Name] = true
		raw, err := json.Marshal(sec)
		if err != nil {
			return nil, err
		}
		b.WriteByte(',')
		b.Write(appendJSONString(nil, sec.Name))
		b.WriteByte(':')
		b.Write(raw)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads a Score back, its sections in the order sent: every
// key but the totals is a section.
func (s *Score) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("protocol: a score is a JSON object")
	}
	out := Score{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return fmt.Errorf("protocol: score: %w", err)
		}
		key, _ := tok.(string)
		switch key {
		case "date":
			err = dec.Decode(&out.Date)
		case "reelsSeen":
			err = dec.Decode(&out.ReelsSeen)
		case "totalScore":
			err = dec.Decode(&out.TotalScore)
		default:
			sec := ScoreSection{Name: key}
			err = dec.Decode(&sec)
			out.Sections = append(out.Sections, sec)
		}
		if err != nil {
			return fmt.Errorf("protocol: score %s: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("protocol: score: %w", err)
	}
	*s = out
	return nil
}

// Section returns the section named name, nil when there is none.
func (s *Score) Section(name string) *ScoreSection {
	for i := range s.Sections {
		if s.Sections[i].Name == name {
			return &s.Sections[i]
		}
	}
	return nil
}

// Action returns the action of type typ, nil when there is none.
func (s *Score) Action(typ string) *ScoreAction {
	for i := range s.Sections {
		for j := range s.Sections[i].Actions {
			if a := &s.Sections[i].Actions[j]; a.Type == typ {
				return a
			}
		}
	}
	return nil
}
