package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/storage/postgres/pgtest"
)

// benchPairs is how many pairs write at once, each with one writer as with
// Pair grains.
const benchPairs = 100

// benchAppend spreads b.N messages over benchPairs pairs whose writers run
// concurrently; send stores one message and returns once it is durable.
// It reports msgs/s over the whole run.
func benchAppend(b *testing.B, send func(s *postgres.Store, m *storage.Message) error) {
	s, err := postgres.Open(context.Background(), pgtest.URL(b), postgres.Options{})
	if err != nil {
		b.Fatalf("open: %v", err)
	}
	defer s.Close()
	t0 := time.Date(2026, 3, 14, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make([]error, benchPairs)
	b.ResetTimer()
	for i := range benchPairs {
		n := b.N / benchPairs
		if i < b.N%benchPairs {
			n++
		}
		wg.Go(func() {
			a, c := fmt.Sprintf("a%03d", i), fmt.Sprintf("b%03d", i)
			pair := storage.PairID(a, c)
			for seq := 1; seq <= n; seq++ {
				from, to := a, c
				if seq%2 == 0 {
					from, to = to, from
				}
				m := &storage.Message{
					ID: fmt.Sprintf("msg_%03d_%06d", i, seq), PairID: pair, Seq: uint64(seq),
					SenderID: from, RecipientID: to, Content: "hello from the benchmark",
					CreatedAt: t0.Add(time.Duration(seq) * time.Millisecond),
				}
				if errs[i] = send(s, m); errs[i] != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("pair %d: %v", i, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkAppendAsync measures the group commit: every pair waits for its
// answer before it sends the next message, so each commit carries what the
// pairs queued while the previous one ran.
func BenchmarkAppendAsync(b *testing.B) {
	pgtest.Admin(b)
	benchAppend(b, func(s *postgres.Store, m *storage.Message) error {
		done := make(chan error, 1)
		s.Messages().AppendAsync([]*storage.Message{m}, func(err error) { done <- err })
		return <-done
	})
}

// BenchmarkAppend is the same load through synchronous Append: one
// transaction per message.
func BenchmarkAppend(b *testing.B) {
	pgtest.Admin(b)
	benchAppend(b, func(s *postgres.Store, m *storage.Message) error {
		return s.Messages().Append(context.Background(), m)
	})
}
