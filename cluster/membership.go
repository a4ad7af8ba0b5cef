package cluster

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
)

// Topology is the member set after a change, by remote address
// (host:port). Joined and Left are relative to the previous topology.
type Topology struct {
	Self   string
	Peers  []string // every live member but this one
	Joined []string
	Left   []string
}

// Membership is this node's view of the live members. It exists before the
// node starts, so the grains' dependencies can hold it; Start binds it to
// the cluster. Peers is read on hot paths (every radar change is sent to
// each peer), so it is an atomic load, not a call into the member list.
type Membership struct {
	self  atomic.Value // string
	peers atomic.Pointer[[]string]

	// placement is read on every grain lookup, so it is one atomic load;
	// nil before the node starts and in SetForTest.
	placement atomic.Pointer[placement]

	mu   sync.Mutex
	subs []func(Topology)
}

// placement is the rendezvous of the live members, as disthash computes it
// from the same topology events, and a channel closed when it is replaced.
type placement struct {
	rdv     *pcluster.Rendezvous
	changed chan struct{}
}

// NewMembership returns a membership with no peers: a cluster of one until
// the node starts and learns otherwise.
func NewMembership() *Membership {
	m := &Membership{}
	m.self.Store("")
	m.peers.Store(&[]string{})
	return m
}

// Self is this member's remote address; empty before the node starts.
func (m *Membership) Self() string {
	if m == nil {
		return ""
	}
	return m.self.Load().(string)
}

// Peers are the addresses of every other live member. The slice is shared:
// do not modify it.
func (m *Membership) Peers() []string {
	if m == nil {
		return nil
	}
	return *m.peers.Load()
}

// Subscribe calls fn after every topology change, on the cluster's event
// goroutine: fn must not block (send to an actor instead).
func (m *Membership) Subscribe(fn func(Topology)) {
	m.mu.Lock()
	m.subs = append(m.subs, fn)
	m.mu.Unlock()
}

// bind starts following c's topology.
func (m *Membership) bind(c *pcluster.Cluster) {
	self := c.ActorSystem.Address()
	m.self.Store(self)
	c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*pcluster.ClusterTopology); ok {
			m.place(t.Members)
			m.update(self, addresses(t.Members))
		}
	})
	members := c.MemberList.Members().Members()
	m.place(members)
	m.update(self, addresses(members))
}

// place recomputes the placement and wakes lookups waiting on the old one.
func (m *Membership) place(members []*pcluster.Member) {
	rdv := pcluster.NewRendezvous()
	rdv.UpdateMembers(members)
	if old := m.placement.Swap(&placement{rdv: rdv, changed: make(chan struct{})}); old != nil {
		close(old.changed)
	}
}

// owner is the address of the member that places the grain ("" before the
// node starts), and a channel closed when the topology changes (the owner
// may then be another).
func (m *Membership) owner(kind, identity string) (string, <-chan struct{}) {
	p := m.placement.Load()
	if p == nil {
		return "", nil
	}
	return p.rdv.GetByClusterIdentity(&pcluster.ClusterIdentity{Kind: kind, Identity: identity}), p.changed
}

// SetForTest makes m a member at self among members (addresses, self may be
// among them), telling subscribers what changed as a real topology change
// would. It is for tests of the actors that follow the topology: one test
// process runs one remote-enabled node, so their peers cannot be real.
func (m *Membership) SetForTest(self string, members []string) {
	m.self.Store(self)
	m.update(self, members)
}

func (m *Membership) update(self string, members []string) {
	old := m.Peers()
	peers := make([]string, 0, len(members))
	for _, a := range members {
		if a != self && !slices.Contains(peers, a) {
			peers = append(peers, a)
		}
	}
	slices.Sort(peers)
	top := Topology{Self: self, Peers: peers}
	for _, a := range peers {
		if !slices.Contains(old, a) {
			top.Joined = append(top.Joined, a)
		}
	}
	for _, a := range old {
		if !slices.Contains(peers, a) {
			top.Left = append(top.Left, a)
		}
	}
	if len(top.Joined) == 0 && len(top.Left) == 0 {
		return
	}
	m.peers.Store(&peers)
	m.mu.Lock()
	subs := slices.Clone(m.subs)
	m.mu.Unlock()
	for _, fn := range subs {
		fn(top)
	}
}

// PeerPID is the PID of the actor named name on the member at address:
// node-wide actors (the mirrors) are spawned under fixed names, so a peer
// reaches them without a lookup.
func PeerPID(address, name string) *actor.PID { return actor.NewPID(address, name) }
