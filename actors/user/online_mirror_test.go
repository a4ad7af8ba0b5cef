package user

import (
	"slices"
	"sync"
	"testing"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

// TestOnlineMirror drives the mirror actor on one actor system: a member
// that left takes its users with it, and a member that asks for a sync
// loses what it sent before and is sent this node's own users. The asker
// here is a probe spawned under the mirror's name on this system.
func TestOnlineMirror(t *testing.T) {
	sys := actor.NewActorSystem()
	const b, c = "10.0.0.2:7000", "10.0.0.3:7000"
	o := NewOnline()
	o.idx.remote["u1"] = b
	o.idx.remote["u2"] = c
	o.idx.remote["u3"] = sys.Address()
	o.set("u4", 2)

	var mu sync.Mutex
	var got []string
	probe, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if d, ok := ctx.Message().(*grainpb.OnlineDelta); ok {
			mu.Lock()
			got = append(got, d.UserId+"@"+d.Owner)
			mu.Unlock()
		}
	}), OnlineMirrorName)
	if err != nil {
		t.Fatal(err)
	}
	// A cluster of one: the mirror's start asks no one.
	mirror := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
		return &onlineMirror{online: o, members: cluster.NewMembership()}
	}))
	sys.Root.Send(mirror, cluster.Topology{Left: []string{b}})
	sys.Root.Send(mirror, &grainpb.MirrorSync{Address: sys.Address()})
	// Everything sent before the poison is handled before it.
	if err := sys.Root.PoisonFuture(mirror).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := sys.Root.PoisonFuture(probe).Wait(); err != nil {
		t.Fatal(err)
	}

	for user, want := range map[string]bool{"u1": false, "u2": true, "u3": false, "u4": true} {
		if o.Is(user) != want {
			t.Errorf("Is(%s) = %v, want %v", user, !want, want)
		}
	}
	if want := []string{"u4@" + sys.Address()}; !slices.Equal(got, want) {
		t.Errorf("the sync sent %v, want %v", got, want)
	}
}
