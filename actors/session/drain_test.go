package session_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/protocol"
)

// drainEnv is a session whose "x.do" frames ask the Gate grain and answer
// once it does: a write waiting for its commit.
func drainEnv(t *testing.T) (node *cluster.Node, send func(typ, requestID string), pid *actor.PID, tr *fakeTransport, g *gate, stopping *atomic.Bool, m *metrics.Metrics) {
	t.Helper()
	g = &gate{asked: make(chan struct{})}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	node, err := cluster.Start(cluster.Options{
		Kinds: []*pcluster.Kind{
			pcluster.NewKind("Gate", actor.PropsFromProducer(func() actor.Actor { return g })),
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
	stopping = new(atomic.Bool)
	m = metrics.New()
	deps := &session.Deps{
		Node: node, Clock: clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)), Metrics: m, Logger: logger,
		Verifier: noVerifier{}, CallTimeout: 30 * time.Second, ShuttingDown: stopping.Load,
		Handlers: map[string]session.Handler{"x.do": func(c *session.Context) error {
			session.CallAsync(c, "Gate", "g", &grainpb.ExistsQuery{}, func(*grainpb.Ack) error { return c.Reply("x.done", struct{}{}) })
			return nil
		}},
	}
	tr = newFake(100)
	pid = session.Spawn(node.System.Root, deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), Transport: tr})
	send = func(typ, requestID string) {
		node.System.Root.Send(pid, &session.Command{Frame: protocol.ClientFrame{Type: typ, Payload: json.RawMessage(`{}`), RequestID: requestID}})
	}
	return node, send, pid, tr, g, stopping, m
}

// A draining session closes its socket only once the commands it started
// have answered, their answers ahead of the close; a frame it had not
// started when the node began shutting down is answered unavailable.
func TestDrainClosesOnceStartedCommandsAnswer(t *testing.T) {
	node, send, pid, tr, g, stopping, _ := drainEnv(t)
	send("x.do", "r1")
	select {
	case <-g.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the command never asked the gate")
	}
	stopping.Store(true)
	send("x.do", "r2")
	node.System.Root.Send(pid, &session.Drain{Code: protocol.CloseGoingAway, Reason: "server shutting down"})
	// A frame behind the Drain is answered once the Drain was handled.
	send("x.do", "r3")
	if got := waitFrames(t, tr, 2); len(got) != 2 || got[0] != protocol.TypeError || got[1] != protocol.TypeError {
		t.Fatalf("frames = %v, want r2 and r3 answered unavailable", got)
	}
	select {
	case code := <-tr.closed:
		t.Fatalf("closed with %d while r1 waits for its answer", code)
	default:
	}
	node.System.Root.Send(node.Cluster.Get("g", "Gate"), releaseGate{})
	select {
	case code := <-tr.closed:
		if code != protocol.CloseGoingAway {
			t.Fatalf("close code %d, want 1001", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session never closed after its last answer")
	}
	if got := tr.types(); len(got) != 3 || got[2] != "x.done" {
		t.Fatalf("frames before the close = %v, want r1's answer last", got)
	}
	for i, want := range []string{"r2", "r3"} {
		var f struct {
			RequestID string `json:"requestId"`
			Payload   struct{ Code string }
		}
		tr.mu.Lock()
		_ = json.Unmarshal(tr.data[i], &f)
		tr.mu.Unlock()
		if f.RequestID != want || f.Payload.Code != string(protocol.CodeUnavailable) {
			t.Fatalf("frame %d answers %q with %q, want %s unavailable", i, f.RequestID, f.Payload.Code, want)
		}
	}
}

// A session stopped while it drains (the shutdown timeout passed) counts
// the calls it leaves unanswered.
func TestDrainCutShortCountsUnansweredCalls(t *testing.T) {
	node, send, pid, tr, g, stopping, m := drainEnv(t)
	send("x.do", "r1")
	select {
	case <-g.asked:
	case <-time.After(5 * time.Second):
		t.Fatal("the command never asked the gate")
	}
	stopping.Store(true)
	node.System.Root.Send(pid, &session.Drain{Code: protocol.CloseGoingAway, Reason: "server shutting down"})
	if err := node.System.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(m.ShutdownUnanswered.WithLabelValues("call")); got != 1 {
		t.Fatalf("unanswered calls counted: %v, want 1", got)
	}
	select {
	case code := <-tr.closed:
		t.Fatalf("closed with %d with a call unanswered", code)
	default:
	}
}
