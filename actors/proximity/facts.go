package proximity

import (
	"context"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/cluster/grainpb"
)

// facts answers a Rewards grain: the live together-time per day, the risk
// counters and the run's status, for a claim or a redemption.
func (g *grain) facts(ctx actor.Context, now time.Time) *grainpb.ProximityFacts {
	s := g.state
	// Advance first, so the time seen up to now is in the totals.
	if !s.Closed() {
		g.emit(ctx, s.Advance(now), now, false)
	}
	r := s.Risk()
	out := &grainpb.ProximityFacts{
		DailyMs: map[string]int64{}, TotalMs: s.Accumulated().Milliseconds(), RunStatus: s.Status(),
		LocationMismatches: int32(r.LocationMismatches), InvalidTokens: int32(r.InvalidTokens), RssiRejects: int32(r.RSSIRejects),
	}
	for k, v := range s.Daily() {
		out.DailyMs[k] = v.Milliseconds()
	}
	return out
}

// Facts reads a connection's facts from its stored snapshot, for views
// that must not wake a grain (gift history, bootstrap). An active run is
// extrapolated as Progress does; a snapshot that cannot be read gives no
// facts (the gift then shows its rule unmet, never met).
func (v *Views) Facts(ctx context.Context, connectionID string) rewards.Facts {
	ps := v.snapshot(ctx, connectionID)
	if ps == nil {
		return rewards.Facts{}
	}
	now := v.Clock.Now()
	f := rewards.Facts{
		Daily: make(map[string]time.Duration, len(ps.Daily)), Total: ps.Extrapolated(now), Status: ps.LiveAt(now),
		LocationMismatches: ps.Risk.LocationMismatches, InvalidTokens: ps.Risk.InvalidTokens, RSSIRejects: ps.Risk.RSSIRejects,
	}
	for k, d := range ps.Daily {
		f.Daily[k] = d
	}
	// The time an active run accrued since the snapshot belongs to today,
	// as the total's does, so a day's figure never trails the total.
	if extra := f.Total - ps.Accumulated; extra > 0 {
		f.Daily[now.In(v.Config.withDefaults().DayLocation).Format(time.DateOnly)] += extra
	}
	if ps.Closed {
		f.Status = StatusEnded
	}
	return f
}
