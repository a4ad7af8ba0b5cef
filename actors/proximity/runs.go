package proximity

import (
	"fmt"
	"slices"
	"time"

	"github.com/gisbi/engine/protocol"
)

// MaxRuns bounds the run history kept (and persisted): the summary shows
// recent runs, and an old pair must not grow its record without limit.
const MaxRuns = 20

// Ack is the state machine's answer to a start or heartbeat; the grain
// renders the start fields or the heartbeat fields (protocol.ProximityStartAck,
// protocol.ProximityHeartbeatAck), as the spec gives the two acks different
// shapes.
type Ack struct {
	SessionActive      bool
	YourTokenReceived  bool // start only
	WaitingForPartner  bool // start only
	AccumulatedSeconds int  // heartbeat only
}

func (s *State) guard(user string) *protocol.Error {
	if !s.Has(user) {
		return fail(protocol.CodeForbidden, "this connection is not yours")
	}
	if s.closed {
		return fail(protocol.CodeActiveConnectionRequired, "proximity needs an active connection")
	}
	return nil
}

// see records a valid scan by p at now.
func (s *State) see(p *participant, now time.Time) {
	p.lastSeen, p.seenUntil, p.stopped = now, now.Add(s.cfg.HeartbeatTimeout), false
}

// Start handles proximity.session.start: user scanned the partner's token.
// The run becomes active when both sides have confirmed within the token TTL
// of each other. Repeating a valid start is idempotent: same ack, no events,
// the run is not reset (it still counts as a valid scan for seeing).
func (s *State) Start(user, scannedToken string, rssi int, now time.Time, locs *Locations) (Ack, []Event, *protocol.Error) {
	if err := s.guard(user); err != nil {
		return Ack{}, nil, err
	}
	if err := s.verify(user, scannedToken, rssi, now, locs); err != nil {
		return Ack{}, nil, err
	}
	evs := s.Advance(now) // settle the time before this scan with the old facts
	me, partner := s.side(user)
	s.see(me, now)
	me.confirmed, me.confirmedAt = true, now
	switch {
	case s.inRun():
		// Already handshaken: this start is a scan; a paused run may resume.
		evs = append(evs, s.Advance(now)...)
	case partner.confirmed && now.Sub(partner.confirmedAt) <= s.cfg.TokenTTL:
		s.status, s.runStarted, s.runDur, s.clock = StatusActive, now, 0, now
		evs = append(evs,
			Event{Type: protocol.TypeProximityConfirmed, To: s.both(), Payload: protocol.ProximityConfirmed{ConnectionID: s.ConnectionID}},
			s.updated(now, nil))
	default:
		partner.confirmed = false // a stale confirmation does not count
		return Ack{YourTokenReceived: true, WaitingForPartner: true}, evs, nil
	}
	// A paused run that this scan did not resume still waits for the partner.
	on := s.status == StatusActive
	return Ack{SessionActive: on, YourTokenReceived: true, WaitingForPartner: !on}, evs, nil
}

// Heartbeat handles proximity.heartbeat: a valid one keeps user seeing the
// partner for HeartbeatTimeout. A second heartbeat within a second is
// ignored with rate_limited and changes nothing.
func (s *State) Heartbeat(user, token string, rssi int, now time.Time, locs *Locations) (Ack, []Event, *protocol.Error) {
	if err := s.guard(user); err != nil {
		return Ack{}, nil, err
	}
	me, _ := s.side(user)
	if !me.lastBeat.IsZero() && now.Sub(me.lastBeat) < heartbeatInterval {
		return Ack{}, nil, fail(protocol.CodeRateLimited, "at most one heartbeat per second")
	}
	if err := s.verify(user, token, rssi, now, locs); err != nil {
		return Ack{}, nil, err
	}
	evs := s.Advance(now)
	me.lastBeat = now
	s.see(me, now)
	evs = append(evs, s.Advance(now)...) // a paused run may resume
	return Ack{SessionActive: s.status == StatusActive, AccumulatedSeconds: secs(s.accumulated)}, evs, nil
}

// End handles proximity.session.end: user stopped seeing the partner, so an
// active run pauses now (and may resume within the grace period).
func (s *State) End(user string, now time.Time) ([]Event, *protocol.Error) {
	if err := s.guard(user); err != nil {
		return nil, err
	}
	evs := s.Advance(now)
	me, _ := s.side(user)
	me.stopped = true
	return append(evs, s.Advance(now)...), nil
}

// Close ends everything: the connection closed. Time up to now is still
// counted, the run is recorded as ended and every token is retired.
func (s *State) Close(now time.Time) []Event {
	if s.closed {
		return nil
	}
	evs := s.Advance(now)
	if s.inRun() {
		s.endRun()
	}
	s.closed, s.status = true, StatusEnded
	for i := range s.p {
		u := s.p[i].user
		s.p[i] = participant{user: u}
	}
	return append(evs, s.updated(now, nil))
}

// Advance moves the machine to now; it is the only place time acts.
// Together-time accrues on the server clock while the run is active and both
// participants see each other. When one stops seeing, the run pauses at that
// instant; it resumes if both see each other again within Grace, else it
// ends at pausedAt+Grace. Milestones fire once each, in order. A now before
// the last one is treated as the last one (the clock never runs back).
func (s *State) Advance(now time.Time) []Event {
	if s.closed {
		return nil
	}
	if now.Before(s.clock) {
		now = s.clock
	}
	var evs []Event
	paused := false
	if s.status == StatusActive {
		end := now
		for i := range s.p {
			if s.p[i].stopped {
				end = s.clock
			} else if s.p[i].seenUntil.Before(end) {
				end = s.p[i].seenUntil
			}
		}
		if end.After(s.clock) {
			s.accrue(s.clock, end)
			evs = append(evs, s.reach()...)
		}
		if !s.p[0].seeing(now) || !s.p[1].seeing(now) {
			s.status, s.pausedAt, paused = StatusPaused, maxTime(end, s.clock), true
		}
	}
	if s.status == StatusPaused {
		deadline := s.pausedAt.Add(s.cfg.Grace)
		switch {
		case now.After(deadline):
			s.endRun()
			evs = append(evs, s.updated(now, nil))
		case s.p[0].seeing(now) && s.p[1].seeing(now):
			s.status = StatusActive
			evs = append(evs, s.updated(now, nil))
		case paused:
			g := ceilSecs(deadline.Sub(now))
			evs = append(evs, s.updated(now, &g))
		}
	}
	s.clock = now
	return evs
}

// Current is the proximity.session.updated of the state as it is (after
// the last Advance), with the grace left while paused; it answers
// proximity.session.end.
func (s *State) Current(now time.Time) Event {
	var grace *int
	if s.status == StatusPaused {
		g := ceilSecs(s.pausedAt.Add(s.cfg.Grace).Sub(now))
		grace = &g
	}
	return s.updated(now, grace)
}

// RunCount is the number of runs in the history (ended ones).
func (s *State) RunCount() int { return len(s.runs) }

// Report advances to now and adds the proximity.session.updated of the
// resulting state, which the grain pushes periodically during an active run
// so both screens show the same count.
func (s *State) Report(now time.Time) []Event {
	if s.closed {
		return nil
	}
	return append(s.Advance(now), s.updated(now, nil))
}

// NextWake returns the next instant at which Advance or Rotate has something
// to do (a pause, a grace deadline, a milestone, a due rotation), or the zero
// time if nothing is pending; the grain schedules its timer with it.
func (s *State) NextWake(now time.Time) time.Time {
	if s.closed {
		return time.Time{}
	}
	var at time.Time
	soon := func(t time.Time) {
		if t.After(now) && (at.IsZero() || t.Before(at)) {
			at = t
		}
	}
	for i := range s.p {
		if p := &s.p[i]; p.token != "" {
			soon(p.tokenExp.Add(-s.cfg.RotateBefore))
		}
	}
	switch s.status {
	case StatusActive:
		seen := minTime(s.p[0].seenUntil, s.p[1].seenUntil)
		soon(seen.Add(time.Nanosecond)) // seeing is inclusive of seenUntil
		if m, ok := s.next(); ok {
			soon(s.clock.Add(time.Duration(m)*time.Minute - s.accumulated))
		}
	case StatusPaused:
		soon(s.pausedAt.Add(s.cfg.Grace).Add(time.Nanosecond))
	}
	return at
}

// accrue adds [from, to) to the totals, split at midnights of DayLocation so
// a run across midnight counts on both days.
func (s *State) accrue(from, to time.Time) {
	d := to.Sub(from)
	s.accumulated += d
	s.runDur += d
	for from.Before(to) {
		l := from.In(s.cfg.DayLocation)
		y, m, dd := l.Date()
		next := time.Date(y, m, dd+1, 0, 0, 0, 0, s.cfg.DayLocation)
		if next.After(to) {
			next = to
		}
		s.daily[l.Format(time.DateOnly)] += next.Sub(from)
		from = next
	}
}

// reach unlocks every milestone the total has crossed, in order. Milestones
// in s.unlocked (including restored ones) never fire again.
func (s *State) reach() []Event {
	var evs []Event
	for i, m := range s.cfg.Milestones {
		if s.accumulated < time.Duration(m)*time.Minute || slices.Contains(s.unlocked, m) {
			continue
		}
		s.unlocked = append(s.unlocked, m)
		slices.Sort(s.unlocked)
		evs = append(evs, Event{Type: protocol.TypeProximityMilestone, To: s.both(), Payload: protocol.ProximityMilestone{
			ConnectionID: s.ConnectionID, Milestone: m, GiftTier: i + 1,
			Message: fmt.Sprintf("You've been together %d minutes - a new gift is ready.", m),
		}})
	}
	return evs
}

// next returns the first milestone not reached yet.
func (s *State) next() (int, bool) {
	for _, m := range s.cfg.Milestones {
		if !slices.Contains(s.unlocked, m) {
			return m, true
		}
	}
	return 0, false
}

// endRun records the current run and requires a new handshake.
func (s *State) endRun() {
	s.runs = appendRun(s.runs, Run{StartedAt: s.runStarted, Duration: s.runDur, Status: StatusEnded})
	s.status, s.runStarted, s.runDur, s.pausedAt = StatusEnded, time.Time{}, 0, time.Time{}
	s.p[0].confirmed, s.p[1].confirmed = false, false
}

func appendRun(runs []Run, r Run) []Run {
	runs = append(runs, r)
	if len(runs) > MaxRuns {
		runs = slices.Clone(runs[len(runs)-MaxRuns:])
	}
	return runs
}

func (s *State) updated(now time.Time, grace *int) Event {
	p := protocol.ProximityUpdated{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: secs(s.accumulated),
		SessionActive: s.status == StatusActive, Status: s.runStatus(),
		CurrentSessionSeconds: secs(s.runDur), UnlockedMilestones: s.unlockedOut(),
		GracePeriodSeconds: grace,
	}
	if m, ok := s.next(); ok {
		p.NextMilestoneMinutes = &m
	}
	return Event{Type: protocol.TypeProximityUpdated, To: s.both(), Payload: p}
}

func secs(d time.Duration) int { return int(d / time.Second) }

func ceilSecs(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Second - 1) / time.Second)
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
