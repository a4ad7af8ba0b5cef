package reminders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/storage/postgres/pgtest"
	"github.com/gisbi/engine/storage/storagetest"
)

// stores are the shared stores the services run over: always bbolt, and
// PostgreSQL (SELECT … FOR UPDATE SKIP LOCKED) when GISBI_TEST_POSTGRES
// names a database.
var stores = []struct {
	name string
	open func(t *testing.T) storage.Reminders
}{
	{"bbolt", func(t *testing.T) storage.Reminders { return storagetest.New(t).Reminders() }},
	{"postgres", func(t *testing.T) storage.Reminders {
		s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{})
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.Reminders()
	}},
}

// behaviour is how a reminder's grain answers its first fire; later fires
// are always handled (the reminder deleted).
type behaviour int

const (
	handled  behaviour = iota
	failOnce           // the first fire fails, the reminder stays
	hangOnce           // the first fire hangs until its context ends (a stuck node)
)

// fireLog is one fire as the grains saw it.
type fireLog struct {
	service    string
	start, end time.Time
	err        error
}

// grains stands in for the grains of every node: it fires reminders as the
// behaviours say, records every fire, and fails the test when one instance
// of a reminder (reminder, DueAt) is being fired twice at once.
type grains struct {
	t     *testing.T
	store storage.Reminders
	how   map[string]behaviour

	mu     sync.Mutex
	active map[string]int
	fires  map[string][]fireLog
	hung   chan string // the service whose fire hangs
	done   chan struct{}
	want   int // fires expected in all
	seen   int
}

func instanceOf(r storage.Reminder) string {
	return key(r) + "@" + strconv.FormatInt(r.DueAt.UnixNano(), 10)
}

func (g *grains) fire(service string) FireFunc {
	return func(ctx context.Context, r storage.Reminder) error {
		inst := instanceOf(r)
		g.mu.Lock()
		g.active[inst]++
		if g.active[inst] > 1 {
			g.t.Errorf("%s fired on %s while another fire of it runs", r.Name, service)
		}
		attempt := len(g.fires[r.Name])
		g.fires[r.Name] = append(g.fires[r.Name], fireLog{service: service, start: time.Now()})
		g.mu.Unlock()

		var err error
		switch {
		case attempt == 0 && g.how[r.Name] == failOnce:
			err = errors.New("grain busy")
		case attempt == 0 && g.how[r.Name] == hangOnce:
			g.hung <- service
			<-ctx.Done()
			err = ctx.Err()
		default:
			time.Sleep(5 * time.Millisecond) // a grain at work: fires overlap if they can
			err = g.store.Delete(ctx, r.Kind, r.Identity, r.Name)
		}

		g.mu.Lock()
		g.active[inst]--
		l := &g.fires[r.Name][attempt]
		l.end, l.err = time.Now(), err
		if g.seen++; g.seen == g.want {
			close(g.done)
		}
		g.mu.Unlock()
		return err
	}
}

// TestServicesSharingAStore runs two services (two nodes) over one store:
// each reminder instance is fired by one of them at a time, a handled
// reminder once, and one whose fire failed, or hung while its service
// stopped, again once its claim lapses, on whichever node claims it.
func TestServicesSharingAStore(t *testing.T) {
	const (
		// A fire plus its claim's release must fit in the lease on a
		// loaded CI machine (PostgreSQL, -race, other packages' tests):
		// at 400 ms a handled fire was once fired again (61 of 60).
		fireTimeout = 1500 * time.Millisecond
		retryAfter  = 300 * time.Millisecond
		lease       = fireTimeout + retryAfter // real time, whatever the clock's speed
		slack       = 150 * time.Millisecond   // the claim is taken a little before the fire starts
	)
	tests := []struct {
		name  string
		speed float64
		n     int                  // handled reminders
		odd   map[string]behaviour // and these
		// stopHung stops the service whose fire hangs, mid-fire: the other
		// one must fire the reminder after the lease.
		stopHung bool
	}{
		{name: "each handled reminder fires once", speed: 1, n: 60},
		{name: "on a fast clock", speed: 600, n: 30},
		{name: "a failed fire fires again after the lease", speed: 1, n: 20, odd: map[string]behaviour{"x": failOnce, "y": failOnce}},
		{name: "a failed fire on a fast clock waits the lease in real time", speed: 600, n: 10, odd: map[string]behaviour{"x": failOnce}},
		{name: "a hung fire whose service stops fires on the other after the lease", speed: 1, n: 10, odd: map[string]behaviour{"x": hangOnce}, stopHung: true},
		{name: "a hung fire times out and fires again after the lease", speed: 1, n: 10, odd: map[string]behaviour{"x": hangOnce}},
	}
	for _, store := range stores {
		for _, tt := range tests {
			t.Run(store.name+"/"+tt.name, func(t *testing.T) {
				t.Parallel()
				clk := clock.NewReal(tt.speed)
				st := store.open(t)
				g := &grains{t: t, store: st, how: map[string]behaviour{}, active: map[string]int{}, fires: map[string][]fireLog{},
					hung: make(chan string, 4), done: make(chan struct{})}
				ctx := context.Background()
				due := clk.Now().Add(-time.Minute)
				set := func(name string, b behaviour) {
					g.how[name] = b
					g.want++
					if b != handled {
						g.want++
					}
					if err := st.Set(ctx, storage.Reminder{Kind: "Pair", Identity: "p_" + name, Name: name, DueAt: due}); err != nil {
						t.Fatal(err)
					}
				}
				for i := range tt.n {
					set(fmt.Sprintf("r%02d", i), handled)
				}
				for name, b := range tt.odd {
					set(name, b)
				}
				services := map[string]*Service{}
				for _, name := range []string{"A", "B"} {
					s := New(st, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
					s.FireTimeout, s.RetryAfter, s.BatchSize, s.Concurrency = fireTimeout, retryAfter, 3, 4
					services[name] = s
					t.Cleanup(s.Stop)
				}
				for name, s := range services {
					s.Start(g.fire(name))
				}
				if tt.stopHung {
					go services[<-g.hung].Stop() // the node goes away mid-fire
				}
				select {
				case <-g.done:
				case <-time.After(10 * time.Second):
					g.mu.Lock()
					t.Fatalf("%d of %d fires happened", g.seen, g.want)
				}
				time.Sleep(lease + slack) // nothing more may fire
				g.mu.Lock()
				defer g.mu.Unlock()
				if g.seen != g.want {
					t.Fatalf("%d fires, want %d", g.seen, g.want)
				}
				for name, b := range g.how {
					fs := g.fires[name]
					want := 1
					if b != handled {
						want = 2
					}
					if len(fs) != want {
						t.Errorf("%s fired %d times, want %d", name, len(fs), want)
						continue
					}
					if fs[len(fs)-1].err != nil {
						t.Errorf("%s: last fire failed: %v", name, fs[len(fs)-1].err)
					}
					if want == 1 {
						continue
					}
					first, again := fs[0], fs[1]
					if gap := again.start.Sub(first.start); gap < lease-slack || gap > lease+2*time.Second {
						t.Errorf("%s fired again %v after its first fire, want about the lease (%v) in real time", name, gap, lease)
					}
					if again.start.Before(first.end) {
						t.Errorf("%s fired again before its first fire ended", name)
					}
					if tt.stopHung && again.service == first.service {
						t.Errorf("%s fired again on %s, which was stopped", name, again.service)
					}
				}
			})
		}
	}
}
