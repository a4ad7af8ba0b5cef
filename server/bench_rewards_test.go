package server_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

func looseSockets(c *config.Config) { c.WSRate, c.WSBurst = 1e6, 1e6 }

// grantedTotal sums the granted counters of campaigns, as the operator
// sees them.
func grantedTotal(b *testing.B, srv *servertest.Server, camps []string) int {
	total := 0
	for _, id := range camps {
		res := srv.Do(http.MethodGet, "/admin/campaigns/"+id, testAdminToken, nil)
		if res.Status != http.StatusOK {
			b.Fatalf("campaign %s: %d %s", id, res.Status, res.Body)
		}
		total += int(res.JSON(b)["granted"].(float64))
	}
	return total
}

// commitWaits reads the store's commit histogram: per operation, the
// calls made and the seconds they waited (group commit and fsync included).
func commitWaits(b *testing.B, srv *servertest.Server) map[string][2]float64 {
	mfs, err := srv.Metrics.Registry.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string][2]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "gisbi_store_commit_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "op" {
					h := m.GetHistogram()
					out[l.GetValue()] = [2]float64{float64(h.GetSampleCount()), h.GetSampleSum()}
				}
			}
		}
	}
	return out
}

func percentileMs(sorted []time.Duration, q float64) float64 {
	return float64(sorted[int(q*float64(len(sorted)-1))].Microseconds()) / 1000
}

// BenchmarkRewardGrants: 1,000 pairs accept at once while 5
// connectionAccepted campaigns (unlimited stock) are live, so each accept
// grants 5 gifts: the Pair grain's outbox entry and direct hand-over, the
// Rewards grain's campaign read, an expiry reminder and a Grant
// transaction per campaign, and a gift.sponsored.granted to both users.
//
// 2,000 users with a socket each are set up once; one iteration is one
// wave of 1,000 fresh pairs (user i of the left half with user i+k of the
// right half in wave k), their requests sent and answered outside the
// timed region. The timed region runs from the first accept written to the
// last of the 10,000 granted events read by the 2,000 sockets.
func BenchmarkRewardGrants(b *testing.B) {
	const pairs, campaigns = 1000, 5
	srv := servertest.Start(b, withAdmin, looseSockets)
	camps := make([]string, campaigns)
	for i := range camps {
		id, _ := brand(b, srv, fmt.Sprint("Grant Bench Brand ", i))
		camps[i] = campaign(b, srv, id, nil)
	}
	left, right := make([]member, pairs), make([]member, pairs)
	for i := range pairs {
		left[i] = joinAs(b, srv, fmt.Sprintf("grant-l%04d", i))
		right[i] = joinAs(b, srv, fmt.Sprintf("grant-r%04d", i))
	}
	waves := 0
	b.Run(fmt.Sprintf("pairs=%d/campaigns=%d", pairs, campaigns), func(b *testing.B) {
		var elapsed time.Duration
		var lastGift []time.Duration // per socket: accept written → its 5th gift read
		before := grantedTotal(b, srv, camps)
		waitsBefore := commitWaits(b, srv)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			k := waves
			waves++
			if k >= pairs {
				b.Fatalf("only %d waves of fresh pairs", pairs)
			}
			for i := range left {
				left[i].ws.Send("connection.request.send", map[string]any{"userId": right[(i+k)%pairs].ID}, "snd")
			}
			reqs := make([]string, pairs)
			for i := range left {
				reqs[i] = left[i].ws.ExpectReply("connection.request.send", "snd").Map(b)["request"].(map[string]any)["requestId"].(string)
			}
			var wg sync.WaitGroup
			var missing atomic.Int64
			var mu sync.Mutex
			ready := make(chan struct{})
			var start time.Time
			for _, m := range append(append([]member(nil), left...), right...) {
				wg.Go(func() {
					<-ready
					for n := 0; n < campaigns; {
						f := m.ws.TryNext(60 * time.Second)
						if f == nil {
							missing.Add(int64(campaigns - n))
							return
						}
						if f.Type == "gift.sponsored.granted" && f.RequestID == "" {
							n++
						}
					}
					d := time.Since(start)
					mu.Lock()
					lastGift = append(lastGift, d)
					mu.Unlock()
				})
			}
			b.StartTimer()
			start = time.Now()
			close(ready)
			for i := range left {
				if err := writeFrame(right[(i+k)%pairs].ws, "connection.request.accept", map[string]any{"requestId": reqs[i]}, "acc"); err != nil {
					b.Fatal(err)
				}
			}
			wg.Wait()
			elapsed += time.Since(start)
			b.StopTimer()
			if n := missing.Load(); n > 0 {
				b.Fatalf("wave %d: %d granted events never arrived", k, n)
			}
		}
		if got, want := grantedTotal(b, srv, camps)-before, pairs*campaigns*b.N; got != want {
			b.Fatalf("campaigns count %d grants, want %d", got, want)
		}
		// How the store behaved: the mean wait of a Grant and of the
		// expiry reminder set before it, and the writes each gift cost
		// (the waves' request sends included).
		waits, writes := commitWaits(b, srv), 0.0
		for op, w := range waits {
			n, sum := w[0]-waitsBefore[op][0], w[1]-waitsBefore[op][1]
			writes += n
			switch op {
			case "rewards.grant":
				b.ReportMetric(sum/n*1000, "grant-wait-ms")
			case "reminders.set":
				b.ReportMetric(sum/n*1000, "reminder-wait-ms")
			}
		}
		b.ReportMetric(writes/float64(pairs*campaigns*b.N), "writes/gift")
		sort.Slice(lastGift, func(i, j int) bool { return lastGift[i] < lastGift[j] })
		b.ReportMetric(float64(pairs*campaigns*b.N)/elapsed.Seconds(), "grants/s")
		b.ReportMetric(percentileMs(lastGift, 0.5), "p50-ms")
		b.ReportMetric(percentileMs(lastGift, 0.99), "p99-ms")
	})
}

// BenchmarkGiftHistoryFetch: gift.history.fetch round trips over a socket
// for a user holding 1,000 gifts (200 partners × 5 live campaigns, each
// granted the real way, by accepting). Pages of 20: the first page, and a
// page picked at random among the 50 by its cursor.
func BenchmarkGiftHistoryFetch(b *testing.B) {
	const partners, campaigns, limit = 200, 5, 20
	srv := servertest.Start(b, withAdmin, looseSockets)
	camps := make([]string, campaigns)
	for i := range camps {
		id, _ := brand(b, srv, fmt.Sprint("History Bench Brand ", i))
		camps[i] = campaign(b, srv, id, nil)
	}
	hub := joinAs(b, srv, "gift-hub")
	for i := range partners {
		p := joinAs(b, srv, fmt.Sprintf("gift-partner-%03d", i))
		pairUp(b, hub, p)
		p.ws.Close()
	}
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for grantedTotal(b, srv, camps) < partners*campaigns || pendingGrantTriggers(ctx, b, srv.Store.Reminders()) > 0 {
		if time.Now().After(deadline) {
			b.Fatalf("granted %d of %d gifts", grantedTotal(b, srv, camps), partners*campaigns)
		}
		time.Sleep(50 * time.Millisecond)
	}
	hub.ws.Close() // a fresh socket, without the 1,000 granted events queued
	ws := hub.Dial()
	ws.Start()

	fetch := func(cursor string) map[string]any {
		p := map[string]any{"limit": limit}
		if cursor != "" {
			p["cursor"] = cursor
		}
		ws.Send("gift.history.fetch", p, "h")
		return ws.ExpectReply("gift.history.fetch", "h").Map(b)
	}
	cursors := []string{""}
	for seen := 0; ; {
		h := fetch(cursors[len(cursors)-1])
		seen += len(h["sponsoredGifts"].([]any))
		next, _ := h["nextCursor"].(string)
		if next == "" {
			if seen != partners*campaigns {
				b.Fatalf("history lists %d gifts, want %d", seen, partners*campaigns)
			}
			break
		}
		cursors = append(cursors, next)
	}

	run := func(b *testing.B, pick func() string) {
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			p := map[string]any{"limit": limit}
			if c := pick(); c != "" {
				p["cursor"] = c
			}
			t0 := time.Now()
			ws.Send("gift.history.fetch", p, "h")
			f := ws.ExpectReply("gift.history.fetch", "h")
			lat = append(lat, time.Since(t0))
			if len(f.Payload) < 1000 {
				b.Fatalf("short page: %s", f.Raw)
			}
		}
		b.StopTimer()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(percentileMs(lat, 0.5), "p50-ms")
		b.ReportMetric(percentileMs(lat, 0.99), "p99-ms")
	}
	b.Run("first-page", func(b *testing.B) { run(b, func() string { return "" }) })
	rng := rand.New(rand.NewPCG(1, 2))
	b.Run("random-page", func(b *testing.B) { run(b, func() string { return cursors[rng.IntN(len(cursors))] }) })
}
