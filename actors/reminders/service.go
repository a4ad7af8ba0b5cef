package reminders

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/storage"
)

// FireFunc wakes the owning grain of a due reminder and returns once the
// grain has handled it, or when ctx ends. The grain owns its reminder: it
// deletes it or sets a new due time while handling it.
//
// A reminder fires at least once: one whose fire failed, or whose node
// died mid-fire, fires again once its claim lapses, possibly on another
// node. A FireFunc and the grain behind it must therefore be idempotent
// on (reminder, DueAt); see server.fireReminder for where each grain's
// idempotency comes from.
type FireFunc func(ctx context.Context, r storage.Reminder) error

// Service fires due reminders at their grains. Every node sharing a store
// runs one; they share the work through claims (storage.Reminders.Claim):
// a service claims the reminders it is about to fire for a lease, so no
// other service (nor itself) fires them again before the lease ends, and
// the lease outlasts the fire (FireTimeout bounds it). A fire that fails
// leaves its reminder claimed: it lapses with the lease and the reminder
// is claimed and fired again then, on whichever node claims first. A
// handled reminder is deleted or moved by its grain, which drops the
// claim.
//
// One timer is armed for the earliest ReadyAt (due time, or claim end),
// so start-up costs one index read however many reminders exist, and
// reminders that fell due while the server was down fire at start-up.
type Service struct {
	store  storage.Reminders
	clock  clock.Clock
	fire   FireFunc
	logger *slog.Logger

	// FireTimeout bounds one fire (real time, counted from the claim): the
	// grain's answer is not awaited longer. It is part of the lease, so a
	// fire always ends RetryAfter before its claim does.
	FireTimeout time.Duration
	// RetryAfter is how long (real time) a reminder whose fire failed, or
	// that its grain did not clear, waits past FireTimeout before it is
	// fired again: the lease is FireTimeout + RetryAfter.
	RetryAfter time.Duration
	// BatchSize bounds one claim.
	BatchSize int
	// Concurrency bounds the fires in flight; a service claims no more
	// than it can start firing at once, so no claim waits in a queue
	// while its lease runs.
	Concurrency int

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	mu sync.Mutex
	// inflight holds the reminders (by key) this service is firing. A
	// grain may move its reminder to a time already due while its fire
	// is still running; the new due time is claimed at once, and is left
	// to its lease rather than fired beside the one still running.
	inflight map[string]bool
	wg       sync.WaitGroup
}

// New builds a stopped service. Set and Delete work at once (grains are
// built with it); reminders fire only after Start, which is given the fire
// function once the grains it wakes exist.
func New(store storage.Reminders, clk clock.Clock, logger *slog.Logger) *Service {
	return &Service{
		store: store, clock: clk, logger: logger,
		FireTimeout: 10 * time.Second, RetryAfter: 5 * time.Second, BatchSize: 256, Concurrency: 16,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		inflight: map[string]bool{},
	}
}

// Start runs the scheduling loop until Stop, waking grains with fire.
func (s *Service) Start(fire FireFunc) {
	s.fire = fire
	go s.run()
}

// Stop ends the loop and waits for fires in flight. Reminders it claimed
// and did not get to clear are fired again when their claims lapse.
func (s *Service) Stop() {
	select {
	case <-s.stop:
		return
	default:
	}
	close(s.stop)
	<-s.done
	s.wg.Wait() //nonblocking:allow Stop runs at shutdown on the caller's goroutine, never in an actor
}

// Set stores (or moves) a reminder and re-arms the timer.
func (s *Service) Set(ctx context.Context, r storage.Reminder) error {
	if err := s.store.Set(ctx, r); err != nil {
		return err
	}
	s.poke()
	return nil
}

// Delete removes a reminder; deleting a missing one is not an error.
func (s *Service) Delete(ctx context.Context, kind, identity, name string) error {
	return s.store.Delete(ctx, kind, identity, name)
}

// Wake re-arms the timer after reminders were stored by other means (in
// the transaction of the record they belong to).
func (s *Service) Wake() { s.poke() }

func (s *Service) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func key(r storage.Reminder) string { return r.Kind + "\x00" + r.Identity + "\x00" + r.Name }

// lease is how long (clock time) a claim holds: a fire and the retry
// pause after it, in real time, scaled to the clock.
func (s *Service) lease() time.Duration {
	d := s.FireTimeout + s.RetryAfter
	if sp := s.clock.Speed(); sp > 0 && sp != 1 {
		d = time.Duration(float64(d) * sp)
	}
	return max(d, time.Millisecond)
}

func (s *Service) run() {
	defer close(s.done)
	for {
		wait := s.process()
		t := time.NewTimer(wait)
		select {
		case <-s.stop:
			t.Stop()
			return
		case <-s.kick:
		case <-t.C:
		}
		t.Stop()
	}
}

// process claims and fires what is due and returns how long (real time)
// to sleep. A fire that ends pokes the loop, so a full service claims
// again as soon as it can fire.
func (s *Service) process() time.Duration {
	const maxWait = time.Minute // re-check regularly: cheap, and robust to clock changes
	ctx := context.Background()
	s.mu.Lock()
	free := s.Concurrency - len(s.inflight)
	s.mu.Unlock()
	limit := min(s.BatchSize, free)
	backlog := false
	if limit > 0 {
		// The fires end FireTimeout after the claim was asked for, however
		// long it took to answer: each ends inside its lease.
		deadline := time.Now().Add(s.FireTimeout)
		now := s.clock.Now()
		claimed, err := s.store.Claim(ctx, now, now.Add(s.lease()), limit)
		if err != nil {
			s.logger.Error("reminders: claim failed", "err", err)
			return time.Second
		}
		backlog = len(claimed) == limit
		s.mu.Lock()
		for _, r := range claimed {
			k := key(r)
			if s.inflight[k] {
				// Moved to a due time while its fire runs: its claim lapses
				// and it fires then.
				continue
			}
			s.inflight[k] = true
			s.wg.Add(1)
			go s.fireOne(r, k, deadline)
		}
		s.mu.Unlock()
	}
	if free <= 0 {
		return maxWait // a fire ending pokes
	}
	wait := maxWait
	next, err := s.store.Next(ctx)
	if err == nil {
		wait = s.realDuration(next.ReadyAt().Sub(s.clock.Now()))
	}
	if backlog {
		wait = 0
	}
	return min(max(wait, 0), maxWait)
}

// fireOne fires a claimed reminder. Success or failure, nothing is written
// here: a handled reminder was deleted or moved by its grain, and one that
// was not stays claimed until the lease ends, then fires again.
func (s *Service) fireOne(r storage.Reminder, k string, deadline time.Time) {
	defer s.wg.Done()
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	err := s.fire(ctx, r)
	cancel()
	if err != nil {
		s.logger.Warn("reminders: fire failed, fires again when its claim lapses", "kind", r.Kind, "identity", r.Identity, "name", r.Name, "err", err)
	}
	s.mu.Lock()
	delete(s.inflight, k)
	s.mu.Unlock()
	s.poke()
}

func (s *Service) realDuration(d time.Duration) time.Duration {
	if sp := s.clock.Speed(); sp > 0 && sp != 1 {
		return time.Duration(float64(d) / sp)
	}
	return d
}
