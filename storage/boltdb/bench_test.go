package boltdb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

func openBench(b *testing.B) *boltdb.Store {
	b.Helper()
	s, err := boltdb.Open(filepath.Join(b.TempDir(), "bench.db"), boltdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func benchUser(id string) *storage.User {
	now := time.Now()
	return &storage.User{ID: id, Name: id, Provider: "dev", Subject: id, CreatedAt: now, UpdatedAt: now}
}

// BenchmarkUserPut is one writer updating its profile: every Put waits for
// its own commit, so ns/op is the latency floor of an acknowledged write
// (one commit and its fsyncs), not throughput.
func BenchmarkUserPut(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	u := benchUser("u1")
	if err := s.Users().Create(ctx, u); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		i++
		u.Name = fmt.Sprint("name ", i)
		if err := s.Users().Put(ctx, u); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParallelBatchWrites is many sessions writing at once, the case
// group commit is for: ns/op falls as writers share fsyncs.
func BenchmarkParallelBatchWrites(b *testing.B) {
	for _, p := range []int{1, 16, 128} {
		benchParallel(b, p)
	}
}

func benchParallel(b *testing.B, p int) {
	b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
		s := openBench(b)
		ctx := b.Context()
		var next atomic.Int64
		b.SetParallelism(p)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				n := next.Add(1)
				id := fmt.Sprint("u", n)
				var err error
				switch n % 3 {
				case 0:
					err = s.Users().Create(ctx, benchUser(id))
				case 1:
					err = s.Safety().Block(ctx, storage.Block{BlockerID: id, BlockedID: "x", CreatedAt: time.Now()})
				default:
					err = s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: id, Name: "n", DueAt: time.Now().Add(time.Minute)})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
	})
}

// benchPair is a pair with some history: n requests between a and b, every
// other one accepted as a connection.
func benchPair(a, b string, n int) *storage.Pair {
	now := time.Now()
	p := &storage.Pair{ID: storage.PairID(a, b), UserA: a, UserB: b}
	for i := range n {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		r := storage.Request{
			ID: fmt.Sprintf("req_%s_%s_%d", a, b, i), FromUserID: from, ToUserID: to,
			Status: "pending", LegacyStatus: "pending", CreatedAt: now, ExpiresAt: now.Add(time.Hour),
		}
		if i%2 == 0 {
			r.Status, r.LegacyStatus, r.ResolvedAt = "accepted", "accepted", &now
			r.ConnectionID = fmt.Sprintf("conn_%s_%s_%d", a, b, i)
			p.Connections = append(p.Connections, storage.Connection{
				ID: r.ConnectionID, RequestID: r.ID, SenderID: from, ReceiverID: to,
				Status: "closed", CreatedAt: now, AcceptedAt: now, ClosedAt: &now,
				ConnectedLocation: &storage.LatLng{Lat: 52.52, Lng: 13.40},
			})
		}
		p.Requests = append(p.Requests, r)
	}
	return p
}

// BenchmarkPairSave is the Pair grain persisting after each event.
//
//   - resave: one pair with 10 requests and 5 connections re-saved with a
//     changed status, the common case: every index entry is already there.
//   - new: a first request accepted between two new users, so the record and
//     all five index entries are written.
//   - parallel: many grains saving new pairs at once, sharing group commits.
//
// Serial ns/op is the latency of an acknowledged Save (one commit and its fsyncs).
func BenchmarkPairSave(b *testing.B) {
	b.Run("resave", func(b *testing.B) {
		s := openBench(b)
		ctx := b.Context()
		p := benchPair("alice", "bob", 10)
		if err := s.Pairs().Save(ctx, p); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			i++
			p.Requests[9].Status = fmt.Sprint("status ", i)
			if err := s.Pairs().Save(ctx, p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new", func(b *testing.B) {
		s := openBench(b)
		ctx := b.Context()
		i := 0
		for b.Loop() {
			i++
			if err := s.Pairs().Save(ctx, benchPair("hub", fmt.Sprint("u", i), 1)); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel/goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
			s := openBench(b)
			ctx := b.Context()
			var next atomic.Int64
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					if err := s.Pairs().Save(ctx, benchPair(fmt.Sprint("u", n), fmt.Sprint("v", n%100), 4)); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

func benchMessage(from, to string, seq uint64, created time.Time) *storage.Message {
	pair := storage.PairID(from, to)
	return &storage.Message{
		ID: fmt.Sprintf("msg_%s_%d", pair, seq), PairID: pair, Seq: seq,
		SenderID: from, RecipientID: to, CreatedAt: created,
		Content: "on my way, see you at the fountain in five minutes",
	}
}

// BenchmarkMessageAppend is the Pair grain persisting a chat message: the
// record, its id and inbox entries and both users' summaries, in one write.
//
//   - serial: one conversation, one message after the other; ns/op is the
//     latency of an acknowledged Append (one commit and its fsyncs).
//   - parallel: one conversation per goroutine (as with grains), all sharing
//     group commits; every pair has the hub user, so all writers touch its
//     conversations and inbox.
func BenchmarkMessageAppend(b *testing.B) {
	b.Run("serial", func(b *testing.B) {
		s := openBench(b)
		ctx := b.Context()
		now := time.Now()
		var seq uint64
		for b.Loop() {
			seq++
			from, to := "alice", "bob"
			if seq%2 == 0 {
				from, to = to, from
			}
			if err := s.Messages().Append(ctx, benchMessage(from, to, seq, now.Add(time.Duration(seq)))); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel/goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
			s := openBench(b)
			ctx := b.Context()
			now := time.Now()
			var next atomic.Int64
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				u := fmt.Sprint("u", next.Add(1))
				var seq uint64
				for pb.Next() {
					seq++
					from, to := u, "hub"
					if seq%2 == 0 {
						from, to = to, from
					}
					if err := s.Messages().Append(ctx, benchMessage(from, to, seq, now.Add(time.Duration(seq)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

// BenchmarkChatWrites is the chat benchmark's store load without the
// sockets: 100 pairs of distinct users, each with one writer appending
// batches of 1, 4 or 8 messages (a Pair grain's hand-over grows with the
// load). It reports how many messages share a commit and the pages each
// message costs its commit: the fsyncs wait for those pages.
func BenchmarkChatWrites(b *testing.B) {
	const pairs = 100
	for _, batch := range []int64{1, 4, 8} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s := openBench(b)
			ctx := b.Context()
			now := time.Now()
			var next, appended atomic.Int64
			before := s.WriterStats()
			b.ResetTimer()
			var wg sync.WaitGroup
			for i := range pairs {
				wg.Go(func() {
					from, to := fmt.Sprint("a", i), fmt.Sprint("b", i)
					var seq uint64
					for next.Add(1)*batch <= int64(b.N)+batch-1 {
						ms := make([]*storage.Message, batch)
						for j := range ms {
							seq++
							ms[j] = benchMessage(from, to, seq, now.Add(time.Duration(seq)))
						}
						if err := s.Messages().AppendBatch(ctx, ms); err != nil {
							b.Error(err)
							return
						}
						appended.Add(batch)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			after := s.WriterStats()
			n := float64(appended.Load())
			b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
			if commits := after.Commits - before.Commits; commits > 0 {
				b.ReportMetric(n/float64(commits), "msgs/commit")
			}
			b.ReportMetric(float64(after.PagesWritten-before.PagesWritten)/n, "pages/msg")
		})
	}
}

// BenchmarkMixedWrites is the server's other durable writers beside chat,
// all at once: 32 pairs appending batches of 4 messages, and 32 writers
// each of proximity snapshots (1 KiB), reminders and daily scores. ns/op
// is per write of any kind; each kind reports its own rate.
func BenchmarkMixedWrites(b *testing.B) {
	const perKind = 32
	s := openBench(b)
	ctx := b.Context()
	now := time.Now()
	blob := []byte(strings.Repeat("x", 1024))
	kinds := []struct {
		name  string
		write func(w int, i int64) (int64, error) // returns writes done
	}{
		{"msgs", func(w int, i int64) (int64, error) {
			ms := make([]*storage.Message, 4)
			for j := range ms {
				seq := uint64(i*4) + uint64(j) + 1
				ms[j] = benchMessage(fmt.Sprint("a", w), fmt.Sprint("b", w), seq, now.Add(time.Duration(seq)))
			}
			return 4, s.Messages().AppendBatch(ctx, ms)
		}},
		{"snapshots", func(w int, i int64) (int64, error) {
			// Each worker is its key's only writer, so its i-th write is from version i.
			return 1, s.Snapshots().Put(ctx, &storage.Snapshot{Kind: "proximity", ID: fmt.Sprint("conn_", w), Data: blob, Version: uint64(i)})
		}},
		{"reminders", func(w int, i int64) (int64, error) {
			return 1, s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: fmt.Sprint("id", w), Name: "n", DueAt: now.Add(time.Duration(i) * time.Second)})
		}},
		{"scores", func(w int, i int64) (int64, error) {
			return 1, s.Scores().Put(ctx, &storage.ScoreDay{UserID: fmt.Sprint("u", w), Date: now, Counts: map[string]int{"send-dm": int(i)}, UpdatedAt: now, Version: uint64(i)})
		}},
	}
	var next atomic.Int64
	done := make([]atomic.Int64, len(kinds))
	b.ResetTimer()
	var wg sync.WaitGroup
	for k, kind := range kinds {
		for w := range perKind {
			wg.Go(func() {
				for i := int64(0); next.Add(1) <= int64(b.N); i++ {
					n, err := kind.write(w, i)
					if err != nil {
						b.Error(err)
						return
					}
					done[k].Add(n)
				}
			})
		}
	}
	wg.Wait()
	b.StopTimer()
	for k, kind := range kinds {
		b.ReportMetric(float64(done[k].Load())/b.Elapsed().Seconds(), kind.name+"/s")
	}
}

// BenchmarkMessageReads is the read side over a user with 100
// conversations of 20 messages each: the conversation list (one summary
// scan plus 100 last messages, then a sort), a page of 50 and an inbox
// replay of 100.
func BenchmarkMessageReads(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	now := time.Now()
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			u := fmt.Sprintf("u%03d", i)
			for seq := uint64(1); seq <= 20; seq++ {
				from, to := u, "hub"
				if seq%4 == 0 {
					from, to = to, from
				}
				if err := s.Messages().Append(ctx, benchMessage(from, to, seq, now.Add(time.Duration(i)*time.Second+time.Duration(seq)))); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.Run("conversations", func(b *testing.B) {
		for b.Loop() {
			if cs, err := s.Messages().Conversations(ctx, "hub", 20); err != nil || len(cs) != 20 {
				b.Fatal(len(cs), err)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		for b.Loop() {
			if ms, err := s.Messages().Page(ctx, storage.PairID("hub", "u050"), 0, 50); err != nil || len(ms) != 20 {
				b.Fatal(len(ms), err)
			}
		}
	})
	b.Run("since", func(b *testing.B) {
		for b.Loop() {
			if ms, err := s.Messages().Since(ctx, "hub", now, 100); err != nil || len(ms) != 100 {
				b.Fatal(len(ms), err)
			}
		}
	})
}

// benchCampaign stores a brand and an active campaign with unlimited stock.
func benchCampaign(b *testing.B, s *boltdb.Store) *storage.Campaign {
	b.Helper()
	ctx := b.Context()
	now := time.Now()
	brand := &storage.Brand{ID: "brand_1", Name: "Corner Café", Slug: "corner-cafe", KeyHash: strings.Repeat("ab", 32), CreatedAt: now}
	if err := s.Rewards().CreateBrand(ctx, brand); err != nil {
		b.Fatal(err)
	}
	c := &storage.Campaign{
		ID: "camp_1", BrandID: brand.ID, TriggerType: "connectionAccepted",
		Offer:     storage.Offer{Title: "Two coffees", Description: "Two flat whites at the corner café", Terms: "One per pair", MinTotalTogetherMinutes: 60},
		RewardTTL: 14 * 24 * time.Hour, CodeTTL: 10 * time.Minute,
		Status: storage.CampaignActive, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.Rewards().CreateCampaign(ctx, c); err != nil {
		b.Fatal(err)
	}
	return c
}

func benchGift(c *storage.Campaign, id, a, u string) *storage.Gift {
	now := time.Now()
	return &storage.Gift{
		ID: id, CampaignID: c.ID, BrandID: c.BrandID, PairID: storage.PairID(a, u), ConnectionID: "conn_" + id,
		UserA: a, UserB: u, TriggerType: c.TriggerType, Offer: c.Offer, CodeTTL: c.CodeTTL,
		Stage: storage.GiftGranted, CreatedAt: now, ExpiresAt: now.Add(c.RewardTTL),
	}
}

// BenchmarkGiftsOfUser is a user scrolling their rewards: 1,000 gifts, a page
// of 20 from a random cursor. ns/op should not depend on how deep the cursor
// is, since the scan seeks to it.
func BenchmarkGiftsOfUser(b *testing.B) {
	s := openBench(b)
	ctx := b.Context()
	c := benchCampaign(b, s)
	ids := make([]string, 1000)
	for i := range ids {
		ids[i] = "sgg_" + ulid.Make().String() // monotonic: ascending
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			if err := grant(ctx, s, benchGift(c, id, "hub", fmt.Sprintf("u%04d", i))); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	for b.Loop() {
		i := rand.IntN(len(ids))
		gs, err := s.Rewards().GiftsOfUser(ctx, "hub", ids[i], 20)
		if err != nil || len(gs) != min(i, 20) {
			b.Fatal(len(gs), err)
		}
	}
}

// BenchmarkGrantConcurrent is many Rewards grains granting at once on one
// campaign with unlimited stock: every grant rewrites the same campaign
// record, so they serialise on it inside each group commit.
func BenchmarkGrantConcurrent(b *testing.B) {
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
			s := openBench(b)
			ctx := b.Context()
			c := benchCampaign(b, s)
			var next atomic.Int64
			b.SetParallelism(p)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := next.Add(1)
					g := benchGift(c, "sgg_"+ulid.Make().String(), fmt.Sprint("u", n), fmt.Sprint("v", n))
					if err := grant(ctx, s, g); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
		})
	}
}

func grant(ctx context.Context, s storage.Store, g *storage.Gift) error {
	refused, err := s.Rewards().Grant(ctx, []storage.Grant{{Gift: g}})
	if err != nil {
		return err
	}
	return refused[0]
}
