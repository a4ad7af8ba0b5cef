package user

import (
	"slices"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

// Online tells whether a user has an open socket anywhere in the cluster,
// for the Connection model's isOnline, chat pushes and token rotation. It
// is read on this node by grains whose user's User grain may live on
// another node, so it holds two parts:
//
//   - local: the socket counts of the users whose User grain runs here; the
//     grain is their only writer;
//   - mirrored: the users online per the other members, by the member that
//     hosts their User grain (the owner), kept by the node's online mirror
//     (StartMirror) from the OnlineDelta messages the peers' mirrors send.
//
// The two never overwrite each other: while a grain moves between nodes its
// old and new activations may briefly both count the user, and each one's
// later "offline" must clear only its own claim.
type Online struct {
	mu  sync.RWMutex
	idx onlineIndex

	// link is set once the node's mirror runs; until then changes stay
	// local (the mirror sends the whole local part when it starts).
	link atomic.Pointer[mirrorLink]
}

// mirrorLink is how local changes reach the node's mirror.
type mirrorLink struct {
	root    *actor.RootContext
	mirror  *actor.PID
	members *cluster.Membership
}

// NewOnline returns an empty index.
func NewOnline() *Online { return &Online{idx: newOnlineIndex()} }

// Is reports whether the user has an open socket on any member.
func (o *Online) Is(userID string) bool {
	if o == nil {
		return false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.idx.is(userID)
}

// set records the socket count of a user whose User grain runs here. A
// change is passed to the mirror, which tells the peers; with no peers
// nothing is sent.
func (o *Online) set(userID string, sockets int) {
	if o == nil {
		return
	}
	o.mu.Lock()
	changed := o.idx.setLocal(userID, sockets)
	o.mu.Unlock()
	if l := o.link.Load(); changed && l != nil && len(l.members.Peers()) > 0 {
		// Through the mirror, not straight to the peers: every delta this
		// node sends then leaves from one actor, which reads the count
		// when it sends, so a peer never gets an older count after a
		// newer one (see mirror.publish).
		l.root.Send(l.mirror, publish{userID: userID})
	}
}

// onlineIndex is Online's state, without the lock: pure rules, tested by table.
type onlineIndex struct {
	local  map[string]int    // user → sockets, for User grains on this node
	remote map[string]string // user → owner, for User grains on other members
	owners []string          // the owner addresses seen, so entries share one string
}

func newOnlineIndex() onlineIndex {
	return onlineIndex{local: map[string]int{}, remote: map[string]string{}}
}

func (x *onlineIndex) is(userID string) bool {
	if x.local[userID] > 0 {
		return true
	}
	_, ok := x.remote[userID]
	return ok
}

// setLocal records the count of a local grain's sockets; it reports whether
// the count changed.
func (x *onlineIndex) setLocal(userID string, sockets int) bool {
	if x.local[userID] == sockets {
		return false
	}
	if sockets > 0 {
		x.local[userID] = sockets
	} else {
		delete(x.local, userID)
	}
	return true
}

// apply takes a peer's delta: the user is online per owner, or no longer.
// Offline clears only the same owner's claim: an activation that stopped
// (moved away, or stale) must not clear the one that replaced it, whose
// delta may well arrive first. A delta from an owner not among peers (the
// sorted live members) is dropped: from one that left (a frozen node that
// came back) it would stay for good, and one not yet seen is asked for its
// whole part once it is seen joining.
func (x *onlineIndex) apply(d *grainpb.OnlineDelta, peers []string) {
	if _, ok := slices.BinarySearch(peers, d.Owner); !ok {
		return
	}
	if d.Sockets > 0 {
		x.remote[d.UserId] = x.intern(d.Owner)
		return
	}
	if x.remote[d.UserId] == d.Owner {
		delete(x.remote, d.UserId)
	}
}

// forget drops every user the member at owner counted. It is done when the
// member left the cluster (its grains are gone with it; their sockets
// re-attach wherever the grains come back, which counts them again), and
// when its mirror asks for a sync: it sends its whole part right after,
// and what it sent before may be from an earlier process at the same
// address.
func (x *onlineIndex) forget(owner string) {
	for u, o := range x.remote {
		if o == owner {
			delete(x.remote, u)
		}
	}
	for i, o := range x.owners {
		if o == owner {
			x.owners = append(x.owners[:i], x.owners[i+1:]...)
			break
		}
	}
}

// owned lists the users online per this node's own grains, as deltas from
// self: what a joining member's mirror is sent.
func (x *onlineIndex) owned(self string) []*grainpb.OnlineDelta {
	out := make([]*grainpb.OnlineDelta, 0, len(x.local))
	for u, n := range x.local {
		out = append(out, &grainpb.OnlineDelta{UserId: u, Owner: self, Sockets: int32(n)})
	}
	return out
}

// delta is the local count of one user as a delta from self (zero when
// the grain here no longer counts it).
func (x *onlineIndex) delta(userID, self string) *grainpb.OnlineDelta {
	return &grainpb.OnlineDelta{UserId: userID, Owner: self, Sockets: int32(x.local[userID])}
}

// intern returns the stored copy of an owner address: each decoded delta
// brings its own copy, and a mirror holds one entry per online user.
func (x *onlineIndex) intern(owner string) string {
	for _, o := range x.owners {
		if o == owner {
			return o
		}
	}
	x.owners = append(x.owners, owner)
	return owner
}

// The mirror's reads and writes of the index, under its lock.

func (o *Online) apply(d *grainpb.OnlineDelta, peers []string) {
	o.mu.Lock()
	o.idx.apply(d, peers)
	o.mu.Unlock()
}

func (o *Online) forget(owner string) {
	o.mu.Lock()
	o.idx.forget(owner)
	o.mu.Unlock()
}

func (o *Online) owned(self string) []*grainpb.OnlineDelta {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.idx.owned(self)
}

func (o *Online) delta(userID, self string) *grainpb.OnlineDelta {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.idx.delta(userID, self)
}
