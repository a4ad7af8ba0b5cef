package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// BenchmarkProximityHeartbeats measures proximity.heartbeat through the
// Proximity grains, in-process, with every pair in an active run: token
// check, RSSI and plausibility checks (the users' locations are asked of
// their grains and cached), accrual, milestones and the snapshots the runs
// cause. It also reports the heap each active pair costs.
//
// The clock runs 60× so that 5 simulated seconds of snapshot interval pass
// every 83 ms: with heartbeats about every 2 simulated seconds per phone,
// snapshots come at the rate a real deployment sees per heartbeat. Tokens
// live a simulated day so the benchmark needs no socket to follow rotations.
func BenchmarkProximityHeartbeats(b *testing.B) {
	pairs := benchUsers(2000)
	srv := servertest.Start(b, func(c *config.Config) {
		c.ClockSpeed = 60
		c.BLETokenTTL, c.BLETokenRotateBefore = 24*time.Hour, time.Hour
	})
	ctx := context.Background()
	node := srv.Node

	type side struct{ user, conn, partnerToken string }
	users := make([]string, 2*pairs)
	conns := make([]string, pairs)
	parallel(16, pairs, func(i int) {
		a, c := fmt.Sprintf("user_pa%06d", i), fmt.Sprintf("user_pb%06d", i)
		users[2*i], users[2*i+1] = a, c
		conns[i] = fmt.Sprintf("conn_bench%06d", i)
		p := &storage.Pair{ID: storage.PairID(a, c), UserA: a, UserB: c, Connections: []storage.Connection{{
			ID: conns[i], SenderID: a, ReceiverID: c, Status: "accepted", CreatedAt: time.Now(), AcceptedAt: time.Now(),
		}}}
		if err := srv.Store.Pairs().Save(ctx, p); err != nil {
			b.Error(err)
		}
	})
	// User grains answer the plausibility check; wake them before measuring
	// so the heap difference is the proximity state alone.
	parallel(16, len(users), func(i int) {
		if _, err := cluster.Call[*grainpb.LocationReply](ctx, node, cluster.KindUser, users[i], &grainpb.GetLocation{}); err != nil {
			b.Error(err)
		}
	})

	ask := func(conn string, cmd proto.Message) []byte {
		rep, err := cluster.Call[*grainpb.ProximityReply](ctx, node, cluster.KindProximity, conn, cmd)
		if err != nil {
			b.Fatal(err)
		}
		if err := rep.Failure.Err(); err != nil {
			b.Fatalf("%T %s: %v", cmd, conn, err)
		}
		return rep.PayloadJson
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	sides := make([]side, 2*pairs)
	parallel(16, pairs, func(i int) {
		a, c := users[2*i], users[2*i+1]
		var ta, tc struct{ Token string }
		_ = json.Unmarshal(ask(conns[i], &grainpb.ProximityIssueToken{ActorId: a}), &ta)
		_ = json.Unmarshal(ask(conns[i], &grainpb.ProximityIssueToken{ActorId: c}), &tc)
		ask(conns[i], &grainpb.ProximityStart{ActorId: a, Token: tc.Token, Rssi: -60})
		ask(conns[i], &grainpb.ProximityStart{ActorId: c, Token: ta.Token, Rssi: -60})
		sides[2*i], sides[2*i+1] = side{a, conns[i], tc.Token}, side{c, conns[i], ta.Token}
	})
	perPair := float64(heap()-before) / float64(pairs)

	// Four callers, each cycling over its quarter of the phones; a phone
	// is never asked twice within 20 ms (1.2 simulated seconds), so the
	// per-second heartbeat limit does not turn the run into rejections.
	const workers = 4
	var next atomic.Int64
	var okN, limited, other atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			mine := sides[w*len(sides)/workers : (w+1)*len(sides)/workers]
			last := make([]time.Time, len(mine))
			for j := 0; next.Add(1) <= int64(b.N); j = (j + 1) % len(mine) {
				if d := 20*time.Millisecond - time.Since(last[j]); d > 0 {
					time.Sleep(d)
				}
				last[j] = time.Now()
				s := mine[j]
				rep, err := cluster.Call[*grainpb.ProximityReply](ctx, node, cluster.KindProximity, s.conn,
					&grainpb.ProximityHeartbeat{ActorId: s.user, Token: s.partnerToken, Rssi: -60})
				switch {
				case err != nil:
					other.Add(1)
				case rep.Failure == nil:
					okN.Add(1)
				case rep.Failure.Code == "rate_limited":
					limited.Add(1)
				default:
					other.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "heartbeats/s")
	b.ReportMetric(perPair, "heap-B/active-pair")
	b.ReportMetric(float64(okN.Load())/float64(b.N)*100, "%ok")
	if other.Load() > 0 {
		b.Errorf("%d heartbeats failed (and %d rate limited)", other.Load(), limited.Load())
	}
}
