package user

import (
	"reflect"
	"testing"
	"time"

	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/protocol"
)

// lineGeo is a toy grid: the cell of a point is its whole degrees of
// latitude, and a radar covers the cell and its two neighbours.
type lineGeo struct{}

func (lineGeo) Cell(lat, _ float64) h3.Cell { return h3.Cell(1000 + int64(lat)) }
func (lineGeo) Cover(c h3.Cell) []h3.Cell   { return []h3.Cell{c - 1, c, c + 1} }

var (
	presT0  = time.Date(2026, 4, 14, 9, 0, 0, 0, time.UTC)
	presCfg = PresenceConfig{TTL: 2 * time.Minute, RadarInterval: 2 * time.Second, ReconnectGrace: 30 * time.Second, Retry: time.Second}
)

// Cells of the toy grid, by latitude.
const (
	cellA = h3.Cell(1001) // lat 1.x
	cellB = h3.Cell(1002) // lat 2.x
	cellC = h3.Cell(1003) // lat 3.x
)

func coverOf(c h3.Cell) []h3.Cell { return lineGeo{}.Cover(c) }

// A step happens at presT0 + at, and expects exactly want as effects.
type presStep struct {
	name string
	at   time.Duration
	do   func(t *testing.T, p *Presence, now time.Time) []Effect
	want []Effect
	live *bool // checked after the step when set
}

var yes, no = true, false

func locate(lat float64) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect {
		return p.Locate(now, &protocol.Location{Lat: lat, Lng: 3, UpdatedAt: protocol.FormatTime(now)})
	}
}

func attach(n int) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Attached(now, n) }
}

func detach(n int) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Detached(now, n) }
}

func hide(h bool) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.SetHidden(now, h) }
}

func fired(tm Timer) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Fired(now, tm) }
}

func upserted(c h3.Cell, seq uint64, failed bool) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Upserted(now, c, seq, failed) }
}

func removed(c h3.Cell, failed bool) func(*testing.T, *Presence, time.Time) []Effect {
	return func(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Removed(now, c, failed) }
}

func wake(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Wake(now) }

func entryChanged(_ *testing.T, p *Presence, now time.Time) []Effect { return p.EntryChanged(now) }

func deleted(_ *testing.T, p *Presence, now time.Time) []Effect { return p.Deleted(now) }

// shown offers a radar with fingerprint fp and checks whether Shown calls
// it a change.
func shown(fp uint64, changed bool) func(*testing.T, *Presence, time.Time) []Effect {
	return func(t *testing.T, p *Presence, now time.Time) []Effect {
		if got := p.Shown(now, fp); got != changed {
			t.Errorf("Shown(%d) = %v, want %v", fp, got, changed)
		}
		return nil
	}
}

func upsert(c h3.Cell, seq uint64) Effect { return Effect{Op: OpUpsert, Cell: c, Seq: seq} }
func remove(c h3.Cell) Effect             { return Effect{Op: OpRemove, Cell: c} }
func watch(from, to h3.Cell) Effect {
	e := Effect{Op: OpWatch}
	if from != 0 {
		e.Old = coverOf(from)
	}
	if to != 0 {
		e.Cover = coverOf(to)
	}
	return e
}
func arm(tm Timer, at time.Duration) Effect { return Effect{Op: OpArm, Timer: tm, At: presT0.Add(at)} }

// online is the usual start: a socket, then a first location in cell A,
// acknowledged.
var online = []presStep{
	{name: "socket opens", do: attach(1), want: []Effect{{Op: OpOnline}}},
	{name: "first location", do: locate(1.5), want: []Effect{arm(TimerStale, 2*time.Minute), upsert(cellA, 1), watch(0, cellA)}, live: &yes},
	{name: "cell A answers", do: upserted(cellA, 1, false)},
}

func TestPresence(t *testing.T) {
	tests := []struct {
		name  string
		steps []presStep
		idle  bool          // Idle() at the end
		pace  time.Duration // what PresenceConfig.Pace answers, when set
	}{
		{name: "a location without a socket is not live", steps: []presStep{
			{do: locate(1.5), want: []Effect{arm(TimerStale, 2*time.Minute)}, live: &no},
			{name: "socket opens", at: time.Second, do: attach(1), want: []Effect{{Op: OpOnline}, upsert(cellA, 1), watch(0, cellA)}, live: &yes},
		}},
		{name: "first location", steps: online},
		{name: "move within a cell rewrites the entry in place", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: locate(1.7), want: []Effect{upsert(cellA, 2)}},
			presStep{at: 5 * time.Second, do: upserted(cellA, 2, false)},
		)},
		{name: "move across cells: the old cell is cleared once the new one answers", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: locate(2.5), want: []Effect{upsert(cellB, 2), watch(cellA, cellB)}},
			presStep{at: 5 * time.Second, do: upserted(cellB, 2, false), want: []Effect{remove(cellA)}},
			presStep{at: 5 * time.Second, do: removed(cellA, false)},
			presStep{name: "back to A", at: 6 * time.Second, do: locate(1.5), want: []Effect{upsert(cellA, 3), watch(cellB, cellA)}},
			presStep{at: 6 * time.Second, do: upserted(cellA, 3, false), want: []Effect{remove(cellB)}},
		)},
		{name: "two moves before an answer: only the newest answer clears", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: locate(2.5), want: []Effect{upsert(cellB, 2), watch(cellA, cellB)}},
			presStep{at: 6 * time.Second, do: locate(3.5), want: []Effect{upsert(cellC, 3), watch(cellB, cellC)}},
			presStep{name: "stale answer", at: 6 * time.Second, do: upserted(cellB, 2, false)},
			presStep{at: 6 * time.Second, do: upserted(cellC, 3, false), want: []Effect{remove(cellA), remove(cellB)}},
		)},
		{name: "a failed upsert keeps the old entry and is retried", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: locate(2.5), want: []Effect{upsert(cellB, 2), watch(cellA, cellB)}},
			presStep{name: "cell B times out", at: 10 * time.Second, do: upserted(cellB, 2, true), want: []Effect{arm(TimerRetry, 11*time.Second)}},
			presStep{at: 11 * time.Second, do: fired(TimerRetry), want: []Effect{upsert(cellB, 3)}},
			presStep{at: 11 * time.Second, do: upserted(cellB, 3, false), want: []Effect{remove(cellA)}},
		)},
		{name: "a failed upsert is retried by the next update too", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: upserted(cellA, 2, true)}, // stale seq: ignored
			presStep{at: 5 * time.Second, do: locate(1.6), want: []Effect{upsert(cellA, 2)}},
			presStep{at: 6 * time.Second, do: upserted(cellA, 2, true), want: []Effect{arm(TimerRetry, 7*time.Second)}},
			presStep{at: 6500 * time.Millisecond, do: locate(1.6), want: []Effect{upsert(cellA, 3)}},
			presStep{at: 6500 * time.Millisecond, do: upserted(cellA, 3, false)},
			presStep{name: "nothing left to retry", at: 7 * time.Second, do: fired(TimerRetry)},
		)},
		{name: "a failed remove is retried", steps: append(online[:3:3],
			presStep{at: 5 * time.Second, do: hide(true), want: []Effect{remove(cellA)}, live: &yes},
			presStep{at: 5 * time.Second, do: removed(cellA, true), want: []Effect{arm(TimerRetry, 6*time.Second)}},
			presStep{at: 6 * time.Second, do: fired(TimerRetry), want: []Effect{remove(cellA)}},
			presStep{at: 6 * time.Second, do: removed(cellA, false)},
		)},
		{name: "hide and show", steps: append(online[:3:3],
			presStep{name: "hide", at: 5 * time.Second, do: hide(true), want: []Effect{remove(cellA)}, live: &yes},
			presStep{at: 5 * time.Second, do: removed(cellA, false)},
			presStep{name: "a hidden user moves: it still watches", at: 6 * time.Second, do: locate(2.5), want: []Effect{watch(cellA, cellB)}},
			presStep{name: "show", at: 7 * time.Second, do: hide(false), want: []Effect{upsert(cellB, 2)}},
			presStep{at: 7 * time.Second, do: upserted(cellB, 2, false)},
		)},
		{name: "hide while the first write is in flight", steps: []presStep{
			{do: attach(1), want: []Effect{{Op: OpOnline}}},
			{do: locate(1.5), want: []Effect{arm(TimerStale, 2*time.Minute), upsert(cellA, 1), watch(0, cellA)}},
			{do: hide(true), want: []Effect{remove(cellA)}},
			{do: upserted(cellA, 1, false)},
			{do: removed(cellA, false)},
		}},
		{name: "the last socket leaves and the grace runs out", idle: true, steps: append(online[:3:3],
			presStep{name: "another socket", at: time.Second, do: attach(2)},
			presStep{name: "one of two closes", at: 5 * time.Second, do: detach(1)},
			presStep{name: "the last closes", at: 10 * time.Second, do: detach(0), want: []Effect{arm(TimerGrace, 40*time.Second)}, live: &yes},
			presStep{at: 40 * time.Second, do: fired(TimerGrace), want: []Effect{{Op: OpOffline}, remove(cellA), watch(cellA, 0)}, live: &no},
			presStep{at: 40 * time.Second, do: removed(cellA, false)},
		)},
		{name: "a grace timer fires early after a second disconnect", steps: append(online[:3:3],
			presStep{at: 10 * time.Second, do: detach(0), want: []Effect{arm(TimerGrace, 40*time.Second)}},
			presStep{at: 20 * time.Second, do: attach(1)},
			presStep{at: 30 * time.Second, do: detach(0)}, // grace now ends at 60 s; the pending timer re-arms
			presStep{at: 40 * time.Second, do: fired(TimerGrace), want: []Effect{arm(TimerGrace, 60*time.Second)}, live: &yes},
			presStep{at: 60 * time.Second, do: fired(TimerGrace), want: []Effect{{Op: OpOffline}, remove(cellA), watch(cellA, 0)}, live: &no},
		)},
		{name: "reconnect within the grace", steps: append(online[:3:3],
			presStep{at: 10 * time.Second, do: detach(0), want: []Effect{arm(TimerGrace, 40*time.Second)}},
			presStep{at: 20 * time.Second, do: attach(1), live: &yes},
			presStep{at: 40 * time.Second, do: fired(TimerGrace), live: &yes},
		)},
		{name: "reconnect after the grace with a fresh location: live again", steps: append(online[:3:3],
			presStep{at: 10 * time.Second, do: detach(0), want: []Effect{arm(TimerGrace, 40*time.Second)}},
			presStep{at: 40 * time.Second, do: fired(TimerGrace), want: []Effect{{Op: OpOffline}, remove(cellA), watch(cellA, 0)}},
			presStep{at: 40 * time.Second, do: removed(cellA, false)},
			presStep{at: 50 * time.Second, do: attach(1), want: []Effect{{Op: OpOnline}, upsert(cellA, 2), watch(0, cellA)}, live: &yes},
		)},
		{name: "no grace configured", steps: []presStep{
			{do: func(_ *testing.T, p *Presence, now time.Time) []Effect {
				p.cfg.ReconnectGrace = 0
				return p.Attached(now, 1)
			}, want: []Effect{{Op: OpOnline}}},
			{do: locate(1.5), want: []Effect{arm(TimerStale, 2*time.Minute), upsert(cellA, 1), watch(0, cellA)}},
			{do: upserted(cellA, 1, false)},
			{at: time.Second, do: detach(0), want: []Effect{{Op: OpOffline}, remove(cellA), watch(cellA, 0)}, live: &no},
		}},
		{name: "a stale location takes the user off the radar", steps: append(online[:3:3],
			presStep{at: 2 * time.Minute, do: fired(TimerStale), want: []Effect{remove(cellA), watch(cellA, 0)}, live: &no},
			presStep{at: 2 * time.Minute, do: removed(cellA, false)},
			presStep{name: "a fresh location brings it back", at: 3 * time.Minute, do: locate(1.5),
				want: []Effect{arm(TimerStale, 5*time.Minute), upsert(cellA, 2), watch(0, cellA)}, live: &yes},
		)},
		{name: "the stale timer re-arms for a later location", steps: append(online[:3:3],
			presStep{at: time.Minute, do: locate(1.5), want: []Effect{upsert(cellA, 2)}},
			presStep{at: 2 * time.Minute, do: fired(TimerStale), want: []Effect{arm(TimerStale, 3*time.Minute)}, live: &yes},
			presStep{at: 3*time.Minute - time.Nanosecond, live: &yes},
			presStep{at: 3 * time.Minute, live: &no},
		)},
		{name: "a profile change rewrites a placed entry only", steps: append(online[:3:3],
			presStep{at: time.Second, do: entryChanged, want: []Effect{upsert(cellA, 2)}},
			presStep{at: time.Second, do: hide(true), want: []Effect{remove(cellA)}},
			presStep{at: 2 * time.Second, do: entryChanged},
		)},
		{name: "pushes are coalesced to one per interval, and only changes are pushed", steps: append(online[:3:3],
			presStep{name: "answer to the location", do: shown(7, true)},
			presStep{name: "a neighbour moves", at: 500 * time.Millisecond, do: wake, want: []Effect{arm(TimerPush, 2*time.Second)}},
			presStep{name: "another moves", at: time.Second, do: wake},
			presStep{at: 2 * time.Second, do: fired(TimerPush), want: []Effect{{Op: OpPush}}},
			presStep{at: 2 * time.Second, do: shown(8, true)},
			presStep{name: "long after: at once", at: 10 * time.Second, do: wake, want: []Effect{arm(TimerPush, 10*time.Second)}},
			presStep{at: 10 * time.Second, do: fired(TimerPush), want: []Effect{{Op: OpPush}}},
			presStep{name: "same view", at: 10 * time.Second, do: shown(8, false)},
		)},
		{name: "no push for a user not watching", steps: append(online[:3:3],
			presStep{at: time.Second, do: detach(0), want: []Effect{arm(TimerGrace, 31*time.Second)}},
			presStep{name: "still watching in the grace", at: 2 * time.Second, do: wake, want: []Effect{arm(TimerPush, 2*time.Second)}},
			presStep{at: 31 * time.Second, do: fired(TimerGrace), want: []Effect{{Op: OpOffline}, remove(cellA), watch(cellA, 0)}},
			presStep{name: "a push due after the grace", at: 31 * time.Second, do: fired(TimerPush)},
			presStep{at: 32 * time.Second, do: wake},
		)},
		{name: "a stretched pace spaces pushes further apart", pace: 6 * time.Second, steps: append(online[:3:3],
			presStep{name: "answer to the location", do: shown(7, true)},
			presStep{name: "a neighbour moves", at: 500 * time.Millisecond, do: wake, want: []Effect{arm(TimerPush, 6*time.Second)}},
			presStep{at: 6 * time.Second, do: fired(TimerPush), want: []Effect{{Op: OpPush}}},
		)},
		{name: "a pace of zero falls back to the radar interval", pace: -1, steps: append(online[:3:3],
			presStep{name: "answer to the location", do: shown(7, true)},
			presStep{name: "a neighbour moves", at: 500 * time.Millisecond, do: wake, want: []Effect{arm(TimerPush, 2*time.Second)}},
		)},
		{name: "a deleted account leaves for good", steps: append(online[:3:3],
			presStep{at: time.Second, do: deleted, want: []Effect{remove(cellA), watch(cellA, 0)}, live: &no},
			presStep{at: 2 * time.Second, do: attach(1), live: &no},
		)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := presCfg
			if tt.pace != 0 {
				pace := max(tt.pace, 0)
				cfg.Pace = func() time.Duration { return pace }
			}
			p := NewPresence(cfg, lineGeo{}, false)
			for i, s := range tt.steps {
				now := presT0.Add(s.at)
				var got []Effect
				if s.do != nil {
					got = s.do(t, &p, now)
				}
				if len(got) == 0 && len(s.want) == 0 {
					got, s.want = nil, nil
				}
				if !reflect.DeepEqual(got, s.want) {
					t.Fatalf("step %d (%s) at +%v:\n got %+v\nwant %+v", i, s.name, s.at, got, s.want)
				}
				if s.live != nil && p.Live(now) != *s.live {
					t.Fatalf("step %d (%s) at +%v: Live = %v, want %v", i, s.name, s.at, !*s.live, *s.live)
				}
			}
			if p.Idle() != tt.idle {
				t.Errorf("Idle() = %v at the end, want %v", p.Idle(), tt.idle)
			}
		})
	}
}
