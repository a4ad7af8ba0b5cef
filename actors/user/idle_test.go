package user_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/actors/radar"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/storagetest"
)

// A User grain stays while a socket is attached, however long, and
// passivates once its last socket left: the passivation timer must not be
// spent while the socket was open.
func TestGrainPassivatesAfterItsLastSocketLeft(t *testing.T) {
	ctx := context.Background()
	store := storagetest.New(t)
	clk := clock.NewFake(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := store.Users().Create(ctx, &storage.User{ID: "user_a", Name: "a", Provider: "dev", Subject: "a", CreatedAt: clk.Now()}); err != nil {
		t.Fatal(err)
	}
	const passivation = 20 * time.Millisecond
	node, err := cluster.Start(cluster.Options{Logger: logger, Kinds: []*pcluster.Kind{
		user.NewKind(user.Deps{
			Store: store, Clock: clk, Reminders: noReminders{}, Metrics: metrics.New(), Logger: logger, MaxSessions: 5,
			Grid: radar.NewGrid(1000), Dir: radar.NewDirectory(), Watchers: radar.NewWatchers(), RadarLimit: 50,
			PresenceTTL: 2 * time.Minute, RadarInterval: 2 * time.Second, Passivation: passivation,
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(node.Stop)

	sink := node.System.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	ref := &grainpb.SessionRef{SessionId: "s1", Address: sink.Address, PidId: sink.Id, Dialect: "ws"}
	if rep, err := cluster.Call[*grainpb.AttachReply](ctx, node, cluster.KindUser, "user_a", &grainpb.AttachSession{Session: ref}); err != nil || rep.Failure != nil {
		t.Fatalf("attach: %v %v", err, rep.GetFailure())
	}
	pid := node.Cluster.Get("user_a", cluster.KindUser)
	alive := func() bool { _, ok := node.System.ProcessRegistry.GetLocal(pid.Id); return ok }

	time.Sleep(10 * passivation) // many passivation periods with the socket open
	if !alive() {
		t.Fatal("the grain passivated with a socket attached")
	}
	node.System.Root.Send(pid, &grainpb.DetachSession{SessionId: "s1"})
	for deadline := time.Now().Add(5 * time.Second); alive(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the grain did not passivate after its last socket left")
		}
	}
}
