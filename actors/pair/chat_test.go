package pair_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// heldStore hands the Pair grain's batches to the real store, except that
// it holds the batch that starts at seq failAt until the grain hands over
// the next one, and then queues it spoiled (its first message reuses an
// existing message id, so it fails inside its transaction) ahead of that
// next one: the case of a batch failing with another queued behind it.
type heldStore struct {
	storage.Store
	msgs *heldMessages
}

func (s heldStore) Messages() storage.Messages { return s.msgs }

type heldMessages struct {
	storage.Messages
	failAt  uint64
	takenID string // an id already stored, to spoil the held batch with

	mu   sync.Mutex
	held func()
	seen chan uint64 // the first seq of every batch handed over
}

func (m *heldMessages) AppendAsync(ms []*storage.Message, done func(error)) {
	m.seen <- ms[0].Seq
	m.mu.Lock()
	defer m.mu.Unlock()
	if ms[0].Seq == m.failAt && m.held == nil {
		spoiled := *ms[0]
		spoiled.ID = m.takenID
		batch := append([]*storage.Message{&spoiled}, ms[1:]...)
		m.held = func() { m.Messages.AppendAsync(batch, done) }
		return
	}
	if m.held != nil {
		m.held()
		m.held = func() {}
	}
	m.Messages.AppendAsync(ms, done)
}

// TestPipelinedBatchFailure: a batch fails while the next one of the pair is
// already queued. Both fail their senders, nothing is stored after a gap,
// and the pair goes on, numbered from the store.
func TestPipelinedBatchFailure(t *testing.T) {
	ctx := context.Background()
	base := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC))
	now := clk.Now()
	for _, id := range []string{"ann", "ben"} {
		if err := base.Users().Create(ctx, &storage.User{ID: id, Name: id, Provider: "dev", Subject: id, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	pairID := storage.PairID("ann", "ben")
	err := base.Pairs().Save(ctx, &storage.Pair{ID: pairID, UserA: "ann", UserB: "ben",
		Requests: []storage.Request{{ID: "req_1", FromUserID: "ann", ToUserID: "ben", Status: "accepted", LegacyStatus: "accepted",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), ResolvedAt: &now, ConnectionID: "conn_1"}},
		Connections: []storage.Connection{{ID: "conn_1", RequestID: "req_1", SenderID: "ann", ReceiverID: "ben",
			Status: storage.ConnectionAccepted, CreatedAt: now, AcceptedAt: now}},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := &heldMessages{Messages: base.Messages(), failAt: 3, seen: make(chan uint64, 10)}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		pair.NewKind(pair.Deps{Store: heldStore{base, msgs}, Clock: clk, Metrics: metrics.New(), Logger: logger}),
		// The User grains hear of stored messages; here nobody listens.
		pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
			return actor.ReceiveFunc(func(actor.Context) {})
		})),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	post := func(content string) *grainpb.PairReply {
		rep, err := cluster.Call[*grainpb.PairReply](ctx, node, cluster.KindPair, pairID, &grainpb.PostMessage{ActorId: "ann", Content: content})
		if err != nil {
			t.Errorf("post %s: %v", content, err)
			return &grainpb.PairReply{}
		}
		return rep
	}
	handedOver := func(want uint64) {
		t.Helper()
		select {
		case seq := <-msgs.seen:
			if seq != want {
				t.Fatalf("batch handed over from seq %d, want %d", seq, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no batch from seq %d handed over", want)
		}
	}
	for i, c := range []string{"one", "two"} {
		if rep := post(c); rep.Failure != nil {
			t.Fatalf("post %s: %v", c, rep.Failure)
		}
		handedOver(uint64(i + 1))
	}
	first, err := base.Messages().Page(ctx, pairID, 0, 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("page: %v %v", first, err)
	}
	msgs.mu.Lock()
	msgs.takenID = first[0].ID
	msgs.mu.Unlock()

	three, four := make(chan *grainpb.PairReply, 1), make(chan *grainpb.PairReply, 1)
	go func() { three <- post("three") }()
	handedOver(3) // held: not answered while the next batch is handed over
	go func() { four <- post("four") }()
	handedOver(4)
	for name, ch := range map[string]chan *grainpb.PairReply{"three": three, "four": four} {
		if rep := <-ch; rep.Failure == nil {
			t.Errorf("post %s: acknowledged, want a failure", name)
		}
	}
	if rep := post("five"); rep.Failure != nil {
		t.Fatalf("post after the failure: %v", rep.Failure)
	}
	page, err := base.Messages().Page(ctx, pairID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, m := range page {
		got = append(got, m.Content)
		if want := uint64(len(page) - i); m.Seq != want {
			t.Errorf("%s has seq %d, want %d", m.Content, m.Seq, want)
		}
	}
	if len(got) != 3 || got[0] != "five" || got[1] != "two" || got[2] != "one" {
		t.Fatalf("stored %v, want five, two, one", got)
	}
}
