package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/cluster/grainpb"
)

// Local activations are not cached (the local placement answers in
// process). A cached PID, which on several nodes is a remote one, leaves
// the cache when its activation stops, however it stopped, so the next
// message reaches a fresh activation instead of a dead letter. One node
// per test process, so the remote PID is stood in for by a local one put
// in the cache and watched as lookup does for remote ones.
func TestPIDCacheFollowsActivations(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	got := make(chan *actor.PID, 16)
	kind := pcluster.NewKind("Counter", actor.PropsFromFunc(func(ctx actor.Context) {
		switch ctx.Message().(type) {
		case *grainpb.Ack:
			got <- ctx.Self()
			if ctx.Sender() != nil {
				ctx.Respond(&grainpb.Ack{})
			}
		case *grainpb.CloseSession:
			ctx.Stop(ctx.Self())
		}
	}))
	n, err := Start(Options{Kinds: []*pcluster.Kind{kind}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()

	first := lookup(n.Cluster, "Counter", "c1")
	if cached, ok := n.Cluster.PidCache.Get("c1", "Counter"); ok {
		t.Fatalf("a local activation was cached: %v", cached)
	}
	if again := lookup(n.Cluster, "Counter", "c1"); !again.Equal(first) {
		t.Fatalf("second lookup %v, want the same activation %v", again, first)
	}
	cache := func(pid *actor.PID) {
		n.Cluster.PidCache.Set("c1", "Counter", pid)
		n.System.Root.Send(n.System.NewLocalPID(pidWatcherName), watchPID{identity: "c1", kind: "Counter", pid: pid})
	}
	tests := []struct {
		name string
		stop func(pid *actor.PID)
	}{
		{"stopped by itself", func(pid *actor.PID) { n.Send("Counter", "c1", &grainpb.CloseSession{}) }},
		{"poisoned", func(pid *actor.PID) { n.System.Root.Poison(pid) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := lookup(n.Cluster, "Counter", "c1")
			cache(old)
			tt.stop(old)
			deadline := time.Now().Add(5 * time.Second)
			for {
				if cached, ok := n.Cluster.PidCache.Get("c1", "Counter"); !ok || !cached.Equal(old) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the stopped activation is still cached")
				}
				time.Sleep(10 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := Call[*grainpb.Ack](ctx, n, "Counter", "c1", &grainpb.Ack{}); err != nil {
				t.Fatal(err)
			}
			if pid := <-got; pid.Equal(old) {
				t.Fatalf("answered by the stopped activation %v", pid)
			}
		})
	}
}
