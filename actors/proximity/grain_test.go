package proximity_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

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
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	waiting int           // writes held at the gate
}

// held is the number of writes waiting at the closed gate.
func (g *gatedSnapshots) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
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

func (g *gatedSnapshots) Put(ctx context.Context, snap *storage.Snapshot) error {
	g.mu.Lock()
	gate := g.gate
	if gate != nil {
		g.waiting++
	}
	g.mu.Unlock()
	if gate != nil {
		<-gate
		g.mu.Lock()
		g.waiting--
		g.mu.Unlock()
	}
	return g.Snapshots.Put(ctx, snap)
}

// inbox stands in for the User grains: it records the frame types
// delivered to users and answers location asks with the fix set for the
// user ("unknown" if none). While holding, it keeps the asks unanswered
// until release, standing in for a busy User grain.
type inbox struct {
	mu      sync.Mutex
	types   []string
	fixes   map[string]*grainpb.LocationReply
	holding bool
	held    []heldAsk
	sys     *actor.ActorSystem
}

type heldAsk struct {
	to   *actor.PID
	user string
}

func (in *inbox) setFix(user string, lat, lng float64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.fixes == nil {
		in.fixes = map[string]*grainpb.LocationReply{}
	}
	in.fixes[user] = &grainpb.LocationReply{Fresh: true, Lat: lat, Lng: lng}
}

func (in *inbox) hold() {
	in.mu.Lock()
	in.holding = true
	in.mu.Unlock()
}

// release answers the held asks and stops holding.
func (in *inbox) release() int {
	in.mu.Lock()
	held := in.held
	in.holding, in.held = false, nil
	in.mu.Unlock()
	for _, h := range held {
		in.sys.Root.Send(h.to, in.fix(h.user))
	}
	return len(held)
}

func (in *inbox) fix(user string) *grainpb.LocationReply {
	in.mu.Lock()
	defer in.mu.Unlock()
	if f := in.fixes[user]; f != nil {
		return f
	}
	return &grainpb.LocationReply{}
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
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor { return &fakeUser{in: in} }))
}

type fakeUser struct {
	in *inbox
	id string
}

func (u *fakeUser) Receive(c actor.Context) {
	in := u.in
	switch m := c.Message().(type) {
	case *pcluster.ClusterInit:
		u.id = m.Identity.Identity
	case *grainpb.Deliver:
		in.mu.Lock()
		in.types = append(in.types, m.Type)
		in.mu.Unlock()
	case *grainpb.GetLocation:
		in.mu.Lock()
		if in.holding {
			in.held = append(in.held, heldAsk{to: c.Sender(), user: u.id})
			in.mu.Unlock()
			return
		}
		in.mu.Unlock()
		c.Respond(in.fix(u.id))
	}
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
func newRig(t *testing.T, opts ...func(*proximity.Deps)) *rig {
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
	deps := proximity.Deps{
		Store: r.store, Clock: r.clk, Config: cfg, SnapshotEvery: 5 * time.Second, UpdateEvery: 30 * time.Second,
		Grains: r.grains, Metrics: metrics.New(), Logger: logger,
		LocationTimeout: time.Minute, // held asks must not time out
	}
	for _, o := range opts {
		o(&deps)
	}
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{r.in.kind(), proximity.NewKind(deps)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	r.node = node
	r.in.sys = node.System
	var ta, tb protocol.ProximityToken
	_ = json.Unmarshal(r.ask(&grainpb.ProximityIssueToken{ActorId: "user_a"}), &ta)
	_ = json.Unmarshal(r.ask(&grainpb.ProximityIssueToken{ActorId: "user_b"}), &tb)
	r.ask(&grainpb.ProximityStart{ActorId: "user_a", Token: tb.Token, Rssi: -60})
	r.ask(&grainpb.ProximityStart{ActorId: "user_b", Token: ta.Token, Rssi: -60})
	return r
}

func (r *rig) ask(req proto.Message) []byte {
	r.t.Helper()
	return r.askIn(rigConn, req)
}

func (r *rig) askIn(conn string, req proto.Message) []byte {
	r.t.Helper()
	rep, err := cluster.Call[*grainpb.ProximityReply](context.Background(), r.node, cluster.KindProximity, conn, req)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := rep.Failure.Err(); err != nil {
		r.t.Fatalf("%T: %v", req, err)
	}
	return rep.PayloadJson
}

// step moves the clock and waits until the grain has handled its ticks.
func (r *rig) step(d time.Duration) {
	r.clk.Advance(d)
	r.ask(&grainpb.ProximityGetSummary{ActorId: "user_a"})
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

// TestScanWaitsForFirstFixWithoutHoldingTheGrain: a scan on a connection
// whose users' GPS fixes were never fetched waits for them (so the
// plausibility check runs on the first scan), but the grain keeps serving
// other commands meanwhile instead of blocking on the User grains.
func TestScanWaitsForFirstFixWithoutHoldingTheGrain(t *testing.T) {
	r := newRig(t)
	const far = "conn_far"
	ctx := context.Background()
	if err := r.store.Pairs().Save(ctx, &storage.Pair{ID: storage.PairID("user_c", "user_d"), UserA: "user_c", UserB: "user_d",
		Connections: []storage.Connection{{ID: far, SenderID: "user_c", ReceiverID: "user_d", Status: "accepted", CreatedAt: r.clk.Now(), AcceptedAt: r.clk.Now()}}}); err != nil {
		t.Fatal(err)
	}
	r.in.setFix("user_c", 52.52, 13.40)
	r.in.setFix("user_d", 52.529, 13.40) // 1 km apart
	r.in.hold()
	var td protocol.ProximityToken
	_ = json.Unmarshal(r.askIn(far, &grainpb.ProximityIssueToken{ActorId: "user_d"}), &td)

	pid := r.node.Cluster.Get(far, cluster.KindProximity)
	start := r.node.System.Root.RequestFuture(pid, &grainpb.ProximityStart{ActorId: "user_c", Token: td.Token, Rssi: -60}, 30*time.Second)
	// Served while the start waits: the grain is not blocked, and the start
	// has not run yet (no run in the history, no risk counted).
	var sum protocol.ProximitySummary
	_ = json.Unmarshal(r.askIn(far, &grainpb.ProximityGetSummary{ActorId: "user_c"}), &sum)
	if len(sum.Sessions) != 0 {
		t.Fatalf("summary while the start waits = %+v", sum)
	}
	if n := r.in.release(); n == 0 {
		t.Fatal("no location ask was held: the start did not wait for a fix")
	}
	res, err := start.Result()
	if err != nil {
		t.Fatal(err)
	}
	if f := res.(*grainpb.ProximityReply).Failure; f == nil || f.Code != string(protocol.CodeLocationMismatch) {
		t.Fatalf("start 1 km apart answered %v, want location_mismatch", res)
	}
}

// TestMilestoneRecordingIsRetried: a milestone the reward campaigns could
// not be told of (the store failed) is recorded at the grain's next step,
// so a passing failure delays the grant instead of losing it.
func TestMilestoneRecordingIsRetried(t *testing.T) {
	var mu sync.Mutex
	calls, recorded := 0, []int{}
	r := newRig(t, func(d *proximity.Deps) {
		d.Milestone = func(_ context.Context, pairID, conn string, minutes int, _ time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			if pairID != storage.PairID("user_a", "user_b") || conn != rigConn {
				t.Errorf("milestone recorded for %s/%s", pairID, conn)
			}
			if calls++; calls == 1 {
				return errors.New("disk full")
			}
			recorded = append(recorded, minutes)
			return nil
		}
	})
	for i := 0; i < 61; i++ {
		r.step(time.Second)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls < 2 || len(recorded) != 1 || recorded[0] != 1 {
		t.Fatalf("after a failed recording: %d calls, recorded %v; want the 1-minute milestone recorded once", calls, recorded)
	}
}

// TestStaleSnapshotStopsTheGrain: another activation of the connection
// (another node) wrote its snapshot while this grain's write of a
// milestone waited for the disk. The write is refused as stale, so the
// milestone it recorded is never announced by this grain, which stops;
// the next command reaches a fresh grain that loads the newer snapshot.
func TestStaleSnapshotStopsTheGrain(t *testing.T) {
	m := metrics.New()
	r := newRig(t, func(d *proximity.Deps) { d.Metrics = m })
	for i := 0; i < 59; i++ {
		r.step(time.Second)
	}
	r.store.snaps.close()
	r.step(2 * time.Second) // the milestone waits for its snapshot
	// The grain writes one snapshot at a time: once one waits at the gate,
	// every earlier one is stored.
	for deadline := time.Now().Add(5 * time.Second); r.store.snaps.held() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no snapshot write reached the disk")
		}
		time.Sleep(time.Millisecond)
	}

	// Meanwhile another activation writes the snapshot.
	ctx := context.Background()
	other, err := r.store.snaps.Snapshots.Get(ctx, proximity.SnapshotKind, rigConn)
	if err != nil {
		t.Fatal(err)
	}
	var ps proximity.Persisted
	if err := json.Unmarshal(other.Data, &ps); err != nil {
		t.Fatal(err)
	}
	ps.Accumulated = 10 * time.Minute
	ps.Milestones = []int{1}
	if other.Data, err = json.Marshal(ps); err != nil {
		t.Fatal(err)
	}
	if err := r.store.snaps.Snapshots.Put(ctx, other); err != nil {
		t.Fatal(err)
	}

	r.store.snaps.open()
	deadline := time.Now().Add(5 * time.Second)
	for (testutil.ToFloat64(m.StaleWrites.WithLabelValues(cluster.KindProximity)) != 1 || r.grains.Len() != 0) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := testutil.ToFloat64(m.StaleWrites.WithLabelValues(cluster.KindProximity)); n != 1 {
		t.Fatalf("stale writes counted %v, want 1", n)
	}
	if n := r.grains.Len(); n != 0 {
		t.Fatalf("%d grains live after the stale write, want the stale one stopped", n)
	}
	if n := r.in.count(protocol.TypeProximityMilestone); n != 0 {
		t.Fatalf("the stale grain announced the milestone of its refused snapshot (%d frames)", n)
	}
	got, err := r.store.snaps.Snapshots.Get(ctx, proximity.SnapshotKind, rigConn)
	if err != nil || got.Version != other.Version || string(got.Data) != string(other.Data) {
		t.Fatalf("stored snapshot v%d after the refused write, want the other activation's v%d (%v)", got.Version, other.Version, err)
	}

	// A fresh grain on the newer snapshot.
	var sum protocol.ProximitySummary
	if err := json.Unmarshal(r.ask(&grainpb.ProximityGetSummary{ActorId: "user_a"}), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.AccumulatedMinutes != 10 {
		t.Fatalf("summary after the stop: %+v, want the other activation's 10 minutes", sum)
	}
	if n := testutil.ToFloat64(m.GrainActivations.WithLabelValues(cluster.KindProximity)); n != 2 {
		t.Fatalf("activations %v, want 2", n)
	}
}
