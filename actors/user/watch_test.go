package user_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// TestGrainDetachesStoppedSessions: the User grain watches each attached
// session's actor. One that stops without detaching (its node died) no
// longer counts: the user stays online while another socket is attached,
// and is offline once none is. The grain names its own activation in the
// attach's answer, for the session to watch in turn.
func TestGrainDetachesStoppedSessions(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	online := user.NewOnline()
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		user.NewKind(user.Deps{Store: store, Clock: clk, Reminders: noReminders{}, Metrics: metrics.New(), Logger: logger, MaxSessions: 5, Online: online}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)
	// A cluster of one: the mirror runs, and has no peer to tell.
	if _, err := online.StartMirror(node.System, node.Membership); err != nil {
		t.Fatal(err)
	}
	if _, err := online.StartMirror(node.System, node.Membership); err == nil {
		t.Fatal("a second mirror started under the same name")
	}

	attach := func(id string) *actor.PID {
		t.Helper()
		// Sessions that never detach themselves, like those of a dead node.
		sink := node.System.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
		ref := &grainpb.SessionRef{SessionId: id, Address: sink.Address, PidId: sink.Id, Dialect: "ws"}
		rep, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, "user_a", &grainpb.AttachSession{Session: ref})
		if err != nil || rep.Failure != nil {
			t.Fatalf("attach: %v %v", err, rep.GetFailure())
		}
		if g := node.Cluster.Get("user_a", cluster.KindUser); rep.GrainAddress != g.Address || rep.GrainPidId != g.Id {
			t.Fatalf("attach answered grain %s/%s, activation is %v", rep.GrainAddress, rep.GrainPidId, g)
		}
		return sink
	}
	stop := func(pid *actor.PID) {
		t.Helper()
		if err := node.System.Root.StopFuture(pid).Wait(); err != nil {
			t.Fatal(err)
		}
		// The grain heard of the stop before the future did (it watched
		// first); a call after it is served after it.
		if _, err := cluster.Call[*grainpb.UserReply](ctx, node, cluster.KindUser, "user_a", &grainpb.GetUser{}); err != nil {
			t.Fatal(err)
		}
	}

	s1, s2 := attach("s1"), attach("s2")
	// s1 attaching again (a session does after its grain moved) is still one socket.
	ref := &grainpb.SessionRef{SessionId: "s1", Address: s1.Address, PidId: s1.Id, Dialect: "ws"}
	if _, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, "user_a", &grainpb.AttachSession{Session: ref}); err != nil {
		t.Fatal(err)
	}
	if !online.Is("user_a") {
		t.Fatal("not online with two sockets")
	}
	stop(s1)
	if !online.Is("user_a") {
		t.Fatal("offline while s2 is attached")
	}
	stop(s2)
	deadline := time.Now().Add(5 * time.Second)
	for online.Is("user_a") {
		if time.Now().After(deadline) {
			t.Fatal("still online after every session stopped")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
