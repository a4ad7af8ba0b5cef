package radar

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
)

// testNode is one member's radar parts.
type testNode struct {
	addr    string
	members *cluster.Membership
	dir     *Directory
	watch   *Watchers
}

func newTestNode(addr string) *testNode {
	return &testNode{addr: addr, members: cluster.NewMembership(), dir: NewDirectory(), watch: NewWatchers()}
}

func (n *testNode) mirrorDeps(clk clock.Clock, logger *slog.Logger) MirrorDeps {
	return MirrorDeps{Dir: n.dir, Watchers: n.watch, Membership: n.members, Clock: clk, Metrics: metrics.New(), Logger: logger, PresenceTTL: time.Minute}
}

// Two members in one plain actor system, as far as the radar can tell: one
// test process runs one remote-enabled node only. Node B is the system's
// own address, so the mirror it starts under MirrorName is what node A's
// Cell grains reach at cluster.PeerPID(B, MirrorName); node A has a made-up
// address, and its own mirror (spawned under another name) is reached by
// sending to it directly. Every part is the real one: Cell grains, mirrors,
// Directory, Watchers; only the User grain watching on node B is a probe.
func TestMirrorKeepsRemoteCells(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return logger }))
	clk := clock.NewFake(replicaT0)
	a, b := newTestNode("10.0.0.1:4000"), newTestNode(sys.Address())
	// A's cells announce themselves to another member first, so B misses
	// their first (full) deltas.
	const other = "10.0.0.9:4000"
	a.members.SetForTest(a.addr, []string{a.addr, other})
	b.members.SetForTest(b.addr, []string{b.addr, a.addr})

	if _, err := StartMirror(sys, b.mirrorDeps(clk, logger)); err != nil {
		t.Fatal(err)
	}
	mirrorA := sys.Root.Spawn(NewMirror(a.mirrorDeps(clk, logger)))
	propsA := cellProps(CellDeps{Dir: a.dir, Watchers: a.watch, Membership: a.members, Clock: clk, Metrics: metrics.New(), Logger: logger, PresenceTTL: time.Minute})
	cellC, cellD := replicaCell, replicaCell2
	grains := map[h3.Cell]*actor.PID{}
	for _, c := range []h3.Cell{cellC, cellD} {
		pid := sys.Root.Spawn(propsA)
		sys.Root.Send(pid, &pcluster.ClusterInit{Identity: pcluster.NewClusterIdentity(CellID(c), cluster.KindCell)})
		grains[c] = pid
	}
	write := func(c h3.Cell, msg any) {
		t.Helper()
		if _, err := sys.Root.RequestFuture(grains[c], msg, 5*time.Second).Result(); err != nil {
			t.Fatalf("cell write: %v", err)
		}
	}

	// A User grain on node B watching both cells.
	dirty := make(chan struct{}, 64)
	probe := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if _, ok := ctx.Message().(*grainpb.RadarDirty); ok {
			dirty <- struct{}{}
		}
	}))
	viewer := NewWatcher("viewer", probe)
	b.watch.Move(viewer, nil, []h3.Cell{cellC, cellD})
	woken := func(step string) {
		t.Helper()
		select {
		case <-dirty:
			viewer.Clean()
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: the watcher on node B was not woken", step)
		}
	}
	users := func(snap *Snapshot) []string {
		var ids []string
		if snap != nil {
			for _, e := range snap.Entries {
				ids = append(ids, e.UserID)
			}
		}
		slices.Sort(ids)
		return ids
	}
	expect := func(step string, c h3.Cell, want ...string) {
		t.Helper()
		if got := users(b.dir.LoadRemote(c)); !slices.Equal(got, want) {
			t.Fatalf("%s: node B sees %v in %s, want %v", step, got, CellID(c), want)
		}
		if b.dir.Load(c) != nil {
			t.Fatalf("%s: node B publishes %s as its own", step, CellID(c))
		}
	}

	write(cellC, &grainpb.CellUpsert{Entry: pe("u1", 0, 0)})
	write(cellD, &grainpb.CellUpsert{Entry: pe("u3", 0.1, 0)})

	// B joins A's view: the next delta of C is of an activation B has no
	// content of, so it asks the grain, which answers with all of it.
	a.members.SetForTest(a.addr, []string{a.addr, b.addr})
	write(cellC, &grainpb.CellUpsert{Entry: pe("u2", 0.001, 0)})
	woken("resync")
	expect("resync", cellC, "u1", "u2")
	if got := users(a.dir.Load(cellC)); !slices.Equal(got, []string{"u1", "u2"}) {
		t.Fatalf("node A's own snapshot of C: %v", got)
	}
	expect("resync", cellD)

	// D changed nothing since: it comes when B asks A's mirror for A's
	// cells (B's mirror does when it starts and when it sees A join; here
	// the network is us).
	sys.Root.Send(mirrorA, &grainpb.MirrorSync{Address: b.addr})
	woken("mirror sync")
	expect("mirror sync", cellD, "u3")

	// From here deltas apply in order.
	write(cellC, &grainpb.CellRemove{UserId: "u1"})
	woken("remove")
	expect("remove", cellC, "u2")

	// A user that moves is not woken by its own move.
	mover := NewWatcher("u2", probe)
	b.watch.Move(mover, nil, []h3.Cell{cellC})
	write(cellC, &grainpb.CellUpsert{Entry: pe("u2", 0.002, time.Second)})
	woken("move")
	if mover.dirty.Load() {
		t.Fatal("the mover was woken by its own move")
	}
	expect("move", cellC, "u2")
	if e := b.dir.LoadRemote(cellC).Entries[0]; e.Lat != 6.502 {
		t.Fatalf("node B has u2 at %v, want the moved position", e.Lat)
	}
	b.watch.Move(mover, []h3.Cell{cellC}, nil)

	// A cell that stops takes its entries off node B.
	if err := sys.Root.PoisonFuture(grains[cellC]).Wait(); err != nil {
		t.Fatal(err)
	}
	woken("stopped")
	expect("stopped", cellC)
	if a.dir.Load(cellC) != nil {
		t.Fatal("node A still publishes its stopped cell")
	}

	// A member that leaves takes its cells with it.
	b.members.SetForTest(b.addr, []string{b.addr})
	woken("left")
	expect("left", cellD)
}
