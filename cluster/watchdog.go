package cluster

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// LeaseTTL is the etcd provider's lease at our protoactor version: a member
// that has not renewed it for this long is gone as far as its peers know,
// and they re-activate its grains elsewhere.
const LeaseTTL = 3 * time.Second

// ErrMembershipLost is what Node.Lost reports: this member is no longer part
// of the cluster and cannot rejoin in this process (its peers block its
// member id, and the provider never re-adds itself), so the process must
// exit and let its supervisor start a fresh member.
var ErrMembershipLost = errors.New("cluster: lost cluster membership")

// Watchdog timing. Ticks are frequent so a freeze is measured closely; the
// probe reads one key, so once a second costs etcd nothing.
const (
	watchdogTick  = 250 * time.Millisecond
	probeInterval = time.Second
	probeTimeout  = time.Second
)

// watchdog is the membership rules as pure state: the caller feeds it what
// it observes, with the time, and each feed says whether this member has
// lost its membership. It covers the provider's known failures:
//   - a lapsed lease makes the provider drop every member, itself included,
//     and it never re-adds itself: a topology without this member, after
//     one with it, means lost;
//   - a process frozen (SIGSTOP, a stalled VM) for longer than the lease
//     surely lost it, even if no event says so yet;
//   - the watch can miss events, so this member's own key is also read
//     directly: gone, or written anew (the provider re-registers after a
//     lapse under the same id, which peers have blocked), means lost.
//
// etcd not answering is not, by itself, a loss: while etcd is down for
// every node, each keeps serving on the last member list it saw (writes
// stay fenced by version either way), and once etcd answers again the key
// read decides. Exiting on silence would turn an etcd outage into a
// whole-cluster outage. A node cut off from etcd alone is dropped by its
// peers after the lease; it learns so when it reaches etcd again.
type watchdog struct {
	self string        // this member's address, host:port
	ttl  time.Duration // the lease

	inTopology bool      // self was in a topology once
	lastTick   time.Time // last freeze-detector tick
	keyRev     int64     // create revision of self's key; 0 before the first probe
}

func newWatchdog(self string, ttl time.Duration, now time.Time) *watchdog {
	return &watchdog{self: self, ttl: ttl, lastTick: now}
}

// topology takes the addresses of the members of a new topology.
func (w *watchdog) topology(members []string) error {
	if slices.Contains(members, w.self) {
		w.inTopology = true
		return nil
	}
	if w.inTopology {
		return fmt.Errorf("%w: this member (%s) left the cluster topology (its etcd lease lapsed or its key was deleted)", ErrMembershipLost, w.self)
	}
	return nil
}

// tick is the freeze detector: called every watchdogTick, a gap longer than
// the lease means the whole process stood still that long.
func (w *watchdog) tick(now time.Time) error {
	gap := now.Sub(w.lastTick)
	w.lastTick = now
	if gap > w.ttl {
		return fmt.Errorf("%w: the process was frozen or stalled for %s, longer than the %s etcd lease", ErrMembershipLost, gap.Round(time.Millisecond), w.ttl)
	}
	return nil
}

// probeResult is one read of this member's own key in etcd.
type probeResult struct {
	reached   bool  // etcd answered
	present   bool  // the key exists
	createRev int64 // its create revision, when present
}

// probe takes the result of a read of this member's key, made at now.
func (w *watchdog) probe(now time.Time, p probeResult) error {
	if !p.reached {
		return nil
	}
	switch {
	case !p.present:
		return fmt.Errorf("%w: this member's etcd key is gone (its lease lapsed or it was deleted)", ErrMembershipLost)
	case w.keyRev == 0:
		w.keyRev = p.createRev
	case p.createRev != w.keyRev:
		return fmt.Errorf("%w: this member's etcd key was deleted and written again (revision %d, first %d): its lease lapsed in between", ErrMembershipLost, p.createRev, w.keyRev)
	}
	return nil
}
