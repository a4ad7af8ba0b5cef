package reminders

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/storage"
)

// FireFunc wakes the owning grain of a due reminder and returns once the
// grain has handled it. The grain owns its reminder: it deletes it or sets a
// new due time while handling it.
type FireFunc func(ctx context.Context, r storage.Reminder) error

// Service arms one timer for the earliest stored reminder, so start-up costs
// one index read however many reminders exist, and reminders that fell due
// while the server was down fire at start-up.
type Service struct {
	store  storage.Reminders
	clock  clock.Clock
	fire   FireFunc
	logger *slog.Logger

	// RetryAfter is how long (real time) a fired reminder that its grain did
	// not clear waits before it is fired again.
	RetryAfter time.Duration
	// BatchSize bounds one scan of due reminders.
	BatchSize int

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
	retryAt  map[string]time.Time
	wg       sync.WaitGroup
	sem      chan struct{}
}

// New builds a stopped service. Set and Delete work at once (grains are
// built with it); reminders fire only after Start, which is given the fire
// function once the grains it wakes exist.
func New(store storage.Reminders, clk clock.Clock, logger *slog.Logger) *Service {
	return &Service{
		store: store, clock: clk, logger: logger,
		RetryAfter: 5 * time.Second, BatchSize: 256,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		inflight: map[string]bool{}, retryAt: map[string]time.Time{},
		sem: make(chan struct{}, 16),
	}
}

// Start runs the scheduling loop until Stop, waking grains with fire.
func (s *Service) Start(fire FireFunc) {
	s.fire = fire
	go s.run()
}

// Stop ends the loop and waits for fires in flight.
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

// instance names one due time of a reminder: a grain that handles a fire
// by moving the reminder to a new due time (a gift's next code) must not
// wait out the retry pause meant for a reminder it failed to clear.
func instance(r storage.Reminder) string {
	return key(r) + "\x00" + strconv.FormatInt(r.DueAt.UnixNano(), 10)
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

// process fires what is due and returns how long (real time) to sleep.
func (s *Service) process() time.Duration {
	const maxWait = time.Minute // re-check regularly: cheap, and robust to clock changes
	ctx := context.Background()
	now := s.clock.Now()
	due, err := s.store.Due(ctx, now, s.BatchSize)
	if err != nil {
		s.logger.Error("reminders: scan failed", "err", err)
		return time.Second
	}
	realNow := time.Now()
	backlog := len(due) == s.BatchSize
	s.mu.Lock()
	for _, r := range due {
		k := key(r)
		if s.inflight[k] || realNow.Before(s.retryAt[instance(r)]) {
			backlog = true
			continue
		}
		s.inflight[k] = true
		s.wg.Add(1)
		go s.fireOne(r, k)
	}
	s.mu.Unlock()
	wait := maxWait
	next, err := s.store.Next(ctx)
	if err == nil {
		wait = s.realDuration(next.DueAt.Sub(s.clock.Now()))
	}
	if backlog && wait > time.Second {
		wait = time.Second
	}
	if wait > maxWait {
		wait = maxWait
	}
	if wait < 0 {
		wait = 0
	}
	return wait
}

func (s *Service) fireOne(r storage.Reminder, k string) {
	defer s.wg.Done()
	s.sem <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := s.fire(ctx, r)
	cancel()
	<-s.sem
	if err != nil {
		s.logger.Warn("reminders: fire failed, will retry", "kind", r.Kind, "identity", r.Identity, "name", r.Name, "err", err)
	}
	s.mu.Lock()
	delete(s.inflight, k)
	s.retryAt[instance(r)] = time.Now().Add(s.RetryAfter)
	for kk, t := range s.retryAt {
		if time.Now().After(t) {
			delete(s.retryAt, kk)
		}
	}
	s.mu.Unlock()
	s.poke()
}

func (s *Service) realDuration(d time.Duration) time.Duration {
	if sp := s.clock.Speed(); sp > 0 && sp != 1 {
		return time.Duration(float64(d) / sp)
	}
	return d
}
