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

// TestHeldMilestoneDoesNotRepeatUpdates: when the periodic update falls due
// while a milestone waits for its snapshot, time passing must not make the
// grain send an update per tick (it once did: a burst that filled sockets'
// queues and got them closed with 4008).
func TestHeldMilestoneDoesNotRepeatUpdates(t *testing.T) {
	ctx := context.Background()
	base := storagetest.New(t)
	store := &gatedStore{Store: base, snaps: &gatedSnapshots{Snapshots: base.Snapshots()}}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := clock.NewFake(t0)
	const conn = "conn_held"
	if err := base.Pairs().Save(ctx, &storage.Pair{ID: storage.PairID("user_a", "user_b"), UserA: "user_a", UserB: "user_b",
		Connections: []storage.Connection{{ID: conn, SenderID: "user_a", ReceiverID: "user_b", Status: "accepted", CreatedAt: t0, AcceptedAt: t0}}}); err != nil {
		t.Fatal(err)
	}
	in := &inbox{}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := proximity.DefaultConfig()
	cfg.Milestones = []int{1}
	cfg.HeartbeatTimeout = time.Hour // no pause while the test moves time
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{in.kind(), proximity.NewKind(proximity.Deps{
		Store: store, Clock: clk, Config: cfg, SnapshotEvery: 5 * time.Second, UpdateEvery: 30 * time.Second,
		Metrics: metrics.New(), Logger: logger,
	})}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	ask := func(cmd *grainpb.ProximityCommand) []byte {
		t.Helper()
		rep, err := cluster.Call[*grainpb.ProximityReply](ctx, node, cluster.KindProximity, conn, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if err := rep.Failure.Err(); err != nil {
			t.Fatalf("%s: %v", cmd.Op, err)
		}
		return rep.PayloadJson
	}
	var ta, tb struct{ Token string }
	_ = json.Unmarshal(ask(&grainpb.ProximityCommand{Op: "token", ActorId: "user_a"}), &ta)
	_ = json.Unmarshal(ask(&grainpb.ProximityCommand{Op: "token", ActorId: "user_b"}), &tb)
	ask(&grainpb.ProximityCommand{Op: "start", ActorId: "user_a", Token: tb.Token, Rssi: -60})
	ask(&grainpb.ProximityCommand{Op: "start", ActorId: "user_b", Token: ta.Token, Rssi: -60})

	// Move to just before the 1-minute milestone, which is also when the
	// second periodic update falls due; then hold the disk and cross it.
	step := func(d time.Duration) {
		clk.Advance(d)
		ask(&grainpb.ProximityCommand{Op: "summary", ActorId: "user_a"}) // the grain has handled its ticks
	}
	for i := 0; i < 59; i++ {
		step(time.Second)
	}
	// Deliveries are asynchronous: wait for the start's and the 30 s
	// update (one per user each) before counting.
	settle := time.Now().Add(5 * time.Second)
	for in.count(protocol.TypeProximityUpdated) < 4 && time.Now().Before(settle) {
		time.Sleep(5 * time.Millisecond)
	}
	before := in.count(protocol.TypeProximityUpdated)
	store.snaps.close()
	for i := 0; i < 200; i++ {
		step(10 * time.Millisecond) // two seconds in small ticks, milestone held throughout
	}
	if n := in.count(protocol.TypeProximityMilestone); n != 0 {
		t.Fatalf("milestone sent before its snapshot was written: %d", n)
	}
	store.snaps.open()
	deadline := time.Now().Add(5 * time.Second)
	for in.count(protocol.TypeProximityMilestone) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := in.count(protocol.TypeProximityMilestone); n != 2 {
		t.Fatalf("milestone frames = %d, want one per user", n)
	}
	// One periodic update (to each user) at most, however many ticks passed.
	if n := in.count(protocol.TypeProximityUpdated) - before; n > 2 {
		in.mu.Lock()
		t.Logf("delivered: %v", in.types)
		in.mu.Unlock()
		t.Fatalf("%d proximity.session.updated frames while the milestone was held, want at most 2", n)
	}
}
