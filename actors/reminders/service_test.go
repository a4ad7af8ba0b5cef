package reminders

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// grain plays the owner: it records fires and, like a real grain, deletes
// the reminder it handled unless told to fail.
type grain struct {
	mu    sync.Mutex
	store storage.Reminders
	fired []string
	fail  int // fail this many fires first
	ch    chan string
}

func (g *grain) fire(ctx context.Context, r storage.Reminder) error {
	g.mu.Lock()
	if g.fail > 0 {
		g.fail--
		g.mu.Unlock()
		g.ch <- "fail:" + r.Name
		return errors.New("grain busy")
	}
	g.fired = append(g.fired, r.Name)
	g.mu.Unlock()
	if err := g.store.Delete(ctx, r.Kind, r.Identity, r.Name); err != nil {
		return err
	}
	g.ch <- r.Name
	return nil
}

func setup(t *testing.T, clk clock.Clock) (*Service, *grain, storage.Reminders) {
	t.Helper()
	st := storagetest.New(t).Reminders()
	g := &grain{store: st, ch: make(chan string, 100)}
	s := New(st, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.FireTimeout, s.RetryAfter = 500*time.Millisecond, 20*time.Millisecond
	t.Cleanup(s.Stop)
	return s, g, st
}

func expect(t *testing.T, g *grain, want string) {
	t.Helper()
	select {
	case got := <-g.ch:
		if got != want {
			t.Fatalf("fired %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%q did not fire", want)
	}
}

func TestOverdueRemindersFireAtStart(t *testing.T) {
	clk := clock.NewReal(1)
	s, g, st := setup(t, clk)
	ctx := context.Background()
	for _, name := range []string{"a", "b"} {
		// Stored before the service runs, as if the server had been down.
		if err := st.Set(ctx, storage.Reminder{Kind: "User", Identity: "u1", Name: name, DueAt: clk.Now().Add(-time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	s.Start(g.fire)
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		select {
		case n := <-g.ch:
			got[n] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("only %v fired", got)
		}
	}
	if !got["a"] || !got["b"] {
		t.Fatalf("fired %v", got)
	}
}

func TestReminderFiresAtItsDueTimeOnTheProcessClock(t *testing.T) {
	clk := clock.NewReal(600) // ten clock minutes per real second
	s, g, _ := setup(t, clk)
	s.Start(g.fire)
	due := clk.Now().Add(2 * time.Minute)
	if err := s.Set(context.Background(), storage.Reminder{Kind: "User", Identity: "u1", Name: "vibe", DueAt: due}); err != nil {
		t.Fatal(err)
	}
	expect(t, g, "vibe")
	if now := clk.Now(); now.Before(due) {
		t.Fatalf("fired at %v, before due %v", now, due)
	}
}

func TestFailedFireIsRetried(t *testing.T) {
	clk := clock.NewReal(1)
	s, g, _ := setup(t, clk)
	g.fail = 2
	s.Start(g.fire)
	if err := s.Set(context.Background(), storage.Reminder{Kind: "User", Identity: "u1", Name: "x", DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	expect(t, g, "fail:x")
	expect(t, g, "fail:x")
	expect(t, g, "x")
}

func TestMovedReminderFiresOnceAtTheNewTime(t *testing.T) {
	clk := clock.NewReal(600)
	s, g, _ := setup(t, clk)
	s.Start(g.fire)
	ctx := context.Background()
	r := storage.Reminder{Kind: "User", Identity: "u1", Name: "vibe", DueAt: clk.Now().Add(time.Hour)}
	if err := s.Set(ctx, r); err != nil {
		t.Fatal(err)
	}
	r.DueAt = clk.Now().Add(time.Minute)
	if err := s.Set(ctx, r); err != nil {
		t.Fatal(err)
	}
	expect(t, g, "vibe")
	select {
	case n := <-g.ch:
		t.Fatalf("fired again: %q", n)
	case <-time.After(300 * time.Millisecond):
	}
}

func TestDeletedReminderDoesNotFire(t *testing.T) {
	clk := clock.NewReal(600)
	s, g, _ := setup(t, clk)
	s.Start(g.fire)
	ctx := context.Background()
	if err := s.Set(ctx, storage.Reminder{Kind: "User", Identity: "u1", Name: "gone", DueAt: clk.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "User", "u1", "gone"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, storage.Reminder{Kind: "User", Identity: "u1", Name: "kept", DueAt: clk.Now().Add(2 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	expect(t, g, "kept")
}

// A grain that handles a fire by moving its reminder to a new due time
// (a gift's next code) gets it at that time, not after the retry pause
// meant for a reminder it failed to clear.
func TestReminderMovedByItsHandlerIsNotHeldBack(t *testing.T) {
	clk := clock.NewReal(1)
	s, g, st := setup(t, clk)
	s.RetryAfter = time.Hour // a held-back fire would never arrive in this test
	ctx := context.Background()
	moved := make(chan struct{})
	s.Start(func(ctx context.Context, r storage.Reminder) error {
		if r.Name == "code" && r.Payload == nil {
			r.Payload, r.DueAt = []byte("second"), clk.Now().Add(50*time.Millisecond)
			close(moved)
			return st.Set(ctx, r)
		}
		return g.fire(ctx, r)
	})
	if err := s.Set(ctx, storage.Reminder{Kind: "Rewards", Identity: "a|b", Name: "code", DueAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	<-moved
	expect(t, g, "code")
}
