package server_test

import (
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// TestConcurrentAcceptsMakeOneConnection: 50 sockets of the receiver accept
// the same request at once; exactly one accept succeeds.
func TestConcurrentAcceptsMakeOneConnection(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.MaxSocketsPerUser = 60 })
	a, b := joinAs(t, srv, "sender"), joinAs(t, srv, "receiver")
	req := send(t, a, b)
	const n = 50
	socks := make([]*servertest.WS, n)
	for i := range socks {
		socks[i] = b.User.Dial()
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, ws := range socks {
		wg.Add(1)
		go func(ws *servertest.WS) {
			defer wg.Done()
			<-start
			ws.Send("connection.request.accept", map[string]any{"requestId": req}, "race")
		}(ws)
	}
	close(start)
	wg.Wait()
	ok, already := 0, 0
	for _, ws := range socks {
		f := ws.Next(10 * time.Second)
		for f.RequestID != "race" { // skip events from the winner
			f = ws.Next(10 * time.Second)
		}
		switch {
		case f.Type == "connection.request.accept":
			ok++
		case f.ErrorCode() == "already_connected":
			already++
		default:
			t.Fatalf("unexpected answer: %s", f.Raw)
		}
	}
	if ok != 1 || already != n-1 {
		t.Fatalf("%d accepts succeeded and %d were refused, want 1 and %d", ok, already, n-1)
	}
	a.ws.Send("connection.history.fetch", map[string]any{}, "h")
	if h := a.ws.ExpectReply("connection.history.fetch", "h").Map(t); len(h["activeConnections"].([]any)) != 1 {
		t.Fatalf("active connections: %v", h["activeConnections"])
	}
}

// TestCrossingRequestsLeaveOnePending: both users send at the same moment.
func TestCrossingRequestsLeaveOnePending(t *testing.T) {
	srv := servertest.Start(t)
	for round := 0; round < 10; round++ {
		a, b := joinAs(t, srv, "x"+string(rune('a'+round))), joinAs(t, srv, "y"+string(rune('a'+round)))
		var wg sync.WaitGroup
		for _, p := range [][2]member{{a, b}, {b, a}} {
			wg.Add(1)
			go func(from, to member) {
				defer wg.Done()
				from.ws.Send("connection.request.send", map[string]any{"userId": to.ID}, "cross")
			}(p[0], p[1])
		}
		wg.Wait()
		won := 0
		for _, m := range []member{a, b} {
			f := m.ws.ExpectReplyAny("cross")
			switch {
			case f.Type == "connection.request.send":
				won++
			case f.ErrorCode() == "request_exists":
			default:
				t.Fatalf("unexpected answer: %s", f.Raw)
			}
		}
		if won != 1 {
			t.Fatalf("round %d: %d requests created, want 1", round, won)
		}
		boot := a.Dial().Start()
		if n := len(boot["incomingRequests"].([]any)) + len(boot["sentRequests"].([]any)); n != 1 {
			t.Fatalf("round %d: %d pending requests", round, n)
		}
	}
}

// TestExpiryAcrossARestart stops the server before the TTL and starts it
// after: the request is missed at start-up and shows so in bootstrap.
func TestExpiryAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	ttl := func(c *config.Config) { c.RequestTTL = 2 * time.Second }
	srv := servertest.StartIn(t, dir, ttl)
	a, b := joinAs(t, srv, "before"), joinAs(t, srv, "after")
	req := send(t, a, b)
	srv.Stop()
	time.Sleep(2500 * time.Millisecond)
	srv = servertest.StartIn(t, dir, ttl)
	ws := servertest.LoginAt(t, srv.URL, "dev", "after").Dial()
	boot := ws.Start()
	rs := boot["requests"].([]any)
	if len(boot["incomingRequests"].([]any)) != 0 || len(rs) != 1 {
		t.Fatalf("bootstrap: incoming %v, requests %v", boot["incomingRequests"], rs)
	}
	r := rs[0].(map[string]any)
	if r["requestId"] != req || r["status"] != "missed" || r["legacyStatus"] != "missed" || r["resolvedAt"] == nil || r["expiresAt"] != nil {
		t.Fatalf("request after restart: %v", r)
	}
	// The start-up reminder stored the missed state too (not just the view).
	time.Sleep(300 * time.Millisecond)
	ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	if f := ws.ExpectReply("error", "acc"); f.ErrorCode() != "request_expired" {
		t.Fatalf("accept after restart: %s", f.Raw)
	}
}

// TestSIGKILLAfterAcceptKeepsTheConnection kills the server right after an
// acknowledged accept.
func TestSIGKILLAfterAcceptKeepsTheConnection(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	p := servertest.StartProcess(t, dir)
	a := servertest.LoginAt(t, p.URL, "dev", "kill-a")
	b := servertest.LoginAt(t, p.URL, "dev", "kill-b")
	aw, bw := a.Dial(), b.Dial()
	aw.Start()
	bw.Start()
	req := send(t, member{a, aw}, member{b, bw})
	bw.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	conn := bw.ExpectReply("connection.request.accept", "acc").Map(t)["connection"].(map[string]any)["connectionId"]
	p.Kill()

	p = servertest.StartProcess(t, dir)
	boot := servertest.LoginAt(t, p.URL, "dev", "kill-a").Dial().Start()
	ac := boot["activeConnections"].([]any)
	if len(ac) != 1 || ac[0].(map[string]any)["connectionId"] != conn {
		t.Fatalf("active connections after SIGKILL: %v", ac)
	}
}
