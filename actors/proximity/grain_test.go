package proximity_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/proximity"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// gatedStore holds snapshot writes while the gate is closed, standing in
// for a slow disk.
type gatedStore struct {
	storage.Store
	snaps *gatedSnapshots
}

func (s *gatedStore) Snapshots() storage.Snapshots { return s.snaps }

type gatedSnapshots struct {
	storage.Snapshots
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (g *gatedSnapshots) close() {
	g.mu.Lock()
	g.gate = make(chan struct{})
	g.mu.Unlock()
}

func (g *gatedSnapshots) open() {
	g.mu.Lock()
	if g.gate != nil {
		close(g.gate)
		g.gate = nil
	}
	g.mu.Unlock()
}

func (g *gatedSnapshots) Put(ctx context.Context, kind, id string, data []byte) error {
	g.mu.Lock()
	gate := g.gate
	g.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return g.Snapshots.Put(ctx, kind, id, data)
}

// inbox stands in for the User grains: it records the frame types
// delivered to users and answers location asks with "unknown".
type inbox struct {
	mu    sync.Mutex
	types []string
}

func (in *inbox) count(typ string) int {
	in.mu.Lock()
	defer in.mu.Unlock()
	n := 0
	for _, t := range in.types {
		if t == typ {
			n++
		}
	}
	return n
}

func (in *inbox) kind() *pcluster.Kind {
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromFunc(func(c actor.Context) {
		switch m := c.Message().(type) {
		case *grainpb.Deliver:
			in.mu.Lock()
			in.types = append(in.types, m.Type)
			in.mu.Unlock()
		case *grainpb.GetLocation:
			c.Respond(&grainpb.LocationReply{})
		}
	}))
}

type rig struct {
	t      *testing.T
	node   *cluster.Node
	clk    *clock.Fake
	store  *gatedStore
	in     *inbox
	grains *proximity.Grains
}

const rigConn = "conn_held"

// newRig runs a Proximity grain for an active connection between user_a
// and user_b, on a fake clock, with 1 minute as the only milestone, and both
// sides started: the run is active at the clock's start.
func newRig(t *testing.T) *rig {
	ctx := context.Background()
	base := storagetest.New(t)
	r := &rig{t: t, store: &gatedStore{Store: base, snaps: &gatedSnapshots{Snapshots: base.Snapshots()}}, in: &inbox{}, grains: proximity.NewGrains()}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	r.clk = clock.NewFake(t0)
	if err := base.Pairs().Save(ctx, &storage.Pair{ID: storage.PairID("user_a", "user_b"), UserA: "user_a", UserB: "user_b",
		Connections: []storage.Connection{{ID: rigConn, SenderID: "user_a", ReceiverID: "user_b", Status: "accepted", CreatedAt: t0, AcceptedAt: t0}}}); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := proximity.DefaultConfig()
	cfg.Milestones = []int{1}
	cfg.HeartbeatTimeout = time.Hour // no pause while the test moves time
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{r.in.kind(), proximity.NewKind(proximity.Deps{
		Store: r.store, Clock: r.clk, Config: cfg, SnapshotEvery: 5 * time.Second, UpdateEvery: 30 * time.Second,
		Grains: r.grains, Metrics: metrics.New(), Logger: logger,
	})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	r.node = node
	var ta, tb struct{ Token string }
	_ = json.Unmarshal(r.ask(&grainpb.ProximityCommand{Op: "token", ActorId: "user_a"}), &ta)
	_ = json.Unmarshal(r.ask(&grainpb.ProximityCommand{Op: "token", ActorId: "user_b"}), &tb)
	r.ask(&grainpb.ProximityCommand{Op: "start", ActorId: "user_a", Token: tb.Token, Rssi: -60})
	r.ask(&grainpb.ProximityCommand{Op: "start", ActorId: "user_b", Token: ta.Token, Rssi: -60})
	return r
}

func (r *rig) ask(cmd *grainpb.ProximityCommand) []byte {
	r.t.Helper()
	rep, err := cluster.Call[*grainpb.ProximityReply](context.Background(), r.node, cluster.KindProximity, rigConn, cmd)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := rep.Failure.Err(); err != nil {
		r.t.Fatalf("%s: %v", cmd.Op, err)
	}
	return rep.PayloadJson
}

// step moves the clock and waits until the grain has handled its ticks.
func (r *rig) step(d time.Duration) {
	r.clk.Advance(d)
	r.ask(&grainpb.ProximityCommand{Op: "summary", ActorId: "user_a"})
}

// waitFor waits until n frames of typ were delivered (deliveries are
// asynchronous) and returns the count, which may still be short.
func (r *rig) waitFor(typ string, n int) int {
	deadline := time.Now().Add(5 * time.Second)
	for r.in.count(typ) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return r.in.count(typ)
}

// TestHeldMilestoneDoesNotRepeatUpdates: when the periodic update falls due
// while a milestone waits for its snapshot, time passing must not make the
// grain send an update per tick (it once did: a burst that filled sockets'
// queues and got them closed with 4008).
func TestHeldMilestoneDoesNotRepeatUpdates(t *testing.T) {
	r := newRig(t)
	// Move to just before the 1-minute milestone, which is also when the
	// second periodic update falls due; then hold the disk and cross it.
	for i := 0; i < 59; i++ {
		r.step(time.Second)
	}
	before := r.waitFor(protocol.TypeProximityUpdated, 4) // the start's and the 30 s one, per user
	r.store.snaps.close()
	for i := 0; i < 200; i++ {
		r.step(10 * time.Millisecond) // two seconds in small ticks, milestone held throughout
	}
	if n := r.in.count(protocol.TypeProximityMilestone); n != 0 {
		t.Fatalf("milestone sent before its snapshot was written: %d", n)
	}
	r.store.snaps.open()
	if n := r.waitFor(protocol.TypeProximityMilestone, 2); n != 2 {
		t.Fatalf("milestone frames = %d, want one per user", n)
	}
	// One periodic update (to each user) at most, however many ticks passed.
	if n := r.in.count(protocol.TypeProximityUpdated) - before; n > 2 {
		t.Fatalf("%d proximity.session.updated frames while the milestone was held, want at most 2", n)
	}
}

// TestStopAnnouncesHeldMilestone: a grain stopped (shutdown) while a
// milestone waits for its snapshot writes the snapshot and then announces
// the milestone; otherwise it would be unlocked on disk and never told.
func TestStopAnnouncesHeldMilestone(t *testing.T) {
	r := newRig(t)
	for i := 0; i < 59; i++ {
		r.step(time.Second)
	}
	r.store.snaps.close()
	r.step(2 * time.Second)
	if n := r.in.count(protocol.TypeProximityMilestone); n != 0 {
		t.Fatalf("milestone sent before its snapshot was written: %d", n)
	}
	stopped := make(chan struct{})
	go func() { r.grains.Stop(r.node.System, 5*time.Second); close(stopped) }()
	r.store.snaps.open()
	<-stopped
	if n := r.waitFor(protocol.TypeProximityMilestone, 2); n != 2 {
		t.Fatalf("milestone frames after stop = %d, want one per user", n)
	}
	if r.grains.Len() != 0 {
		t.Fatalf("%d grains still live after Stop", r.grains.Len())
	}
}
