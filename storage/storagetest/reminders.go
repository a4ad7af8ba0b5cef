package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func rem(identity, name string, due time.Duration) storage.Reminder {
	return storage.Reminder{Kind: "request", Identity: identity, Name: name, DueAt: at(due), Payload: []byte(identity + "/" + name)}
}

func due(t *testing.T, s storage.Store, until time.Duration, limit int) []storage.Reminder {
	t.Helper()
	rs, err := s.Reminders().Due(t.Context(), at(until), limit)
	must(t, err)
	return rs
}

var reminderCases = []testCase{
	{"next of an empty store is ErrNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.Reminders().Next(t.Context())
		wantIs(t, "Next", err, storage.ErrNotFound)
		wantEqual(t, "Due", len(due(t, s, 1000*time.Hour, 10)), 0)
	}},
	{"due lists reminders up to until, earliest first, within limit", func(t *testing.T, s storage.Store) {
		r1, r2, r3, r4 := rem("a", "x", 3*time.Minute), rem("b", "x", time.Minute), rem("c", "x", 2*time.Minute), rem("d", "x", time.Hour)
		for _, r := range []storage.Reminder{r1, r2, r3, r4} {
			must(t, s.Reminders().Set(t.Context(), r))
		}
		tests := []struct {
			until time.Duration
			limit int
			want  []storage.Reminder
		}{
			{0, 10, nil},
			{time.Minute, 10, []storage.Reminder{r2}}, // until is inclusive
			{2*time.Minute + time.Second, 10, []storage.Reminder{r2, r3}},
			{time.Hour, 2, []storage.Reminder{r2, r3}},
			{time.Hour, 1, []storage.Reminder{r2}},
			{2 * time.Hour, 10, []storage.Reminder{r2, r3, r1, r4}},
		}
		for _, tt := range tests {
			wantEqual(t, fmt.Sprintf("Due(+%s, %d)", tt.until, tt.limit), due(t, s, tt.until, tt.limit), tt.want)
		}
		next, err := s.Reminders().Next(t.Context())
		must(t, err)
		wantEqual(t, "Next", next, &r2)
	}},
	{"set replaces the due time and payload", func(t *testing.T, s storage.Store) {
		must(t, s.Reminders().Set(t.Context(), rem("a", "x", 5*time.Minute)))
		moved := rem("a", "x", time.Minute)
		moved.Payload = []byte("new")
		must(t, s.Reminders().Set(t.Context(), moved))
		wantEqual(t, "Due after moving earlier", due(t, s, 10*time.Minute, 10), []storage.Reminder{moved})

		later := rem("a", "x", 20*time.Minute)
		must(t, s.Reminders().Set(t.Context(), later))
		wantEqual(t, "Due after moving later", due(t, s, 10*time.Minute, 10), []storage.Reminder{})
		next, err := s.Reminders().Next(t.Context())
		must(t, err)
		wantEqual(t, "Next", next, &later)
	}},
	{"kind, identity and name together are the key", func(t *testing.T, s storage.Store) {
		a := rem("a", "x", time.Minute)
		b := rem("b", "x", time.Minute)
		c := rem("a", "y", time.Minute)
		d := rem("a", "x", time.Minute)
		d.Kind = "chat"
		for _, r := range []storage.Reminder{a, b, c, d} {
			must(t, s.Reminders().Set(t.Context(), r))
		}
		wantEqual(t, "count due", len(due(t, s, time.Hour, 10)), 4)
	}},
	{"delete removes and is idempotent", func(t *testing.T, s storage.Store) {
		must(t, s.Reminders().Set(t.Context(), rem("a", "x", time.Minute)))
		b := rem("b", "x", 2*time.Minute)
		must(t, s.Reminders().Set(t.Context(), b))
		must(t, s.Reminders().Delete(t.Context(), "request", "a", "x"))
		must(t, s.Reminders().Delete(t.Context(), "request", "a", "x"))
		must(t, s.Reminders().Delete(t.Context(), "request", "nobody", "x"))
		wantEqual(t, "Due", due(t, s, time.Hour, 10), []storage.Reminder{b})
		next, err := s.Reminders().Next(t.Context())
		must(t, err)
		wantEqual(t, "Next", next, &b)
		must(t, s.Reminders().Delete(t.Context(), "request", "b", "x"))
		_, err = s.Reminders().Next(t.Context())
		wantIs(t, "Next after deleting all", err, storage.ErrNotFound)
	}},
	{"bad keys and limits are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for name, err := range map[string]error{
			"Set without kind":     s.Reminders().Set(ctx, storage.Reminder{Identity: "a", Name: "x", DueAt: t0}),
			"Set without identity": s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Name: "x", DueAt: t0}),
			"Set without name":     s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: "a", DueAt: t0}),
			"Delete(\"\", a, x)":   s.Reminders().Delete(ctx, "", "a", "x"),
			"Due limit 0":          func() error { _, err := s.Reminders().Due(ctx, t0, 0); return err }(),
			"Due limit -1":         func() error { _, err := s.Reminders().Due(ctx, t0, -1); return err }(),
		} {
			wantErr(t, name, err)
		}
		_, err := s.Reminders().Next(ctx)
		wantIs(t, "Next after rejected sets", err, storage.ErrNotFound)
	}},
}
