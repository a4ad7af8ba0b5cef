package user

import (
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

// OnlineMirrorName is the name every node spawns its online mirror under,
// so that a peer reaches it by address alone (cluster.PeerPID).
const OnlineMirrorName = "user-online-mirror"

// StartMirror spawns the node's online mirror and links the index to it:
// from then on the socket counts of this node's User grains reach every
// peer's index, and the peers' counts reach this one. Call it once, after
// the node started (members is the node's Membership).
func (o *Online) StartMirror(system *actor.ActorSystem, members *cluster.Membership) (*actor.PID, error) {
	// Linked before the mirror exists: a grain's change made meanwhile is
	// dropped on the way, but the mirror's start sends the whole local
	// part after it, so nothing set from now on is missed.
	pid := cluster.PeerPID(system.Address(), OnlineMirrorName)
	if !o.link.CompareAndSwap(nil, &mirrorLink{root: system.Root, mirror: pid, members: members}) {
		return nil, fmt.Errorf("user: the online mirror is already started")
	}
	props := actor.PropsFromProducer(func() actor.Actor { return &onlineMirror{online: o, members: members} })
	if _, err := system.Root.SpawnNamed(props, OnlineMirrorName); err != nil {
		o.link.Store(nil)
		return nil, fmt.Errorf("user: spawn the online mirror: %w", err)
	}
	// The subscriber runs on the cluster's event goroutine: hand over, never block.
	members.Subscribe(func(t cluster.Topology) { system.Root.Send(pid, t) })
	return pid, nil
}

// publish asks the mirror to tell the peers one user's local count.
type publish struct{ userID string }

// onlineMirror keeps the node's Online in step with the other members. It
// is the only sender of this node's OnlineDelta and MirrorSync messages,
// so each peer gets them in the order they were sent.
type onlineMirror struct {
	online  *Online
	members *cluster.Membership
	self    string
}

func (m *onlineMirror) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.self = ctx.Self().Address
		for _, p := range m.members.Peers() {
			m.join(ctx, p)
		}
	case cluster.Topology:
		for _, p := range msg.Left {
			m.online.forget(p)
		}
		for _, p := range msg.Joined {
			m.join(ctx, p)
		}
	case publish:
		// The count as it is now, not as it was when it changed: a later
		// change queued its own publish behind this one, so the last delta
		// a peer gets is the current count.
		d := m.online.delta(msg.userID, m.self)
		for _, p := range m.members.Peers() {
			ctx.Send(cluster.PeerPID(p, OnlineMirrorName), d)
		}
	case *grainpb.OnlineDelta:
		m.online.apply(msg, m.members.Peers())
	case *grainpb.MirrorSync:
		// The asker sends its whole part right after its ask: what it sent
		// before is superseded (and may come from an earlier process at
		// the same address).
		m.online.forget(msg.Address)
		m.push(ctx, msg.Address)
	}
}

// join asks the member at addr for its part and sends it ours. Both sides
// do it (on start and on seeing the other join), so a member whose mirror
// was not yet running when the other asked still learns everything.
func (m *onlineMirror) join(ctx actor.Context, addr string) {
	ctx.Send(cluster.PeerPID(addr, OnlineMirrorName), &grainpb.MirrorSync{Address: m.self})
	m.push(ctx, addr)
}

// push sends the member at addr one delta per user online through a User
// grain of this node.
func (m *onlineMirror) push(ctx actor.Context, addr string) {
	to := cluster.PeerPID(addr, OnlineMirrorName)
	for _, d := range m.online.owned(m.self) {
		ctx.Send(to, d)
	}
}
