package pair_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
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
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// gatedStore hands the Pair grain's batches to the real store, but while
// hold is set it keeps them until the test releases them, so a resend can
// arrive while the first send is still being committed.
type gatedStore struct {
	storage.Store
	msgs *gatedMessages
}

func (s gatedStore) Messages() storage.Messages { return s.msgs }

type gatedMessages struct {
	storage.Messages
	mu   sync.Mutex
	hold bool
	held []func(spoil string)
	seen chan uint64 // the first seq of every batch handed over
}

func (m *gatedMessages) AppendAsync(ms []*storage.Message, done func(error)) {
	m.mu.Lock()
	if !m.hold {
		m.mu.Unlock()
		m.Messages.AppendAsync(ms, done)
		m.seen <- ms[0].Seq
		return
	}
	m.held = append(m.held, func(spoil string) {
		if spoil != "" {
			// The first message reuses a stored id: the real store
			// refuses it inside its transaction.
			c := *ms[0]
			c.ID = spoil
			ms = append([]*storage.Message{&c}, ms[1:]...)
		}
		m.Messages.AppendAsync(ms, done)
	})
	m.mu.Unlock()
	m.seen <- ms[0].Seq
}

// gate holds the batches handed over from now on.
func (m *gatedMessages) gate() {
	m.mu.Lock()
	m.hold = true
	m.mu.Unlock()
}

// release hands every held batch to the store, in order, and stops
// holding; with spoil set (a stored message id) the first held batch is
// refused by the store, and the ones behind it with it.
func (m *gatedMessages) release(spoil string) {
	m.mu.Lock()
	held := m.held
	m.held, m.hold = nil, false
	m.mu.Unlock()
	for i, f := range held {
		if i > 0 {
			spoil = ""
		}
		f(spoil)
	}
}

// handedOver waits for the batch that starts at seq.
func (m *gatedMessages) handedOver(t *testing.T, seq uint64) {
	t.Helper()
	select {
	case got := <-m.seen:
		if got != seq {
			t.Fatalf("batch handed over from seq %d, want %d", got, seq)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no batch from seq %d handed over", seq)
	}
}

// inbox stands in for the User grains: it records the message ids each
// user is delivered, in order.
type inbox struct {
	mu  sync.Mutex
	got map[string][]string
}

func (in *inbox) of(user string) []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.got[user]...)
}

func (in *inbox) kind() *pcluster.Kind {
	return pcluster.NewKind(cluster.KindUser, actor.PropsFromProducer(func() actor.Actor {
		var id string
		return actor.ReceiveFunc(func(c actor.Context) {
			switch m := c.Message().(type) {
			case *pcluster.ClusterInit:
				id = m.Identity.Identity
			case *grainpb.Deliver:
				if m.Type != protocol.TypeChatMessage {
					return
				}
				var f struct {
					Payload protocol.Message `json:"payload"`
				}
				_ = json.Unmarshal(m.WsFrame, &f)
				in.mu.Lock()
				in.got[id] = append(in.got[id], f.Payload.Content)
				in.mu.Unlock()
			}
		})
	}))
}

// waitFor waits until user was delivered want, in order, and fails on
// anything else.
func (in *inbox) waitFor(t *testing.T, user string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := in.of(user)
		if len(got) >= len(want) {
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("%s was delivered %q, want %q", user, got, want)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was delivered %q, want %q", user, got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResendWhileTheFirstIsBeingStored: the Pair grain answers a resend
// of a keyed message that arrives while the first is still being committed
// with the first one's answer, once it is stored, and delivers, pushes and
// stores it once. Later resends are answered from the store, until the key
// is 24 h old.
func TestResendWhileTheFirstIsBeingStored(t *testing.T) {
	for _, st := range fencingStores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			base := st.open(t)
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
			msgs := &gatedMessages{Messages: base.Messages(), seen: make(chan uint64, 10)}
			var pushMu sync.Mutex
			var pushed []string
			in := &inbox{got: map[string][]string{}}
			logger := slog.New(slog.NewTextHandler(io.Discard, nil))
			node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
				pair.NewKind(pair.Deps{Store: gatedStore{base, msgs}, Clock: clk, Metrics: metrics.New(), Logger: logger,
					Notify: func(userID, kind, title, body string, data map[string]string) {
						pushMu.Lock()
						pushed = append(pushed, userID+": "+body)
						pushMu.Unlock()
					}}),
				in.kind(),
			}})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(node.Stop)

			// Futures from one goroutine reach the grain's mailbox in order.
			pid := node.Cluster.Get(pairID, cluster.KindPair)
			if pid == nil {
				t.Fatal("no pair grain")
			}
			post := func(content, clientID string) *actor.Future {
				return node.System.Root.RequestFuture(pid, &grainpb.PostMessage{ActorId: "ann", Content: content, ClientMessageId: clientID}, 10*time.Second)
			}
			reply := func(what string, f *actor.Future) *grainpb.PairReply {
				t.Helper()
				res, err := f.Result()
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				return res.(*grainpb.PairReply)
			}
			acked := func(what string, f *actor.Future) protocol.Message {
				t.Helper()
				rep := reply(what, f)
				if rep.Failure != nil {
					t.Fatalf("%s failed: %v", what, rep.Failure)
				}
				var m protocol.Message
				if err := json.Unmarshal(rep.PayloadJson, &m); err != nil {
					t.Fatal(err)
				}
				return m
			}

			msgs.gate()
			first := post("hello", "k")
			msgs.handedOver(t, 1) // numbered and handed to the store, not committed
			resend := post("hello", "k")
			conflict := post("hello?", "k")
			next := post("next", "")
			// "next" is numbered after the resend and the conflict were
			// handled, and its batch is handed over while the first is
			// still held.
			msgs.handedOver(t, 2)
			if rep := reply("the conflicting resend", conflict); rep.Failure == nil || rep.Failure.Code != string(protocol.CodeClientMessageIDConflict) {
				t.Fatalf("same key, other content, while the first is being stored: %v", rep)
			}
			msgs.release("")
			firstRep, resendRep := reply("first", first), reply("resend", resend)
			if firstRep.Failure != nil || !bytes.Equal(firstRep.PayloadJson, resendRep.PayloadJson) {
				t.Fatalf("the resend answered %s %v\nthe first %s %v", resendRep.PayloadJson, resendRep.Failure, firstRep.PayloadJson, firstRep.Failure)
			}
			acked("next", next)
			// Stored now: a resend is answered by the store, as it was first.
			if again := reply("resend after the commit", post("hello", "k")); !bytes.Equal(again.PayloadJson, firstRep.PayloadJson) {
				t.Fatalf("a resend after the commit answered %s %v, want %s", again.PayloadJson, again.Failure, firstRep.PayloadJson)
			}
			if rep := reply("the conflicting resend after the commit", post("hello?", "k")); rep.Failure == nil || rep.Failure.Code != string(protocol.CodeClientMessageIDConflict) {
				t.Fatalf("same key, other content, after the commit: %v", rep)
			}
			acked("last", post("last", ""))
			msgs.handedOver(t, 3)
			// One delivery to each user and one push per message: the next
			// thing either hears of after "hello" is "next".
			in.waitFor(t, "ben", "hello", "next", "last")
			in.waitFor(t, "ann", "hello", "next", "last")
			pushMu.Lock()
			if got := strings.Join(pushed, ","); got != "ben: hello,ben: next,ben: last" {
				t.Fatalf("pushed %s", got)
			}
			pushMu.Unlock()
			stored, err := base.Messages().Page(ctx, pairID, 0, 10)
			if err != nil || len(stored) != 3 {
				t.Fatalf("stored %d messages (%v), want 3", len(stored), err)
			}
			if convs, err := base.Messages().Conversations(ctx, "ben", 0); err != nil || convs[0].Unread != 3 {
				t.Fatalf("ben's unread: %v %v", convs, err)
			}

			// A keyed send whose commit fails fails its waiting resend too,
			// and frees the key.
			taken := stored[0].ID
			msgs.gate()
			doomed := post("doomed", "d")
			msgs.handedOver(t, 4)
			doomedAgain := post("doomed", "d")
			behind := post("behind", "")
			msgs.handedOver(t, 5)
			msgs.release(taken)
			for what, f := range map[string]*actor.Future{"the failed send": doomed, "its resend": doomedAgain, "the send behind it": behind} {
				if rep := reply(what, f); rep.Failure == nil || rep.Failure.Code != string(protocol.CodeInternal) {
					t.Fatalf("%s: %v, want internal", what, rep)
				}
			}
			retried := acked("the retry", post("doomed", "d"))
			msgs.handedOver(t, 4) // renumbered from the store
			if retried.ClientMessageID != "d" || retried.Content != "doomed" {
				t.Fatalf("the retry answered %+v", retried)
			}
			in.waitFor(t, "ben", "hello", "next", "last", "doomed")

			// 24 h later the key is forgotten: the same send is a new message.
			clk.Advance(storage.ClientMessageIDWindow + time.Second)
			late := acked("a resend after 24 h", post("hello", "k"))
			msgs.handedOver(t, 5)
			var orig protocol.Message
			_ = json.Unmarshal(firstRep.PayloadJson, &orig)
			if late.MessageID == orig.MessageID {
				t.Fatalf("a resend after 24 h answered the first message %s", late.MessageID)
			}
			in.waitFor(t, "ben", "hello", "next", "last", "doomed", "hello")
		})
	}
}
