package user

import (
	"slices"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/protocol"
)

// Geo is the radar geometry presence needs: the cell of a point and the
// cells a radar centred in a cell covers. *radar.Grid is one.
type Geo interface {
	Cell(lat, lng float64) h3.Cell
	Cover(c h3.Cell) []h3.Cell
}

// PresenceConfig holds the presence rules' durations.
type PresenceConfig struct {
	// TTL: a location older than this is stale and the user is not live.
	TTL time.Duration
	// RadarInterval: at most one pushed radar per interval.
	RadarInterval time.Duration
	// Pace, when set and positive, is the push interval in force instead
	// (the node stretches it while it is behind; see radar.Pacer).
	Pace func() time.Duration
	// ReconnectGrace: the user stays live this long after its last socket
	// closed, so a flaky network does not make it blink out and back.
	ReconnectGrace time.Duration
	// Retry: how soon a failed cell write is tried again.
	Retry time.Duration
}

// Op is what an Effect asks the grain to do.
type Op uint8

const (
	// OpUpsert writes the user's entry into Cell; the grain reports the
	// answer with Upserted(Cell, Seq).
	OpUpsert Op = iota + 1
	// OpRemove takes the user's entry out of Cell; the grain reports the
	// answer with Removed(Cell).
	OpRemove
	// OpWatch moves the user's radar subscriptions from Old to Cover (nil:
	// not watching).
	OpWatch
	// OpArm asks for Fired(Timer) at At.
	OpArm
	// OpPush asks the grain to run the user's radar and offer the result to
	// Shown, pushing it when Shown says it changed.
	OpPush
	// OpOnline and OpOffline announce the user to its chat partners: its
	// first socket opened after it was offline, or its last one closed and
	// the reconnect grace ran out (a flaky network does not blink).
	OpOnline
	OpOffline
)

// Timer names the presence timers.
type Timer uint8

const (
	TimerStale Timer = iota + 1 // the location may have gone stale
	TimerGrace                  // the reconnect grace may have run out
	TimerPush                   // a coalesced radar push is due
	TimerRetry                  // a failed cell write is due again
)

// Effect is one thing the grain must do for the presence rules.
type Effect struct {
	Op    Op
	Cell  h3.Cell   // OpUpsert, OpRemove
	Seq   uint64    // OpUpsert
	Old   []h3.Cell // OpWatch
	Cover []h3.Cell // OpWatch
	Timer Timer     // OpArm
	At    time.Time // OpArm
}

// Presence is the User grain's live, in-memory view of where the user is
// and the rules that follow from it. It is pure: every method takes the
// time and returns the effects for the grain to carry out (cell writes,
// watches, timers, pushes); answers from the cells come back as calls.
// Nothing here is stored: after a restart users are simply not live until
// their phones send a location again.
//
// Cell writes are asynchronous, and the user is never missing from the
// radar while it moves: the entry is written to the new cell first, and the
// old cells are cleared only once the newest write is acknowledged (a query
// seeing both keeps the newer entry). A write that fails or times out is
// retried after Retry or on the next update, whichever comes first; until
// then the previous entry stays where it was.
type Presence struct {
	cfg PresenceConfig
	geo Geo

	loc      *protocol.Location // last location as reported, nil if none yet
	at       time.Time          // server time of that location
	sockets  int
	graceEnd time.Time // when the last socket closed plus the grace; zero when not in grace
	hidden   bool      // not on radar
	deleted  bool
	online   bool // announced online to the user's chat partners

	want      h3.Cell    // the cell the entry belongs in; 0 when not on radar
	held      []heldCell // cells that hold, or may hold, the entry
	seq       uint64     // number of the last upsert sent
	confirmed bool       // the last upsert was acknowledged
	rewrite   bool       // the last upsert failed: write it again
	cover     []h3.Cell  // cells watched; nil when not watching
	armed     [5]bool    // by Timer: a timer is pending
	lastPush  time.Time  // when the user last saw its radar
	lastFP    uint64     // fingerprint of what it saw
	fx        []Effect   // reused for every call's effects
}

type heldCell struct {
	cell     h3.Cell
	removing bool // a remove was sent and not yet acknowledged
}

// NewPresence returns the presence of a user with no location yet.
func NewPresence(cfg PresenceConfig, geo Geo, hidden bool) Presence {
	return Presence{cfg: cfg, geo: geo, hidden: hidden}
}

// Location is the last location reported, nil if none.
func (p *Presence) Location() *protocol.Location { return p.loc }

// LocatedAt is when Location was reported.
func (p *Presence) LocatedAt() time.Time { return p.at }

// Fresh: a location was reported within the TTL.
func (p *Presence) Fresh(now time.Time) bool {
	return p.loc != nil && now.Sub(p.at) < p.cfg.TTL
}

// connected: a socket is open, or closed less than the grace ago.
func (p *Presence) connected(now time.Time) bool {
	return p.sockets > 0 || now.Before(p.graceEnd)
}

// Live is SPEC-NOTES' definition: an open socket and a recent location.
func (p *Presence) Live(now time.Time) bool {
	return !p.deleted && p.connected(now) && p.Fresh(now)
}

// Watching: the user's radar is live and subscribed to its cells.
func (p *Presence) Watching() bool { return p.cover != nil }

// Idle: nothing of the user is in any cell or watch list, and no write is
// pending, so the grain may stop.
func (p *Presence) Idle() bool { return len(p.held) == 0 && p.cover == nil && !p.online }

// Locate records a location reported at now.
func (p *Presence) Locate(now time.Time, loc *protocol.Location) []Effect {
	p.fx = p.fx[:0]
	p.loc, p.at = loc, now
	p.arm(TimerStale, now.Add(p.cfg.TTL))
	p.sync(now, true)
	return p.fx
}

// SetHidden shows or hides the user on others' radars.
func (p *Presence) SetHidden(now time.Time, hidden bool) []Effect {
	p.fx = p.fx[:0]
	p.hidden = hidden
	p.sync(now, false)
	return p.fx
}

// EntryChanged: what others see of the user (profile, interests) changed;
// a placed entry is written again.
func (p *Presence) EntryChanged(now time.Time) []Effect {
	p.fx = p.fx[:0]
	p.sync(now, true)
	return p.fx
}

// Deleted takes a deleted account off every radar for good.
func (p *Presence) Deleted(now time.Time) []Effect {
	p.fx = p.fx[:0]
	// Partners hear of a deleted account through its chats, not presence.
	p.deleted, p.sockets, p.graceEnd, p.online = true, 0, time.Time{}, false
	p.sync(now, false)
	return p.fx
}

// Abandoned: the grain stops with its state out of date (the store refused
// its write: another activation holds the user now). Only what is this
// node's own is undone: the watches stop. Cell entries are left alone, as
// the newer activation may have written them since (one this activation
// wrote ages out with the TTL), and nothing is announced.
func (p *Presence) Abandoned() []Effect {
	p.fx = p.fx[:0]
	if p.cover != nil {
		p.fx = append(p.fx, Effect{Op: OpWatch, Old: p.cover})
		p.cover = nil
	}
	return p.fx
}

// Attached: the user has sockets open sockets, one just opened. A
// reconnect within the grace simply ends it; after it, a fresh location
// makes the user live again.
func (p *Presence) Attached(now time.Time, sockets int) []Effect {
	p.fx = p.fx[:0]
	p.sockets, p.graceEnd = sockets, time.Time{}
	if !p.online && !p.deleted && sockets > 0 {
		p.online = true
		p.fx = append(p.fx, Effect{Op: OpOnline})
	}
	p.sync(now, false)
	return p.fx
}

// Detached: a socket closed and sockets remain. When it was the last one
// the reconnect grace starts.
func (p *Presence) Detached(now time.Time, sockets int) []Effect {
	p.fx = p.fx[:0]
	had := p.sockets
	p.sockets = sockets
	if had == 0 || sockets > 0 {
		return p.fx
	}
	if p.cfg.ReconnectGrace <= 0 {
		p.offline()
		p.sync(now, false)
		return p.fx
	}
	p.graceEnd = now.Add(p.cfg.ReconnectGrace)
	p.arm(TimerGrace, p.graceEnd)
	return p.fx
}

// offline announces the end of the user's presence, once.
func (p *Presence) offline() {
	if p.online {
		p.online = false
		p.fx = append(p.fx, Effect{Op: OpOffline})
	}
}

// Wake: something that decides what the user's radar shows changed (a
// nearby move, a block, its own vibe). The push is coalesced: at most one
// per RadarInterval.
func (p *Presence) Wake(now time.Time) []Effect {
	p.fx = p.fx[:0]
	if p.cover != nil {
		p.arm(TimerPush, maxTime(now, p.lastPush.Add(p.pushInterval())))
	}
	return p.fx
}

func (p *Presence) pushInterval() time.Duration {
	if p.cfg.Pace != nil {
		if d := p.cfg.Pace(); d > 0 {
			return d
		}
	}
	return p.cfg.RadarInterval
}

// Fired handles a timer asked for with OpArm.
func (p *Presence) Fired(now time.Time, t Timer) []Effect {
	p.fx = p.fx[:0]
	if int(t) >= len(p.armed) {
		return p.fx
	}
	p.armed[t] = false
	switch t {
	case TimerStale:
		if p.loc == nil {
			break
		}
		// Each update does not arm its own timer: the one pending re-arms
		// for the latest location.
		if due := p.at.Add(p.cfg.TTL); now.Before(due) {
			p.arm(TimerStale, due)
			break
		}
		p.sync(now, false)
	case TimerGrace:
		if p.sockets > 0 || p.graceEnd.IsZero() {
			break
		}
		if now.Before(p.graceEnd) {
			p.arm(TimerGrace, p.graceEnd)
			break
		}
		p.graceEnd = time.Time{}
		p.offline()
		p.sync(now, false)
	case TimerPush:
		if p.cover != nil {
			p.fx = append(p.fx, Effect{Op: OpPush})
		}
	case TimerRetry:
		p.sync(now, false)
	}
	return p.fx
}

// Shown records that the user saw its radar at now, with fingerprint fp,
// and reports whether that differs from what it saw last (only then is a
// push worth sending).
func (p *Presence) Shown(now time.Time, fp uint64) bool {
	changed := fp != p.lastFP
	p.lastPush, p.lastFP = now, fp
	return changed
}

// Upserted reports the answer to the upsert numbered seq into cell.
func (p *Presence) Upserted(now time.Time, cell h3.Cell, seq uint64, failed bool) []Effect {
	p.fx = p.fx[:0]
	if seq != p.seq {
		// A later write went out: its answer decides.
		return p.fx
	}
	if failed {
		p.rewrite = true
		p.arm(TimerRetry, now.Add(p.cfg.Retry))
		return p.fx
	}
	p.confirmed = true
	p.clearOld()
	return p.fx
}

// Removed reports the answer to a remove from cell.
func (p *Presence) Removed(now time.Time, cell h3.Cell, failed bool) []Effect {
	p.fx = p.fx[:0]
	i := p.heldAt(cell)
	switch {
	case failed && cell != p.want:
		// The entry may still be there: remove it again later. (When cell
		// is wanted again, an upsert went out after the remove, and the
		// cell handles its messages in order.)
		if i < 0 {
			p.held = append(p.held, heldCell{cell: cell})
		} else {
			p.held[i].removing = false
		}
		p.arm(TimerRetry, now.Add(p.cfg.Retry))
	case !failed && i >= 0 && p.held[i].removing:
		p.held = slices.Delete(p.held, i, i+1)
	}
	return p.fx
}

// sync brings the cells in line with the state: the entry sits in the cell
// of the user's position while it is live and visible, and the user watches
// the cells its radar covers while live. write asks for the entry to be
// written even where it already is (it changed).
func (p *Presence) sync(now time.Time, write bool) {
	live := p.Live(now)
	var here, want h3.Cell
	if live {
		here = p.geo.Cell(p.loc.Lat, p.loc.Lng)
		if !p.hidden {
			want = here
		}
	}
	p.want = want
	if want != 0 {
		i := p.heldAt(want)
		if write || p.rewrite || i < 0 || p.held[i].removing {
			if i < 0 {
				p.held = append(p.held, heldCell{cell: want})
			} else {
				p.held[i].removing = false
			}
			p.seq++
			p.confirmed, p.rewrite = false, false
			p.fx = append(p.fx, Effect{Op: OpUpsert, Cell: want, Seq: p.seq})
		}
	}
	p.clearOld()

	var cover []h3.Cell
	if live {
		cover = p.geo.Cover(here)
	}
	if !slices.Equal(p.cover, cover) {
		p.fx = append(p.fx, Effect{Op: OpWatch, Old: p.cover, Cover: cover})
		p.cover = cover
	}
}

// clearOld removes the entry from every cell but the wanted one, once the
// wanted one surely holds it (or nothing is wanted): readers never miss a
// user that is on radar.
func (p *Presence) clearOld() {
	if p.want != 0 && !p.confirmed {
		return
	}
	for i := range p.held {
		h := &p.held[i]
		if h.cell != p.want && !h.removing {
			h.removing = true
			p.fx = append(p.fx, Effect{Op: OpRemove, Cell: h.cell})
		}
	}
}

func (p *Presence) heldAt(c h3.Cell) int {
	for i := range p.held {
		if p.held[i].cell == c {
			return i
		}
	}
	return -1
}

// arm asks for timer t at at, unless one is pending (it re-arms itself
// when it fires early).
func (p *Presence) arm(t Timer, at time.Time) {
	if p.armed[t] {
		return
	}
	p.armed[t] = true
	p.fx = append(p.fx, Effect{Op: OpArm, Timer: t, At: at})
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
