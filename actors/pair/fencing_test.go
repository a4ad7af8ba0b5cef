package pair_test

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
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/storage/postgres/pgtest"
	"github.com/gisbi/engine/storage/storagetest"
)

// fencingStores are the stores the fencing test runs on: always bbolt,
// and PostgreSQL when GISBI_TEST_POSTGRES names a database (skipped
// otherwise).
var fencingStores = []struct {
	name string
	open func(t *testing.T) storage.Store
}{
	{"bbolt", func(t *testing.T) storage.Store { return storagetest.New(t) }},
	{"postgres", func(t *testing.T) storage.Store {
		url := pgtest.URL(t)
		s, err := postgres.Open(context.Background(), url, postgres.Options{})
		if err != nil {
			t.Fatalf("open postgres store: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}},
}

// peers stands in for the User grains of one node: it records every event
// a Pair grain delivers, by user, and answers location asks with "no fix".
type peers struct {
	mu  sync.Mutex
	got []string // user: event type
}

func (p *peers) delivered() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

func (p *peers) kind() *pcluster.Kind {
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
		var id string
		return actor.ReceiveFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case *pcluster.ClusterInit:
				id = m.Identity.Identity
			case *grainpb.Deliver:
				p.mu.Lock()
				p.got = append(p.got, id+": "+m.Type)
				p.mu.Unlock()
			case *grainpb.GetLocation:
				c.Respond(&grainpb.LocationReply{})
			}
		})
	}))
}

// staleKind hosts the second activation of a pair: the same grain, with
// deps of its own, under another kind name. Two kinds on one node give
// two live activations of one pair over one store, as a node that froze
// and came back would, without a second node in the process (two
// protoactor members in one process race on grpc's global logger).
const staleKind = "PairStale"

// activation is one set of Pair grain deps over the shared store.
type activation struct {
	node    *cluster.Node
	kind    string
	metrics *metrics.Metrics
}

func (a *activation) call(t *testing.T, pairID string, msg proto.Message) *grainpb.PairReply {
	t.Helper()
	rep, err := cluster.Call[*grainpb.PairReply](context.Background(), a.node, a.kind, pairID, msg)
	if err != nil {
		t.Fatalf("%s %T: %v", a.kind, msg, err)
	}
	return rep
}

func (a *activation) activations() float64 {
	return testutil.ToFloat64(a.metrics.GrainActivations.WithLabelValues(cluster.KindPair))
}

// startActivations starts a node hosting the pair twice over store: the
// activation that will be stale and the newer one. Events from either
// reach p.
func startActivations(t *testing.T, store storage.Store, clk clock.Clock, p *peers) (stale, newer *activation) {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	deps := func(m *metrics.Metrics) pair.Deps {
		return pair.Deps{Store: store, Clock: clk, Reminders: store.Reminders(), Metrics: m, Logger: logger, RequestTTL: time.Hour}
	}
	stale = &activation{kind: staleKind, metrics: metrics.New()}
	newer = &activation{kind: cluster.KindPair, metrics: metrics.New()}
	staleK := pair.NewKind(deps(stale.metrics))
	staleK.Kind = staleKind
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		staleK,
		pair.NewKind(deps(newer.metrics)),
		p.kind(),
		pcluster.NewKind(cluster.KindProximity, actor.PropsFromProducer(func() actor.Actor { return actor.ReceiveFunc(func(actor.Context) {}) })),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	stale.node, newer.node = node, node
	return stale, newer
}

// TestStaleActivationIsFenced is the fencing guarantee end to end: two
// activations of one Pair grain (as after a node froze and came back while
// the pair was placed elsewhere) both load version n; the newer one handles a command and
// stores n+1; then the stale one gets a command. Its write is refused:
// the caller gets a retryable failure, no event reaches anyone, the stale
// grain stops, and the stored pair is exactly what the newer one wrote.
// The next message to the stale activation's kind activates a fresh grain
// that loads the newer state.
func TestStaleActivationIsFenced(t *testing.T) {
	t0 := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	const (
		ann, ben, connID = "ann", "ben", "conn_1"
	)
	pairID := storage.PairID(ann, ben)
	accepted := []storage.Connection{{ID: connID, RequestID: "req_1", SenderID: ann, ReceiverID: ben,
		Status: storage.ConnectionAccepted, CreatedAt: t0, AcceptedAt: t0}}
	acceptedReq := []storage.Request{{ID: "req_1", FromUserID: ann, ToUserID: ben, Status: "accepted", LegacyStatus: "accepted",
		CreatedAt: t0, ExpiresAt: t0.Add(time.Hour), ResolvedAt: &t0, ConnectionID: connID}}
	scenarios := []struct {
		name string
		seed storage.Pair
		// newer is handled by the newer activation, stale by the stale one;
		// again is stale sent once more, to the fresh activation, which
		// answers it from the newer state with code again.
		newer, stale proto.Message
		again        protocol.Code
	}{
		{
			name:  "crossing requests",
			seed:  storage.Pair{ID: pairID, UserA: ann, UserB: ben},
			newer: &grainpb.SendRequest{ActorId: ann, TargetId: ben},
			stale: &grainpb.SendRequest{ActorId: ben, TargetId: ann},
			again: protocol.CodeRequestExists,
		},
		{
			name:  "both close the connection",
			seed:  storage.Pair{ID: pairID, UserA: ann, UserB: ben, Requests: acceptedReq, Connections: accepted},
			newer: &grainpb.CloseConnection{ActorId: ann, ConnectionId: connID},
			stale: &grainpb.CloseConnection{ActorId: ben, ConnectionId: connID},
			again: protocol.CodeActiveConnectionRequired,
		},
	}
	for _, st := range fencingStores {
		t.Run(st.name, func(t *testing.T) {
			for _, sc := range scenarios {
				t.Run(sc.name, func(t *testing.T) {
					ctx := context.Background()
					store := st.open(t)
					clk := clock.NewFake(t0.Add(time.Minute))
					for _, id := range []string{ann, ben} {
						if err := store.Users().Create(ctx, &storage.User{ID: id, Name: id, Provider: "dev", Subject: id, CreatedAt: t0, UpdatedAt: t0}); err != nil {
							t.Fatal(err)
						}
					}
					seed := sc.seed
					if err := store.Pairs().Save(ctx, &seed); err != nil {
						t.Fatal(err)
					}
					loaded := seed.Version

					// Both activations load version n: a call that changes
					// nothing (someone else's read) activates each.
					p := &peers{}
					staleAct, newerAct := startActivations(t, store, clk, p)
					for _, n := range []*activation{staleAct, newerAct} {
						if rep := n.call(t, pairID, &grainpb.MarkRead{ActorId: "zed", All: true}); rep.Failure == nil || rep.Failure.Code != string(protocol.CodeForbidden) {
							t.Fatalf("activating read: %v, want forbidden", rep.Failure)
						}
						if a := n.activations(); a != 1 {
							t.Fatalf("activations %v, want 1", a)
						}
					}

					// The newer activation writes n+1.
					if rep := newerAct.call(t, pairID, sc.newer); rep.Failure != nil {
						t.Fatalf("newer activation: %v", rep.Failure)
					}
					newer, err := store.Pairs().Get(ctx, pairID)
					if err != nil {
						t.Fatal(err)
					}
					if newer.Version != loaded+1 {
						t.Fatalf("stored version %d after the newer write, want %d", newer.Version, loaded+1)
					}
					want, _ := json.Marshal(newer)
					time.Sleep(100 * time.Millisecond) // the newer activation's events land
					heard := p.delivered()
					if len(heard) == 0 {
						t.Fatal("the newer activation delivered nothing: the check below would prove nothing")
					}

					// The stale activation's write is refused.
					rep := staleAct.call(t, pairID, sc.stale)
					if rep.Failure == nil || rep.Failure.Code != string(protocol.CodeUnavailable) {
						t.Fatalf("stale activation answered %v (payload %s), want an unavailable failure", rep.Failure, rep.PayloadJson)
					}
					if got := testutil.ToFloat64(staleAct.metrics.StaleWrites.WithLabelValues(cluster.KindPair)); got != 1 {
						t.Errorf("stale writes counted %v, want 1", got)
					}
					got, err := store.Pairs().Get(ctx, pairID)
					if err != nil {
						t.Fatal(err)
					}
					if b, _ := json.Marshal(got); string(b) != string(want) {
						t.Fatalf("stored pair after the refused write:\n%s\nwant the newer one's:\n%s", b, want)
					}
					time.Sleep(200 * time.Millisecond) // an event on its way would land by now
					if evs := p.delivered(); len(evs) != len(heard) {
						t.Fatalf("the stale activation delivered %v", evs[len(heard):])
					}

					// The stale grain stopped: the next message to it
					// activates a fresh grain, which sees the newer state.
					rep = staleAct.call(t, pairID, sc.stale)
					if rep.Failure == nil || rep.Failure.Code != string(sc.again) {
						t.Fatalf("after the stop: %v, want %s from the newer state", rep.Failure, sc.again)
					}
					if a := staleAct.activations(); a != 2 {
						t.Fatalf("activations of the stale kind %v, want 2 (the stale grain stopped)", a)
					}
					if got, err := store.Pairs().Get(ctx, pairID); err != nil || got.Version != newer.Version {
						t.Fatalf("stored version %v (%v), want %d", got, err, newer.Version)
					}
				})
			}
		})
	}
}
