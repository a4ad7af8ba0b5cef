package session_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// fakeTransport records frames; it refuses frames beyond capacity like a
// full outbound queue would.
type fakeTransport struct {
	mu       sync.Mutex
	capacity int
	frames   []string
	data     [][]byte
	closed   chan int
}

func newFake(capacity int) *fakeTransport {
	return &fakeTransport{capacity: capacity, closed: make(chan int, 1)}
}

func (f *fakeTransport) Send(typ string, b []byte) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.frames) >= f.capacity {
		return false
	}
	f.frames = append(f.frames, typ)
	f.data = append(f.data, b)
	return true
}

func (f *fakeTransport) Close(code int, _ string) {
	select {
	case f.closed <- code:
	default:
	}
}

func (f *fakeTransport) types() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.frames...)
}

type noVerifier struct{}

func (noVerifier) VerifyAccess(string) (*auth.Claims, error) { return nil, auth.ErrInvalidToken }

type noReminders struct{}

func (noReminders) Set(context.Context, storage.Reminder) error          { return nil }
func (noReminders) Delete(context.Context, string, string, string) error { return nil }

type env struct {
	deps   *session.Deps
	node   *cluster.Node
	clk    *clock.Fake
	store  storage.Store
	online *user.Online
}

func newEnv(t *testing.T) *env {
	t.Helper()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	m := metrics.New()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(context.Background(), &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	online := user.NewOnline()
	node, err := cluster.Start(cluster.Options{
		Kinds: []*pcluster.Kind{user.NewKind(user.Deps{
			Store: store, Clock: clk, Reminders: noReminders{}, Metrics: m, Logger: logger, MaxSessions: 5, Online: online,
			Grid: radar.NewGrid(1000), Dir: radar.NewDirectory(), Watchers: radar.NewWatchers(), RadarLimit: 50,
			PresenceTTL: 2 * time.Minute, RadarInterval: 2 * time.Second, ReconnectGrace: 30 * time.Second,
		})},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	return &env{node: node, clk: clk, store: store, online: online, deps: &session.Deps{
		Node: node, Clock: clk, Metrics: m, Logger: logger, Verifier: noVerifier{},
		Handlers: user.Handlers(), Bootstrap: []session.BootstrapSource{user.Bootstrap}, CallTimeout: 5 * time.Second,
	}}
}

func (e *env) spawn(tr session.Transport, exp time.Time) func(protocol.ClientFrame) {
	pid := session.Spawn(e.node.System.Root, e.deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: exp, Transport: tr})
	return func(f protocol.ClientFrame) { e.node.System.Root.Send(pid, &session.Command{Frame: f}) }
}

func waitClose(t *testing.T, f *fakeTransport) int {
	t.Helper()
	select {
	case code := <-f.closed:
		return code
	case <-time.After(5 * time.Second):
		t.Fatalf("transport not closed; frames %v", f.types())
		return 0
	}
}

func TestSlowConsumerIsDisconnected(t *testing.T) {
	e := newEnv(t)
	tr := newFake(1) // room for session.connected only
	send := e.spawn(tr, e.clk.Now().Add(time.Hour))
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)})
	if code := waitClose(t, tr); code != protocol.CloseSlowConsumer {
		t.Fatalf("close code = %d, want %d", code, protocol.CloseSlowConsumer)
	}
}

func TestExpiredTokenClosesWith4001(t *testing.T) {
	e := newEnv(t)
	tr := newFake(100)
	send := e.spawn(tr, e.clk.Now().Add(time.Minute))
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)})
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.types()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.clk.Advance(59 * time.Second)
	select {
	case code := <-tr.closed:
		t.Fatalf("closed with %d before expiry", code)
	case <-time.After(50 * time.Millisecond):
	}
	e.clk.Advance(time.Second)
	if code := waitClose(t, tr); code != protocol.CloseTokenExpired {
		t.Fatalf("close code = %d, want 4001", code)
	}
	types := tr.types()
	if types[len(types)-1] != protocol.TypeError {
		t.Fatalf("no token_expired error before close: %v", types)
	}
}

func TestFramesAreAnsweredInOrder(t *testing.T) {
	e := newEnv(t)
	tr := newFake(100)
	send := e.spawn(tr, e.clk.Now().Add(time.Hour))
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)})
	send(protocol.ClientFrame{Type: "nope", Payload: json.RawMessage(`{}`)})
	send(protocol.ClientFrame{Type: protocol.TypeSafetyBlock, Payload: json.RawMessage(`{"blockedUserId":"user_a"}`)})
	want := []string{protocol.TypeSessionConnected, protocol.TypeSessionBootstrap, protocol.TypeError, protocol.TypeError}
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.types()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := tr.types()
	if len(got) != len(want) {
		t.Fatalf("frames = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("frames = %v, want %v", got, want)
		}
	}
}

// TestStaleFramesAreShed: a frame that waited in the mailbox longer than the
// call timeout is answered `unavailable` without being served; a fresh one
// right behind it is served.
func TestStaleFramesAreShed(t *testing.T) {
	e := newEnv(t)
	tr := newFake(100)
	pid := session.Spawn(e.node.System.Root, e.deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: e.clk.Now().Add(time.Hour), Transport: tr})
	stale := &session.Command{Frame: protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`), RequestID: "old"},
		Received: time.Now().Add(-e.deps.CallTimeout - time.Second)}
	fresh := &session.Command{Frame: protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`), RequestID: "new"},
		Received: time.Now()}
	e.node.System.Root.Send(pid, stale)
	e.node.System.Root.Send(pid, fresh)
	want := []string{protocol.TypeError, protocol.TypeSessionConnected, protocol.TypeSessionBootstrap}
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.types()) < len(want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := tr.types()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames = %v, want %v", got, want)
	}
	var f struct {
		Payload   struct{ Code string }
		RequestID string
	}
	tr.mu.Lock()
	_ = json.Unmarshal(tr.data[0], &f)
	tr.mu.Unlock()
	if f.Payload.Code != "unavailable" || f.RequestID != "old" {
		t.Fatalf("stale frame answered %+v", f)
	}
}

// Served hears of every served frame once, at its first answer, with the
// time the socket read it: session.start answers with two frames, a
// refused command with an error.
func TestServedReportsEachFrameOnce(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var got []time.Time
	e.deps.Served = func(received, answered time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if answered.Before(received) {
			t.Errorf("answered %v before received %v", answered, received)
		}
		got = append(got, received)
	}
	tr := newFake(100)
	pid := session.Spawn(e.node.System.Root, e.deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: e.clk.Now().Add(time.Hour), Transport: tr})
	t0 := time.Now().Add(-20 * time.Millisecond)
	t1 := t0.Add(time.Millisecond)
	e.node.System.Root.Send(pid, &session.Command{Frame: protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)}, Received: t0})
	e.node.System.Root.Send(pid, &session.Command{Frame: protocol.ClientFrame{Type: protocol.TypeSafetyBlock, Payload: json.RawMessage(`{"blockedUserId":"user_a"}`)}, Received: t1})
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.types()) < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a second report would come now
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || !got[0].Equal(t0) || !got[1].Equal(t1) {
		t.Fatalf("served %v, want [%v %v]; frames %v", got, t0, t1, tr.types())
	}
}
