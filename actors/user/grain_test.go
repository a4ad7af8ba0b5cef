package user_test

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

type noReminders struct{}

func (noReminders) Set(context.Context, storage.Reminder) error          { return nil }
func (noReminders) Delete(context.Context, string, string, string) error { return nil }

// fakeCells stands in for the Cell grains: it logs every write, and a cell
// told to hold answers its upserts only when the test gives the answer.
type fakeCells struct {
	mu     sync.Mutex
	log    []string
	hold   map[string]chan *grainpb.Ack
	events chan string
	// answered is signalled once a held upsert's answer is sent (and so,
	// the User grain's continuation queued).
	answered chan struct{}
}

func (f *fakeCells) record(e string) {
	f.mu.Lock()
	f.log = append(f.log, e)
	f.mu.Unlock()
	f.events <- e
}

func (f *fakeCells) logged() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeCells) holdCell(id string) chan *grainpb.Ack {
	ch := make(chan *grainpb.Ack)
	f.mu.Lock()
	f.hold[id] = ch
	f.mu.Unlock()
	return ch
}

func (f *fakeCells) kind() *pcluster.Kind {
	return pcluster.NewKind(cluster.KindCell, actor.PropsFromProducer(func() actor.Actor {
		var id string
		return actor.ReceiveFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *pcluster.ClusterInit:
				id = ctx.Message().(*pcluster.ClusterInit).Identity.Identity
			case *grainpb.CellUpsert:
				f.record(id + " upsert")
				f.mu.Lock()
				ch := f.hold[id]
				f.mu.Unlock()
				if ch == nil {
					ctx.Respond(&grainpb.Ack{})
					break
				}
				ctx.Respond(<-ch) // this cell is stuck; the user's grain must not be
				f.answered <- struct{}{}
			case *grainpb.CellRemove:
				f.record(id + " remove")
				ctx.Respond(&grainpb.Ack{})
			case *grainpb.ExistsQuery: // a probe: everything sent to the cell before it was handled
				ctx.Respond(&grainpb.ExistsReply{Exists: true})
			}
		})
	}))
}

func (f *fakeCells) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-f.events:
		if got != want {
			t.Fatalf("cell write %q, want %q (log %v)", got, want, f.logged())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no cell write %q (log %v)", want, f.logged())
	}
}

// TestCellWritesDoNotHoldTheUser: a location update is answered while the
// Cell grain it writes to is stuck; on a move the old cell is cleared only
// once the new one acknowledged; a failed write leaves the old entry in
// place and is retried after a second.
func TestCellWritesDoNotHoldTheUser(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	grid := radar.NewGrid(1000)
	cells := &fakeCells{hold: map[string]chan *grainpb.Ack{}, events: make(chan string, 100), answered: make(chan struct{}, 10)}
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		user.NewKind(user.Deps{
			Store: store, Clock: clk, Reminders: noReminders{}, Metrics: metrics.New(), Logger: logger, MaxSessions: 5,
			Grid: grid, Dir: radar.NewDirectory(), Watchers: radar.NewWatchers(), RadarLimit: 50,
			PresenceTTL: 2 * time.Minute, RadarInterval: 2 * time.Second, ReconnectGrace: 30 * time.Second, CellTimeout: time.Minute,
		}),
		cells.kind(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	sink := node.System.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	ref := &grainpb.SessionRef{SessionId: "s1", Address: sink.Address, PidId: sink.Id, Dialect: "ws"}
	if rep, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, "user_a", &grainpb.AttachSession{Session: ref}); err != nil || rep.Failure != nil {
		t.Fatalf("attach: %v %v", err, rep.GetFailure())
	}
	locate := func(lat, lng float64) {
		t.Helper()
		rep, err := cluster.Call[*grainpb.PresenceReply](ctx, node, cluster.KindUser, "user_a", &grainpb.UpdateLocation{Lat: lat, Lng: lng})
		if err != nil || rep.Failure != nil {
			t.Fatalf("location update while the cell is stuck: %v %v", err, rep.GetFailure())
		}
	}
	probe := func(kind, id string) {
		t.Helper()
		if _, err := cluster.Call[*grainpb.ExistsReply](ctx, node, kind, id, &grainpb.ExistsQuery{}); err != nil {
			t.Fatal(err)
		}
	}
	a := radar.CellID(grid.Cell(6.4281, 3.4219))
	b := radar.CellID(grid.Cell(6.9, 3.4219)) // 52 km north

	holdA := cells.holdCell(a)
	locate(6.4281, 3.4219)
	cells.expect(t, a+" upsert")
	holdA <- &grainpb.Ack{}
	<-cells.answered

	holdB := cells.holdCell(b)
	locate(6.9, 3.4219)
	cells.expect(t, b+" upsert")
	probe(cluster.KindCell, a)
	if slices.Contains(cells.logged(), a+" remove") {
		t.Fatalf("the old cell was cleared before the new one answered: %v", cells.logged())
	}

	holdB <- &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeUnavailable, protocol.DomainPresence, "busy")}
	<-cells.answered
	probe(cluster.KindUser, "user_a") // the grain has taken the failure in
	probe(cluster.KindCell, a)
	if slices.Contains(cells.logged(), a+" remove") {
		t.Fatalf("the old cell was cleared after the new one failed: %v", cells.logged())
	}

	clk.Advance(time.Second)
	cells.expect(t, b+" upsert")
	holdB <- &grainpb.Ack{}
	<-cells.answered
	cells.expect(t, a+" remove")
	if want := []string{a + " upsert", b + " upsert", b + " upsert", a + " remove"}; !slices.Equal(cells.logged(), want) {
		t.Errorf("cell writes %v, want %v", cells.logged(), want)
	}
}

// TestStaleGrainStops: the account was written by another activation
// (another node) since this grain loaded it. The grain's next write is
// refused: the caller is told to retry, nothing is announced, the sockets
// attached here are closed so that they reconnect to the fresh activation,
// the node's radar watches forget the grain, and it stops.
func TestStaleGrainStops(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	grid, watchers, m := radar.NewGrid(1000), radar.NewWatchers(), metrics.New()
	cells := &fakeCells{hold: map[string]chan *grainpb.Ack{}, events: make(chan string, 100), answered: make(chan struct{}, 10)}
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		user.NewKind(user.Deps{
			Store: store, Clock: clk, Reminders: noReminders{}, Metrics: m, Logger: logger, MaxSessions: 5,
			Grid: grid, Dir: radar.NewDirectory(), Watchers: watchers, RadarLimit: 50,
			PresenceTTL: 2 * time.Minute, RadarInterval: 2 * time.Second, ReconnectGrace: 30 * time.Second, CellTimeout: time.Minute,
		}),
		cells.kind(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	socket := make(chan any, 100)
	sink := node.System.Root.Spawn(actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *grainpb.SessionFrame, *grainpb.CloseSession:
			socket <- m
		}
	}))
	ref := &grainpb.SessionRef{SessionId: "s1", Address: sink.Address, PidId: sink.Id, Dialect: "ws"}
	if rep, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, "user_a", &grainpb.AttachSession{Session: ref}); err != nil || rep.Failure != nil {
		t.Fatalf("attach: %v %v", err, rep.GetFailure())
	}
	if rep, err := cluster.Call[*grainpb.PresenceReply](ctx, node, cluster.KindUser, "user_a", &grainpb.UpdateLocation{Lat: 6.4281, Lng: 3.4219}); err != nil || rep.Failure != nil {
		t.Fatalf("locate: %v %v", err, rep.GetFailure())
	}
	here := grid.Cell(6.4281, 3.4219)
	// Each wake-up is taken back at once, so a watcher still registered
	// is counted by the next one too.
	unflag := func(w *radar.Watcher) { w.Clean() }
	if n := watchers.Wake(here, "", unflag); n != 1 {
		t.Fatalf("%d watchers of the user's cell, want 1", n)
	}

	stale := node.Cluster.Get("user_a", cluster.KindUser)
	// Another activation renames the user.
	u, err := store.Users().Get(ctx, "user_a")
	if err != nil {
		t.Fatal(err)
	}
	u.Name = "renamed elsewhere"
	if err := store.Users().Put(ctx, u); err != nil {
		t.Fatal(err)
	}

	name := "mine"
	rep, err := cluster.Call[*grainpb.UserReply](ctx, node, cluster.KindUser, "user_a", &grainpb.UpdateProfile{Name: &name})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Failure == nil || rep.Failure.Code != string(protocol.CodeUnavailable) {
		t.Fatalf("stale grain answered %v (%s), want unavailable", rep.Failure, rep.UserJson)
	}
	for got := range socket {
		if c, ok := got.(*grainpb.CloseSession); ok {
			if c.Code != protocol.CloseInternal {
				t.Fatalf("socket closed with %d, want %d", c.Code, protocol.CloseInternal)
			}
			break
		}
		t.Fatalf("the socket was sent %v before its close", got)
	}
	if got, _ := store.Users().Get(ctx, "user_a"); got.Name != "renamed elsewhere" || got.Version != u.Version {
		t.Fatalf("stored %q v%d after the refused write, want the other activation's (v%d)", got.Name, got.Version, u.Version)
	}
	if n := testutil.ToFloat64(m.StaleWrites.WithLabelValues(cluster.KindUser)); n != 1 {
		t.Fatalf("stale writes counted %v", n)
	}

	// The next call activates a fresh grain on the newer record, once the
	// stale one stopped and its placement forgot it (the placement hears
	// of the stop after the watchers; asked before, it still names the
	// stopped grain, and a call's immediate retries may all land there).
	for deadline := time.Now().Add(5 * time.Second); stale.Equal(node.Cluster.Get("user_a", cluster.KindUser)); {
		if time.Now().After(deadline) {
			t.Fatal("the stale grain did not stop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	got, err := cluster.Call[*grainpb.UserReply](ctx, node, cluster.KindUser, "user_a", &grainpb.GetUser{})
	if err != nil || got.Failure != nil || !strings.Contains(string(got.UserJson), "renamed elsewhere") {
		t.Fatalf("after the stop: %v %v %s", err, got.GetFailure(), got.GetUserJson())
	}
	if n := testutil.ToFloat64(m.GrainActivations.WithLabelValues(cluster.KindUser)); n != 2 {
		t.Fatalf("activations %v, want 2", n)
	}
	if n := watchers.Wake(here, "", unflag); n != 0 {
		t.Fatalf("%d watchers of the user's cell after the stale grain stopped, want 0", n)
	}
	select {
	case got := <-socket:
		t.Fatalf("the closed socket was sent %v", got)
	case <-time.After(50 * time.Millisecond):
	}
}
