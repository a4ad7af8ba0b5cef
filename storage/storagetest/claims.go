package storagetest

import (
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func claim(t *testing.T, s storage.Store, now, until time.Duration, limit int) []storage.Reminder {
	t.Helper()
	rs, err := s.Reminders().Claim(t.Context(), at(now), at(until), limit)
	must(t, err)
	return rs
}

func names(rs []storage.Reminder) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Identity+"/"+r.Name)
	}
	return out
}

func claimed(r storage.Reminder, until time.Duration) storage.Reminder {
	u := at(until)
	r.ClaimedUntil = &u
	return r
}

// Claims are what make a reminder fire on one node at a time.
var claimCases = []testCase{
	{"claim takes due reminders earliest first and holds them until the claim ends", func(t *testing.T, s storage.Store) {
		r1, r2, r3 := rem("a", "x", time.Minute), rem("b", "x", 2*time.Minute), rem("c", "x", time.Hour)
		for _, r := range []storage.Reminder{r3, r1, r2} {
			must(t, s.Reminders().Set(t.Context(), r))
		}
		got := claim(t, s, 5*time.Minute, 15*time.Minute, 10)
		wantEqual(t, "first claim", got, []storage.Reminder{claimed(r1, 15*time.Minute), claimed(r2, 15*time.Minute)})
		// Held: nobody claims them again before the claim ends, and the
		// not-yet-due one stays out.
		wantEqual(t, "claim while held", names(claim(t, s, 10*time.Minute, 20*time.Minute, 10)), []string{})
		wantEqual(t, "due while held", names(due(t, s, 10*time.Minute, 10)), []string{})
		next, err := s.Reminders().Next(t.Context())
		must(t, err)
		wantEqual(t, "next while held", next, ptr(claimed(r1, 15*time.Minute)))
		wantEqual(t, "next's ReadyAt", next.ReadyAt(), at(15*time.Minute))
		// A claim that ended without the reminder being deleted or re-set
		// (its node died) is claimable again: at least once.
		got = claim(t, s, 15*time.Minute, 30*time.Minute, 1)
		wantEqual(t, "after the claim ended, within limit", got, []storage.Reminder{claimed(r1, 30*time.Minute)})
		wantEqual(t, "the other", names(claim(t, s, 16*time.Minute, 30*time.Minute, 10)), []string{"b/x"})
	}},
	{"set drops the claim and delete removes a claimed reminder", func(t *testing.T, s storage.Store) {
		r1, r2 := rem("a", "x", time.Minute), rem("b", "x", time.Minute)
		must(t, s.Reminders().Set(t.Context(), r1))
		must(t, s.Reminders().Set(t.Context(), r2))
		wantEqual(t, "claim", len(claim(t, s, time.Minute, time.Hour, 10)), 2)
		// The grain re-sets one for later (ClaimedUntil on the input is
		// ignored) and deletes the other.
		again := rem("a", "x", 3*time.Minute)
		again.ClaimedUntil = ptr(at(24 * time.Hour))
		must(t, s.Reminders().Set(t.Context(), again))
		must(t, s.Reminders().Delete(t.Context(), "request", "b", "x"))
		wantEqual(t, "due after re-set", due(t, s, 3*time.Minute, 10), []storage.Reminder{rem("a", "x", 3*time.Minute)})
		wantEqual(t, "claim after re-set", claim(t, s, 3*time.Minute, 4*time.Minute, 10), []storage.Reminder{claimed(rem("a", "x", 3*time.Minute), 4*time.Minute)})
	}},
	{"concurrent claims never hand out one reminder twice", func(t *testing.T, s storage.Store) {
		const n = 40
		for i := range n {
			must(t, s.Reminders().Set(t.Context(), rem(string(rune('A'+i)), "x", time.Duration(i)*time.Second)))
		}
		var mu sync.Mutex
		seen := map[string]int{}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for {
					rs, err := s.Reminders().Claim(t.Context(), at(time.Hour), at(2*time.Hour), 3)
					if err != nil {
						t.Error(err)
						return
					}
					if len(rs) == 0 {
						return
					}
					mu.Lock()
					for _, r := range rs {
						seen[r.Identity]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(seen) != n {
			t.Fatalf("claimed %d distinct reminders, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("reminder %s claimed %d times", id, c)
			}
		}
	}},
	{"claim rejects a bad limit or a claim that ends before it starts", func(t *testing.T, s storage.Store) {
		_, err := s.Reminders().Claim(t.Context(), at(0), at(time.Minute), 0)
		wantErr(t, "limit 0", err)
		_, err = s.Reminders().Claim(t.Context(), at(time.Minute), at(time.Minute), 5)
		wantErr(t, "until == now", err)
	}},
}
