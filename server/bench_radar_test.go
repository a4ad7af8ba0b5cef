package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// city is a 20 km × 20 km box around Lagos.
const cityLat, cityLng, cityHalfDeg = 6.5244, 3.3792, 0.09

func benchUsers(def int) int {
	if n, err := strconv.Atoi(os.Getenv("GISBI_BENCH_USERS")); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkLocationUpdate measures presence.location_update through the
// grains, in-process: User grain, Cell grain upsert (and move), radar query
// over the covering cells, encoded answer. Live users are spread over the
// city, attached to a sink socket, and each watches its radar.
//
//   - answers: 100,000 users (GISBI_BENCH_USERS), radar interval 1 h, so the
//     figure is the answer path alone (no pushed updates within the run);
//   - with-pushes: 10,000 users at the default 2 s interval, so every move
//     also wakes the watchers nearby and their coalesced pushes compete for
//     the same two cores, as in production.
func BenchmarkLocationUpdate(b *testing.B) {
	b.Run("answers", func(b *testing.B) { benchLocation(b, benchUsers(100_000), time.Hour) })
	b.Run("with-pushes", func(b *testing.B) { benchLocation(b, 10_000, 2*time.Second) })
}

func benchLocation(b *testing.B, n int, interval time.Duration) {
	srv := servertest.Start(b, func(c *config.Config) { c.RadarInterval = interval })
	ctx := context.Background()
	node := srv.Node

	// One sink actor stands in for every socket: it drops frames.
	var framesOut atomic.Int64
	sink := node.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		if _, ok := c.Message().(*grainpb.SessionFrame); ok {
			framesOut.Add(1)
		}
	}))

	ids := make([]string, n)
	pos := make([][2]float64, n)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range ids {
		ids[i] = fmt.Sprintf("user_bench_%06d", i)
		pos[i] = [2]float64{cityLat + (rng.Float64()*2-1)*cityHalfDeg, cityLng + (rng.Float64()*2-1)*cityHalfDeg}
	}
	setup := time.Now()
	parallel(32, n, func(i int) {
		now := time.Now()
		if err := srv.Store.Users().Create(ctx, &storage.User{ID: ids[i], Name: ids[i], Provider: "bench", Subject: ids[i], CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Error(err)
			return
		}
		ref := &grainpb.SessionRef{SessionId: "s" + ids[i], Address: sink.Address, PidId: sink.Id, Dialect: "ws"}
		if _, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, ids[i], &grainpb.AttachSession{Session: ref}); err != nil {
			b.Error(err)
			return
		}
		if _, err := cluster.Call[*grainpb.PresenceReply](ctx, node, cluster.KindUser, ids[i], &grainpb.UpdateLocation{Lat: pos[i][0], Lng: pos[i][1]}); err != nil {
			b.Error(err)
		}
	})
	b.Logf("%d live users placed in %v", n, time.Since(setup).Round(time.Millisecond))

	var mu sync.Mutex
	var lats []time.Duration
	var nearbySum atomic.Int64
	pushesBefore := framesOut.Load()
	// Callers in flight per CPU (GISBI_BENCH_PARALLELISM, default 16: 32 on 2
	// cores, enough to saturate). With 1, latency is measured below saturation.
	par := 16
	if v, err := strconv.Atoi(os.Getenv("GISBI_BENCH_PARALLELISM")); err == nil && v > 0 {
		par = v
	}
	b.SetParallelism(par)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			i := r.IntN(n)
			// A walker's step: up to ~10 m.
			lat := pos[i][0] + (r.Float64()*2-1)*0.0001
			lng := pos[i][1] + (r.Float64()*2-1)*0.0001
			t0 := time.Now()
			rep, err := cluster.Call[*grainpb.PresenceReply](ctx, node, cluster.KindUser, ids[i], &grainpb.UpdateLocation{Lat: lat, Lng: lng})
			local = append(local, time.Since(t0))
			if err != nil || rep.Failure != nil {
				b.Errorf("update: %v %v", err, rep.GetFailure())
				return
			}
			nearbySum.Add(int64(len(rep.NearbyFrame)))
		}
		mu.Lock()
		lats = append(lats, local...)
		mu.Unlock()
	})
	b.StopTimer()
	reportPercentiles(b, lats)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
	b.ReportMetric(float64(nearbySum.Load())/float64(b.N), "answer-bytes")
	b.ReportMetric(float64(framesOut.Load()-pushesBefore)/b.Elapsed().Seconds(), "pushes/s")
}

func parallel(workers, n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
