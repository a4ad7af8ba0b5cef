package proximity

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
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

// MaxRuns bounds the run history kept (and persisted): the summary shows
// recent runs, and an old pair must not grow its record without limit.
const MaxRuns = 20

// heartbeatInterval is the least time between two accepted heartbeats of one
// participant (SPEC-NOTES: more than one per second is rate limited).
const heartbeatInterval = time.Second

// Config holds the tunables of proximity; DefaultConfig has the spec values.
type Config struct {
	TokenTTL         time.Duration  // life of a BLE token
	RotateBefore     time.Duration  // a new token is issued this long before the current expires
	HeartbeatTimeout time.Duration  // a participant sees the partner this long after a valid heartbeat
	Grace            time.Duration  // a paused run may resume within this
	Milestones       []int          // minutes of accumulated time, ascending
	RSSIMin, RSSIMax int            // accepted RSSI, inclusive, dBm
	MaxDistanceM     float64        // farther apart fresh GPS fixes are implausible
	DayLocation      *time.Location // calendar days of the per-day totals
}

// DefaultConfig returns the values SPEC-NOTES settles.
func DefaultConfig() Config {
	return Config{
		TokenTTL:         90 * time.Second,
		RotateBefore:     30 * time.Second,
		HeartbeatTimeout: 15 * time.Second,
		Grace:            30 * time.Second,
		Milestones:       []int{5, 15, 30, 60, 120, 240},
		RSSIMin:          -90,
		RSSIMax:          -40,
		MaxDistanceM:     250,
		DayLocation:      time.UTC,
	}
}

// withDefaults fills zero fields so a partly written config (for example from
// an env file that sets one knob) still behaves.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TokenTTL <= 0 {
		c.TokenTTL = d.TokenTTL
	}
	if c.RotateBefore <= 0 || c.RotateBefore >= c.TokenTTL {
		c.RotateBefore = min(d.RotateBefore, c.TokenTTL/3)
	}
	if c.HeartbeatTimeout <= 0 {
		c.HeartbeatTimeout = d.HeartbeatTimeout
	}
	if c.Grace <= 0 {
		c.Grace = d.Grace
	}
	if c.Milestones == nil {
		c.Milestones = d.Milestones
	}
	c.Milestones = slices.Clone(c.Milestones)
	slices.Sort(c.Milestones)
	c.Milestones = slices.Compact(c.Milestones)
	if c.RSSIMin == 0 && c.RSSIMax == 0 {
		c.RSSIMin, c.RSSIMax = d.RSSIMin, d.RSSIMax
	}
	if c.MaxDistanceM <= 0 {
		c.MaxDistanceM = d.MaxDistanceM
	}
	if c.DayLocation == nil {
		c.DayLocation = d.DayLocation
	}
	return c
}

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

// ConfirmedPayload is the payload of proximity.partner.confirmed.
type ConfirmedPayload struct {
	ConnectionID string `json:"connectionId"`
}

// UpdatedPayload is the payload of proximity.session.updated. Status and
// GracePeriodSeconds go beyond the spec's example so a client can tell a
// pause (with its remaining grace) from an ended run.
type UpdatedPayload struct {
	ConnectionID          string `json:"connectionId"`
	AccumulatedSeconds    int    `json:"accumulatedSeconds"`
	SessionActive         bool   `json:"sessionActive"`
	Status                string `json:"status"`
	CurrentSessionSeconds int    `json:"currentSessionSeconds"`
	UnlockedMilestones    []int  `json:"unlockedMilestones"`
	NextMilestoneMinutes  *int   `json:"nextMilestoneMinutes"`
	GracePeriodSeconds    *int   `json:"gracePeriodSeconds,omitempty"`
}

// MilestonePayload is the payload of proximity.milestone.reached.
type MilestonePayload struct {
	ConnectionID string `json:"connectionId"`
	Milestone    int    `json:"milestone"`
	GiftTier     int    `json:"giftTier"`
	Message      string `json:"message"`
}

// RotatePayload is the payload of proximity.token.rotate.
type RotatePayload struct {
	ConnectionID string    `json:"connectionId"`
	Token        string    `json:"token"`
	ExpiresAt    time.Time `json:"expiresAt"`
}

// Ack answers proximity.session.start and proximity.heartbeat. The two acks
// have different shapes on the wire; MarshalJSON picks the right one.
type Ack struct {
	SessionActive      bool
	YourTokenReceived  bool // start only
	WaitingForPartner  bool // start only
	AccumulatedSeconds int  // heartbeat only
	heartbeat          bool
}

// MarshalJSON renders the start ack or the heartbeat ack as the spec shows.
func (a Ack) MarshalJSON() ([]byte, error) {
	if a.heartbeat {
		return json.Marshal(struct {
			SessionActive      bool `json:"sessionActive"`
			AccumulatedSeconds int  `json:"accumulatedSeconds"`
		}{a.SessionActive, a.AccumulatedSeconds})
	}
	return json.Marshal(struct {
		SessionActive     bool `json:"sessionActive"`
		YourTokenReceived bool `json:"yourTokenReceived"`
		WaitingForPartner bool `json:"waitingForPartner"`
	}{a.SessionActive, a.YourTokenReceived, a.WaitingForPartner})
}

// Token is an issued BLE token (the REST token shape).
type Token struct {
	Token        string    `json:"token"`
	ExpiresAt    time.Time `json:"expiresAt"`
	ConnectionID string    `json:"connectionId"`
}

// Run is one continuous verified run, as kept in the history.
type Run struct {
	StartedAt time.Time     `json:"startedAt"`
	Duration  time.Duration `json:"duration"` // verified together-time of the run, pauses excluded
	Status    string        `json:"status"`
}

// Risk counts anti-spoofing signals of the connection.
type Risk struct {
	LocationMismatches int `json:"locationMismatches"`
	InvalidTokens      int `json:"invalidTokens"`
	RSSIRejects        int `json:"rssiRejects"`
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

// --- tokens ---

// IssueToken returns user's current token, issuing one when there is none
// or it is due for rotation (the replaced one stays valid as the previous
// token until its own expiry).
func (s *State) IssueToken(user string, now time.Time) (Token, *protocol.Error) {
	if err := s.guard(user); err != nil {
		return Token{}, err
	}
	me, _ := s.side(user)
	if me.token == "" || !now.Before(me.tokenExp.Add(-s.cfg.RotateBefore)) {
		s.rotate(me, now)
	}
	return Token{Token: me.token, ExpiresAt: me.tokenExp, ConnectionID: s.ConnectionID}, nil
}

// DueRotations returns the participants whose live token is within
// RotateBefore of its expiry, so the grain can Rotate them. An already
// expired token is not rotated: its owner is gone, and the next IssueToken
// (bootstrap or REST) gives it a fresh one.
func (s *State) DueRotations(now time.Time) []string {
	if s.closed {
		return nil
	}
	var out []string
	for i := range s.p {
		p := &s.p[i]
		if p.token != "" && now.Before(p.tokenExp) && !now.Before(p.tokenExp.Add(-s.cfg.RotateBefore)) {
			out = append(out, p.user)
		}
	}
	return out
}

// Rotate issues user a new token now and returns the proximity.token.rotate
// for its owner. The replaced token stays valid until its own expiry so scans
// in flight still verify.
func (s *State) Rotate(user string, now time.Time) []Event {
	if s.guard(user) != nil {
		return nil
	}
	me, _ := s.side(user)
	s.rotate(me, now)
	return []Event{{Type: protocol.TypeProximityRotate, To: []string{user},
		Payload: RotatePayload{ConnectionID: s.ConnectionID, Token: me.token, ExpiresAt: me.tokenExp}}}
}

func (s *State) rotate(p *participant, now time.Time) {
	if p.token != "" && now.Before(p.tokenExp) {
		p.prev, p.prevExp = p.token, p.tokenExp
	} else {
		p.prev, p.prevExp = "", time.Time{}
	}
	p.token, p.tokenExp = s.newToken(now), now.Add(s.cfg.TokenTTL)
}

// newToken draws a token unique among the live tokens of this connection
// (a partner must never be able to pass its own token off as the other's).
// A generator that keeps colliding or returns malformed tokens is replaced
// by crypto/rand after a few tries rather than looping forever.
func (s *State) newToken(now time.Time) string {
	for i := 0; ; i++ {
		var t string
		if s.gen != nil && i < 8 {
			t = s.gen()
		} else {
			t = randomToken()
		}
		if wellFormed(t) && !s.live(t, now) {
			return t
		}
	}
}

func (s *State) live(t string, now time.Time) bool {
	for i := range s.p {
		p := &s.p[i]
		if (t == p.token && now.Before(p.tokenExp)) || (t == p.prev && now.Before(p.prevExp)) {
			return true
		}
	}
	return false
}

func wellFormed(t string) bool {
	if len(t) != 8 {
		return false
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func randomToken() string {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// validFor reports whether t is p's current or previous unexpired token.
// Expiry is exclusive: a token lives [issued, issued+TTL).
func (p *participant) validFor(t string, now time.Time) bool {
	if t == "" {
		return false
	}
	return (t == p.token && now.Before(p.tokenExp)) || (t == p.prev && now.Before(p.prevExp))
}

// --- scans ---

func (s *State) guard(user string) *protocol.Error {
	if !s.Has(user) {
		return fail(protocol.CodeForbidden, "this connection is not yours")
	}
	if s.closed {
		return fail(protocol.CodeActiveConnectionRequired, "proximity needs an active connection")
	}
	return nil
}

// verify checks a scan by user of the partner's token. Failures are
// counted as risk signals; nothing else changes.
func (s *State) verify(user, token string, rssi int, now time.Time, locs *Locations) *protocol.Error {
	if rssi < s.cfg.RSSIMin || rssi > s.cfg.RSSIMax {
		s.risk.RSSIRejects++
		return fail(protocol.CodeRSSIOutOfRange, fmt.Sprintf("rssi must be between %d and %d dBm", s.cfg.RSSIMin, s.cfg.RSSIMax))
	}
	_, partner := s.side(user)
	if !partner.validFor(token, now) {
		s.risk.InvalidTokens++
		return fail(protocol.CodeInvalidToken, "this is not your partner's current token")
	}
	if locs != nil && locs.A != nil && locs.B != nil &&
		distance(locs.A.Lat, locs.A.Lng, locs.B.Lat, locs.B.Lng) > s.cfg.MaxDistanceM {
		s.risk.LocationMismatches++
		return fail(protocol.CodeLocationMismatch, "your locations are too far apart for a BLE scan")
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
			Event{Type: protocol.TypeProximityConfirmed, To: s.both(), Payload: ConfirmedPayload{ConnectionID: s.ConnectionID}},
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
		return Ack{heartbeat: true}, nil, err
	}
	me, _ := s.side(user)
	if !me.lastBeat.IsZero() && now.Sub(me.lastBeat) < heartbeatInterval {
		return Ack{heartbeat: true}, nil, fail(protocol.CodeRateLimited, "at most one heartbeat per second")
	}
	if err := s.verify(user, token, rssi, now, locs); err != nil {
		return Ack{heartbeat: true}, nil, err
	}
	evs := s.Advance(now)
	me.lastBeat = now
	s.see(me, now)
	evs = append(evs, s.Advance(now)...) // a paused run may resume
	return Ack{heartbeat: true, SessionActive: s.status == StatusActive, AccumulatedSeconds: secs(s.accumulated)}, evs, nil
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

// --- time ---

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
		evs = append(evs, Event{Type: protocol.TypeProximityMilestone, To: s.both(), Payload: MilestonePayload{
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
	p := UpdatedPayload{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: secs(s.accumulated),
		SessionActive: s.status == StatusActive, Status: s.wireStatus(),
		CurrentSessionSeconds: secs(s.runDur), UnlockedMilestones: s.unlockedOut(),
		GracePeriodSeconds: grace,
	}
	if m, ok := s.next(); ok {
		p.NextMilestoneMinutes = &m
	}
	return Event{Type: protocol.TypeProximityUpdated, To: s.both(), Payload: p}
}

// --- views ---

// SessionView is the ProximitySession model for one participant.
type SessionView struct {
	ConnectionID          string     `json:"connectionId"`
	AccumulatedSeconds    int        `json:"accumulatedSeconds"`
	Status                string     `json:"status"`
	CurrentSessionSeconds int        `json:"currentSessionSeconds"`
	UnlockedMilestones    []int      `json:"unlockedMilestones"`
	BLEToken              string     `json:"bleToken,omitempty"`
	BLETokenExpiresAt     *time.Time `json:"bleTokenExpiresAt,omitempty"`
}

// RunView is one entry of the summary's sessions.
type RunView struct {
	StartedAt       time.Time `json:"startedAt"`
	DurationSeconds int       `json:"durationSeconds"`
	Status          string    `json:"status"`
}

// Summary is the REST proximity summary.
type Summary struct {
	ConnectionID       string    `json:"connectionId"`
	AccumulatedSeconds int       `json:"accumulatedSeconds"`
	AccumulatedMinutes int       `json:"accumulatedMinutes"`
	UnlockedMilestones []int     `json:"unlockedMilestones"`
	NextMilestone      *int      `json:"nextMilestone"`
	SecondsUntilNext   *int      `json:"secondsUntilNext"`
	Sessions           []RunView `json:"sessions"`
}

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
func (s *State) Session(user string, now time.Time) SessionView {
	c := s.projected(now)
	v := SessionView{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: secs(c.accumulated), Status: c.wireStatus(),
		CurrentSessionSeconds: secs(c.runDur), UnlockedMilestones: c.unlockedOut(),
	}
	if s.Has(user) {
		me, _ := s.side(user)
		if me.token != "" && now.Before(me.tokenExp) {
			exp := me.tokenExp
			v.BLEToken, v.BLETokenExpiresAt = me.token, &exp
		}
	}
	return v
}

// Summary renders the REST summary at now: totals, milestones and the run
// history, oldest first, with the run in flight last.
func (s *State) Summary(now time.Time) Summary {
	c := s.projected(now)
	acc := secs(c.accumulated)
	out := Summary{
		ConnectionID: s.ConnectionID, AccumulatedSeconds: acc, AccumulatedMinutes: acc / 60,
		UnlockedMilestones: c.unlockedOut(), Sessions: []RunView{},
	}
	if m, ok := c.next(); ok {
		left := max(m*60-acc, 0)
		out.NextMilestone, out.SecondsUntilNext = &m, &left
	}
	for _, r := range c.runs {
		out.Sessions = append(out.Sessions, RunView{StartedAt: r.StartedAt, DurationSeconds: secs(r.Duration), Status: r.Status})
	}
	if c.inRun() {
		out.Sessions = append(out.Sessions, RunView{StartedAt: c.runStarted, DurationSeconds: secs(c.runDur), Status: c.status})
	}
	return out
}

func (s *State) wireStatus() string {
	if s.status == StatusIdle {
		return StatusPaused
	}
	return s.status
}

func (s *State) unlockedOut() []int {
	if s.unlocked == nil {
		return []int{}
	}
	return slices.Clone(s.unlocked)
}

// --- helpers ---

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

const earthRadiusM = 6371008.8

// distance is the great-circle distance in metres (the atan2 haversine form
// radar.Distance uses; copied so this pure package does not pull in radar).
func distance(lat1, lng1, lat2, lng2 float64) float64 {
	const rad = math.Pi / 180
	s1, c1 := math.Sincos(lat1 * rad)
	s2, c2 := math.Sincos(lat2 * rad)
	sd, cd := math.Sincos((lng2 - lng1) * rad)
	return math.Atan2(math.Hypot(c2*sd, c1*s2-s1*c2*cd), s1*s2+c1*c2*cd) * earthRadiusM
}
