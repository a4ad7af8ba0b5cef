package proximity

import (
	"slices"
	"time"

	"github.com/gisbi/engine/protocol"
)

// projected returns a copy advanced to now, so views show live numbers
// without moving the real machine (whose events must not be lost).
func (s *State) projected(now time.Time) *State {
	c := *s
	c.daily = s.Daily()
	c.unlocked = slices.Clone(s.unlocked)
	c.runs = slices.Clone(s.runs)
	c.Advance(now)
	return &c
}

// Session renders the ProximitySession model for user at now. The token is
// shown only to its owner and only while it lives.
func (s *State) Session(user string, now time.Time) protocol.ProximitySession {
	c := s.projected(now)
	v := protocol.ProximitySession{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: secs(c.accumulated), Status: c.sessionStatus(),
		CurrentSessionSeconds: secs(c.runDur), UnlockedMilestones: c.unlockedOut(),
	}
	if s.Has(user) {
		me, _ := s.side(user)
		if me.token != "" && now.Before(me.tokenExp) {
			exp := protocol.FormatTime(me.tokenExp)
			v.BLEToken, v.BLETokenExpiresAt = me.token, &exp
		}
	}
	return v
}

// Summary renders the REST summary at now: totals, milestones and the run
// history, oldest first, with the run in flight last.
func (s *State) Summary(now time.Time) protocol.ProximitySummary {
	c := s.projected(now)
	acc := secs(c.accumulated)
	out := protocol.ProximitySummary{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: acc, AccumulatedMinutes: acc / 60,
		UnlockedMilestones: c.unlockedOut(), Sessions: []protocol.ProximityRun{},
	}
	if m, ok := c.next(); ok {
		left := max(m*60-acc, 0)
		out.NextMilestone, out.SecondsUntilNext = &m, &left
	}
	for _, r := range c.runs {
		out.Sessions = append(out.Sessions, protocol.ProximityRun{StartedAt: protocol.FormatTime(r.StartedAt), DurationSeconds: secs(r.Duration), Status: r.Status})
	}
	if c.inRun() {
		out.Sessions = append(out.Sessions, protocol.ProximityRun{StartedAt: protocol.FormatTime(c.runStarted), DurationSeconds: secs(c.runDur), Status: c.status})
	}
	return out
}

// runStatus is the status of the run for proximity.session.updated, which
// tells a run that just ended from a pause: idle (no run yet) is paused.
func (s *State) runStatus() string {
	if s.status == StatusIdle {
		return StatusPaused
	}
	return s.status
}

// sessionStatus is the status of the ProximitySession model, which
// describes the connection rather than its last run: active while a run
// accrues, ended once the connection closed, and paused otherwise (a
// pause, no run yet, or a run that ended with the connection still open).
func (s *State) sessionStatus() string {
	switch {
	case s.closed:
		return StatusEnded
	case s.status == StatusActive:
		return StatusActive
	}
	return StatusPaused
}

func (s *State) unlockedOut() []int {
	if s.unlocked == nil {
		return []int{}
	}
	return slices.Clone(s.unlocked)
}
