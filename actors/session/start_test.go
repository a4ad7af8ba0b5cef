package session_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
)

// gate is a grain that answers its first question only when released, so a
// test can hold a bootstrap source mid-way.
type gate struct {
	asked   chan struct{}
	waiting *actor.PID
}

type releaseGate struct{}

func (g *gate) Receive(ctx actor.Context) {
	switch ctx.Message().(type) {
	case *grainpb.ExistsQuery:
		g.waiting = ctx.Sender()
		close(g.asked)
	case releaseGate:
		ctx.Send(g.waiting, &grainpb.Ack{})
	}
}

func startEnv(t *testing.T, source session.BootstrapSource) (*cluster.Node, func(protocol.ClientFrame), *actor.PID, *fakeTransport, *gate) {
	t.Helper()
	g := &gate{asked: make(chan struct{})}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := cluster.Start(cluster.Options{
		Kinds: []*pcluster.Kind{
			pcluster.NewKind("Gate", actor.PropsFromProducer(func() actor.Actor { return g })),
			// Attach must succeed: a User grain that knows every user.
			pcluster.NewKind(cluster.KindUser, actor.PropsFromFunc(func(ctx actor.Context) {
				if _, ok := ctx.Message().(*grainpb.AttachSession); ok {
					ctx.Respond(&grainpb.AttachReply{})
				}
			})),
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	deps := &session.Deps{
		Node: node, Clock: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)), Metrics: metrics.New(), Logger: logger,
		Verifier: noVerifier{}, Handlers: map[string]session.Handler{}, Bootstrap: []session.BootstrapSource{source},
		CallTimeout: 5 * time.Second,
	}
	tr := newFake(100)
	pid := session.Spawn(node.System.Root, deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Transport: tr})
	send := func(f protocol.ClientFrame) { node.System.Root.Send(pid, &session.Command{Frame: f}) }
	return node, send, pid, tr, g
}

func waitFrames(t *testing.T, tr *fakeTransport, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(tr.types()) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	return tr.types()
}

// While a bootstrap source waits on a grain, the session keeps taking
// messages but holds the client's frames and the grains' events: the client
// sees session.bootstrap first, then the event, then the answer to its frame.
func TestStartHoldsFramesUntilBootstrap(t *testing.T) {
	var node *cluster.Node
	node, send, pid, tr, g := startEnv(t, func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		session.Ask(c, "Gate", "g", &grainpb.ExistsQuery{}, func(_ *grainpb.Ack, err error) { done(err) })
	})
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)})
	select {
	case <-g.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the bootstrap source never asked the gate")
	}
	send(protocol.ClientFrame{Type: "nope", Payload: json.RawMessage(`{}`), RequestID: "r2"})
	node.System.Root.Send(pid, &grainpb.SessionFrame{Type: "some.event", Data: []byte(`{"type":"some.event"}`)})
	// The session is not blocked: a message to it is served meanwhile.
	if got := waitFrames(t, tr, 1); len(got) != 1 || got[0] != protocol.TypeSessionConnected {
		t.Fatalf("before the bootstrap: %v", got)
	}
	pidGate := node.Cluster.Get("g", "Gate")
	node.System.Root.Send(pidGate, releaseGate{})
	// The bootstrap comes first; the event and the answer to the held frame
	// follow it. (Between those two there is no order to keep: the reply
	// that ends the start is a system message and may overtake an event
	// still queued in the mailbox.)
	got := waitFrames(t, tr, 4)
	if len(got) != 4 || got[0] != protocol.TypeSessionConnected || got[1] != protocol.TypeSessionBootstrap {
		t.Fatalf("frames = %v, want session.connected, session.bootstrap, then the rest", got)
	}
	rest := map[string]bool{got[2]: true, got[3]: true}
	if !rest["some.event"] || !rest[protocol.TypeError] {
		t.Fatalf("frames = %v, want the event and the error after the bootstrap", got)
	}
}

// A source that fails ends the start with an error, and the frames held
// behind it are served.
func TestFailedStartReleasesHeldFrames(t *testing.T) {
	_, send, _, tr, _ := startEnv(t, func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		done(errors.New("store down"))
	})
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`), RequestID: "r1"})
	send(protocol.ClientFrame{Type: "nope", Payload: json.RawMessage(`{}`), RequestID: "r2"})
	want := []string{protocol.TypeSessionConnected, protocol.TypeError, protocol.TypeError}
	got := waitFrames(t, tr, len(want))
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("frames = %v, want %v", got, want)
	}
	if !strings.Contains(string(tr.data[1]), `"code":"internal"`) || !strings.Contains(string(tr.data[2]), `"code":"unknown_type"`) {
		t.Fatalf("errors: %s / %s", tr.data[1], tr.data[2])
	}
}
