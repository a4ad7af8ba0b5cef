package boltdb

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// defaultMaxBatch bounds one commit (bbolt's own MaxBatchSize default): a
// transaction holds every page it dirties in memory until it commits.
const defaultMaxBatch = 1000

// committer is the store's group commit: one goroutine that takes every
// write queued while the previous commit and its fsync ran and commits them
// in one transaction.
//
// It replaces bolt.DB.Batch, which closes a batch MaxBatchDelay after its
// first call whether or not the previous commit is done. With an fsync far
// longer than that delay, batches queue on bbolt's writer lock as many small
// transactions, each paying its own fsync. Here a batch stays open exactly as
// long as the disk is busy, so the slower the fsync the larger the batch, and
// a lone write on an idle store commits at once.
type committer struct {
	db  *bolt.DB
	max int

	mu    sync.Mutex
	queue []*writeCall

	commits, calls atomic.Int64 // for Store.WriterStats

	// hold, when set, is a channel each commit waits on inside its
	// transaction until it is closed: Store.HoldCommits, for fault tests.
	hold atomic.Pointer[chan struct{}]

	wake    chan struct{} // capacity 1: a pending wake-up is enough
	stop    chan struct{}
	stopped chan struct{}
}

// writeCall states: a caller may withdraw its call only while it is queued;
// once the writer has taken it into a transaction it commits or fails whole.
const (
	callQueued int32 = iota
	callTaken
	callWithdrawn
)

type writeCall struct {
	fn    func(*bolt.Tx) error
	state atomic.Int32
	done  func(error) // called once, on the writer goroutine
}

func newCommitter(db *bolt.DB, max int) *committer {
	if max <= 0 {
		max = defaultMaxBatch
	}
	c := &committer{db: db, max: max, wake: make(chan struct{}, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	go c.loop()
	return c
}

// do queues fn and waits until it is committed (nil) or has failed. When
// ctx ends first, fn is withdrawn if it still can be and ctx's error is
// returned; otherwise do keeps waiting, so its result always says what
// happened to fn.
func (c *committer) do(ctx context.Context, fn func(*bolt.Tx) error) error {
	result := make(chan error, 1)
	call := c.enqueue(fn, func(err error) { result <- err })
	select {
	case err := <-result:
		return err
	case <-ctx.Done():
		if call.state.CompareAndSwap(callQueued, callWithdrawn) {
			return ctx.Err()
		}
		return <-result
	}
}

// enqueue queues fn and returns at once; done gets fn's result on the writer
// goroutine, so it must not block. Calls are taken in queue order, but one
// that fails in its batch runs again alone after the rest of the batch has
// committed: it may commit, and be answered, after calls queued behind it.
func (c *committer) enqueue(fn func(*bolt.Tx) error, done func(error)) *writeCall {
	call := &writeCall{fn: fn, done: done}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return call
}

// close stops the writer. The store's lock guarantees no call is waiting.
func (c *committer) close() {
	close(c.stop)
	<-c.stopped
}

func (c *committer) loop() {
	defer close(c.stopped)
	for {
		select {
		case <-c.wake:
		case <-c.stop:
			return
		}
		for c.commitNext() {
			// The callers just answered are runnable, most on this P;
			// letting them run first lets those that write again join the
			// next commit instead of waiting for the one after. Two writers
			// taking turns otherwise commit one write each.
			runtime.Gosched()
		}
	}
}

// queued is how many calls wait for the writer (for tests).
func (c *committer) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.queue)
}

// commitNext commits up to max queued calls and reports whether it found any.
func (c *committer) commitNext() bool {
	c.mu.Lock()
	n := min(len(c.queue), c.max)
	if n == 0 {
		c.mu.Unlock()
		return false
	}
	batch := make([]*writeCall, 0, n)
	for _, call := range c.queue[:n] {
		if call.state.CompareAndSwap(callQueued, callTaken) {
			batch = append(batch, call)
		}
	}
	clear(c.queue[:n])
	c.queue = c.queue[n:]
	if len(c.queue) == 0 {
		c.queue = nil // let the backing array go after a burst
	}
	c.mu.Unlock()
	c.run(batch)
	return true
}

// run commits calls in one transaction, in queue order. A call that fails
// rolls the transaction back; it is taken out and the rest run again in a
// fresh one, as bolt.DB.Batch does, so one caller's error never fails
// another's write. Each failed call then runs alone, after the others have
// committed, and its own result is what its caller gets: a call that failed
// because of an earlier call in the batch sees that call's writes either way.
// A call that fails alone rolls back without an fsync.
func (c *committer) run(calls []*writeCall) {
	var failed []*writeCall
	for len(calls) > 0 {
		failIdx := -1
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, call := range calls {
				if err := safelyCall(call.fn, tx); err != nil {
					failIdx = i
					return err
				}
			}
			if h := c.hold.Load(); h != nil {
				<-*h
			}
			return nil
		})
		if failIdx < 0 {
			if err == nil {
				c.commits.Add(1)
				c.calls.Add(int64(len(calls)))
			}
			// Success, or the commit itself failed: the same for every call.
			for _, call := range calls {
				call.done(err)
			}
			break
		}
		failed = append(failed, calls[failIdx])
		calls = append(calls[:failIdx], calls[failIdx+1:]...)
	}
	for _, call := range failed {
		err := c.db.Update(func(tx *bolt.Tx) error { return safelyCall(call.fn, tx) })
		if err == nil {
			c.commits.Add(1)
			c.calls.Add(1)
		}
		call.done(err)
	}
}

// safelyCall turns a panic in fn into its caller's error: the writer
// goroutine serves every caller and must outlive any one of them.
func safelyCall(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("boltdb: write function panicked: %v", p)
		}
	}()
	return fn(tx)
}
