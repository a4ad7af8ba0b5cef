package session_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// reattachEnv is an env whose sessions run on the real clock: a re-attach
// that lost the race with the cluster's own bookkeeping of the stopped
// activation (the placement actor hears of the stop after the watchers)
// is tried again after a real short wait. Their tokens do not expire.
func reattachEnv(t *testing.T) *env {
	e := newEnv(t)
	e.deps.Clock = clock.NewReal(1)
	return e
}

// waitFor polls cond until it holds; what names it in the failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stopGrain stops the user's User grain activation as the cluster does
// when it moves the user to another member, and returns its PID.
func stopGrain(t *testing.T, e *env) *actor.PID {
	t.Helper()
	pid := e.node.Cluster.Get("user_a", cluster.KindUser)
	if pid == nil {
		t.Fatal("no activation of the user grain")
	}
	if err := e.node.System.Root.PoisonFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestSessionAttachesAgainWhenTheGrainStops: the User grain's activation
// stops under an open socket (moved to another node, or its node died).
// The session attaches to the next activation, which counts the socket as
// online and gets the last location the session sent; the client sees
// nothing of it (no second bootstrap, no close).
func TestSessionAttachesAgainWhenTheGrainStops(t *testing.T) {
	e := reattachEnv(t)
	tr := newFake(100)
	send := e.spawn(tr, time.Time{})
	send(protocol.ClientFrame{Type: protocol.TypeSessionStart, Payload: json.RawMessage(`{}`)})
	send(protocol.ClientFrame{Type: protocol.TypeLocationUpdate, Payload: json.RawMessage(`{"lat":6.4281,"lng":3.4219}`)})
	waitFor(t, "presence.updated", func() bool { return slices.Contains(tr.types(), protocol.TypePresenceUpdated) })
	if !e.online.Is("user_a") {
		t.Fatal("attached user not online")
	}

	old := stopGrain(t, e)
	waitFor(t, "the session in a new activation", func() bool { return e.online.Is("user_a") })
	if now := e.node.Cluster.Get("user_a", cluster.KindUser); now == nil || now.Equal(old) {
		t.Fatalf("activation %v after the stop of %v", now, old)
	}
	waitFor(t, "the location re-sent", func() bool {
		rep, err := cluster.Call[*grainpb.LocationReply](context.Background(), e.node, cluster.KindUser, "user_a", &grainpb.GetLocation{})
		return err == nil && rep.Fresh && rep.Lat == 6.4281 && rep.Lng == 3.4219
	})

	// The new activation delivers to the session: it has it.
	frame, _ := protocol.EncodeFrame("test.event", struct{}{}, e.clk.Now(), "", "")
	e.node.Send(cluster.KindUser, "user_a", &grainpb.Deliver{Type: "test.event", WsFrame: frame})
	waitFor(t, "an event from the new activation", func() bool { return slices.Contains(tr.types(), "test.event") })

	select {
	case code := <-tr.closed:
		t.Fatalf("socket closed with %d", code)
	default:
	}
	if n := countOf(tr.types(), protocol.TypeSessionBootstrap); n != 1 {
		t.Fatalf("%d bootstraps sent: %v", n, tr.types())
	}
}

// TestSessionClosedWhenTheAccountIsGoneOnReattach: the next activation
// refuses the session for good (the account was deleted meanwhile): the
// socket is closed as the first attach would have been.
func TestSessionClosedWhenTheAccountIsGoneOnReattach(t *testing.T) {
	e := reattachEnv(t)
	tr := newFake(100)
	e.spawn(tr, time.Time{})
	waitFor(t, "the attach", func() bool { return e.online.Is("user_a") })

	ctx := context.Background()
	u, err := e.store.Users().Get(ctx, "user_a")
	if err != nil {
		t.Fatal(err)
	}
	now := e.clk.Now()
	u.DeletedAt, u.DeleteReason = &now, "test"
	if err := e.store.Users().Put(ctx, u); err != nil {
		t.Fatal(err)
	}
	stopGrain(t, e)
	if code := waitClose(t, tr); code != protocol.CloseAccountDeleted {
		t.Fatalf("closed with %d, want %d", code, protocol.CloseAccountDeleted)
	}
}

// TestStoppedSessionDetaches: a session that stops detaches itself; the
// grain stops counting it.
func TestStoppedSessionDetaches(t *testing.T) {
	e := newEnv(t)
	pid := session.Spawn(e.node.System.Root, e.deps, session.Params{SessionID: "s1", UserID: "user_a", Dialect: "ws", TokenExp: e.clk.Now().Add(time.Hour), Transport: newFake(100)})
	waitFor(t, "the attach", func() bool { return e.online.Is("user_a") })
	if err := e.node.System.Root.StopFuture(pid).Wait(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the detach", func() bool { return !e.online.Is("user_a") })
}

func countOf(types []string, typ string) int {
	n := 0
	for _, t := range types {
		if t == typ {
			n++
		}
	}
	return n
}
