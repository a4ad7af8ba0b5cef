package cluster

import (
	"errors"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/identitylookup/disthash"
	"github.com/asynkron/protoactor-go/remote"
)

// Remote grain PIDs are cached. disthash's Cluster.Get asks the owner's placement
// actor on every call and waits for the answer; on several nodes that is a
// network round trip inside the caller's Receive for two calls in three,
// which queued every session and grain behind it (the cluster benchmark's
// heartbeat p50 went from 3 ms on one node to 42 ms on three).
//
// The cache is the library's PidCache, kept true by watching: every PID
// put in it is watched by the node's pidWatcher, and its Terminated (the
// grain passivated, was stopped as stale, moved to another member after a
// topology change, or its node died) removes it. A PID of a grain that
// stopped before the watch was set is answered with Terminated at once,
// so no dead PID stays cached. Between a stop and its Terminated a send
// can reach the dead activation, as it could without a cache between the
// lookup and the send; requests that meet a dead letter evict and retry.

// pidWatcherName is the node-wide actor that watches cached PIDs.
const pidWatcherName = "gisbi-pid-watcher"

type watchPID struct {
	identity, kind string
	pid            *actor.PID
}

type pidWatcher struct {
	c       *pcluster.Cluster
	watched map[pidKey]watchPID
}

type pidKey struct{ address, id string }

func (w *pidWatcher) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case watchPID:
		k := pidKey{m.pid.Address, m.pid.Id}
		if _, ok := w.watched[k]; ok {
			return
		}
		w.watched[k] = m
		ctx.Watch(m.pid)
	case *actor.Terminated:
		k := pidKey{m.Who.Address, m.Who.Id}
		if e, ok := w.watched[k]; ok {
			delete(w.watched, k)
			w.c.PidCache.RemoveByValue(e.identity, e.kind, m.Who)
		}
	}
}

func startPIDWatcher(c *pcluster.Cluster) error {
	_, err := c.ActorSystem.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor {
		return &pidWatcher{c: c, watched: map[pidKey]watchPID{}}
	}), pidWatcherName)
	return err
}

// lookup is the PID of a grain: cached, or placed (activated if needed)
// and then cached and watched. nil when no member hosts the kind.
func lookup(c *pcluster.Cluster, kind, identity string) *actor.PID {
	if pid, ok := c.PidCache.Get(identity, kind); ok {
		return pid
	}
	pid := place(c, kind, identity)
	if pid == nil {
		return nil
	}
	// Only remote PIDs are cached: a local lookup is an in-process request
	// to the local placement actor, cheap enough, and keeps a cluster of
	// one exactly as it was. And only once the watcher runs (it starts just
	// after the member): an unwatched PID could outlive its activation in
	// the cache.
	if pid.Address == c.ActorSystem.Address() {
		return pid
	}
	if _, ok := c.ActorSystem.ProcessRegistry.GetLocal(pidWatcherName); ok {
		c.PidCache.Set(identity, kind, pid)
		c.ActorSystem.Root.Send(c.ActorSystem.NewLocalPID(pidWatcherName), watchPID{identity: identity, kind: kind, pid: pid})
	}
	return pid
}

// evict forgets pid as the grain's activation, when it still is the
// cached one.
func evict(c *pcluster.Cluster, kind, identity string, pid *actor.PID) {
	c.PidCache.RemoveByValue(identity, kind, pid)
}

func isDeadLetter(err error) bool {
	return errors.Is(err, actor.ErrDeadLetter) || errors.Is(err, remote.ErrDeadLetter)
}

// memberships maps a cluster to its Membership, for lookups made where
// only the cluster is at hand (actor code).
var memberships sync.Map // *pcluster.Cluster → *Membership

// place asks the owner's placement actor for the grain's activation, as
// disthash's Cluster.Get does, but gives up as soon as the topology
// changes instead of after the library's fixed five seconds: a lookup
// sent to a member that died waited out its whole timeout after the
// cluster had noticed, and the caller (a session re-attaching, a grain)
// waited with it. The owner after the change is asked next.
func place(c *pcluster.Cluster, kind, identity string) *actor.PID {
	v, ok := memberships.Load(c)
	if !ok {
		return c.Get(identity, kind)
	}
	m := v.(*Membership)
	for attempt := 0; attempt < 3; attempt++ {
		owner, changed := m.owner(kind, identity)
		if owner == "" {
			return nil
		}
		fut := c.ActorSystem.Root.RequestFuture(actor.NewPID(owner, disthash.PartitionActivatorActorName),
			&pcluster.ActivationRequest{ClusterIdentity: pcluster.NewClusterIdentity(identity, kind)}, placeTimeout)
		if owner == m.Self() {
			// This node's own placement actor: it cannot die under the
			// lookup, so there is no topology to race (and no goroutine to
			// spend on the hot path of a cluster of one).
			return activated(fut)
		}
		done := make(chan *actor.PID, 1)
		go func() { done <- activated(fut) }()
		select {
		case pid := <-done:
			return pid
		case <-changed:
			// Ask the owner the new topology names, if it changed.
		}
	}
	return nil
}

// activated is the PID a placement actor answered, nil if it did not.
func activated(fut *actor.Future) *actor.PID {
	res, err := fut.Result()
	if r, ok := res.(*pcluster.ActivationResponse); ok && err == nil {
		return r.Pid
	}
	return nil
}

// placeTimeout bounds an activation request, as in disthash.
const placeTimeout = 5 * time.Second
