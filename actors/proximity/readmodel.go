package proximity

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// maxBootstrapConnections bounds the connections bootstrap considers for
// the proximitySession (the most recently accepted first).
const maxBootstrapConnections = 32

// Views renders proximity inside other features' answers: the bootstrap's
// proximitySession and the together-time of Connection views. They read
// the stored snapshots, which every node sees, so listing a hundred
// connections wakes no grain and works the same on one node or many.
type Views struct {
	Store  storage.Store
	Clock  clock.Clock
	Config Config
	Logger *slog.Logger
}

// snapshot reads a connection's snapshot; nil when it never had one or it
// cannot be read (logged).
func (v *Views) snapshot(ctx context.Context, id string) *Persisted {
	ps, _, err := snapshot(ctx, v.Store, id)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		v.Logger.Warn("proximity: read snapshot", "connection", id, "err", err)
	}
	return ps
}

// Progress returns a connection's together-time for viewer: accumulated
// minutes and the next milestone (nil once all are reached, or when the
// connection is closed). It reads the snapshot only, never a grain: the
// connection lists call it for every connection. An active run's snapshot
// is at most a snapshot interval old (5 s by default); rather than show
// that lag, the time since the snapshot is added up to where both sides
// had been seen (at most the heartbeat timeout past it), which the grain
// counts too unless a side ends the run, and an end writes a snapshot at
// once. A failed read degrades to zero: a connection list is worth more
// than its counters.
func (v *Views) Progress(ctx context.Context, c *storage.Connection, viewer string) (int, *int) {
	ps := v.snapshot(ctx, c.ID)
	if ps == nil {
		ps = &Persisted{}
	}
	if c.Status == "closed" {
		return int(ps.Accumulated / time.Minute), nil
	}
	acc := ps.Extrapolated(v.Clock.Now())
	// The grain unlocks every milestone the total crossed; the view does
	// the same so it never names a milestone already behind the total.
	for _, m := range v.Config.withDefaults().Milestones {
		if !slices.Contains(ps.Milestones, m) && acc < time.Duration(m)*time.Minute {
			return int(acc / time.Minute), &m
		}
	}
	return int(acc / time.Minute), nil
}

// Bootstrap fills proximitySession: the session of the user's active
// connection with the liveliest run (active, then paused), else the most
// recently accepted, with a BLE token issued for the user so the phone can
// advertise at once. It stays null without an active connection. It must
// run after the connections source (pair.Bootstrap), which lists them.
//
// Only the grains whose snapshot says a run may be going are asked for
// their live status, all at once; the choice is made when the last one
// answered, and one more ask issues the token. No ask waits: each answer
// arrives as a session continuation.
func (v *Views) Bootstrap() session.BootstrapSource {
	return func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		v.bootstrap(c, b, done)
	}
}

func (v *Views) bootstrap(c *session.Context, b *protocol.Bootstrap, done func(error)) {
	conns := b.ActiveConnectionIDs
	if conns == nil {
		// The connections source fills this (even when empty); nil means
		// the sources were listed in the wrong order.
		done(errors.New("proximity: bootstrap ran before the connections source"))
		return
	}
	if len(conns) == 0 {
		done(nil)
		return
	}
	conns = conns[:min(len(conns), maxBootstrapConnections)]
	var live []int
	for i, id := range conns {
		if ps := v.snapshot(c.Ctx, id); ps != nil && ps.LiveAt(c.Now) != "" {
			live = append(live, i)
		}
	}
	if len(live) == 0 {
		v.issue(c, b, conns[0], done)
		return
	}
	ranks := make([]int, len(conns))
	left := len(live)
	for _, i := range live {
		id := conns[i]
		session.Ask(c, cluster.KindProximity, id, &grainpb.ProximityGetSession{ActorId: c.UserID}, func(rep *grainpb.ProximityReply, err error) {
			if err == nil {
				err = rep.Failure.Err()
			}
			if err != nil {
				v.Logger.Warn("proximity: bootstrap session", "connection", id, "err", err)
			} else {
				ranks[i] = rank(rep.RunStatus)
			}
			if left--; left == 0 {
				v.issue(c, b, conns[choose(ranks)], done)
			}
		})
	}
}

// issue asks the chosen connection's grain for its session with a token
// issued for the user. Together-time is not worth failing the whole
// bootstrap over: a failure leaves proximitySession null.
func (v *Views) issue(c *session.Context, b *protocol.Bootstrap, id string, done func(error)) {
	session.Ask(c, cluster.KindProximity, id, &grainpb.ProximityGetSession{ActorId: c.UserID, IssueToken: true}, func(rep *grainpb.ProximityReply, err error) {
		if err == nil {
			err = rep.Failure.Err()
		}
		if err != nil {
			v.Logger.Warn("proximity: bootstrap session", "connection", id, "err", err)
		} else {
			b.ProximitySession = rep.PayloadJson
		}
		done(nil)
	})
}

// rank orders run statuses for bootstrap: active, then paused.
func rank(status string) int {
	switch status {
	case StatusActive:
		return 2
	case StatusPaused:
		return 1
	}
	return 0
}

// choose returns the index of the best rank; ties keep the earliest, the
// most recently accepted connection.
func choose(ranks []int) int {
	best := 0
	for i, r := range ranks {
		if r > ranks[best] {
			best = i
		}
	}
	return best
}
