package loadgen

import (
	"strings"
	"sync/atomic"
)

// Several servers: the nodes of a cluster behind a load balancer. The
// generator plays the balancer's part deterministically, so a run is
// repeatable and its spread is known:
//
//   - user i's home is node i mod n. Pairs are users 2k and 2k+1, so with
//     two or more nodes the partners of every pair (BLE and chat) sit on
//     different nodes: the cross-node paths are what a cluster must get
//     right.
//   - a login, the first connect and every reconnect try the home node
//     first, then the other nodes (failoverTarget), so a dead node's users
//     land on the live ones, spread evenly, and go home again after their
//     next drop once it is back.

// node is one server URL: its source addresses (each with its own REST
// client and pacing, since every node limits per client IP on its own)
// and what its users did there.
type node struct {
	idx     int
	url     string // as given
	base    string // without a trailing slash, for REST paths
	wsURL   string // the run's socket endpoint on this node
	sources []*source

	home int // users whose home this node is

	connected         atomic.Int64 // first connects that landed here
	dropped           atomic.Int64 // sockets on this node the server or network closed
	reconnects        atomic.Int64 // reconnects that landed here
	reconnectFailures atomic.Int64 // reconnect attempts here that failed
}

// newNode prepares server url for the run's socket path.
func newNode(idx int, url, wsPath string) *node {
	base := strings.TrimRight(url, "/")
	return &node{idx: idx, url: url, base: base, wsURL: "ws" + strings.TrimPrefix(base, "http") + wsPath}
}

// homeOf is user idx's home node among n, and its rank among that node's
// users, which spreads it over the node's sources and, on failover, over
// the other nodes.
func homeOf(idx, n int) (home, rank int) {
	return idx % n, idx / n
}

// failoverTarget is the node a user with home and rank tries at attempt
// (0, 1, …) of a login, connect or reconnect: home first, then the other
// n−1 nodes in order, starting at an offset by rank, so the users of a
// dead node fail over evenly to all the others rather than all to the
// next one. Every n attempts visit every node once.
func failoverTarget(home, rank, n, attempt int) int {
	a := attempt % n
	if a == 0 {
		return home
	}
	return (home + 1 + (rank+a-1)%(n-1)) % n
}

// NodeSummary is what happened on one server URL.
type NodeSummary struct {
	URL               string `json:"url"`
	Home              int    `json:"home"`              // users whose home node this is
	Connected         int64  `json:"connected"`         // first connects that landed here
	ConnectedAtEnd    int    `json:"connectedAtEnd"`    // sessions here when the traffic phase ended
	Dropped           int64  `json:"dropped"`           // sockets here the server or network closed
	Reconnects        int64  `json:"reconnects"`        // reconnects that landed here
	ReconnectFailures int64  `json:"reconnectFailures"` // reconnect attempts here that failed
}

// nodeSummaries reads the nodes' counters; atEnd is the sessions per node
// when the traffic phase ended.
func (r *runner) nodeSummaries(atEnd []int) []NodeSummary {
	out := make([]NodeSummary, len(r.nodes))
	for i, n := range r.nodes {
		out[i] = NodeSummary{URL: n.url, Home: n.home, Connected: n.connected.Load(), ConnectedAtEnd: atEnd[i],
			Dropped: n.dropped.Load(), Reconnects: n.reconnects.Load(), ReconnectFailures: n.reconnectFailures.Load()}
	}
	return out
}

// connectedPerNode counts the live sessions on each node.
func (r *runner) connectedPerNode() []int {
	out := make([]int, len(r.nodes))
	for _, c := range r.clients {
		if c.connected.Load() {
			out[c.source().node.idx]++
		}
	}
	return out
}
