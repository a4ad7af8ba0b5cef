package boltdb_test

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// batchDelays are the group-commit windows compared: bbolt's default and
// the 1ms the server uses.
var batchDelays = []time.Duration{10 * time.Millisecond, time.Millisecond}

func openBench(b *testing.B, delay time.Duration) *boltdb.Store {
	b.Helper()
	s, err := boltdb.Open(filepath.Join(b.TempDir(), "bench.db"), boltdb.Options{MaxBatchDelay: delay})
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
// its own group commit, so ns/op is the latency floor of an acknowledged
// write (batch delay + fsync), not throughput.
func BenchmarkUserPut(b *testing.B) {
	for _, delay := range batchDelays {
		b.Run("batchDelay="+delay.String(), func(b *testing.B) {
			s := openBench(b, delay)
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
		})
	}
}

// BenchmarkParallelBatchWrites is many sessions writing at once, the case
// group commit is for: ns/op falls as writers share fsyncs.
func BenchmarkParallelBatchWrites(b *testing.B) {
	for _, delay := range batchDelays {
		for _, p := range []int{1, 16, 128} {
			benchParallel(b, delay, p)
		}
	}
}

func benchParallel(b *testing.B, delay time.Duration, p int) {
	b.Run(fmt.Sprintf("batchDelay=%s/goroutines=%dxGOMAXPROCS", delay, p), func(b *testing.B) {
		s := openBench(b, delay)
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
// Serial ns/op is the latency of an acknowledged Save (batch delay + fsync).
func BenchmarkPairSave(b *testing.B) {
	for _, delay := range batchDelays {
		b.Run("resave/batchDelay="+delay.String(), func(b *testing.B) {
			s := openBench(b, delay)
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
		b.Run("new/batchDelay="+delay.String(), func(b *testing.B) {
			s := openBench(b, delay)
			ctx := b.Context()
			i := 0
			for b.Loop() {
				i++
				if err := s.Pairs().Save(ctx, benchPair("hub", fmt.Sprint("u", i), 1)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, p := range []int{1, 16} {
		b.Run(fmt.Sprintf("parallel/batchDelay=1ms/goroutines=%dxGOMAXPROCS", p), func(b *testing.B) {
			s := openBench(b, time.Millisecond)
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
