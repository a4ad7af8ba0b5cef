package radar

import (
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/uber/h3-go/v4"

	"github.com/gisbi/engine/clock"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/metrics"
)

// MirrorName is the radar mirror's actor name on every member: peers
// address it with cluster.PeerPID(address, MirrorName), no lookup.
const MirrorName = "radar-mirror"

// MirrorDeps are the radar mirror's: the node's Directory and Watchers,
// which it shares with the node's Cell grains and User grains.
type MirrorDeps struct {
	Dir        *Directory
	Watchers   *Watchers
	Membership *cluster.Membership
	Clock      clock.Clock
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	// PresenceTTL as for the Cell grains: a refreshed stale entry is news.
	PresenceTTL time.Duration
}

// NewMirror returns the props of a radar mirror. Spawn one per node, named
// MirrorName (StartMirror does).
//
// The mirror keeps, in the node's Directory, a replica of every cell the
// other members host, so a radar query on this node reads every cell
// locally wherever its grain lives. It applies the CellDeltas the cells
// send (see replica for the rules), publishes each changed cell's snapshot
// and wakes the local watchers of that cell, as a Cell grain does for its
// own. It follows the membership: a member that leaves takes its cells
// with it, and a member that joins (and this node, when it starts) is
// asked for the content of its cells (MirrorSync). It answers the same
// request from others by asking each local Cell grain for its content.
func NewMirror(d MirrorDeps) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &mirror{deps: d, rep: newReplica(d.PresenceTTL)}
	})
}

// StartMirror spawns the node's radar mirror under MirrorName. Call it once
// the node's cluster started (its address is then known).
func StartMirror(sys *actor.ActorSystem, d MirrorDeps) (*actor.PID, error) {
	return sys.Root.SpawnNamed(NewMirror(d), MirrorName)
}

type mirror struct {
	deps    MirrorDeps
	rep     *replica
	mirrors mirrorPIDs
	pids    []*actor.PID // reused by MirrorSync
}

func (m *mirror) Receive(ctx actor.Context) {
	defer cluster.Recover(ctx, m.deps.Logger, "radar mirror", nil)
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		if m.deps.Membership == nil {
			return
		}
		self, sys := ctx.Self(), ctx.ActorSystem()
		m.deps.Membership.Subscribe(func(t cluster.Topology) { sys.Root.Send(self, t) })
		m.askSync(ctx, m.deps.Membership.Peers())
	case cluster.Topology:
		for _, member := range msg.Left {
			for _, cell := range m.rep.left(member) {
				m.publish(ctx, cell, applied{publish: true, wake: true})
			}
		}
		m.askSync(ctx, msg.Joined)
	case *grainpb.CellDelta:
		cell, res := m.rep.apply(msg, m.deps.Membership.Peers(), m.deps.Clock.Now())
		if res.resync {
			// The sender is the grain's activation (it sends with Request).
			if ctx.Sender() != nil {
				ctx.Send(ctx.Sender(), &grainpb.CellResync{Address: m.deps.Membership.Self()})
			} else {
				m.deps.Logger.Warn("radar mirror: cannot ask for a resync: the delta names no sender", "cell", msg.Cell, "owner", msg.Owner)
			}
		}
		m.publish(ctx, cell, res)
	case *grainpb.MirrorSync:
		if msg.Address == "" {
			return
		}
		m.pids = m.deps.Dir.hosted.all(m.pids[:0])
		for _, pid := range m.pids {
			ctx.Send(pid, &grainpb.CellResync{Address: msg.Address})
		}
		clear(m.pids)
	}
}

// askSync asks the mirrors of members for the content of their cells.
func (m *mirror) askSync(ctx actor.Context, members []string) {
	self := m.deps.Membership.Self()
	for _, a := range members {
		ctx.Send(m.mirrors.get(a), &grainpb.MirrorSync{Address: self})
	}
}

// publish replaces the cell's remote snapshot and wakes its watchers, as
// the outcome res asks.
func (m *mirror) publish(ctx actor.Context, cell h3.Cell, res applied) {
	if res.publish {
		m.deps.Dir.storeRemote(cell, m.rep.snapshot(cell))
	}
	if res.wake {
		n := m.deps.Watchers.Wake(cell, res.mover, func(w *Watcher) {
			ctx.Send(w.PID, &grainpb.RadarDirty{})
		})
		m.deps.Metrics.RadarNotifications.Add(float64(n))
	}
}
