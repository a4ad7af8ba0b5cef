package boltdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

var bucketTest = []byte("test")

func putFn(key string) func(*bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTest)
		if err != nil {
			return err
		}
		return b.Put([]byte(key), []byte("v"))
	}
}

func testKeys(t *testing.T, s *Store) map[string]bool {
	t.Helper()
	got := map[string]bool{}
	must(t, s.view(t.Context(), "test.keys", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTest)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error { got[string(k)] = true; return nil })
	}))
	return got
}

// A failing and a panicking call share a batch with good ones: each caller
// gets its own result, the good writes land, and a failing call's writes,
// made before it failed, do not.
func TestCommitIsolatesFailures(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	errRefused := errors.New("refused")
	var errGood1, errBad, errPanic, errGood2 error
	runTogether(t, s,
		func() error { errGood1 = s.update(ctx, "t", putFn("good1")); return nil },
		func() error {
			errBad = s.update(ctx, "t", func(tx *bolt.Tx) error {
				if err := putFn("bad")(tx); err != nil {
					return err
				}
				return errRefused
			})
			return nil
		},
		func() error {
			errPanic = s.update(ctx, "t", func(tx *bolt.Tx) error {
				if err := putFn("panic")(tx); err != nil {
					return err
				}
				panic("boom")
			})
			return nil
		},
		func() error { errGood2 = s.update(ctx, "t", putFn("good2")); return nil },
	)
	if errGood1 != nil || errGood2 != nil {
		t.Fatalf("good writes: %v, %v", errGood1, errGood2)
	}
	if !errors.Is(errBad, errRefused) {
		t.Fatalf("failing write: %v, want its own error", errBad)
	}
	if errPanic == nil {
		t.Fatal("panicking write reported success")
	}
	if got := testKeys(t, s); fmt.Sprint(got) != fmt.Sprint(map[string]bool{"good1": true, "good2": true}) {
		t.Fatalf("stored keys %v, want good1 and good2", got)
	}
}

// A call that fails in a batch runs again alone once the rest of the batch
// has committed, and what it does then is its caller's result.
func TestCommitRerunsFailedCallAlone(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	var errFirst, errFlaky error
	runs := 0
	runTogether(t, s,
		func() error { errFirst = s.update(ctx, "t", putFn("a")); return nil },
		func() error {
			errFlaky = s.update(ctx, "t", func(tx *bolt.Tx) error {
				if runs++; runs == 1 {
					return errors.New("transient")
				}
				return putFn("flaky")(tx)
			})
			return nil
		},
	)
	if errFirst != nil || errFlaky != nil {
		t.Fatalf("writes: %v, %v", errFirst, errFlaky)
	}
	if runs != 2 {
		t.Fatalf("flaky write ran %d times, want 2", runs)
	}
	if got := testKeys(t, s); !got["a"] || !got["flaky"] {
		t.Fatalf("stored keys %v, want a and flaky", got)
	}
}

// A caller whose context ends while its call waits in the queue gets the
// context's error and its function never runs; one whose call is already
// in a transaction waits for that transaction and reports its outcome.
func TestCommitCancelledCaller(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	held, release := make(chan struct{}), make(chan struct{})
	cctx, cancel := context.WithCancel(t.Context())
	var once sync.Once
	inTx := make(chan error, 1)
	go func() {
		inTx <- s.update(cctx, "t", func(tx *bolt.Tx) error {
			once.Do(func() { close(held) })
			<-release
			return putFn("taken")(tx)
		})
	}()
	<-held
	queued := make(chan error, 1)
	ran := false
	go func() {
		queued <- s.update(cctx, "t", func(tx *bolt.Tx) error { ran = true; return putFn("queued")(tx) })
	}()
	for deadline := time.Now().Add(10 * time.Second); s.w.queued() < 1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("second write never queued")
		}
	}
	cancel()
	if err := <-queued; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued write after cancel: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-inTx; err != nil {
		t.Fatalf("write already in a transaction: %v, want its commit", err)
	}
	must(t, s.update(t.Context(), "t", putFn("after"))) // the writer moved past the withdrawn call
	if ran {
		t.Fatal("withdrawn write ran")
	}
	if got := testKeys(t, s); !got["taken"] || got["queued"] || !got["after"] {
		t.Fatalf("stored keys %v, want taken and after only", got)
	}
}

// Writes queued while a commit runs share the next one, up to MaxBatchSize.
func TestCommitGroupsQueuedWrites(t *testing.T) {
	s := openT(t, tempPath(t), Options{MaxBatchSize: 4})
	ctx := t.Context()
	var mu sync.Mutex
	var batches []int
	txs := map[*bolt.Tx]int{}
	fns := make([]func() error, 10)
	for i := range fns {
		fns[i] = func() error {
			return s.update(ctx, "t", func(tx *bolt.Tx) error {
				mu.Lock()
				if _, ok := txs[tx]; !ok {
					batches = append(batches, 0)
				}
				txs[tx]++
				batches[len(batches)-1] = txs[tx]
				mu.Unlock()
				return putFn(fmt.Sprint("k", i))(tx)
			})
		}
	}
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		_ = s.update(ctx, "hold", func(*bolt.Tx) error { once.Do(func() { close(held) }); <-release; return nil })
	}()
	<-held
	var wg sync.WaitGroup
	for _, fn := range fns {
		wg.Go(func() { must(t, fn()) })
	}
	for s.w.queued() < len(fns) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if fmt.Sprint(batches) != "[4 4 2]" {
		t.Fatalf("batch sizes %v, want [4 4 2]", batches)
	}
	if got := testKeys(t, s); len(got) != len(fns) {
		t.Fatalf("%d keys stored, want %d", len(got), len(fns))
	}
}
