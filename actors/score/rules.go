package score

import (
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
)

// The actions the server sees happen, and so completes itself.
const (
	ActionSendDM    = "send-dm-message"       // a chat message stored, for its sender
	ActionMeetMe    = "create-meetme-request" // a connection request sent, for its sender
	ActionNewFriend = "add-new-friend"        // a request accepted, for both users
)

// Observed reports whether the server completes typ itself; clients may
// not complete it, or a score would count what never happened.
func Observed(typ string) bool {
	return typ == ActionSendDM || typ == ActionMeetMe || typ == ActionNewFriend
}

// Errors of client completions.
var (
	ErrUnknownAction = protocol.Errorf(protocol.CodeNotFound, protocol.DomainScore, "no such action")
	ErrSelfCompleted = protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainScore, "this action completes itself")
)

// maxCount bounds an action's count; a flood of chat messages saturates
// there instead of overflowing.
const maxCount = 1 << 30

// Catalog is a checked action catalog.
type Catalog struct {
	sections []config.ScoreSection
	types    map[string]bool
}

// NewCatalog checks c and indexes its action types.
func NewCatalog(c config.ScoreCatalog) (*Catalog, error) {
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("score: catalog: %w", err)
	}
	cat := &Catalog{sections: c.Sections, types: map[string]bool{}}
	for _, s := range c.Sections {
		for _, a := range s.Actions {
			cat.types[a.Type] = true
		}
	}
	return cat, nil
}

// Has reports whether typ is an action of the catalog.
func (c *Catalog) Has(typ string) bool { return c.types[typ] }

// Day is one user's score day.
type Day struct {
	// Start is the first instant of the day in the zone; zero for a user
	// who never scored.
	Start time.Time
	// Counts maps an action type to how often it was done that day.
	// Never modified in place: a change makes a new map.
	Counts map[string]int
}

// Done reports whether anything was completed that day.
func (d Day) Done() bool { return len(d.Counts) > 0 }

// Rules are the daily score's rules in one day zone.
type Rules struct {
	Catalog *Catalog
	Loc     *time.Location
}

// Current is d as it stands at now: d itself during its day, else now's
// day with nothing done. reset reports that completions were dropped.
func (r Rules) Current(d Day, now time.Time) (cur Day, reset bool) {
	start := StartOfDay(now, r.Loc)
	if d.Start.Equal(start) {
		return d, false
	}
	// Any other day is gone, even one ahead of now (a dev clock restarted
	// at an earlier instant): only today counts.
	return Day{Start: start}, d.Done()
}

// Complete counts one client completion of typ at now.
func (r Rules) Complete(d Day, typ string, now time.Time) (Day, *protocol.Error) {
	switch {
	case !r.Catalog.Has(typ):
		return d, ErrUnknownAction
	case Observed(typ):
		return d, ErrSelfCompleted
	}
	return r.add(d, typ, 1, now), nil
}

// Observe counts n completions the server saw of typ at now; false when
// the catalog does not have typ (a catalog may leave an observed action
// out) or n is not positive, and nothing changes.
func (r Rules) Observe(d Day, typ string, n int, now time.Time) (Day, bool) {
	if !r.Catalog.Has(typ) || n < 1 {
		return d, false
	}
	return r.add(d, typ, n, now), true
}

func (r Rules) add(d Day, typ string, n int, now time.Time) Day {
	cur, _ := r.Current(d, now)
	counts := maps.Clone(cur.Counts)
	if counts == nil {
		counts = map[string]int{}
	}
	counts[typ] = min(counts[typ]+min(n, maxCount), maxCount)
	return Day{Start: cur.Start, Counts: counts}
}

// ResetAt is when d must be reset: the start of the next day while
// something is done, zero when nothing is (an idle day needs no reset).
func (r Rules) ResetAt(d Day) time.Time {
	if !d.Done() || d.Start.IsZero() {
		return time.Time{}
	}
	return NextDayStart(d.Start, r.Loc)
}

// View renders d, a current day, as the wire shows it.
func (r Rules) View(d Day) protocol.Score {
	weekday := strings.ToLower(d.Start.In(r.Loc).Weekday().String())
	s := protocol.Score{Date: protocol.FormatTime(d.Start), Sections: make([]protocol.ScoreSection, 0, len(r.Catalog.sections))}
	for _, sec := range r.Catalog.sections {
		ws := protocol.ScoreSection{Name: sec.Name, Day: weekday, Actions: make([]protocol.ScoreAction, 0, len(sec.Actions))}
		done := 0
		for _, a := range sec.Actions {
			v := d.Counts[a.Type]
			wa := protocol.ScoreAction{Label: a.Label, SubLabel: a.SubLabel, Type: a.Type, Value: v, Completed: v >= 1}
			if a.StartAt != nil {
				h := *a.StartAt
				wa.StartAt = &h
			}
			if wa.Completed {
				done++
			}
			if a.Reel {
				s.ReelsSeen += v
			}
			ws.Actions = append(ws.Actions, wa)
		}
		// A checked catalog has no empty section.
		ws.Score = float64(done) / float64(len(sec.Actions))
		s.TotalScore += done
		s.Sections = append(s.Sections, ws)
	}
	return s
}

// StartOfDay is the first instant of t's calendar day in loc. That is not
// always local midnight, nor what time.Date picks for it: where clocks
// spring forward at midnight the day begins at 01:00, and where they fall
// back across midnight 00:00 comes twice and the first one counts. So it
// starts from midnight as the offset in force at t places it and walks
// over the zone transitions in between.
func StartOfDay(t time.Time, loc *time.Location) time.Time {
	lt := t.In(loc)
	y, m, d := lt.Date()
	s := lt.Add(-sinceMidnight(lt))
	// Each step crosses one transition; a day has one or two at most.
	for range 4 {
		ls := s.In(loc)
		if ly, lm, ld := ls.Date(); ly != y || lm != m || ld != d {
			// s is on the day before: clocks sprang forward between s
			// and t, and the day begins at that transition or before it.
			_, end := ls.ZoneBounds()
			if end.IsZero() {
				return s
			}
			s = end
			continue
		}
		prev := s.Add(-time.Nanosecond).In(loc)
		if py, pm, pd := prev.Date(); py != y || pm != m || pd != d {
			return s
		}
		// Still this day just before s: clocks fell back since midnight,
		// which came earlier, under the offset before.
		s = prev.Add(-sinceMidnight(prev))
	}
	return s
}

// NextDayStart is the first instant of the day after the one starting at
// start. Days last 23 to 25 hours around transitions, so 36 hours on is
// always inside the next day (or the one after a skipped date).
func NextDayStart(start time.Time, loc *time.Location) time.Time {
	return StartOfDay(start.Add(36*time.Hour), loc)
}

// sinceMidnight is how long lt's local clock has run since it read 00:00.
func sinceMidnight(lt time.Time) time.Duration {
	return time.Duration(lt.Hour())*time.Hour + time.Duration(lt.Minute())*time.Minute +
		time.Duration(lt.Second())*time.Second + time.Duration(lt.Nanosecond())
}
