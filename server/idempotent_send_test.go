package server_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gisbi/engine/auth/authtest"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// Idempotent sends (issue 18): a chat message sent with a clientMessageId
// and sent again with the same one by the same sender in the same
// conversation within 24 h answers the first message and delivers nothing
// twice.

// keyedSend sends a chat.message.created with a clientMessageId on ws.
func keyedSend(ws *servertest.WS, to, content, clientID, requestID string) {
	ws.Send("chat.message.created", map[string]any{"recipientId": to, "content": content, "clientMessageId": clientID}, requestID)
}

// nextMessage is the content of the next chat.message.created event on ws.
func nextMessage(t *testing.T, ws *servertest.WS) map[string]any {
	t.Helper()
	return ws.ExpectPush("chat.message.created", 5*time.Second).Map(t)
}

// legacyMessage is data.message of the next legacy event on ws.
func legacyMessage(t *testing.T, ws *servertest.WS, event string) map[string]any {
	t.Helper()
	return ws.ExpectPush(event, 5*time.Second).Map(t)["message"].(map[string]any)
}

// unreadFrom is who's unread count of the conversation with other.
func unreadFrom(t *testing.T, who member, other string) int {
	t.Helper()
	who.ws.Send("chat.history.fetch", map[string]any{}, "unread")
	h := who.ws.ExpectReply("chat.history.fetch", "unread").Map(t)
	return int(h["conversations"].(map[string]any)[other].(map[string]any)["unreadCount"].(float64))
}

func TestResendOverSocketAfterReconnectAnswersTheOriginal(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "idem-a", "idem-b")
	a2 := a.User.Dial() // another socket of the sender
	a2.Start()
	bOld := b.User.DialLegacy() // the recipient on the legacy dialect too

	keyedSend(a.ws, b.ID, "hello", "c-1", "s1")
	first := a.ws.ExpectReply("chat.message.created", "s1")
	ack := first.Map(t)
	if ack["clientMessageId"] != "c-1" || ack["content"] != "hello" {
		t.Fatalf("first ack = %v", ack)
	}
	if got := nextMessage(t, b.ws); got["messageId"] != ack["messageId"] {
		t.Fatalf("recipient got %v", got)
	} else if _, leaked := got["clientMessageId"]; leaked {
		t.Fatalf("the recipient sees the sender's clientMessageId: %v", got)
	}
	if got := nextMessage(t, a2); got["messageId"] != ack["messageId"] || got["clientMessageId"] != "c-1" {
		t.Fatalf("sender's other socket got %v", got)
	}
	if got := legacyMessage(t, bOld, protocol.EventMessagesReceived); got["_id"] != ack["messageId"] {
		t.Fatalf("recipient's legacy socket got %v", got)
	} else if _, leaked := got["clientMessageId"]; leaked {
		t.Fatalf("the recipient's legacy socket sees the sender's clientMessageId: %v", got)
	}

	// The sender's socket drops before it could trust the ack; a new one
	// sends the same message again (content normalised the same way).
	a.ws.Close()
	a3 := a.User.Dial()
	a3.Start()
	keyedSend(a3, b.ID, "  hello \n", "c-1", "s2")
	again := a3.ExpectReply("chat.message.created", "s2")
	if !bytes.Equal(again.Payload, first.Payload) {
		t.Fatalf("the resend's ack differs from the first:\n first %s\n again %s", first.Payload, again.Payload)
	}

	// Nothing was delivered twice: the next message anyone hears of is
	// one sent after the resend (one pair, one order).
	keyedSend(a3, b.ID, "after", "c-2", "s3")
	after := a3.ExpectReply("chat.message.created", "s3").Map(t)
	if got := nextMessage(t, b.ws); got["messageId"] != after["messageId"] {
		t.Fatalf("recipient's next message is %v, want %q", got["content"], "after")
	}
	if got := nextMessage(t, a2); got["messageId"] != after["messageId"] {
		t.Fatalf("sender's other socket's next message is %v, want %q", got["content"], "after")
	}
	if got := legacyMessage(t, bOld, protocol.EventMessagesReceived); got["_id"] != after["messageId"] {
		t.Fatalf("recipient's legacy socket's next message is %v, want %q", got["content"], "after")
	}
	if got := conversation(t, b.User, a.ID); strings.Join(got, ",") != "hello,after" {
		t.Fatalf("history = %v", got)
	}
	if n := unreadFrom(t, b, a.ID); n != 2 {
		t.Fatalf("recipient's unread count = %d, want 2", n)
	}

	// The sender's own history shows its keys, the recipient's does not.
	a3.Send("chat.history.fetch", map[string]any{}, "h")
	mine := a3.ExpectReply("chat.history.fetch", "h").Map(t)["messages"].([]any)
	if len(mine) != 2 || mine[0].(map[string]any)["clientMessageId"] != "c-1" || mine[1].(map[string]any)["clientMessageId"] != "c-2" {
		t.Fatalf("sender's history = %v", mine)
	}
	b.ws.Send("chat.history.fetch", map[string]any{}, "h")
	for _, m := range b.ws.ExpectReply("chat.history.fetch", "h").Map(t)["messages"].([]any) {
		if _, leaked := m.(map[string]any)["clientMessageId"]; leaked {
			t.Fatalf("recipient's history shows a clientMessageId: %v", m)
		}
	}

	// The same key for other content is refused, and sends nothing.
	keyedSend(a3, b.ID, "something else", "c-1", "s4")
	if code := a3.ExpectReplyAny("s4").ErrorCode(); code != "client_message_id_conflict" {
		t.Fatalf("same key, other content: %s, want client_message_id_conflict", code)
	}
	// Malformed keys are refused at the edge.
	for i, bad := range []any{"", "has space", "nul\x00", strings.Repeat("k", 65), "é", 7} {
		id := fmt.Sprint("bad", i)
		a3.Send("chat.message.created", map[string]any{"recipientId": b.ID, "content": "x", "clientMessageId": bad}, id)
		if code := a3.ExpectReplyAny(id).ErrorCode(); code != "invalid_payload" {
			t.Fatalf("clientMessageId %q: %s, want invalid_payload", bad, code)
		}
	}
	// A key of 64 characters is fine, and null means no key.
	keyedSend(a3, b.ID, "long key", strings.Repeat("k", 64), "ok1")
	a3.ExpectReply("chat.message.created", "ok1")
	a3.Send("chat.message.created", map[string]any{"recipientId": b.ID, "content": "no key", "clientMessageId": nil}, "ok2")
	if m := a3.ExpectReply("chat.message.created", "ok2").Map(t); m["clientMessageId"] != nil {
		t.Fatalf("a message without a key: %v", m)
	}
	for _, want := range []string{"long key", "no key"} {
		if got := nextMessage(t, b.ws); got["content"] != want {
			t.Fatalf("recipient got %v, want %q", got["content"], want)
		}
	}
}

func TestSameClientMessageIDFromTwoSendersIsTwoMessages(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "idem2-a", "idem2-b")
	c, _ := connected(t, srv, "idem2-c", "idem2-d")
	creq := send(t, c, b)
	b.ws.Send("connection.request.accept", map[string]any{"requestId": creq}, "acc")
	b.ws.ExpectReply("connection.request.accept", "acc")

	keyedSend(a.ws, b.ID, "from a", "same", "a1")
	fromA := a.ws.ExpectReply("chat.message.created", "a1").Map(t)
	keyedSend(b.ws, a.ID, "from b", "same", "b1")
	fromB := b.ws.ExpectReply("chat.message.created", "b1").Map(t)
	keyedSend(c.ws, b.ID, "from c", "same", "c1")
	fromC := c.ws.ExpectReply("chat.message.created", "c1").Map(t)
	ids := map[any]bool{fromA["messageId"]: true, fromB["messageId"]: true, fromC["messageId"]: true}
	if len(ids) != 3 {
		t.Fatalf("three senders with one key made %d messages", len(ids))
	}
	// Each sender's resend still finds its own message.
	keyedSend(b.ws, a.ID, "from b", "same", "b2")
	if again := b.ws.ExpectReply("chat.message.created", "b2").Map(t); again["messageId"] != fromB["messageId"] {
		t.Fatalf("b's resend answered %v, want b's message", again)
	}
	keyedSend(c.ws, b.ID, "from c", "same", "c2")
	if again := c.ws.ExpectReply("chat.message.created", "c2").Map(t); again["messageId"] != fromC["messageId"] {
		t.Fatalf("c's resend answered %v, want c's message", again)
	}
	if got := conversation(t, a.User, b.ID); strings.Join(got, ",") != "from a,from b" {
		t.Fatalf("a and b's history = %v", got)
	}
	if got := conversation(t, c.User, b.ID); strings.Join(got, ",") != "from c" {
		t.Fatalf("c and b's history = %v", got)
	}
}

func TestResendOverChatsRESTAnswersTheOriginal(t *testing.T) {
	fcm := newFakeFCM(t)
	saPath, _ := authtest.WriteServiceAccount(t)
	srv := servertest.Start(t, func(c *config.Config) {
		c.FCMCredentialsFile = saPath
		c.FCMEndpoint = fcm.srv.URL
		c.FCMTokenURL = fcm.srv.URL + "/token"
		c.PushRetries = 0
		c.PushWorkers = 1 // pushes leave in the order they were queued
	})
	a, b := connected(t, srv, "idem-rest-a", "idem-rest-b")
	aOld := a.User.DialLegacy() // the sender on the legacy dialect too
	if res := b.Do(http.MethodPost, "/devices/register", map[string]string{"token": "live-token", "platform": "android"}); res.Status != 200 {
		t.Fatalf("register: %d", res.Status)
	}
	open := testutil.ToFloat64(srv.Metrics.SocketsOpen)
	b.ws.Close()
	waitOffline(t, srv, open)
	chat := chatsOf(t, a)[0]["_id"].(string)

	post := func(content, clientID string) *servertest.Response {
		return a.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": content, "clientMessageId": clientID})
	}
	first := post("hello", "r-1")
	if first.Status != http.StatusOK {
		t.Fatalf("POST: %d %s", first.Status, first.Body)
	}
	again := post("hello", "r-1")
	if again.Status != http.StatusOK || !bytes.Equal(again.Body, first.Body) {
		t.Fatalf("the resend answered %d %s\nthe first %s", again.Status, again.Body, first.Body)
	}
	msg := first.JSON(t)["message"].(map[string]any)
	if msg["clientMessageId"] != "r-1" {
		t.Fatalf("the answer does not echo the key: %v", msg)
	}
	// The same key over the socket, from the same sender in the same chat,
	// is the same message.
	keyedSend(a.ws, b.ID, "hello", "r-1", "ws")
	if m := a.ws.ExpectReply("chat.message.created", "ws").Map(t); m["messageId"] != msg["_id"] {
		t.Fatalf("the socket resend answered %v, want %v", m["messageId"], msg["_id"])
	}
	marker := postChat(t, a, chat, "marker")

	// The sender's socket heard of each message once, in order.
	for _, want := range []any{msg["_id"], marker["_id"]} {
		if got := nextMessage(t, a.ws); got["messageId"] != want {
			t.Fatalf("sender's socket got %v, want %v", got["messageId"], want)
		}
	}
	// Its legacy socket too, with the key: it sent them.
	if got := legacyMessage(t, aOld, protocol.EventMessagesSent); got["_id"] != msg["_id"] || got["clientMessageId"] != "r-1" {
		t.Fatalf("sender's legacy socket got %v", got)
	}
	if got := legacyMessage(t, aOld, protocol.EventMessagesSent); got["_id"] != marker["_id"] {
		t.Fatalf("sender's legacy socket's next message is %v, want the marker", got)
	}
	// One push per message: with one push worker the second is the marker.
	pushes := fcm.waitFor(t, 2)
	for i, want := range []string{"hello", "marker"} {
		if body := pushes[i]["notification"].(map[string]any)["body"]; body != want {
			t.Fatalf("push %d is %q, want %q (all: %v)", i, body, want, pushes)
		}
	}
	if res := post("other", "r-1"); res.Status != http.StatusConflict || res.Code() != "client_message_id_conflict" {
		t.Fatalf("same key, other content: %d %s", res.Status, res.Body)
	}
	for _, bad := range []string{"", "a b", strings.Repeat("k", 65)} {
		if res := post("x", bad); res.Status != http.StatusBadRequest || res.Code() != "invalid_payload" {
			t.Fatalf("clientMessageId %q: %d %s", bad, res.Status, res.Body)
		}
	}

	b2 := b.User.Dial()
	b2.Start()
	if got := conversation(t, b.User, a.ID); strings.Join(got, ",") != "hello,marker" {
		t.Fatalf("history = %v", got)
	}
	if n := int(chatsOf(t, member{b.User, b2})[0]["unreadCount"].(float64)); n != 2 {
		t.Fatalf("recipient's unread count = %d, want 2", n)
	}
}

// TestResendAfterRestartAnswersTheOriginal: the key is stored with the
// message, so a resend after the server was killed (nothing in memory
// survives) still finds it, and 24 h later of the game clock it is
// forgotten.
func TestResendAfterRestartAnswersTheOriginal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	start := time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) string { return "GISBI_CLOCK_START=" + start.Add(d).Format(time.RFC3339) }
	p := servertest.StartProcess(t, dir, at(0))
	a := servertest.LoginAt(t, p.URL, "dev", "restart-a")
	b := servertest.LoginAt(t, p.URL, "dev", "restart-b")
	aws, bws := a.Dial(), b.Dial()
	aws.Start()
	bws.Start()
	req := send(t, member{a, aws}, member{b, bws})
	bws.Send("connection.request.accept", map[string]any{"requestId": req}, "acc")
	bws.ExpectReply("connection.request.accept", "acc")

	keyedSend(aws, b.ID, "before the crash", "k-1", "s1")
	first := aws.ExpectReply("chat.message.created", "s1")
	p.Kill()

	resend := func(clientID, requestID string) *servertest.Frame {
		t.Helper()
		a := servertest.LoginAt(t, p.URL, "dev", "restart-a")
		ws := a.Dial()
		ws.Start()
		keyedSend(ws, b.ID, "before the crash", clientID, requestID)
		return ws.ExpectReply("chat.message.created", requestID)
	}
	// Restarted 23 h later: within the window.
	p = servertest.StartProcess(t, dir, at(23*time.Hour))
	if again := resend("k-1", "s2"); !bytes.Equal(again.Payload, first.Payload) {
		t.Fatalf("after a restart the resend answered\n %s\nthe first ack was\n %s", again.Payload, first.Payload)
	}
	a = servertest.LoginAt(t, p.URL, "dev", "restart-a")
	if got := conversation(t, a, b.ID); len(got) != 1 {
		t.Fatalf("history after the resend = %v", got)
	}
	p.Kill()

	// 24 h and more after the first send the key is forgotten: the same
	// key is a new message.
	p = servertest.StartProcess(t, dir, at(24*time.Hour+10*time.Minute))
	late := resend("k-1", "s3").Map(t)
	if late["messageId"] == first.Map(t)["messageId"] {
		t.Fatalf("a resend after 24 h answered the first message %v", late)
	}
	a = servertest.LoginAt(t, p.URL, "dev", "restart-a")
	if got := conversation(t, a, b.ID); len(got) != 2 {
		t.Fatalf("history after a send past the window = %v", got)
	}
}
