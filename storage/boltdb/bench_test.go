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
