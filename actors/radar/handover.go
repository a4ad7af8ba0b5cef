package radar

import (
	"net"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

// Hand-over. When the member set changes, disthash moves some cells to
// another member: the placement actor stops the activation here and the
// next message to the cell starts one there, empty. Without help, the
// users in a moved cell would vanish from every radar until each sends its
// next location. So a stopping activation whose cell now belongs to
// another member sends its entries there (a CellDelta addressed to the Cell
// grain), and the new activation takes those it has no newer word on.
//
// The danger is bringing back a user that left the cell: its User grain
// may already have sent the remove to the new activation (its node saw the
// new topology first) before the hand-over arrives. So for handOverWindow
// after it starts, an activation remembers the users removed while absent,
// and takes no hand-over entry for them; after the window it takes no
// hand-over at all (a move's hand-over comes within moments of the move).
// An entry the hand-over brings back wrongly anyway (a remove lost
// entirely) ages out of every radar with the presence TTL, as any entry of
// a user who stopped sending does.

// handOverWindow is how long after it starts an activation accepts a
// hand-over.
const handOverWindow = time.Minute

// handOver sends the entries to the cell's new owner, when the cell stops
// because it moved. A cell that stops for any other reason (passivation,
// which only happens when it is empty; the node shutting down, when it is
// still the owner in the member list) hands nothing over: the new
// activation would be this one.
func (g *cellGrain) handOver(ctx actor.Context) {
	if len(g.members) == 0 {
		return
	}
	self, peers := g.deps.Membership.Self(), g.deps.Membership.Peers()
	if len(peers) == 0 {
		return
	}
	if owner := ownerOf(g.id, self, peers); owner == "" || owner == self {
		return
	}
	c := clusterOf(ctx.ActorSystem())
	if c == nil {
		return
	}
	// A lookup waits for the owner's placement actor; this activation is
	// stopping and serves nothing meanwhile.
	pid := c.Get(g.id, cluster.KindCell)
	if pid == nil {
		return
	}
	d := g.full()
	d.Full = false // a hand-over merges, see takeOver
	ctx.Send(pid, d)
}

// takeOver merges a previous activation's hand-over.
func (g *cellGrain) takeOver(ctx actor.Context, d *grainpb.CellDelta) {
	if !g.handOverOpen() {
		return
	}
	taken := mergeHandOver(g.members, g.removed, d.Upserts)
	if len(taken) == 0 {
		return
	}
	g.publish()
	g.notify(ctx, "")
	g.replicate(ctx, &grainpb.CellDelta{Upserts: taken})
}

// tombstone remembers that userID was removed while absent, while a
// hand-over may still come.
func (g *cellGrain) tombstone(userID string) {
	if len(g.deps.Membership.Peers()) == 0 || !g.handOverOpen() {
		return // alone, no hand-over can come
	}
	if g.removed == nil {
		g.removed = map[string]struct{}{}
	}
	g.removed[userID] = struct{}{}
}

func (g *cellGrain) handOverOpen() bool {
	if g.deps.Clock.Now().Sub(g.born) < handOverWindow {
		return true
	}
	g.removed = nil
	return false
}

// mergeHandOver adds to members the handed-over entries of users not
// removed here and not present with an entry as new, and returns those it
// took.
func mergeHandOver(members map[string]*Entry, removed map[string]struct{}, upserts []*grainpb.CellEntry) []*grainpb.CellEntry {
	var taken []*grainpb.CellEntry
	for _, pe := range upserts {
		if pe == nil || pe.UserId == "" {
			continue
		}
		if _, gone := removed[pe.UserId]; gone {
			continue
		}
		if old := members[pe.UserId]; old != nil && old.UpdatedAt.UnixMilli() >= pe.UpdatedUnixMs {
			continue
		}
		members[pe.UserId] = EntryFromProto(pe)
		taken = append(taken, pe)
	}
	return taken
}

// ownerOf is the member disthash places the cell on, among self and peers
// (addresses host:port): the library's rendezvous hash over the same
// member set the placement actor sees, every member hosting Cells. It
// returns "" if an address does not parse.
func ownerOf(cellID, self string, peers []string) string {
	members := make(pcluster.Members, 0, len(peers)+1)
	for _, a := range append([]string{self}, peers...) {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return ""
		}
		p, err := strconv.ParseInt(port, 10, 32)
		if err != nil {
			return ""
		}
		members = append(members, &pcluster.Member{Host: host, Port: int32(p), Id: a, Kinds: []string{cluster.KindCell}})
	}
	rdv := pcluster.NewRendezvous()
	rdv.UpdateMembers(members)
	return rdv.GetByClusterIdentity(pcluster.NewClusterIdentity(cellID, cluster.KindCell))
}

// clusterOf is the system's cluster, nil for a plain actor system (tests
// run cell grains in one), where the library's GetCluster panics.
func clusterOf(sys *actor.ActorSystem) (c *pcluster.Cluster) {
	defer func() {
		if recover() != nil {
			c = nil
		}
	}()
	return pcluster.GetCluster(sys)
}
