package score

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Days split at the zone's midnight, also where a transition moves it:
// spring-forward days are 23 hours, fall-back days 25, a day that begins
// at 01:00 because midnight never happened begins then, a midnight that
// happens twice counts the first time, and a skipped date is skipped.
func TestStartOfDay(t *testing.T) {
	cases := []struct {
		zone      string
		at        string // any instant of the day
		start     string // its first instant
		next      string // the next day's first instant
		weekday   time.Weekday
		localDate string
	}{
		{"UTC", "2026-03-14T15:09:26.5Z", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z", time.Saturday, "2026-03-14"},
		{"UTC", "2026-03-14T00:00:00Z", "2026-03-14T00:00:00Z", "2026-03-15T00:00:00Z", time.Saturday, "2026-03-14"},
		// The spec's example: midnight in UTC+05:30 is 18:30 UTC the day before.
		{"Asia/Kolkata", "2025-11-07T23:30:00Z", "2025-11-07T18:30:00Z", "2025-11-08T18:30:00Z", time.Saturday, "2025-11-08"},
		{"Asia/Kolkata", "2025-11-07T18:30:00Z", "2025-11-07T18:30:00Z", "2025-11-08T18:30:00Z", time.Saturday, "2025-11-08"},
		{"Asia/Kolkata", "2025-11-07T18:29:59.999999999Z", "2025-11-06T18:30:00Z", "2025-11-07T18:30:00Z", time.Friday, "2025-11-07"},
		// New York: transitions at 02:00, inside the day.
		{"America/New_York", "2026-03-08T16:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", time.Sunday, "2026-03-08"},
		{"America/New_York", "2026-11-01T16:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", time.Sunday, "2026-11-01"},
		// Havana springs forward at midnight (the 8th begins at 01:00) and
		// falls back from 01:00 to 00:00 (the 1st begins at the first 00:00).
		{"America/Havana", "2026-03-08T17:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", time.Sunday, "2026-03-08"},
		{"America/Havana", "2026-03-08T05:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z", time.Sunday, "2026-03-08"},
		{"America/Havana", "2026-03-08T04:59:59Z", "2026-03-07T05:00:00Z", "2026-03-08T05:00:00Z", time.Saturday, "2026-03-07"},
		{"America/Havana", "2026-11-01T17:00:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", time.Sunday, "2026-11-01"},
		{"America/Havana", "2026-11-01T05:30:00Z", "2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", time.Sunday, "2026-11-01"},
		// Santiago: Saturday 24:00 becomes Sunday 01:00 in September, and
		// Saturday 24:00 becomes Saturday 23:00 in April (a 25-hour Saturday).
		{"America/Santiago", "2026-09-06T15:00:00Z", "2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z", time.Sunday, "2026-09-06"},
		{"America/Santiago", "2026-04-05T03:30:00Z", "2026-04-04T03:00:00Z", "2026-04-05T04:00:00Z", time.Saturday, "2026-04-04"},
		// Samoa skipped 30 December 2011: the 29th is followed by the 31st.
		{"Pacific/Apia", "2011-12-29T20:00:00Z", "2011-12-29T10:00:00Z", "2011-12-30T10:00:00Z", time.Thursday, "2011-12-29"},
		{"Pacific/Apia", "2011-12-30T22:00:00Z", "2011-12-30T10:00:00Z", "2011-12-31T10:00:00Z", time.Saturday, "2011-12-31"},
	}
	for _, c := range cases {
		t.Run(c.zone+"/"+c.at, func(t *testing.T) {
			loc := zone(t, c.zone)
			start := StartOfDay(utc(c.at), loc)
			if !start.Equal(utc(c.start)) {
				t.Fatalf("StartOfDay = %s, want %s", start.UTC().Format(time.RFC3339Nano), c.start)
			}
			if got := start.In(loc).Format("2006-01-02"); got != c.localDate || start.In(loc).Weekday() != c.weekday {
				t.Fatalf("the day starts on %s (%s), want %s (%s)", got, start.In(loc).Weekday(), c.localDate, c.weekday)
			}
			// Nothing earlier is on the same date.
			if before := start.Add(-time.Nanosecond).In(loc).Format("2006-01-02"); before == c.localDate {
				t.Fatalf("the instant before %s is on the same date", c.start)
			}
			next := NextDayStart(start, loc)
			if !next.Equal(utc(c.next)) {
				t.Fatalf("NextDayStart = %s, want %s", next.UTC().Format(time.RFC3339), c.next)
			}
			if last := next.Add(-time.Nanosecond).In(loc).Format("2006-01-02"); last != c.localDate {
				t.Fatalf("the instant before the next day is on %s, want %s", last, c.localDate)
			}
		})
	}
}

func testRules(t *testing.T, loc *time.Location) Rules {
	t.Helper()
	cat, err := NewCatalog(config.DefaultScoreCatalog())
	if err != nil {
		t.Fatal(err)
	}
	return Rules{Catalog: cat, Loc: loc}
}

// A day of one user in Kolkata, step by step: what each step answers and
// how the score reads after it.
func TestRulesDay(t *testing.T) {
	r := testRules(t, zone(t, "Asia/Kolkata"))
	type step struct {
		name string
		at   string
		do   func(Day, time.Time) (Day, error)
		// want
		err      *protocol.Error
		date     string
		counts   map[string]int
		total    int
		reels    int
		social   float64
		mindful  float64
		resetAt  string // "" = none
		wasReset bool   // Current(before, at) dropped completions
	}
	complete := func(typ string) func(Day, time.Time) (Day, error) {
		return func(d Day, now time.Time) (Day, error) {
			next, perr := r.Complete(d, typ, now)
			if perr != nil {
				return next, perr
			}
			return next, nil
		}
	}
	observe := func(typ string, n int) func(Day, time.Time) (Day, error) {
		return func(d Day, now time.Time) (Day, error) {
			next, _ := r.Observe(d, typ, n, now)
			return next, nil
		}
	}
	read := func(d Day, now time.Time) (Day, error) {
		cur, _ := r.Current(d, now)
		return cur, nil
	}
	const day1, day2 = "2025-11-07T18:30:00.000Z", "2025-11-08T18:30:00.000Z"
	steps := []step{
		{name: "never scored", at: "2025-11-08T02:00:00Z", do: read, date: day1},
		{name: "a focus video", at: "2025-11-08T02:00:00Z", do: complete("focus-video"), date: day1,
			counts: map[string]int{"focus-video": 1}, total: 1, reels: 1, mindful: 0.25, resetAt: day2},
		{name: "the same video again counts, completes nothing new", at: "2025-11-08T03:00:00Z", do: complete("focus-video"), date: day1,
			counts: map[string]int{"focus-video": 2}, total: 1, reels: 2, mindful: 0.25, resetAt: day2},
		{name: "journal: not a reel", at: "2025-11-08T04:00:00Z", do: complete("journalism"), date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1}, total: 2, reels: 2, mindful: 0.5, resetAt: day2},
		{name: "three messages stored", at: "2025-11-08T05:00:00Z", do: observe("send-dm-message", 3), date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3}, total: 3, reels: 2, social: 0.25, mindful: 0.5, resetAt: day2},
		{name: "a client may not claim a DM", at: "2025-11-08T05:00:00Z", do: complete("send-dm-message"), err: ErrSelfCompleted, date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3}, total: 3, reels: 2, social: 0.25, mindful: 0.5, resetAt: day2},
		{name: "unknown action", at: "2025-11-08T05:00:00Z", do: complete("skydiving"), err: ErrUnknownAction, date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3}, total: 3, reels: 2, social: 0.25, mindful: 0.5, resetAt: day2},
		{name: "an observation the catalog lacks changes nothing", at: "2025-11-08T05:00:00Z", do: observe("skydiving", 1), date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3}, total: 3, reels: 2, social: 0.25, mindful: 0.5, resetAt: day2},
		{name: "startAt gates nothing: a reflection video at 06:00 local", at: "2025-11-08T00:30:00Z", do: complete("reflection-video"), date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3, "reflection-video": 1}, total: 4, reels: 3, social: 0.25, mindful: 0.75, resetAt: day2},
		{name: "one nanosecond before midnight it is still today", at: "2025-11-08T18:29:59.999999999Z", do: read, date: day1,
			counts: map[string]int{"focus-video": 2, "journalism": 1, "send-dm-message": 3, "reflection-video": 1}, total: 4, reels: 3, social: 0.25, mindful: 0.75, resetAt: day2},
		{name: "midnight in Kolkata: zeros and the next date", at: "2025-11-08T18:30:00Z", do: read, date: day2, wasReset: true},
		{name: "a friend added after midnight starts the new day", at: "2025-11-08T19:00:00Z", do: observe("add-new-friend", 1), date: day2,
			counts: map[string]int{"add-new-friend": 1}, total: 1, social: 0.25, resetAt: "2025-11-09T18:30:00.000Z", wasReset: false},
	}
	var d Day
	for _, s := range steps {
		now := utc(s.at)
		_, wasReset := r.Current(d, now)
		next, err := s.do(d, now)
		if s.err != nil {
			if !errors.Is(err, s.err) {
				t.Fatalf("%s: err = %v, want %v", s.name, err, s.err)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		} else {
			d = next
		}
		if wasReset != s.wasReset {
			t.Errorf("%s: Current reset = %v, want %v", s.name, wasReset, s.wasReset)
		}
		cur, _ := r.Current(d, now)
		v := r.View(cur)
		if v.Date != s.date || v.TotalScore != s.total || v.ReelsSeen != s.reels {
			t.Errorf("%s: date %s total %d reels %d, want %s %d %d", s.name, v.Date, v.TotalScore, v.ReelsSeen, s.date, s.total, s.reels)
		}
		if got := v.Section("social").Score; got != s.social {
			t.Errorf("%s: social score %v, want %v", s.name, got, s.social)
		}
		if got := v.Section("mindfulness").Score; got != s.mindful {
			t.Errorf("%s: mindfulness score %v, want %v", s.name, got, s.mindful)
		}
		for _, sec := range v.Sections {
			for _, a := range sec.Actions {
				if a.Value != s.counts[a.Type] || a.Completed != (s.counts[a.Type] >= 1) {
					t.Errorf("%s: %s value %d completed %v, want %d", s.name, a.Type, a.Value, a.Completed, s.counts[a.Type])
				}
			}
		}
		reset := ""
		if at := r.ResetAt(cur); !at.IsZero() {
			reset = protocol.FormatTime(at)
		}
		if reset != s.resetAt {
			t.Errorf("%s: reset at %q, want %q", s.name, reset, s.resetAt)
		}
	}
}

// The view is the spec's shape: sections in catalog order, each with the
// day's weekday, labels, hours and every action's value and completion.
func TestViewShape(t *testing.T) {
	r := testRules(t, zone(t, "Asia/Kolkata"))
	d, _ := r.Observe(Day{}, ActionMeetMe, 1, utc("2025-11-08T02:00:00Z"))
	raw, err := json.Marshal(r.View(d))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"date":"2025-11-07T18:30:00.000Z","reelsSeen":0,"totalScore":1,` +
		`"social":{"score":0.25,"day":"saturday","actions":[` +
		`{"label":"Reply mindfully to a comment in the home feed","subLabel":"Cultivate empathy by responding with kindness and understanding different perspectives","type":"mindful-comment-reply","value":0,"completed":false},` +
		`{"label":"Send a DM to a friend","subLabel":"Strengthen real connection and presence through one-to-one mindful conversation","type":"send-dm-message","value":0,"completed":false},` +
		`{"label":"Send a meet-me request","subLabel":"Turn a moment of curiosity into a real meeting by inviting someone nearby","type":"create-meetme-request","value":1,"completed":true},` +
		`{"label":"Add a new friend","subLabel":"Widen your circle by welcoming someone new with an open mind","type":"add-new-friend","value":0,"completed":false}]},` +
		`"mindfulness":{"score":0,"day":"saturday","actions":[` +
		`{"label":"Watch a Focus video (1 min)","type":"focus-video","value":0,"completed":false,"startAt":8},` +
		`{"label":"Watch a Mindfulness video (1 min)","type":"mindfulness-video","value":0,"completed":false,"startAt":15},` +
		`{"label":"Watch a Reflection video (1 min)","type":"reflection-video","value":0,"completed":false,"startAt":20},` +
		`{"label":"Write in Your Journal","type":"journalism","value":0,"completed":false,"startAt":20}]}}`
	if string(raw) != want {
		t.Fatalf("view\n%s\nwant\n%s", raw, want)
	}
}

// A change never edits the day it was given: the grain keeps its day
// until the change is stored.
func TestChangesCopy(t *testing.T) {
	r := testRules(t, time.UTC)
	now := utc("2026-03-14T10:00:00Z")
	a, _ := r.Complete(Day{}, "journalism", now)
	b, _ := r.Complete(a, "journalism", now)
	c, _ := r.Observe(b, ActionSendDM, maxCount, now)
	if a.Counts["journalism"] != 1 || b.Counts["journalism"] != 2 || b.Counts[ActionSendDM] != 0 {
		t.Fatalf("a %v, b %v", a.Counts, b.Counts)
	}
	if d, _ := r.Observe(c, ActionSendDM, 5, now); d.Counts[ActionSendDM] != maxCount {
		t.Fatalf("count past the bound: %d", d.Counts[ActionSendDM])
	}
	if _, ok := r.Observe(c, ActionSendDM, 0, now); ok {
		t.Fatal("zero observations changed the day")
	}
}

// Observed are exactly the three actions the server sees.
func TestObserved(t *testing.T) {
	for typ, want := range map[string]bool{
		"send-dm-message": true, "create-meetme-request": true, "add-new-friend": true,
		"mindful-comment-reply": false, "focus-video": false, "journalism": false, "": false,
	} {
		if Observed(typ) != want {
			t.Errorf("Observed(%q) = %v", typ, !want)
		}
	}
}

func TestNewCatalogChecks(t *testing.T) {
	if _, err := NewCatalog(config.ScoreCatalog{}); err == nil {
		t.Fatal("an empty catalog was accepted")
	}
}
