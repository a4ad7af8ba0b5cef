package proximity

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/storage"
)

// locationTTL is how long the grain reuses a participant's GPS fix for the
// plausibility check: heartbeats come every few seconds and a phone's
// position does not move 250 m in that time, so asking the user grain on
// every heartbeat would only add latency.
const locationTTL = 5 * time.Second

type cachedLoc struct {
	at      time.Time // when the answer (a fix or none) was fetched; zero: ask at the next scan
	loc     *storage.LatLng
	pending bool // a fetch is in flight
}

// set records an answer; keepMiss says whether "no fix" is kept for
// locationTTL or asked again at the next scan.
func (l *cachedLoc) set(rep *grainpb.LocationReply, err error, now time.Time, keepMiss bool) {
	if err != nil || rep == nil || !rep.Fresh {
		l.loc, l.at = nil, time.Time{}
		if keepMiss {
			l.at = now
		}
		return
	}
	l.at, l.loc = now, &storage.LatLng{Lat: rep.Lat, Lng: rep.Lng}
}

// locations returns both participants' GPS fixes for the plausibility
// check, as last fetched. Answers are reused and refreshed in the background
// once older than locationTTL, so a scan does not wait on a User grain busy
// pushing radars; the check then runs on a fix a few seconds old.
func (g *grain) locations() *Locations {
	return &Locations{A: g.locs[0].loc, B: g.locs[1].loc}
}

// unknownFix reports whether a participant was never asked for a fix (or
// only at activation, where a miss is not kept): a scan must not be checked
// before that answer, so it waits in the queue for it.
func (g *grain) unknownFix() bool {
	return g.locs[0].at.IsZero() || g.locs[1].at.IsZero()
}

// refreshLocations starts a fetch of every stale answer, and, with first,
// of every participant never asked (whose miss is then kept, so scans do
// not wait again). At activation it fetches both so the first scans find
// fixes; a miss then is not kept, because the phones usually send their
// locations just before they start scanning. Each answer comes back through
// ReenterAfter and drains the commands that waited for it, so the mailbox
// is never held. Users never call a Proximity grain, so this cannot
// deadlock either way.
func (g *grain) refreshLocations(ctx actor.Context, now time.Time, activation, first bool) {
	for i, u := range []string{g.state.UserA, g.state.UserB} {
		l := &g.locs[i]
		never := l.at.IsZero()
		switch {
		case l.pending:
			continue
		case activation, first && never:
		case never || now.Sub(l.at) < locationTTL:
			continue
		}
		keepMiss := !activation
		l.pending = true
		cluster.Request(ctx, cluster.KindUser, u, &grainpb.GetLocation{}, g.deps.LocationTimeout, func(rep *grainpb.LocationReply, err error) {
			l.pending = false
			l.set(rep, err, g.deps.Clock.Now(), keepMiss)
			g.drain(ctx)
		})
	}
}
