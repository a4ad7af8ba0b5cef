package loadgen

import (
	"context"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
)

func TestFailoverTarget(t *testing.T) {
	tests := []struct {
		home, rank, n int
		want          []int // nodes tried at attempts 0, 1, …
	}{
		{0, 0, 1, []int{0, 0, 0}},
		{0, 0, 2, []int{0, 1, 0, 1}},
		{1, 5, 2, []int{1, 0, 1, 0}},
		{0, 0, 3, []int{0, 1, 2, 0}},
		{0, 1, 3, []int{0, 2, 1, 0}},
		{2, 0, 3, []int{2, 0, 1, 2}},
		{2, 1, 3, []int{2, 1, 0, 2}},
		{1, 2, 4, []int{1, 0, 2, 3, 1}},
	}
	for _, tt := range tests {
		var got []int
		for a := range tt.want {
			got = append(got, failoverTarget(tt.home, tt.rank, tt.n, a))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("home %d rank %d of %d: tried %v, want %v", tt.home, tt.rank, tt.n, got, tt.want)
		}
	}
}

// TestFailoverVisitsEveryNode: every n attempts try each node once, home
// first, whatever the user.
func TestFailoverVisitsEveryNode(t *testing.T) {
	for n := 1; n <= 5; n++ {
		for idx := range 4 * n {
			home, rank := homeOf(idx, n)
			seen := make([]bool, n)
			for a := range n {
				k := failoverTarget(home, rank, n, a)
				if (a == 0) != (k == home) || seen[k] {
					t.Fatalf("n %d user %d: attempt %d goes to node %d (home %d, seen %v)", n, idx, a, k, home, seen)
				}
				seen[k] = true
			}
		}
	}
}

// TestFailoverSpreads: a dead node's users move to the live nodes evenly,
// and the partners of every pair have different homes.
func TestFailoverSpreads(t *testing.T) {
	const n, users = 3, 300
	moved := make([]int, n)
	for idx := range users {
		home, rank := homeOf(idx, n)
		if home == 0 {
			moved[failoverTarget(home, rank, n, 1)]++
		}
		if idx%2 == 1 {
			if prev, _ := homeOf(idx-1, n); prev == home {
				t.Errorf("pair of users %d and %d both on node %d", idx-1, idx, home)
			}
		}
	}
	if moved[0] != 0 || moved[1] != 50 || moved[2] != 50 {
		t.Errorf("node 0's 100 users moved %v, want 0/50/50", moved)
	}
}

// TestNodeSources: each server URL gets its own sources, dialling that
// server, and each user starts on its home node.
func TestNodeSources(t *testing.T) {
	for _, spec := range []string{"auto", "none", "127.0.0.2,127.0.0.3"} {
		cfg := Defaults()
		cfg.Servers = []string{"http://127.0.0.1:1", "http://localhost:2/", "https://example.test"}
		cfg.Users, cfg.Pairs, cfg.ChatRate, cfg.LocalAddrs = 7, 0, 0, spec
		r, err := newRunner(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, n := range r.nodes {
			local, _ := parseLocalAddrs(spec)
			ips, dial, _ := resolveSources(cfg.Servers[i], local)
			if len(n.sources) != max(len(ips), 1) {
				t.Errorf("%s: node %s has %d sources, want %d", spec, n.url, len(n.sources), max(len(ips), 1))
			}
			for _, src := range n.sources {
				if src.node != n || src.dial != dial {
					t.Errorf("%s: a source of %s dials %s for node %s", spec, n.url, src.dial, src.node.url)
				}
			}
		}
		if got := []int{r.nodes[0].home, r.nodes[1].home, r.nodes[2].home}; !slices.Equal(got, []int{3, 2, 2}) {
			t.Errorf("%s: homes %v", spec, got)
		}
		for _, c := range r.clients {
			if c.source().node.idx != c.idx%3 {
				t.Errorf("%s: user %d starts on node %d", spec, c.idx, c.source().node.idx)
			}
		}
		if r.nodes[1].base != "http://localhost:2" || r.nodes[2].wsURL != "wss://example.test/ws" {
			t.Errorf("%s: base %q, ws %q", spec, r.nodes[1].base, r.nodes[2].wsURL)
		}
	}
}

// relay stands for a second node in front of the one in-process server (a
// test process may hold only one): a TCP relay that can die at once, as a
// killed node's sockets do.
type relay struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func startRelay(t *testing.T, target string) *relay {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &relay{ln: ln}
	go func() {
		for {
			down, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = down.Close()
				continue
			}
			r.mu.Lock()
			r.conns = append(r.conns, down, up)
			r.mu.Unlock()
			go func() { _, _ = io.Copy(up, down); _ = up.Close() }()
			go func() { _, _ = io.Copy(down, up); _ = down.Close() }()
		}
	}()
	t.Cleanup(r.kill)
	return r
}

func (r *relay) url() string { return "http://" + r.ln.Addr().String() }

// kill refuses new connections and cuts every open one.
func (r *relay) kill() {
	_ = r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		_ = c.Close()
	}
}

// TestFailoverRun spreads the users over two nodes, kills one under load,
// and sees its users reconnect to the other: homes alternate, the dead
// node's sockets drop, each reconnect first tries home (refused) and then
// lands on the live node, and the failover time is measured.
func TestFailoverRun(t *testing.T) {
	srv := servertest.Start(t)
	dead := startRelay(t, srv.Addr())
	cfg := Defaults()
	cfg.Servers = []string{dead.url(), srv.URL}
	cfg.Users, cfg.Pairs, cfg.ChatRate = 6, 0, 0
	cfg.LocationEvery, cfg.Duration = time.Second, 3*time.Second
	cfg.HTTPRate, cfg.HTTPBurst = 10000, 10000 // servertest's limits
	// Half the sockets drop; the refused dials home and the requests in
	// flight on the dropped sockets are the expected errors.
	cfg.MaxFailFraction, cfg.AllowErrors = 0.5, []string{codeTransport, codeDisconnected}
	r, err := newRunner(cfg, logWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for r.phase.Load() != "run" {
			time.Sleep(10 * time.Millisecond)
		}
		dead.kill()
	}()
	s := r.run(context.Background())

	if !s.Pass {
		t.Errorf("run failed: %q", s.Failures)
	}
	want := []NodeSummary{
		{URL: dead.url(), Home: 3, Connected: 3, ConnectedAtEnd: 0, Dropped: 3, Reconnects: 0, ReconnectFailures: 3},
		{URL: srv.URL, Home: 3, Connected: 3, ConnectedAtEnd: 6, Dropped: 0, Reconnects: 3, ReconnectFailures: 0},
	}
	if !slices.Equal(s.Nodes, want) {
		t.Errorf("nodes\n%+v, want\n%+v", s.Nodes, want)
	}
	ss := s.Sessions
	if ss.Dropped != 3 || ss.Reconnects != 3 || ss.GaveUp != 0 || ss.ConnectedAtEnd != 6 {
		t.Errorf("sessions %+v", ss)
	}
	if l := ss.ReconnectLatency; l == nil || l.Count != 3 || l.Max <= 0 {
		t.Errorf("reconnect latency %+v, want 3 measured", l)
	}
	if !slices.Equal(s.Scenario.Servers, cfg.Servers) {
		t.Errorf("scenario servers %q", s.Scenario.Servers)
	}
}
