package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gisbi/engine/storage"
)

// Platforms of storage.Device, the keys of the senders map.
const (
	PlatformAndroid = "android"
	PlatformIOS     = "ios"
	PlatformWeb     = "web"
)

// Outcomes passed to DispatcherOptions.OnResult.
const (
	OutcomeSent         = "sent"         // a device accepted the notification
	OutcomeUnregistered = "unregistered" // a device's token was dead; the device was deactivated
	OutcomeFailed       = "failed"       // a device could not be reached, retries included
	OutcomeUnsupported  = "unsupported"  // a device's platform has no sender configured
	OutcomeNoDevice     = "no_device"    // the user has no active device
	OutcomeDropped      = "dropped"      // the queue was full or the dispatcher stopped
)

// Dispatcher defaults.
const (
	DefaultWorkers = 4
	DefaultQueue   = 10000
	DefaultBackoff = time.Second
	// maxBackoff caps one wait between retries, Retry-After included: a
	// worker sleeping longer would starve the queue.
	maxBackoff = 30 * time.Second
	// sendTimeout bounds one attempt against one provider.
	sendTimeout = 30 * time.Second
)

// DispatcherOptions tune a Dispatcher; zero values take the defaults.
type DispatcherOptions struct {
	Workers int // concurrent deliveries; default DefaultWorkers
	Queue   int // notifications waiting for a worker; default DefaultQueue
	// Retries after a transient error, per device; 0 means none (negative
	// counts as 0).
	Retries int
	// Backoff is the wait before the first retry, doubled for each further
	// one (with jitter, at most 30 s, at least the provider's Retry-After);
	// default DefaultBackoff.
	Backoff time.Duration
	Logger  *slog.Logger // default slog.Default()
	// OnResult is called with the notification's kind and an Outcome*
	// constant, once per device tried and once per notification that reached
	// no device or was dropped. It runs on the caller of Notify for drops, so
	// it must be fast and safe for concurrent use (a metrics counter).
	OnResult func(kind, outcome string)
	// Now stamps deactivations; default time.Now.
	Now func() time.Time
}

// Dispatcher delivers notifications to a user's devices in the background.
// A nil *Dispatcher is valid and drops everything, so callers need no check
// when push is off.
type Dispatcher struct {
	devices  storage.Devices
	senders  map[string]Sender
	retries  int
	backoff  time.Duration
	log      *slog.Logger
	onResult func(kind, outcome string)
	now      func() time.Time

	ctx    context.Context // cancelled when Close gives up waiting
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.RWMutex // guards closed and the closing of queue
	closed  bool
	queue   chan job
	dropped atomic.Uint64
}

type job struct {
	userID string
	n      Notification
}

// NewDispatcher starts the workers. senders maps a device platform
// (PlatformAndroid, PlatformIOS, PlatformWeb) to its provider; devices of
// other platforms are skipped.
func NewDispatcher(devices storage.Devices, senders map[string]Sender, opts DispatcherOptions) *Dispatcher {
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if opts.Queue <= 0 {
		opts.Queue = DefaultQueue
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{
		devices:  devices,
		senders:  maps.Clone(senders),
		retries:  max(opts.Retries, 0),
		backoff:  opts.Backoff,
		log:      opts.Logger,
		onResult: opts.OnResult,
		now:      opts.Now,
		ctx:      ctx,
		cancel:   cancel,
		queue:    make(chan job, opts.Queue),
	}
	d.wg.Add(opts.Workers)
	for range opts.Workers {
		go d.work()
	}
	return d
}

// Notify queues n for every active device of userID and returns at once. It
// returns false, counting a drop, when the queue is full or the dispatcher
// is closed or nil: a push is best effort and must never delay the caller.
func (d *Dispatcher) Notify(userID string, n Notification) bool {
	if d == nil || userID == "" {
		return false
	}
	// The caller may reuse its map once we return.
	n.Data = maps.Clone(n.Data)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if !d.closed {
		select {
		case d.queue <- job{userID: userID, n: n}:
			return true
		default:
		}
	}
	if total := d.dropped.Add(1); total&(total-1) == 0 {
		// Powers of two: an overload is visible in the log without flooding it.
		d.log.Warn("push: notification dropped", "reason", d.dropReason(), "kind", n.Kind, "dropped_total", total)
	}
	d.result(n.Kind, OutcomeDropped)
	return false
}

// dropReason is called with mu held.
func (d *Dispatcher) dropReason() string {
	if d.closed {
		return "closed"
	}
	return "queue full"
}

// Dropped is how many notifications were dropped since the start.
func (d *Dispatcher) Dropped() uint64 {
	if d == nil {
		return 0
	}
	return d.dropped.Load()
}

// Queued is how many notifications are waiting for a worker.
func (d *Dispatcher) Queued() int {
	if d == nil {
		return 0
	}
	return len(d.queue)
}

// Close stops accepting notifications and waits until the queued ones are
// delivered. If ctx ends first, in-flight sends are cancelled, what is still
// queued is dropped, and Close returns ctx's error once the workers are
// gone. Close may be called more than once; on a nil Dispatcher it does
// nothing.
func (d *Dispatcher) Close(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.queue)
	}
	d.mu.Unlock()

	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel()
		<-done
		return fmt.Errorf("push: close: %w", ctx.Err())
	}
}

func (d *Dispatcher) work() {
	defer d.wg.Done()
	for j := range d.queue {
		d.deliver(j)
	}
}

func (d *Dispatcher) result(kind, outcome string) {
	if d.onResult != nil {
		d.onResult(kind, outcome)
	}
}

// deliver sends one notification to each active device of its user, one
// device after the other.
func (d *Dispatcher) deliver(j job) {
	if d.ctx.Err() != nil { // Close gave up: drain without work
		d.dropped.Add(1)
		d.result(j.n.Kind, OutcomeDropped)
		return
	}
	devs, err := d.devices.ListByUser(d.ctx, j.userID)
	if err != nil {
		d.log.Warn("push: listing devices failed", "user", j.userID, "kind", j.n.Kind, "err", err)
		d.result(j.n.Kind, OutcomeFailed)
		return
	}
	active := 0
	for _, dev := range devs {
		if !dev.IsActive {
			continue
		}
		active++
		s := d.senders[dev.Platform]
		if s == nil {
			d.log.Debug("push: no sender for platform", "user", j.userID, "platform", dev.Platform)
			d.result(j.n.Kind, OutcomeUnsupported)
			continue
		}
		d.result(j.n.Kind, d.send(s, j.userID, dev, j.n))
	}
	if active == 0 {
		d.result(j.n.Kind, OutcomeNoDevice)
	}
}

// send tries one device, retrying transient errors, and returns the outcome.
func (d *Dispatcher) send(s Sender, userID string, dev storage.Device, n Notification) string {
	log := d.log.With("user", userID, "platform", dev.Platform, "token", redact(dev.Token), "kind", n.Kind)
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(d.ctx, sendTimeout)
		err := s.Send(ctx, dev.Token, n)
		cancel()
		switch {
		case err == nil:
			return OutcomeSent
		case errors.Is(err, ErrUnregistered):
			// userID guards against deactivating a token that has since
			// moved to another account; ErrNotFound then is expected.
			derr := d.devices.Deactivate(d.ctx, userID, dev.Token, d.now())
			if derr != nil && !errors.Is(derr, storage.ErrNotFound) {
				log.Warn("push: deactivating an unregistered device failed", "err", derr)
			} else {
				log.Info("push: device unregistered by its provider; deactivated", "err", err)
			}
			return OutcomeUnregistered
		case errors.Is(err, ErrTransient) && attempt < d.retries && d.ctx.Err() == nil:
			wait := d.wait(attempt, err)
			log.Debug("push: transient failure, retrying", "attempt", attempt+1, "wait", wait, "err", err)
			if !sleep(d.ctx, wait) {
				return OutcomeFailed
			}
		default:
			log.Warn("push: send failed", "attempts", attempt+1, "err", err)
			return OutcomeFailed
		}
	}
}

// wait is the pause before retry number attempt+1: exponential backoff with
// jitter, raised to the provider's Retry-After, capped at maxBackoff.
func (d *Dispatcher) wait(attempt int, err error) time.Duration {
	w := d.backoff << min(attempt, 16)
	if w <= 0 || w > maxBackoff {
		w = maxBackoff
	}
	// Jitter in [w/2, w) so retries of many devices spread out.
	w = w/2 + rand.N(w/2+1)
	var pe *Error
	if errors.As(err, &pe) && pe.RetryAfter > w {
		w = pe.RetryAfter
	}
	return min(w, maxBackoff)
}

// sleep waits d or until ctx ends; it reports whether the wait completed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
