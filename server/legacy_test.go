package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// legacyMember is a user with a `/ws` socket (started) and a legacy
// `/socket` socket.
type legacyMember struct {
	member
	old *servertest.WS
}

func joinBoth(t testing.TB, srv *servertest.Server, handle string) legacyMember {
	t.Helper()
	m := joinAs(t, srv, handle)
	return legacyMember{member: m, old: m.DialLegacy()}
}

// data decodes a legacy event's data.
func data(t testing.TB, f *servertest.Frame) map[string]any {
	t.Helper()
	return f.Map(t)
}

// chatUser checks a spec 001 user object and returns its _id.
func chatUser(t testing.TB, v any) string {
	t.Helper()
	u, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("user object = %v", v)
	}
	for _, k := range []string{"_id", "name", "username", "photo"} {
		if _, ok := u[k]; !ok {
			t.Fatalf("user object lacks %s: %v", k, u)
		}
	}
	return u["_id"].(string)
}

const waitEvent = 5 * time.Second

// legacyConnected has a request sent from a's /ws socket and accepted by b
// over the legacy REST, and checks what each dialect hears on the way;
// it returns the chat id and the connection's.
func legacyConnected(t *testing.T, a, b legacyMember) (string, string) {
	t.Helper()
	a.ws.Send("connection.request.send", map[string]any{"userId": b.ID}, "snd")
	req := a.ws.ExpectReply("connection.request.send", "snd").Map(t)["request"].(map[string]any)["requestId"].(string)
	c := data(t, b.old.ExpectPush(protocol.EventConnectionRequest, waitEvent))["connection"].(map[string]any)
	if c["_id"] != req || c["from"] != a.ID || c["to"] != b.ID || c["status"] != "pending" || c["createdAt"] == nil {
		t.Fatalf("connection-request = %v", c)
	}
	a.old.NoFrame(protocol.EventConnectionRequest, 100*time.Millisecond)

	if res := b.Do(http.MethodPost, "/connections/"+a.ID+"/accept", nil); res.Status != http.StatusOK {
		t.Fatalf("accept: %d %s", res.Status, res.Body)
	}
	conn := a.ws.ExpectPush("connection.request.accept", waitEvent).Map(t)["connection"].(map[string]any)["connectionId"].(string)
	b.ws.ExpectPush("connection.request.accept", waitEvent)
	chat := data(t, b.old.ExpectPush(protocol.EventChatCreated, waitEvent))["chat"].(string)
	joined := data(t, b.old.ExpectPush(protocol.EventChatJoined, waitEvent))
	if joined["chat"] != chat || chatUser(t, joined["admin"]) != a.ID {
		t.Fatalf("chat-joined = %v (chat %s)", joined, chat)
	}
	if got := data(t, a.old.ExpectPush(protocol.EventChatCreated, waitEvent))["chat"]; got != chat {
		t.Fatalf("the two sides got different chats: %v / %v", got, chat)
	}
	acc := data(t, a.old.ExpectPush(protocol.EventConnectionAccepted, waitEvent))["connection"].(map[string]any)
	if acc["_id"] != req || acc["status"] != "accepted" || acc["acceptedAt"] == nil || acc["from"] != a.ID || acc["to"] != b.ID {
		t.Fatalf("connection-accepted = %v", acc)
	}
	a.old.NoFrame(protocol.EventChatJoined, 100*time.Millisecond)
	return chat, conn
}

// One conversation, a `/ws` user and a legacy user: every chat event
// crosses the dialects in both directions.
func TestLegacyDialectChatCrossesDialects(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinBoth(t, srv, "new-app"), joinBoth(t, srv, "old-app")
	chat, conn := legacyConnected(t, a, b)

	// A message from the new app reaches the old one, and the sender's
	// legacy socket hears it was sent.
	sent := say(t, a.member, b.member, "hi from the new app", "m1")
	got := data(t, b.old.ExpectPush(protocol.EventMessagesReceived, waitEvent))["message"].(map[string]any)
	if got["_id"] != sent["messageId"] || got["chat"] != chat || got["content"] != "hi from the new app" || got["at"] != sent["createdAt"] || chatUser(t, got["user"]) != a.ID {
		t.Fatalf("messages-received = %v, sent %v", got, sent)
	}
	echo := data(t, a.old.ExpectPush(protocol.EventMessagesSent, waitEvent))["message"].(map[string]any)
	if echo["_id"] != sent["messageId"] || echo["chat"] != chat {
		t.Fatalf("messages-sent = %v", echo)
	}
	b.old.NoFrame(protocol.EventMessagesSent, 100*time.Millisecond)

	// Typing from the old app reaches the new one as chat.typing, and the
	// other way round.
	b.old.Emit(protocol.EventTypingStarted, map[string]any{"chat": chat})
	typing := a.ws.ExpectPush("chat.typing", waitEvent).Map(t)
	if typing["isTyping"] != true || typing["fromUserId"] != b.ID || typing["recipientId"] != a.ID {
		t.Fatalf("chat.typing = %v", typing)
	}
	if ts := data(t, a.old.ExpectPush(protocol.EventTypingStarted, waitEvent)); ts["chat"] != chat || chatUser(t, ts["user"]) != b.ID {
		t.Fatalf("typing-started = %v", ts)
	}
	b.old.Emit(protocol.EventTypingStopped, map[string]any{"chat": chat})
	if typing := a.ws.ExpectPush("chat.typing", waitEvent).Map(t); typing["isTyping"] != false {
		t.Fatalf("chat.typing (stopped) = %v", typing)
	}
	a.old.ExpectPush(protocol.EventTypingStopped, waitEvent)
	a.ws.Send("chat.typing", map[string]any{"recipientId": b.ID, "isTyping": true}, "ty")
	a.ws.ExpectReply("chat.typing", "ty")
	if ts := data(t, b.old.ExpectPush(protocol.EventTypingStarted, waitEvent)); ts["chat"] != chat || chatUser(t, ts["user"]) != a.ID {
		t.Fatalf("typing-started from /ws = %v", ts)
	}
	a.ws.Send("chat.typing", map[string]any{"recipientId": b.ID, "isTyping": false}, "ty2")
	a.ws.ExpectReply("chat.typing", "ty2")
	b.old.ExpectPush(protocol.EventTypingStopped, waitEvent)

	// The old app reads the chat: the new app gets chat.message.read for
	// the newest message, the sender's legacy socket messages-read.
	second := say(t, a.member, b.member, "second", "m2")
	b.old.ExpectPush(protocol.EventMessagesReceived, waitEvent)
	b.old.Emit(protocol.EventMessagesRead, map[string]any{"chat": chat})
	receipt := a.ws.ExpectPush("chat.message.read", waitEvent).Map(t)
	if receipt["messageId"] != second["messageId"] || receipt["readAt"] == nil {
		t.Fatalf("chat.message.read = %v", receipt)
	}
	read := data(t, a.old.ExpectPush(protocol.EventMessagesRead, waitEvent))
	last, _ := read["lastMessage"].(map[string]any)
	if read["chat"] != chat || chatUser(t, read["user"]) != b.ID || read["lastReadAt"] != receipt["readAt"] || last["_id"] != second["messageId"] || last["user"] != a.ID || last["chat"] != chat {
		t.Fatalf("messages-read = %v", read)
	}
	// Both messages are read now: the unread count is zero for b.
	if res := b.Do(http.MethodGet, "/conversations", nil).JSON(t); res["totalUnreadMessageCount"] != 0.0 {
		t.Fatalf("after messages-read: %v", res)
	}
	// Reading again marks nothing and tells nobody.
	b.old.Emit(protocol.EventMessagesRead, map[string]any{"chat": chat})
	a.old.NoFrame(protocol.EventMessagesRead, 200*time.Millisecond)

	// A /ws read of a legacy-visible message reaches the legacy sender.
	reply := say(t, b.member, a.member, "answer from b", "m3")
	a.ws.ExpectPush("chat.message.created", waitEvent)
	a.ws.Send("chat.message.read", map[string]any{"messageId": reply["messageId"]}, "rd")
	a.ws.ExpectReply("chat.message.read", "rd")
	if read := data(t, b.old.ExpectPush(protocol.EventMessagesRead, waitEvent)); chatUser(t, read["user"]) != a.ID {
		t.Fatalf("messages-read from /ws = %v", read)
	}

	// Closing the connection deletes the chat for both, naming who closed it.
	a.ws.Send("connection.close", map[string]any{"connectionId": conn}, "cl")
	a.ws.ExpectReply("connection.close", "cl")
	for _, w := range []*servertest.WS{a.old, b.old} {
		if del := data(t, w.ExpectPush(protocol.EventChatDeleted, waitEvent)); del["chat"] != chat || del["user"] != a.ID {
			t.Fatalf("chat-deleted = %v", del)
		}
	}
	b.old.NoFrame(protocol.EventChatParticipantRemoved, 100*time.Millisecond)
	// The chat is closed: typing into it is refused, nothing relayed.
	b.old.Emit(protocol.EventTypingStarted, map[string]any{"chat": chat})
	b.old.Expect(protocol.EventPermissionDenied)
	a.ws.NoFrame("chat.typing", 200*time.Millisecond)
}

// user-online / user-offline reach the users who share a chat, whichever
// dialect the user connects with, and a reconnect within the grace
// announces nothing.
func TestLegacyDialectPresence(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.ReconnectGrace = 500 * time.Millisecond })
	a, b := joinBoth(t, srv, "watcher"), joinBoth(t, srv, "comer")
	chat, _ := legacyConnected(t, a, b)
	stranger := joinBoth(t, srv, "stranger")

	// b leaves on both sockets and comes back after the grace, over /ws.
	b.ws.Close()
	b.old.Close()
	off := data(t, a.old.ExpectPush(protocol.EventUserOffline, waitEvent))
	if chatUser(t, off["user"]) != b.ID || off["chat"] != chat || len(off["chats"].([]any)) != 1 || off["chats"].([]any)[0] != chat {
		t.Fatalf("user-offline = %v", off)
	}
	back := b.Dial()
	back.Start()
	on := data(t, a.old.ExpectPush(protocol.EventUserOnline, waitEvent))
	if chatUser(t, on["user"]) != b.ID || on["chat"] != chat {
		t.Fatalf("user-online = %v", on)
	}
	// A reconnect within the grace is no news.
	back.Close()
	again := b.DialLegacy()
	a.old.NoFrame(protocol.EventUserOffline, time.Second)
	a.old.NoFrame(protocol.EventUserOnline, 10*time.Millisecond)
	// Nobody outside the chat hears of it.
	stranger.old.NoFrame(protocol.EventUserOnline, 10*time.Millisecond)
	stranger.old.NoFrame(protocol.EventUserOffline, 10*time.Millisecond)

	// A block takes b out of a's world: its presence no longer reaches a.
	a.ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	a.ws.ExpectReply("safety.block", "blk")
	again.ExpectPush(protocol.EventChatDeleted, waitEvent)
	again.Close()
	a.old.NoFrame(protocol.EventUserOffline, 1500*time.Millisecond)
}

// A block or a deleted account removes the participant; the deleted
// account's legacy socket hears account-terminated and closes.
func TestLegacyDialectParticipantRemoved(t *testing.T) {
	srv := servertest.Start(t)
	a, b, c := joinBoth(t, srv, "blocker"), joinBoth(t, srv, "blocked"), joinBoth(t, srv, "leaver")
	ab, _ := legacyConnected(t, a, b)
	ac, _ := legacyConnected(t, a, c)

	a.ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	a.ws.ExpectReply("safety.block", "blk")
	for _, x := range []struct {
		w     *servertest.WS
		other string
	}{{a.old, b.ID}, {b.old, a.ID}} {
		rm := data(t, x.w.ExpectPush(protocol.EventChatParticipantRemoved, waitEvent))
		if rm["chat"] != ab || rm["user"] != x.other {
			t.Fatalf("chat-participant-removed = %v", rm)
		}
		if del := data(t, x.w.ExpectPush(protocol.EventChatDeleted, waitEvent)); del["chat"] != ab || del["user"] != a.ID {
			t.Fatalf("chat-deleted after block = %v", del)
		}
	}
	// Blocked pairs are out of reach: the old chat is refused.
	b.old.Emit(protocol.EventTypingStarted, map[string]any{"chat": ab})
	b.old.Expect(protocol.EventPermissionDenied)

	if res := c.Do(http.MethodPost, "/auth/delete-account", map[string]string{"reason": "bye"}); res.Status != http.StatusOK {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	term := c.old.ExpectPush(protocol.EventAccountTerminated, waitEvent)
	if term.Message() == "" {
		t.Fatalf("account-terminated = %s", term.Raw)
	}
	if code := c.old.WaitClosed(waitEvent); code != protocol.CloseAccountDeleted {
		t.Fatalf("legacy socket of a deleted account closed with %d", code)
	}
	rm := data(t, a.old.ExpectPush(protocol.EventChatParticipantRemoved, waitEvent))
	if rm["chat"] != ac || rm["user"] != c.ID {
		t.Fatalf("chat-participant-removed after delete = %v", rm)
	}
	if del := data(t, a.old.ExpectPush(protocol.EventChatDeleted, waitEvent)); del["chat"] != ac || del["user"] != c.ID {
		t.Fatalf("chat-deleted after delete = %v", del)
	}
}

// Bad input on /socket gets the documented error event; the socket stays
// open and nothing is relayed.
func TestLegacyDialectBadInput(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinBoth(t, srv, "sender"), joinBoth(t, srv, "partner")
	chat, _ := legacyConnected(t, a, b)
	x, y := joinBoth(t, srv, "other-x"), joinBoth(t, srv, "other-y")
	foreign, _ := legacyConnected(t, x, y)

	cases := []struct {
		name  string
		raw   string
		event string
	}{
		{"not json", `{"event":`, protocol.EventValidationFailed},
		{"not an object", `["typing-started"]`, protocol.EventValidationFailed},
		{"no event", `{"data":{"chat":"` + chat + `"}}`, protocol.EventValidationFailed},
		{"event not a string", `{"event":5,"data":{}}`, protocol.EventValidationFailed},
		{"unknown event", `{"event":"messages-deleted","data":{"chat":"` + chat + `"}}`, protocol.EventValidationFailed},
		{"a /ws frame", `{"type":"chat.typing","payload":{"recipientId":"` + a.ID + `","isTyping":true}}`, protocol.EventValidationFailed},
		{"server-only event", `{"event":"messages-received","data":{}}`, protocol.EventValidationFailed},
		{"chat missing", `{"event":"typing-started","data":{}}`, protocol.EventValidationFailed},
		{"chat wrong type", `{"event":"typing-started","data":{"chat":5}}`, protocol.EventValidationFailed},
		{"data wrong type", `{"event":"messages-read","data":"` + chat + `"}`, protocol.EventValidationFailed},
		{"unknown chat", `{"event":"typing-started","data":{"chat":"chat_nope"}}`, protocol.EventNotFound},
		{"malformed chat id", `{"event":"messages-read","data":{"chat":"` + strings.Repeat("z", 300) + `"}}`, protocol.EventNotFound},
		{"foreign chat", `{"event":"typing-started","data":{"chat":"` + foreign + `"}}`, protocol.EventPermissionDenied},
		{"foreign chat read", `{"event":"messages-read","data":{"chat":"` + foreign + `"}}`, protocol.EventPermissionDenied},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b.old.SendRaw([]byte(tc.raw))
			f := b.old.Expect(tc.event)
			var env map[string]json.RawMessage
			if err := json.Unmarshal(f.Raw, &env); err != nil || len(env) != 2 || env["event"] == nil || env["data"] == nil || f.Message() == "" {
				t.Fatalf("error event = %s", f.Raw)
			}
		})
	}
	for _, w := range []*servertest.WS{a.ws, x.ws, y.ws} {
		w.NoFrame("chat.typing", 100*time.Millisecond)
	}
	for _, w := range []*servertest.WS{a.old, x.old, y.old} {
		w.NoFrame(protocol.EventTypingStarted, 10*time.Millisecond)
		w.NoFrame(protocol.EventMessagesRead, 10*time.Millisecond)
	}
	// Still open and serving.
	b.old.Emit(protocol.EventTypingStarted, map[string]any{"chat": chat})
	a.old.ExpectPush(protocol.EventTypingStarted, waitEvent)
}

// The same limits hold on /socket as on /ws: frame size, rate and
// sockets per user (counted across both dialects).
func TestLegacyDialectLimits(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.MaxSocketsPerUser = 2; c.WSRate, c.WSBurst = 5, 5; c.MaxFrameBytes = 4096 })
	u := srv.Login("limited")

	big := u.DialLegacy()
	big.SendRaw([]byte(`{"event":"typing-started","data":{"chat":"` + strings.Repeat("x", 5000) + `"}}`))
	if code := big.WaitClosed(waitEvent); code != 1009 {
		t.Fatalf("oversized frame closed with %d, want 1009", code)
	}

	flood := u.DialLegacy()
	for i := 0; i < 20; i++ {
		flood.Emit(protocol.EventTypingStarted, map[string]any{"chat": "chat_x"})
	}
	if f := flood.ExpectWithin(protocol.EventValidationFailed, waitEvent); !strings.Contains(f.Message(), "slow down") {
		// Earlier frames are answered not-found; the first refused by the
		// limiter says so.
		for f != nil && !strings.Contains(f.Message(), "slow down") {
			f = flood.TryNext(waitEvent)
		}
		if f == nil {
			t.Fatal("a flood on /socket was never rate limited")
		}
	}

	ws := u.Dial()
	ws.Start()
	third := u.DialLegacy()
	if code := flood.WaitClosed(waitEvent); code != protocol.CloseSessionLimit {
		t.Fatalf("oldest socket closed with %d, want %d", code, protocol.CloseSessionLimit)
	}
	third.Emit(protocol.EventMessagesRead, map[string]any{"chat": "chat_x"})
	third.Expect(protocol.EventNotFound)
}

// An expired access token ends a legacy socket with authorization-failed
// and close 4001; a user with no name is told verification-required and
// cannot chat.
func TestLegacyDialectAuthorization(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.ClockSpeed = 60; c.AccessTTL = 3 * time.Minute })
	u := srv.Login("short-lived")
	w := u.DialLegacy()
	if f := w.ExpectWithin(protocol.EventAuthorizationFailed, 8*time.Second); f.Message() == "" {
		t.Fatalf("authorization-failed = %s", f.Raw)
	}
	if code := w.WaitClosed(waitEvent); code != protocol.CloseTokenExpired {
		t.Fatalf("close code = %d, want 4001", code)
	}

	nameless := srv.Login("nameless")
	stored, err := srv.Store.Users().Get(t.Context(), nameless.ID)
	if err != nil {
		t.Fatal(err)
	}
	stored.Name = ""
	if err := srv.Store.Users().Put(t.Context(), stored); err != nil {
		t.Fatal(err)
	}
	h := http.Header{"Authorization": {"Bearer " + nameless.AccessToken}}
	nw, _, err := servertest.DialWS(t, srv.URL, "/socket", h)
	if err != nil {
		t.Fatal(err)
	}
	nw.Expect(protocol.EventVerificationRequired)
	nw.Emit(protocol.EventTypingStarted, map[string]any{"chat": "chat_a~chat_b"})
	nw.Expect(protocol.EventVerificationRequired)

	if _, res, err := servertest.DialWS(t, srv.URL, "/socket", http.Header{}); err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/socket without a token: err %v, response %+v", err, res)
	}
	if _, _, err := servertest.DialWS(t, srv.URL, "/socket?access_token="+srv.Login("query").AccessToken, http.Header{}); err != nil {
		t.Fatalf("/socket with ?access_token: %v", err)
	}
}

// A redemption reaches legacy sockets as reward-consumed: the campaign's
// remaining stock, and which of the two claimed it.
func TestLegacyDialectRewardConsumed(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	brandID, key := brand(t, srv, "Old App Lounge")
	campaign(t, srv, brandID, map[string]any{"stock": 3})
	a, b := joinBoth(t, srv, "claimer"), joinBoth(t, srv, "partner-of-claimer")
	pairUp(t, a.member, b.member)
	gift := a.ws.ExpectPush("gift.sponsored.granted", waitEvent).Map(t)["giftId"].(string)
	b.ws.ExpectPush("gift.sponsored.granted", waitEvent)

	a.ws.Send("gift.claim", map[string]any{"giftId": gift}, "c1")
	code := a.ws.ExpectReply("gift.claim", "c1").Map(t)["redemptionCode"].(string)
	if res := servertest.Do(t, srv.URL, http.MethodPost, "/sponsor/redemptions/"+code+"/redeem", key, nil); res.Status != http.StatusOK {
		t.Fatalf("redeem: %d %s", res.Status, res.Body)
	}
	for _, x := range []struct {
		w    *servertest.WS
		mine bool
	}{{a.old, true}, {b.old, false}} {
		got := data(t, x.w.ExpectPush(protocol.EventRewardConsumed, waitEvent))
		if got["reward"] != gift || got["isExpired"] != false || got["remaining"] != 2.0 || got["isConsumedByYou"] != x.mine {
			t.Fatalf("reward-consumed = %v (claimer: %v)", got, x.mine)
		}
	}
	// The claim itself was no consumption.
	a.old.NoFrame(protocol.EventRewardConsumed, 100*time.Millisecond)
}

// A failure of the server's own (here: its store is gone) is answered
// server-error, and the socket stays open.
func TestLegacyDialectServerError(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("unlucky")
	w := u.DialLegacy()
	if err := srv.Store.Close(); err != nil {
		t.Fatal(err)
	}
	w.Emit(protocol.EventMessagesRead, map[string]any{"chat": "chat_01a~01b"})
	if f := w.Expect(protocol.EventServerError); f.Message() == "" || strings.Contains(f.Message(), "database") {
		t.Fatalf("server-error = %s (the cause must not leak)", f.Raw)
	}
	w.Emit(protocol.EventTypingStarted, map[string]any{})
	w.Expect(protocol.EventValidationFailed)
}
