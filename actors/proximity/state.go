package proximity

import (
	"slices"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Run statuses. StatusIdle is internal (no run yet); views render it as
// paused because the wire only knows active | paused | ended.
const (
	StatusIdle   = "idle"
	StatusActive = "active"
	StatusPaused = "paused"
	StatusEnded  = "ended"
)

// Locations are the participants' fresh GPS fixes, A for State.UserA and B
// for State.UserB; nil when unknown or stale (the caller judges freshness).
type Locations struct {
	A, B *storage.LatLng
}

// Event is something to send: Type is a protocol.TypeProximity* constant, To
// the recipients' user ids, Payload the frame payload.
type Event struct {
	Type    string
	To      []string
	Payload any
}

// Run is one continuous verified run, as kept in the history.
type Run struct {
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"duration"` // verified together-time of the run, pauses excluded
	Status    string        `json:"status"`
}

// Persisted is what must survive a restart. Tokens, seeing and the
// handshake are deliberately absent: they live seconds, and after a restart
// the clients get fresh tokens and start a new run.
type Persisted struct {
	ConnectionID string                   `json:"connectionId"`
	UserA        string                   `json:"userA"`
	UserB        string                   `json:"userB"`
	Accumulated  time.Duration            `json:"accumulated"`
	Daily        map[string]time.Duration `json:"daily"`
	Milestones   []int                    `json:"unlockedMilestones"`
	Runs         []Run                    `json:"runs"`
	Risk         Risk                     `json:"risk"`
	Closed       bool                     `json:"closed"`
	// Live is the run in flight when the snapshot was taken, for the read
	// models that must not wake the grain (connection lists, the choice of
	// bootstrap's session). Restore ignores it: a run cannot outlive its
	// grain, and the in-flight run is also in Runs, as ended.
	Live *LiveRun `json:"live,omitempty"`
}

// LiveRun is a run in flight as a snapshot saw it.
type LiveRun struct {
	Status string    `json:"status"` // active or paused
	At     time.Time `json:"at"`     // the machine's time at the snapshot
	// SeenUntil is how far an active run accrues without another scan
	// (both sides seeing), or the instant a paused run paused.
	SeenUntil time.Time `json:"seenUntil"`
	// EndsBy is when the run is over unless a newer snapshot says otherwise:
	// a stale "active" left by a crash stops counting there.
	EndsBy time.Time `json:"endsBy"`
}

// Extrapolated is the together-time a snapshot implies at now: its total,
// plus, while its run was active, the time since the snapshot up to
// SeenUntil. Both sides had been seen up to then, so unless one of them
// ended the run (which writes a snapshot at once) that time does accrue;
// beyond it nothing is certain, so nothing is added.
func (ps *Persisted) Extrapolated(now time.Time) time.Duration {
	acc := ps.Accumulated
	if l := ps.Live; l != nil && !ps.Closed && l.Status == StatusActive {
		if until := minTime(now, l.SeenUntil); until.After(l.At) {
			acc += until.Sub(l.At)
		}
	}
	return acc
}

// LiveAt reports the status a snapshot implies for its run at now: active
// or paused while the snapshot's run may still be going, else "".
func (ps *Persisted) LiveAt(now time.Time) string {
	if l := ps.Live; l != nil && !ps.Closed && now.Before(l.EndsBy) {
		return l.Status
	}
	return ""
}

// participant is one side of the connection.
type participant struct {
	user        string
	token       string
	tokenExp    time.Time
	prev        string
	prevExp     time.Time
	lastSeen    time.Time // server time of the last valid start or heartbeat
	seenUntil   time.Time // lastSeen + HeartbeatTimeout: sees the partner up to and including this instant
	stopped     bool      // proximity.session.end: not seeing until the next valid scan
	lastBeat    time.Time // last accepted heartbeat, for the rate limit
	confirmed   bool      // scanned the partner for the start handshake
	confirmedAt time.Time
}

func (p *participant) seeing(t time.Time) bool {
	return !p.stopped && !p.lastSeen.IsZero() && !t.After(p.seenUntil)
}

// State is the proximity state of one connection. It is not safe for
// concurrent use: the connection's grain serialises every call.
type State struct {
	ConnectionID string
	UserA, UserB string

	cfg   Config
	gen   func() string
	p     [2]participant
	clock time.Time // time up to which the machine has advanced

	status     string
	closed     bool
	runStarted time.Time
	runDur     time.Duration
	pausedAt   time.Time

	accumulated time.Duration
	daily       map[string]time.Duration
	unlocked    []int
	runs        []Run
	risk        Risk
}

// New returns the state of a connection between userA and userB. gen makes
// tokens; nil uses crypto/rand (tests inject a deterministic one).
func New(connectionID, userA, userB string, cfg Config, gen func() string) *State {
	s := &State{
		ConnectionID: connectionID, UserA: userA, UserB: userB,
		cfg: cfg.withDefaults(), gen: gen, status: StatusIdle,
		daily: map[string]time.Duration{},
	}
	s.p[0].user, s.p[1].user = userA, userB
	return s
}

// Restore rebuilds a state from what was persisted. Milestones already
// unlocked stay unlocked, so they never fire again.
func Restore(ps Persisted, cfg Config, gen func() string) *State {
	s := New(ps.ConnectionID, ps.UserA, ps.UserB, cfg, gen)
	s.accumulated = ps.Accumulated
	for k, v := range ps.Daily {
		s.daily[k] = v
	}
	s.unlocked = slices.Clone(ps.Milestones)
	s.runs = slices.Clone(ps.Runs)
	s.risk = ps.Risk
	if ps.Closed {
		s.closed, s.status = true, StatusEnded
	}
	return s
}

// Snapshot returns what must be persisted. A run in flight is recorded as
// ended in the snapshot: after a restart it cannot continue (seeing and
// tokens are gone), while its time is already in the totals.
func (s *State) Snapshot() Persisted {
	ps := Persisted{
		ConnectionID: s.ConnectionID, UserA: s.UserA, UserB: s.UserB,
		Accumulated: s.accumulated, Daily: make(map[string]time.Duration, len(s.daily)),
		Milestones: slices.Clone(s.unlocked), Runs: slices.Clone(s.runs), Risk: s.risk, Closed: s.closed,
	}
	for k, v := range s.daily {
		ps.Daily[k] = v
	}
	if s.inRun() {
		ps.Runs = appendRun(ps.Runs, Run{StartedAt: s.runStarted, Duration: s.runDur, Status: StatusEnded})
		l := &LiveRun{Status: s.status, At: s.clock, SeenUntil: s.pausedAt}
		if s.status == StatusActive {
			l.SeenUntil = minTime(s.p[0].seenUntil, s.p[1].seenUntil)
		}
		l.EndsBy = l.SeenUntil.Add(s.cfg.Grace)
		ps.Live = l
	}
	return ps
}

// Status returns the run status: idle, active, paused or ended.
func (s *State) Status() string { return s.status }

// Accumulated returns the verified together-time of all runs.
func (s *State) Accumulated() time.Duration { return s.accumulated }

// Daily returns a copy of the together-time per calendar day ("2006-01-02"
// in Config.DayLocation), for the daily reward rules.
func (s *State) Daily() map[string]time.Duration {
	out := make(map[string]time.Duration, len(s.daily))
	for k, v := range s.daily {
		out[k] = v
	}
	return out
}

// Unlocked returns the milestones reached, in minutes, ascending.
func (s *State) Unlocked() []int { return slices.Clone(s.unlocked) }

// Risk returns the anti-spoofing counters.
func (s *State) Risk() Risk { return s.risk }

// Closed reports whether the connection closed.
func (s *State) Closed() bool { return s.closed }

// Has reports whether u is one of the connection.
func (s *State) Has(u string) bool { return u == s.UserA || u == s.UserB }

func (s *State) inRun() bool { return s.status == StatusActive || s.status == StatusPaused }

func (s *State) side(u string) (me, partner *participant) {
	if u == s.UserA {
		return &s.p[0], &s.p[1]
	}
	return &s.p[1], &s.p[0]
}

func (s *State) both() []string { return []string{s.UserA, s.UserB} }

func fail(code protocol.Code, msg string) *protocol.Error {
	return &protocol.Error{Code: code, Message: msg, Domain: protocol.DomainProximity}
}
