package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// chatsOf is GET /chats as u sees it.
func chatsOf(t *testing.T, u member) []map[string]any {
	t.Helper()
	res := u.Do(http.MethodGet, "/chats", nil)
	if res.Status != http.StatusOK {
		t.Fatalf("GET /chats: %d %s", res.Status, res.Body)
	}
	var out []map[string]any
	for _, c := range res.JSON(t)["chats"].([]any) {
		out = append(out, c.(map[string]any))
	}
	return out
}

// postChat sends content to chat over REST and returns the answer's message.
func postChat(t *testing.T, u member, chat, content string) map[string]any {
	t.Helper()
	res := u.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": content})
	if res.Status != http.StatusOK {
		t.Fatalf("POST /chats/%s/messages: %d %s", chat, res.Status, res.Body)
	}
	return res.JSON(t)["message"].(map[string]any)
}

// chatPages follows nextBefore over a chat's history, limit at a time, and
// returns the message ids in the order served.
func chatPages(t *testing.T, u member, chat string, limit int) []string {
	t.Helper()
	var ids []string
	before := ""
	for pages := 0; pages < 100; pages++ {
		path := fmt.Sprintf("/chats/%s/messages?limit=%d", chat, limit)
		if before != "" {
			path += "&before=" + before
		}
		res := u.Do(http.MethodGet, path, nil)
		if res.Status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, res.Status, res.Body)
		}
		page := res.JSON(t)
		msgs := page["messages"].([]any)
		if len(msgs) > limit {
			t.Fatalf("a page of %d messages, limit %d", len(msgs), limit)
		}
		for _, m := range msgs {
			ids = append(ids, m.(map[string]any)["_id"].(string))
		}
		if page["nextBefore"] == nil {
			return ids
		}
		before = page["nextBefore"].(string)
	}
	t.Fatal("paging never ended")
	return nil
}

func hasKeys(t *testing.T, what string, m map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %s: %v", what, k, m)
		}
	}
}

func TestChatsListSendPageAndClose(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinAs(t, srv, "chats-a"), joinAs(t, srv, "chats-b")
	conn := pairUp(t, a, b)
	stranger := joinAs(t, srv, "chats-s")

	// The new chat is listed for both, empty.
	list := chatsOf(t, a)
	if len(list) != 1 {
		t.Fatalf("a's chats = %v", list)
	}
	chat := list[0]["_id"].(string)
	if want := storage.ChatID(storage.PairID(a.ID, b.ID)); chat != want {
		t.Fatalf("chat id = %s, want %s", chat, want)
	}
	hasKeys(t, "chat", list[0], "_id", "users", "lastMessage", "unreadCount")
	users := list[0]["users"].([]any)
	if len(users) != 2 || users[0].(map[string]any)["_id"] != a.ID || users[1].(map[string]any)["_id"] != b.ID || users[1].(map[string]any)["name"] != "chats-b" {
		t.Fatalf("users = %v", users)
	}
	hasKeys(t, "chat user", users[1].(map[string]any), "_id", "name", "username", "photo")
	if list[0]["lastMessage"] != nil || list[0]["unreadCount"] != 0.0 {
		t.Fatalf("empty chat = %v", list[0])
	}
	if bl := chatsOf(t, b); len(bl) != 1 || bl[0]["_id"] != chat || bl[0]["users"].([]any)[0].(map[string]any)["_id"] != b.ID {
		t.Fatalf("b's chats = %v", bl)
	}
	if sl := chatsOf(t, stranger); len(sl) != 0 {
		t.Fatalf("stranger's chats = %v", sl)
	}

	// A message from the socket shows as the last message, unread by b.
	say(t, a, b, "over the socket", "ws1")
	b.ws.ExpectPush("chat.message.created", 5*time.Second)
	bl := chatsOf(t, b)
	last, _ := bl[0]["lastMessage"].(map[string]any)
	if last == nil || last["content"] != "over the socket" || last["chat"] != chat || last["user"].(map[string]any)["_id"] != a.ID || bl[0]["unreadCount"] != 1.0 {
		t.Fatalf("b's chat after a message = %v", bl[0])
	}
	hasKeys(t, "last message", last, "_id", "user", "chat", "content", "at")

	// A message over REST: trimmed, durable, answered as the legacy message
	// and delivered to every /ws socket of both users, the sender's too.
	m := postChat(t, b, chat, "  over REST  ")
	if m["content"] != "over REST" || m["chat"] != chat || m["user"].(map[string]any)["_id"] != b.ID || m["user"].(map[string]any)["name"] != "chats-b" || m["at"] == nil {
		t.Fatalf("posted = %v", m)
	}
	for who, ws := range map[string]*servertest.WS{"recipient": a.ws, "sender": b.ws} {
		got := ws.ExpectPush("chat.message.created", 5*time.Second).Map(t)
		if got["messageId"] != m["_id"] || got["senderId"] != b.ID || got["content"] != "over REST" {
			t.Fatalf("%s's socket got %v", who, got)
		}
	}
	if al := chatsOf(t, a); al[0]["unreadCount"] != 1.0 || al[0]["lastMessage"].(map[string]any)["_id"] != m["_id"] {
		t.Fatalf("a's chat after b's message = %v", al[0])
	}

	// Paging: 25 more messages, 10 at a time, every one exactly once,
	// newest first.
	want := []string{m["_id"].(string)}
	for i := 0; i < 25; i++ {
		sender := a
		if i%3 == 0 {
			sender = b
		}
		want = append(want, postChat(t, sender, chat, fmt.Sprint("n", i))["_id"].(string))
	}
	got := chatPages(t, a, chat, 10)
	if len(got) != 27 {
		t.Fatalf("paging listed %d messages, want 27", len(got))
	}
	for i := range want {
		if got[len(want)-1-i] != want[i] {
			t.Fatalf("message %d of the newest first listing is %s, want %s", len(want)-1-i, got[len(want)-1-i], want[i])
		}
	}
	if res := a.Do(http.MethodGet, "/chats/"+chat+"/messages", nil).JSON(t); len(res["messages"].([]any)) != 27 || res["nextBefore"] != nil {
		t.Fatalf("default limit page: %d messages, nextBefore %v", len(res["messages"].([]any)), res["nextBefore"])
	}

	// Refusals, with their codes and statuses.
	never := storage.ChatID(storage.PairID(a.ID, stranger.ID))
	errs := []struct {
		name         string
		who          member
		method, path string
		body         any
		status       int
		code         string
	}{
		{"malformed chat", a, http.MethodGet, "/chats/not-a-chat/messages", nil, 404, "not_found"},
		{"malformed chat, POST", a, http.MethodPost, "/chats/not-a-chat/messages", map[string]any{"content": "x"}, 404, "not_found"},
		{"a pair that never connected", a, http.MethodGet, "/chats/" + never + "/messages", nil, 404, "not_found"},
		{"someone else's chat", stranger, http.MethodGet, "/chats/" + chat + "/messages", nil, 403, "forbidden"},
		{"someone else's chat, POST", stranger, http.MethodPost, "/chats/" + chat + "/messages", map[string]any{"content": "x"}, 403, "forbidden"},
		{"limit 0", a, http.MethodGet, "/chats/" + chat + "/messages?limit=0", nil, 400, "invalid_payload"},
		{"limit 101", a, http.MethodGet, "/chats/" + chat + "/messages?limit=101", nil, 400, "invalid_payload"},
		{"limit not a number", a, http.MethodGet, "/chats/" + chat + "/messages?limit=ten", nil, 400, "invalid_payload"},
		{"unknown before", a, http.MethodGet, "/chats/" + chat + "/messages?before=msg_nope", nil, 400, "invalid_payload"},
		{"empty content", a, http.MethodPost, "/chats/" + chat + "/messages", map[string]any{"content": "  "}, 400, "invalid_payload"},
		{"content too long", a, http.MethodPost, "/chats/" + chat + "/messages", map[string]any{"content": strings.Repeat("x", 4001)}, 400, "invalid_payload"},
		{"no content", a, http.MethodPost, "/chats/" + chat + "/messages", map[string]any{}, 400, "invalid_payload"},
		{"unknown field", a, http.MethodPost, "/chats/" + chat + "/messages", map[string]any{"content": "x", "chat": chat}, 400, "invalid_payload"},
	}
	for _, e := range errs {
		res := e.who.Do(e.method, e.path, e.body)
		if res.Status != e.status || res.Code() != e.code {
			t.Errorf("%s: %d %s, want %d %s", e.name, res.Status, res.Body, e.status, e.code)
		}
		if detail, _ := res.JSON(t)["detail"].(string); detail == "" {
			t.Errorf("%s: no detail in %s", e.name, res.Body)
		}
	}
	if res := srv.Do(http.MethodGet, "/chats", "", nil); res.Status != 401 || res.Code() != "unauthorized" {
		t.Errorf("GET /chats without a token: %d %s", res.Status, res.Body)
	}
	// The longest content is accepted.
	postChat(t, a, chat, strings.Repeat("é", 4000))

	// Closing the connection deletes the chat for legacy clients; its
	// history stays readable to both, and sending is refused.
	a.ws.Send("connection.close", map[string]any{"connectionId": conn}, "cls")
	a.ws.ExpectReply("connection.close", "cls")
	for _, u := range []member{a, b} {
		if l := chatsOf(t, u); len(l) != 0 {
			t.Fatalf("chats after close = %v", l)
		}
		if got := chatPages(t, u, chat, 100); len(got) != 28 {
			t.Fatalf("closed chat history: %d messages, want 28", len(got))
		}
	}
	if res := b.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": "still there?"}); res.Status != 403 || res.Code() != "active_connection_required" {
		t.Fatalf("POST on a closed chat: %d %s", res.Status, res.Body)
	}
	if res := stranger.Do(http.MethodGet, "/chats/"+chat+"/messages", nil); res.Status != 403 {
		t.Fatalf("stranger on a closed chat: %d %s", res.Status, res.Body)
	}

	// Reconnecting brings the same chat back, with its history.
	pairUp(t, b, a)
	if l := chatsOf(t, a); len(l) != 1 || l[0]["_id"] != chat || l[0]["lastMessage"] == nil {
		t.Fatalf("chats after reconnecting = %v", l)
	}
	postChat(t, b, chat, "welcome back")
}

// TestChatsOrderAndBlocks: the most recent activity first; a block hides
// the chat from both.
func TestChatsOrderAndBlocks(t *testing.T) {
	srv := servertest.Start(t)
	hub := joinAs(t, srv, "order-hub")
	x, y, z := joinAs(t, srv, "order-x"), joinAs(t, srv, "order-y"), joinAs(t, srv, "order-z")
	pairUp(t, x, hub)
	pairUp(t, y, hub)
	pairUp(t, z, hub)
	ids := func() []string {
		var out []string
		for _, c := range chatsOf(t, hub) {
			out = append(out, c["users"].([]any)[1].(map[string]any)["_id"].(string))
		}
		return out
	}
	if got, want := ids(), []string{z.ID, y.ID, x.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("by acceptance: %v, want %v", got, want)
	}
	postChat(t, x, storage.ChatID(storage.PairID(x.ID, hub.ID)), "me first")
	if got, want := ids(), []string{x.ID, z.ID, y.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after x's message: %v, want %v", got, want)
	}
	y.ws.Send("safety.block", map[string]any{"blockedUserId": hub.ID}, "blk")
	y.ws.ExpectReply("safety.block", "blk")
	if got, want := ids(), []string{x.ID, z.ID}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after y blocked the hub: %v, want %v", got, want)
	}
	if l := chatsOf(t, y); len(l) != 0 {
		t.Fatalf("the blocker's chats = %v", l)
	}
	if res := hub.Do(http.MethodPost, "/chats/"+storage.ChatID(storage.PairID(y.ID, hub.ID))+"/messages", map[string]any{"content": "hello?"}); res.Status != 403 || res.Code() != "active_connection_required" {
		t.Fatalf("POST to a blocked chat: %d %s", res.Status, res.Body)
	}
}

// TestChatsSenderNeedsAName: an account with no name yet (an Apple login)
// may read its chats but not send until it sets one.
func TestChatsSenderNeedsAName(t *testing.T) {
	srv, _, apple := startWithProviders(t)
	au := servertest.LoginAt(t, srv.URL, "apple", apple.Token("chats-apple", appleClient))
	if au.Login["user"].(map[string]any)["name"] != "" {
		t.Fatalf("an Apple login has a name: %v", au.Login["user"])
	}
	nameless := member{au, au.Dial()}
	nameless.ws.Start()
	friend := joinAs(t, srv, "chats-friend")
	pairUp(t, friend, nameless)
	chat := storage.ChatID(storage.PairID(nameless.ID, friend.ID))
	if l := chatsOf(t, nameless); len(l) != 1 || l[0]["_id"] != chat {
		t.Fatalf("nameless user's chats = %v", l)
	}
	res := nameless.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": "hi"})
	if res.Status != 403 || res.Code() != "verification_required" {
		t.Fatalf("POST without a name: %d %s", res.Status, res.Body)
	}
	if res := nameless.Do(http.MethodPatch, "/users/profile", map[string]any{"name": "Named now"}); res.Status != 200 {
		t.Fatalf("PATCH name: %d %s", res.Status, res.Body)
	}
	if m := postChat(t, nameless, chat, "hi"); m["user"].(map[string]any)["name"] != "Named now" {
		t.Fatalf("posted = %v", m)
	}
}
