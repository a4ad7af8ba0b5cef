package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

var quiet = slog.New(slog.DiscardHandler)

type sent struct {
	token string
	n     Notification
}

// fakeSender records sends and answers with scripted errors per token.
type fakeSender struct {
	mu      sync.Mutex
	calls   []sent
	errs    map[string][]error // consumed in order; then success
	block   chan struct{}      // when not nil, Send waits for it or its context
	started chan string        // when not nil, told each token as Send starts
}

func (f *fakeSender) Send(ctx context.Context, token string, n Notification) error {
	f.mu.Lock()
	f.calls = append(f.calls, sent{token, n})
	var err error
	if q := f.errs[token]; len(q) > 0 {
		err, f.errs[token] = q[0], q[1:]
	}
	f.mu.Unlock()
	if f.started != nil {
		f.started <- token
	}
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeSender) tokens() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		out = append(out, c.token)
	}
	slices.Sort(out)
	return out
}

// results counts OnResult calls as "kind/outcome".
type results struct {
	mu sync.Mutex
	m  map[string]int
}

func (r *results) record(kind, outcome string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]int{}
	}
	r.m[kind+"/"+outcome]++
}

func (r *results) get() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.m)
}

var t0 = time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)

// register stores devices given as "user platform token", with a fourth
// word "off" to deactivate it.
func register(t *testing.T, devices storage.Devices, specs ...string) {
	t.Helper()
	for _, s := range specs {
		f := strings.Fields(s)
		if len(f) < 3 {
			t.Fatalf("bad device spec %q", s)
		}
		user, platform, token := f[0], f[1], f[2]
		if err := devices.Register(t.Context(), &storage.Device{Token: token, Platform: platform, UserID: user, IsActive: true, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if len(f) == 4 && f[3] == "off" {
			if err := devices.Deactivate(t.Context(), user, token, t0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// active maps each of user's tokens to whether it is active.
func active(t *testing.T, devices storage.Devices, user string) map[string]bool {
	t.Helper()
	ds, err := devices.ListByUser(t.Context(), user)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, d := range ds {
		out[d.Token] = d.IsActive
	}
	return out
}

func closeDispatcher(t *testing.T, d *Dispatcher) {
	t.Helper()
	if err := d.Close(t.Context()); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestDispatcherSendsToEveryActiveDevice(t *testing.T) {
	devices := storagetest.New(t).Devices()
	register(t, devices,
		"u1 android a1", "u1 android a2", "u1 ios i1", "u1 web w1",
		"u1 android x1 off", "u1 windows z1",
		"u2 android b1", "u2 ios b2",
	)
	fcm, apns := &fakeSender{}, &fakeSender{}
	var res results
	d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: fcm, PlatformWeb: fcm, PlatformIOS: apns},
		DispatcherOptions{Workers: 2, Logger: quiet, OnResult: res.record})
	n := Notification{Kind: KindMessage, Title: "Ada", Body: "hi", Data: map[string]string{"conversationId": "c1"}, CollapseKey: "chat-u2"}
	if !d.Notify("u1", n) {
		t.Fatal("Notify = false")
	}
	if !d.Notify("nobody", Notification{Kind: KindRing}) {
		t.Fatal("Notify = false")
	}
	closeDispatcher(t, d)

	if got, want := fcm.tokens(), []string{"a1", "a2", "w1"}; !slices.Equal(got, want) {
		t.Errorf("FCM sent to %q, want %q", got, want)
	}
	if got, want := apns.tokens(), []string{"i1"}; !slices.Equal(got, want) {
		t.Errorf("APNs sent to %q, want %q", got, want)
	}
	for _, c := range append(fcm.calls, apns.calls...) {
		if !reflect.DeepEqual(c.n, n) {
			t.Errorf("%s got %+v, want %+v", c.token, c.n, n)
		}
	}
	want := map[string]int{"message/sent": 4, "message/unsupported": 1, "ring/no_device": 1}
	if got := res.get(); !maps.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
}

func TestDispatcherRetriesAndDeactivates(t *testing.T) {
	transient := fmt.Errorf("%w: connection reset", ErrTransient)
	unregistered := &Error{Provider: "fake", StatusCode: 410, Reason: "Unregistered", kind: ErrUnregistered}
	permanent := &Error{Provider: "fake", StatusCode: 400, Reason: "BadCollapseId"}
	throttled := &Error{Provider: "fake", StatusCode: 429, Reason: "TooManyRequests", kind: ErrTransient}
	tests := []struct {
		name        string
		errs        []error
		retries     int
		wantCalls   int
		wantOutcome string
		wantActive  bool
	}{
		{"success", nil, 3, 1, OutcomeSent, true},
		{"transient then success", []error{transient, throttled}, 3, 3, OutcomeSent, true},
		{"retries exhausted", []error{transient, transient, transient, transient, transient}, 3, 4, OutcomeFailed, true},
		{"no retries", []error{transient}, 0, 1, OutcomeFailed, true},
		{"permanent is not retried", []error{permanent}, 3, 1, OutcomeFailed, true},
		{"unregistered", []error{unregistered}, 3, 1, OutcomeUnregistered, false},
		{"transient then unregistered", []error{transient, unregistered}, 3, 2, OutcomeUnregistered, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			devices := storagetest.New(t).Devices()
			register(t, devices, "u1 android tok", "u1 android other")
			s := &fakeSender{errs: map[string][]error{"tok": tt.errs}}
			var res results
			d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: s},
				DispatcherOptions{Workers: 1, Retries: tt.retries, Backoff: time.Millisecond, Logger: quiet, OnResult: res.record})
			d.Notify("u1", Notification{Kind: KindMessage, Title: "t"})
			closeDispatcher(t, d)

			calls := 0
			for _, tok := range s.tokens() {
				if tok == "tok" {
					calls++
				}
			}
			if calls != tt.wantCalls {
				t.Errorf("%d sends to tok, want %d", calls, tt.wantCalls)
			}
			want := map[string]int{"message/sent": 1} // the other device
			want["message/"+tt.wantOutcome]++
			if got := res.get(); !maps.Equal(got, want) {
				t.Errorf("results %v, want %v", got, want)
			}
			if got, want := active(t, devices, "u1"), map[string]bool{"tok": tt.wantActive, "other": true}; !maps.Equal(got, want) {
				t.Errorf("active devices %v, want %v", got, want)
			}
		})
	}
}

func TestDispatcherUnregisteredTokenOfAnotherUser(t *testing.T) {
	// The token moved to u2 while u1's notification was queued: u2's device
	// must stay active.
	devices := storagetest.New(t).Devices()
	register(t, devices, "u1 ios tok")
	s := &fakeSender{
		errs:    map[string][]error{"tok": {ErrUnregistered}},
		block:   make(chan struct{}),
		started: make(chan string, 1),
	}
	var res results
	d := NewDispatcher(devices, map[string]Sender{PlatformIOS: s}, DispatcherOptions{Workers: 1, Logger: quiet, OnResult: res.record})
	d.Notify("u1", Notification{Kind: KindRing})
	<-s.started
	register(t, devices, "u2 ios tok")
	close(s.block)
	closeDispatcher(t, d)
	if got := active(t, devices, "u2"); !got["tok"] {
		t.Errorf("u2's devices %v: the moved token was deactivated", got)
	}
	if got := res.get(); got["ring/unregistered"] != 1 {
		t.Errorf("results %v", got)
	}
}

func TestDispatcherNotifyNeverBlocks(t *testing.T) {
	devices := storagetest.New(t).Devices()
	register(t, devices, "u1 android tok")
	s := &fakeSender{block: make(chan struct{}), started: make(chan string, 4)}
	var res results
	d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: s},
		DispatcherOptions{Workers: 1, Queue: 1, Logger: quiet, OnResult: res.record})

	if !d.Notify("u1", Notification{Kind: KindMessage}) {
		t.Fatal("first Notify = false")
	}
	<-s.started // the only worker is now stuck in a send
	if !d.Notify("u1", Notification{Kind: KindMessage}) {
		t.Fatal("second Notify = false; the queue has room for one")
	}
	for i := range 3 {
		if d.Notify("u1", Notification{Kind: KindRing}) {
			t.Fatalf("Notify %d on a full queue = true", i+3)
		}
	}
	if d.Dropped() != 3 || d.Queued() != 1 {
		t.Errorf("Dropped() = %d, Queued() = %d; want 3, 1", d.Dropped(), d.Queued())
	}
	close(s.block)
	closeDispatcher(t, d)
	want := map[string]int{"message/sent": 2, "ring/dropped": 3}
	if got := res.get(); !maps.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
}

func TestDispatcherCopiesData(t *testing.T) {
	devices := storagetest.New(t).Devices()
	register(t, devices, "u1 android tok")
	s := &fakeSender{}
	d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: s}, DispatcherOptions{Logger: quiet})
	data := map[string]string{"k": "before"}
	d.Notify("u1", Notification{Kind: KindMessage, Data: data})
	data["k"] = "after" // the caller reuses its map at once
	closeDispatcher(t, d)
	if got := s.calls[0].n.Data["k"]; got != "before" {
		t.Errorf("sent data %q, want the value at Notify time", got)
	}
}

func TestDispatcherClose(t *testing.T) {
	t.Run("notify after close", func(t *testing.T) {
		d := NewDispatcher(storagetest.New(t).Devices(), nil, DispatcherOptions{Logger: quiet})
		closeDispatcher(t, d)
		if d.Notify("u1", Notification{Kind: KindMessage}) {
			t.Error("Notify after Close = true")
		}
		closeDispatcher(t, d) // idempotent
	})
	t.Run("deadline cancels in-flight sends and drops the queue", func(t *testing.T) {
		devices := storagetest.New(t).Devices()
		register(t, devices, "u1 android tok")
		s := &fakeSender{block: make(chan struct{}), started: make(chan string, 4)} // never released
		var res results
		d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: s},
			DispatcherOptions{Workers: 1, Retries: 3, Logger: quiet, OnResult: res.record})
		d.Notify("u1", Notification{Kind: KindMessage})
		d.Notify("u1", Notification{Kind: KindRing})
		<-s.started
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := d.Close(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Close = %v, want context.Canceled", err)
		}
		want := map[string]int{"message/failed": 1, "ring/dropped": 1}
		if got := res.get(); !maps.Equal(got, want) {
			t.Errorf("results %v, want %v", got, want)
		}
		if len(s.tokens()) != 1 || d.Dropped() != 1 {
			t.Errorf("%d sends, %d dropped; want 1, 1", len(s.tokens()), d.Dropped())
		}
	})
}

func TestNilDispatcher(t *testing.T) {
	var d *Dispatcher
	if d.Notify("u1", Notification{Kind: KindMessage}) {
		t.Error("nil Notify = true")
	}
	if err := d.Close(t.Context()); err != nil {
		t.Errorf("nil Close = %v", err)
	}
	if d.Dropped() != 0 || d.Queued() != 0 {
		t.Error("nil dispatcher reports work")
	}
}

func TestRetryWait(t *testing.T) {
	d := &Dispatcher{backoff: time.Second}
	transient := fmt.Errorf("%w: x", ErrTransient)
	tests := []struct {
		attempt  int
		err      error
		min, max time.Duration
	}{
		{0, transient, 500 * time.Millisecond, time.Second},
		{1, transient, time.Second, 2 * time.Second},
		{3, transient, 4 * time.Second, 8 * time.Second},
		{10, transient, 15 * time.Second, maxBackoff},
		{62, transient, 15 * time.Second, maxBackoff},
		{0, &Error{RetryAfter: 20 * time.Second, kind: ErrTransient}, 20 * time.Second, 20 * time.Second},
		{0, &Error{RetryAfter: time.Hour, kind: ErrTransient}, maxBackoff, maxBackoff},
		{4, &Error{RetryAfter: time.Second, kind: ErrTransient}, 8 * time.Second, 16 * time.Second},
	}
	for _, tt := range tests {
		for range 20 { // jitter
			if got := d.wait(tt.attempt, tt.err); got < tt.min || got > tt.max {
				t.Fatalf("wait(%d, %v) = %v, want within [%v, %v]", tt.attempt, tt.err, got, tt.min, tt.max)
			}
		}
	}
}

// TestDispatcherWithProviders runs the real senders against local fakes of
// FCM and APNs: dead tokens end up deactivated, live ones get the push.
func TestDispatcherWithProviders(t *testing.T) {
	clock := newFakeClock()
	google := newFakeGoogle(t, clock)
	google.dead = map[string]bool{"a-dead": true}
	google.sendReplies = []reply{{status: 503, body: `{"error":{"code":503,"status":"UNAVAILABLE"}}`}}
	keyFile, key := writeP8(t)
	apple := newFakeAPNs(t, key, clock)
	apple.dead = map[string]bool{"i-dead": true}
	fcm, apns := google.newFCM(t), apple.newAPNs(t, keyFile)

	devices := storagetest.New(t).Devices()
	register(t, devices, "u1 android a-good", "u1 android a-dead", "u1 web w-good", "u1 ios i-good", "u1 ios i-dead")
	var res results
	d := NewDispatcher(devices, map[string]Sender{PlatformAndroid: fcm, PlatformWeb: fcm, PlatformIOS: apns},
		DispatcherOptions{Workers: 2, Retries: 2, Backoff: time.Millisecond, Logger: quiet, OnResult: res.record, Now: clock.Now})
	d.Notify("u1", Notification{Kind: KindAccepted, Title: "Connected", Body: "Ada accepted"})
	closeDispatcher(t, d)

	want := map[string]bool{"a-good": true, "a-dead": false, "w-good": true, "i-good": true, "i-dead": false}
	if got := active(t, devices, "u1"); !maps.Equal(got, want) {
		t.Errorf("active devices %v, want %v", got, want)
	}
	if got, want := res.get(), map[string]int{"accepted/sent": 3, "accepted/unregistered": 2}; !maps.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	if fetches, _ := google.stats(); fetches != 1 {
		t.Errorf("%d OAuth token fetches, want 1", fetches)
	}
}
