package server_test

import (
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

type member struct {
	*servertest.User
	ws *servertest.WS
}

func joinAs(t testing.TB, srv *servertest.Server, handle string) member {
	u := srv.Login(handle)
	ws := u.Dial()
	ws.Start()
	return member{u, ws}
}

// send has a send b a request and returns the request id as both saw it.
func send(t testing.TB, a, b member) string {
	t.Helper()
	a.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "snd")
	mine := a.ws.ExpectReply("connection.request.send", "snd").Map(t)["request"].(map[string]any)
	theirs := b.ws.ExpectPush("connection.request.send", 5*time.Second).Map(t)["request"].(map[string]any)
	if mine["direction"] != "outgoing" || theirs["direction"] != "incoming" || mine["requestId"] != theirs["requestId"] {
		t.Fatalf("request as seen: %v / %v", mine, theirs)
	}
	if theirs["userId"] != a.ID || mine["userId"] != b.ID || mine["status"] != "pending" || mine["expiresAt"] == nil || mine["resolvedAt"] != nil {
		t.Fatalf("request fields: %v", mine)
	}
	for _, k := range []string{"id", "requestId", "fromUserId", "toUserId", "senderId", "receiverId", "user", "userId", "name", "age", "avatar", "snippet", "direction", "status", "legacyStatus", "closureReason", "createdAt", "resolvedAt", "expiresAt"} {
		if _, ok := mine[k]; !ok {
			t.Errorf("request lacks %s", k)
		}
	}
	return mine["requestId"].(string)
}

func TestConnectionLifecycle(t *testing.T) {
	srv := servertest.Start(t)
	a, b, c := joinAs(t, srv, "alpha"), joinAs(t, srv, "bravo"), joinAs(t, srv, "charlie")

	req := send(t, a, b)
	// Errors, each with its code.
	errs := []struct {
		who     member
		typ     string
		payload map[string]any
		code    string
	}{
		{a, "connection.request.send", map[string]any{"userId": b.ID}, "request_exists"},
		{b, "connection.request.send", map[string]any{"userId": a.ID}, "request_exists"},
		{a, "connection.request.send", map[string]any{"userId": a.ID}, "self_request"},
		{a, "connection.request.send", map[string]any{}, "missing_userId"},
		{a, "connection.request.send", map[string]any{"userId": "user_nobody"}, "user_not_found"},
		{a, "connection.request.accept", map[string]any{"requestId": req}, "forbidden"},
		{c, "connection.request.accept", map[string]any{"requestId": req}, "forbidden"},
		{b, "connection.request.accept", map[string]any{"requestId": "req_nope"}, "request_not_found"},
		{b, "connection.request.cancel", map[string]any{"requestId": req}, "forbidden"},
		{a, "connection.ring", map[string]any{"userId": b.ID}, "active_connection_required"},
	}
	for _, e := range errs {
		e.who.ws.Send(e.typ, e.payload, "err")
		f := e.who.ws.ExpectReply("error", "err")
		if f.ErrorCode() != e.code {
			t.Fatalf("%s %v: %s, want %s", e.typ, e.payload, f.Raw, e.code)
		}
		if e.code == "request_exists" {
			if r := f.Map(t)["details"].(map[string]any)["request"].(map[string]any); r["requestId"] != req {
				t.Fatalf("request_exists details: %v", r)
			}
		}
	}

	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	acc := b.ws.ExpectReply("connection.request.accept", "acc").Map(t)
	conn := acc["connection"].(map[string]any)
	if acc["requestId"] != req || acc["direction"] != "incoming" || conn["status"] != "accepted" || conn["legacyStatus"] != "active" || conn["type"] != "connection" {
		t.Fatalf("accept answer: %v", acc)
	}
	pushed := a.ws.ExpectPush("connection.request.accept", 5*time.Second).Map(t)
	if pushed["direction"] != "outgoing" || pushed["connection"].(map[string]any)["connectionId"] != conn["connectionId"] {
		t.Fatalf("accept push: %v", pushed)
	}
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "again")
	if f := b.ws.ExpectReply("error", "again"); f.ErrorCode() != "already_connected" {
		t.Fatalf("accept twice: %s", f.Raw)
	}
	a.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "dup")
	if f := a.ws.ExpectReply("error", "dup"); f.ErrorCode() != "already_connected" {
		t.Fatalf("send while connected: %s", f.Raw)
	}

	// Ring, with its 10 s limit.
	a.ws.Send("connection.ring", map[string]any{"userId": b.ID}, "ring")
	if f := a.ws.ExpectReply("connection.ring", "ring").Map(t); f["status"] != "sent" || f["recipientId"] != b.ID {
		t.Fatalf("ring ack: %v", f)
	}
	if f := b.ws.ExpectPush("connection.ring", 5*time.Second).Map(t); f["fromUserId"] != a.ID || f["fromUser"] == nil {
		t.Fatalf("ring: %v", f)
	}
	b.ws.Send("connection.ring", map[string]any{"userId": a.ID}, "ring2")
	if f := b.ws.ExpectReply("error", "ring2"); f.ErrorCode() != "rate_limited" {
		t.Fatalf("second ring: %s", f.Raw)
	}

	// Bootstrap and history.
	boot := a.Dial().Start()
	if ac := boot["activeConnections"].([]any); len(ac) != 1 || ac[0].(map[string]any)["connectionId"] != conn["connectionId"] || ac[0].(map[string]any)["isOnline"] != true {
		t.Fatalf("activeConnections = %v", boot["activeConnections"])
	}
	if rq := boot["requests"].([]any); len(rq) != 1 || rq[0].(map[string]any)["status"] != "accepted" {
		t.Fatalf("requests = %v", boot["requests"])
	}

	// Close.
	a.ws.Send("connection.close", map[string]any{"connectionId": conn["connectionId"], "closureReason": "user_left"}, "cls")
	cl := a.ws.ExpectReply("connection.close", "cls").Map(t)
	if cl["status"] != "closed" || cl["closedByUserId"] != a.ID || cl["recipientId"] != b.ID || cl["closureReason"] != "user_left" {
		t.Fatalf("close: %v", cl)
	}
	b.ws.ExpectPush("connection.close", 5*time.Second)
	c.ws.Send("connection.close", map[string]any{"connectionId": conn["connectionId"]}, "steal")
	if f := c.ws.ExpectReply("error", "steal"); f.ErrorCode() != "forbidden" {
		t.Fatalf("close by stranger: %s", f.Raw)
	}
	a.ws.Send("connection.history.fetch", map[string]any{}, "hist")
	h := a.ws.ExpectReply("connection.history.fetch", "hist").Map(t)
	if len(h["activeConnections"].([]any)) != 0 || len(h["closedConnections"].([]any)) != 1 {
		t.Fatalf("history: %v", h)
	}

	// Reject and cancel.
	req = send(t, c, a)
	a.ws.Send("connection.request.reject", map[string]any{"requestId": req}, "rej")
	if f := a.ws.ExpectReply("connection.request.reject", "rej").Map(t); f["status"] != "rejected" || f["request"].(map[string]any)["status"] != "declined" {
		t.Fatalf("reject: %v", f)
	}
	c.ws.ExpectPush("connection.request.reject", 5*time.Second)
	req = send(t, c, a)
	c.ws.Send("connection.request.cancel", map[string]any{"requestId": req}, "can")
	if f := c.ws.ExpectReply("connection.request.cancel", "can").Map(t)["request"].(map[string]any); f["status"] != "closed" || f["closureReason"] != "cancelled" {
		t.Fatalf("cancel: %v", f)
	}
	a.ws.ExpectPush("connection.request.cancel", 5*time.Second)
}

func TestRequestExpiresAndBlockingEndsPairs(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.RequestTTL = 2 * time.Second })
	a, b := joinAs(t, srv, "early"), joinAs(t, srv, "late")
	req := send(t, a, b)
	for _, m := range []member{a, b} {
		f := m.ws.ExpectPush("connection.request.missed", 8*time.Second).Map(t)
		if f["requestId"] != req || f["status"] != "missed" || f["request"].(map[string]any)["expiresAt"] != nil {
			t.Fatalf("missed: %v", f)
		}
	}
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "late")
	if f := b.ws.ExpectReply("error", "late"); f.ErrorCode() != "request_expired" {
		t.Fatalf("accept after expiry: %s", f.Raw)
	}
	if boot := b.Dial().Start(); len(boot["incomingRequests"].([]any)) != 0 || boot["requests"].([]any)[0].(map[string]any)["status"] != "missed" {
		t.Fatalf("bootstrap after expiry: %v / %v", boot["incomingRequests"], boot["requests"])
	}

	// Blocking closes the active connection between the two.
	req = send(t, a, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	b.ws.ExpectReply("connection.request.accept", "acc")
	a.ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	a.ws.ExpectReply("safety.block", "blk")
	if f := b.ws.ExpectPush("connection.close", 5*time.Second).Map(t); f["closureReason"] != "blocked" || f["closedByUserId"] != a.ID {
		t.Fatalf("close on block: %v", f)
	}
	b.ws.Send("connection.request.send", map[string]any{"userId": a.ID}, "again")
	if f := b.ws.ExpectReply("error", "again"); f.ErrorCode() != "blocked" {
		t.Fatalf("send to a blocker: %s", f.Raw)
	}
}

func TestConnectedLocationAndAccountDeletion(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinAs(t, srv, "meet-a"), joinAs(t, srv, "meet-b")
	locate(t, a.ws, 6.4000, 3.4000)
	locate(t, b.ws, 6.4010, 3.4020)
	req := send(t, a, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	conn := b.ws.ExpectReply("connection.request.accept", "acc").Map(t)["connection"].(map[string]any)
	loc, _ := conn["connectedLocation"].(map[string]any)
	if loc == nil || loc["lat"].(float64) < 6.40049 || loc["lat"].(float64) > 6.40051 || loc["lng"].(float64) < 3.40099 || loc["lng"].(float64) > 3.40101 {
		t.Fatalf("connectedLocation = %v, want the midpoint 6.4005,3.401", conn["connectedLocation"])
	}
	// Without live locations there is no meeting point.
	c, d := joinAs(t, srv, "meet-c"), joinAs(t, srv, "meet-d")
	req = send(t, c, d)
	d.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc2")
	if l := d.ws.ExpectReply("connection.request.accept", "acc2").Map(t)["connection"].(map[string]any)["connectedLocation"]; l != nil {
		t.Fatalf("connectedLocation without locations = %v", l)
	}

	// Deleting an account closes its connections for the other user.
	if res := a.Do("POST", "/auth/delete-account", map[string]string{"reason": "bye"}); res.Status != 200 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	f := b.ws.ExpectPush("connection.close", 5*time.Second).Map(t)
	if f["closureReason"] != "account_deleted" || f["closedByUserId"] != a.ID {
		t.Fatalf("close on deletion: %v", f)
	}
	b.ws.Send("connection.request.send", map[string]any{"userId": a.ID}, "ghost")
	if e := b.ws.ExpectReply("error", "ghost"); e.ErrorCode() != "user_not_found" {
		t.Fatalf("request to a deleted user: %s", e.Raw)
	}
}
