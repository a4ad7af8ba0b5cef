package server_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
)

// connected returns two users with an active connection.
func connected(t testing.TB, srv *servertest.Server, x, y string) (member, member) {
	t.Helper()
	a, b := joinAs(t, srv, x), joinAs(t, srv, y)
	req := send(t, a, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	b.ws.ExpectReply("connection.request.accept", "acc")
	a.ws.ExpectPush("connection.request.accept", 5*time.Second)
	return a, b
}

func say(t *testing.T, from member, to member, text, id string) map[string]any {
	t.Helper()
	from.ws.Send("chat.message.created", map[string]any{"recipientId": to.ID, "content": text}, id)
	return from.ws.ExpectReply("chat.message.created", id).Map(t)
}

func TestChatSendDeliverReadAndUnread(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "chat-a", "chat-b")
	a2 := a.User.Dial()
	a2.Start()

	m := say(t, a, b, "  hello there  ", "m1")
	if m["content"] != "hello there" || m["senderId"] != a.ID || m["recipientId"] != b.ID || m["readAt"] != nil || m["messageId"] == nil {
		t.Fatalf("ack = %v", m)
	}
	for _, k := range []string{"messageId", "senderId", "recipientId", "sender", "recipient", "content", "createdAt", "readAt"} {
		if _, ok := m[k]; !ok {
			t.Errorf("message lacks %s", k)
		}
	}
	if got := b.ws.ExpectPush("chat.message.created", 5*time.Second).Map(t); got["messageId"] != m["messageId"] {
		t.Fatalf("recipient got %v", got)
	}
	if got := a2.ExpectPush("chat.message.created", 5*time.Second).Map(t); got["messageId"] != m["messageId"] {
		t.Fatalf("sender's other socket got %v", got)
	}

	// Ordering: many quick sends arrive in order.
	var ids []any
	for i := 0; i < 20; i++ {
		ids = append(ids, say(t, a, b, fmt.Sprint("n", i), fmt.Sprint("q", i))["messageId"])
	}
	for i := 0; i < 20; i++ {
		if got := b.ws.ExpectPush("chat.message.created", 5*time.Second).Map(t); got["messageId"] != ids[i] {
			t.Fatalf("message %d out of order: %v", i, got["content"])
		}
	}

	// Interleaved sends and reads keep unread counts exact.
	r1 := say(t, b, a, "from b 1", "b1")["messageId"]
	say(t, b, a, "from b 2", "b2")
	unread := func(who member, other string) (int, int) {
		who.ws.Send("chat.history.fetch", map[string]any{}, "h")
		h := who.ws.ExpectReply("chat.history.fetch", "h").Map(t)
		conv := h["conversations"].(map[string]any)[other].(map[string]any)
		return int(conv["unreadCount"].(float64)), int(h["totalUnreadMessageCount"].(float64))
	}
	if u, tot := unread(b, a.ID); u != 21 || tot != 21 {
		t.Fatalf("b unread = %d/%d, want 21", u, tot)
	}
	if u, _ := unread(a, b.ID); u != 2 {
		t.Fatalf("a unread = %d, want 2", u)
	}
	b.ws.Send("chat.message.read", map[string]any{"messageId": ids[9]}, "rd")
	rd := b.ws.ExpectReply("chat.message.read", "rd").Map(t)
	if rd["messageId"] != ids[9] || rd["readAt"] == nil || rd["senderId"] != a.ID {
		t.Fatalf("read ack = %v", rd)
	}
	if got := a.ws.ExpectPush("chat.message.read", 5*time.Second).Map(t); got["messageId"] != ids[9] {
		t.Fatalf("sender told %v", got)
	}
	if u, _ := unread(b, a.ID); u != 10 {
		t.Fatalf("b unread after reading up to #10 = %d, want 10", u)
	}
	a.ws.Send("chat.message.read", map[string]any{"messageId": r1}, "rd2")
	a.ws.ExpectReply("chat.message.read", "rd2")
	if u, _ := unread(a, b.ID); u != 1 {
		t.Fatalf("a unread = %d, want 1", u)
	}
	// Reading again changes nothing; a stranger may not read.
	b.ws.Send("chat.message.read", map[string]any{"messageId": ids[9]}, "rd3")
	b.ws.ExpectReply("chat.message.read", "rd3")
	if u, _ := unread(b, a.ID); u != 10 {
		t.Fatalf("b unread after re-read = %d", u)
	}
	c := joinAs(t, srv, "chat-c")
	c.ws.Send("chat.message.read", map[string]any{"messageId": ids[0]}, "steal")
	if f := c.ws.ExpectReply("error", "steal"); f.ErrorCode() != "forbidden" {
		t.Fatalf("stranger read: %s", f.Raw)
	}
	if res := c.Do(http.MethodGet, "/conversations/"+a.ID+"/messages", nil); res.Status != 200 || len(res.JSON(t)["messages"].([]any)) != 0 {
		t.Fatalf("stranger paging someone else's conversation: %d %s", res.Status, res.Body)
	}

	// Bootstrap carries the chat state.
	boot := b.User.Dial().Start()
	if boot["totalUnreadMessageCount"] != 10.0 || boot["unreadMessageCount"].(map[string]any)[a.ID] != 10.0 || len(boot["messages"].([]any)) == 0 {
		t.Fatalf("bootstrap chat: total %v, per user %v, %d messages", boot["totalUnreadMessageCount"], boot["unreadMessageCount"], len(boot["messages"].([]any)))
	}

	// REST paging lists the conversation exactly once, newest first.
	seen := map[string]bool{}
	before := ""
	for pages := 0; pages < 20; pages++ {
		path := "/conversations/" + a.ID + "/messages?limit=7"
		if before != "" {
			path += "&before=" + before
		}
		res := b.Do(http.MethodGet, path, nil).JSON(t)
		for _, x := range res["messages"].([]any) {
			id := x.(map[string]any)["messageId"].(string)
			if seen[id] {
				t.Fatalf("%s listed twice", id)
			}
			seen[id] = true
		}
		if res["nextBefore"] == nil {
			break
		}
		before = res["nextBefore"].(string)
	}
	if len(seen) != 23 {
		t.Fatalf("paging listed %d messages, want 23", len(seen))
	}
	if res := b.Do(http.MethodGet, "/conversations", nil).JSON(t); res["totalUnreadMessageCount"] != 10.0 {
		t.Fatalf("GET /conversations = %v", res)
	}
}

func TestChatErrorsAndRelays(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "rel-a", "rel-b")
	stranger := joinAs(t, srv, "rel-s")
	errs := []struct {
		typ     string
		payload map[string]any
		code    string
	}{
		{"chat.message.created", map[string]any{"content": "x"}, "missing_recipientId"},
		{"chat.message.created", map[string]any{"recipientId": "user_nobody", "content": "x"}, "user_not_found"},
		{"chat.message.created", map[string]any{"recipientId": stranger.ID, "content": "x"}, "active_connection_required"},
		{"chat.message.created", map[string]any{"recipientId": b.ID, "content": "   "}, "invalid_payload"},
		{"chat.typing", map[string]any{"recipientId": stranger.ID, "isTyping": true}, "active_connection_required"},
		{"chat.typing", map[string]any{"isTyping": true}, "missing_recipientId"},
		{"chat.location.share.start", map[string]any{"recipientId": b.ID, "location": map[string]any{"lat": 95, "lng": 3}}, "invalid_location"},
		{"chat.location.updated", map[string]any{"recipientId": b.ID, "location": "here"}, "invalid_location"},
		{"chat.location.share.stop", map[string]any{"recipientId": "user_nobody"}, "user_not_found"},
		{"chat.message.read", map[string]any{"messageId": "msg_nope"}, "not_found"},
	}
	for i, e := range errs {
		id := fmt.Sprint("e", i)
		a.ws.Send(e.typ, e.payload, id)
		if f := a.ws.ExpectReply("error", id); f.ErrorCode() != e.code || f.Map(t)["domain"] != "chat" {
			t.Errorf("%s %v: %s, want %s", e.typ, e.payload, f.Raw, e.code)
		}
	}
	// Relays: acked with status sent, fromUserId from the socket, not stored.
	loc := map[string]any{"lat": 6.5244, "lng": 3.3792, "accuracyMeters": 6.2, "heading": 120.0, "updatedAt": "2026-04-15T22:00:00Z"}
	frames := []struct {
		typ     string
		payload map[string]any
	}{
		{"chat.typing", map[string]any{"recipientId": b.ID, "isTyping": true, "fromUserId": "user_spoofed"}},
		{"chat.location.share.start", map[string]any{"recipientId": b.ID, "fromUserId": "user_spoofed", "location": loc}},
		{"chat.location.updated", map[string]any{"recipientId": b.ID, "location": loc}},
		{"chat.location.share.stop", map[string]any{"recipientId": b.ID}},
	}
	for i, f := range frames {
		id := fmt.Sprint("r", i)
		a.ws.Send(f.typ, f.payload, id)
		ack := a.ws.ExpectReply(f.typ, id).Map(t)
		if ack["status"] != "sent" || ack["fromUserId"] != a.ID || ack["recipientId"] != b.ID {
			t.Fatalf("%s ack = %v", f.typ, ack)
		}
		got := b.ws.ExpectPush(f.typ, 5*time.Second).Map(t)
		if got["fromUserId"] != a.ID || got["status"] != nil {
			t.Fatalf("%s relayed = %v", f.typ, got)
		}
		if f.typ == "chat.location.share.start" && got["location"].(map[string]any)["lat"] != 6.5244 {
			t.Fatalf("location relayed = %v", got["location"])
		}
	}
	if res := a.Do(http.MethodGet, "/conversations", nil).JSON(t); len(res["conversations"].(map[string]any)) != 0 {
		t.Fatalf("relays were stored: %v", res)
	}
}

func TestReplayAfterReconnect(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "rep-a", "rep-b")
	say(t, a, b, "before", "m0")
	b.ws.ExpectPush("chat.message.created", 5*time.Second)
	b.ws.Close()
	time.Sleep(20 * time.Millisecond)
	lastSeen := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)
	var want []any
	for i := 0; i < 3; i++ {
		want = append(want, say(t, a, b, fmt.Sprint("missed ", i), fmt.Sprint("x", i))["messageId"])
	}
	ws := b.User.Dial()
	ws.Send("session.start", map[string]any{"lastSeenAt": lastSeen.Format(time.RFC3339Nano)}, "start")
	if f := ws.Next(5 * time.Second); f.Type != "session.connected" {
		t.Fatalf("first frame = %s", f.Raw)
	}
	if f := ws.Next(5 * time.Second); f.Type != "session.bootstrap" {
		t.Fatalf("second frame = %s", f.Raw)
	}
	for i := range want {
		f := ws.Next(5 * time.Second)
		if f.Type != "chat.message.created" || f.Map(t)["messageId"] != want[i] {
			t.Fatalf("replay #%d = %s", i, f.Raw)
		}
	}
	ws.NoFrame("chat.message.created", 300*time.Millisecond)
}
