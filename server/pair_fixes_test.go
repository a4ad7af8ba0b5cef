package server_test

import (
	"net/http"
	"testing"

	"github.com/gisbi/engine/server/servertest"
)

// The sender of a message cannot mark it read: only its recipient reads it.
// The answer reports the message as stored, never a readAt that is not.
func TestChatReadBySenderReportsTheStoredState(t *testing.T) {
	srv := servertest.Start(t)
	a, b := connected(t, srv, "rd-sender-a", "rd-sender-b")
	id := say(t, a, b, "unread yet", "m1")["messageId"]

	a.ws.Send("chat.message.read", map[string]any{"messageId": id}, "own")
	got := a.ws.ExpectReply("chat.message.read", "own").Map(t)
	if got["messageId"] != id || got["senderId"] != a.ID || got["recipientId"] != b.ID {
		t.Fatalf("answer = %v", got)
	}
	if v, ok := got["readAt"]; !ok || v != nil {
		t.Fatalf("sender reading its own unread message: readAt = %v, want null (it is not stored as read)", v)
	}
	page := b.Do(http.MethodGet, "/conversations/"+a.ID+"/messages", nil).JSON(t)["messages"].([]any)
	if m := page[0].(map[string]any); m["messageId"] != id || m["readAt"] != nil {
		t.Fatalf("stored message = %v", m)
	}
	b.ws.Send("chat.history.fetch", map[string]any{}, "h")
	if u := b.ws.ExpectReply("chat.history.fetch", "h").Map(t)["unreadMessageCount"].(map[string]any)[a.ID]; u != 1.0 {
		t.Fatalf("recipient's unread = %v, want 1", u)
	}

	// Once the recipient reads it, the sender's read answers the stored time.
	b.ws.Send("chat.message.read", map[string]any{"messageId": id}, "rd")
	readAt := b.ws.ExpectReply("chat.message.read", "rd").Map(t)["readAt"]
	if readAt == nil {
		t.Fatal("recipient's read answered no readAt")
	}
	a.ws.Send("chat.message.read", map[string]any{"messageId": id}, "own2")
	if got := a.ws.ExpectReply("chat.message.read", "own2").Map(t); got["readAt"] != readAt {
		t.Fatalf("sender's read after the recipient's: readAt = %v, want %v", got["readAt"], readAt)
	}
}

// GET /connections renders every user object with username, photo and bio,
// null when unset.
func TestLegacyConnectionsUserFieldsAreNullWhenUnset(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinAs(t, srv, "bare-a"), joinAs(t, srv, "bare-b")
	b.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "open to meet"})
	if res := a.Do(http.MethodPost, "/connections/"+b.ID, nil); res.Status != 200 {
		t.Fatalf("create: %d %s", res.Status, res.Body)
	}
	items := a.Do(http.MethodGet, "/connections", nil).JSON(t)["connections"].([]any)
	if len(items) != 1 {
		t.Fatalf("items = %v", items)
	}
	it := items[0].(map[string]any)
	for _, who := range []string{"from", "to", "user"} {
		u := it[who].(map[string]any)
		for _, k := range []string{"_id", "name", "username", "photo", "bio"} {
			if _, ok := u[k]; !ok {
				t.Errorf("%s lacks %q: %v", who, k, u)
			}
		}
		for _, k := range []string{"username", "photo", "bio"} {
			if u[k] != nil {
				t.Errorf("%s.%s = %v, want null", who, k, u[k])
			}
		}
	}
}

// connection.ring names its refusals like connection.request.send does.
func TestRingRefusals(t *testing.T) {
	srv := servertest.Start(t)
	a, _ := connected(t, srv, "ring-a", "ring-b")
	tests := []struct {
		name, userID, code string
	}{
		{"self", a.ID, "self_request"},
		{"unknown id", "user_01nobodyhere0000000000000", "user_not_found"},
		{"malformed id", "no body", "user_not_found"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rid := string(rune('a' + i))
			a.ws.Send("connection.ring", map[string]any{"userId": tt.userID}, rid)
			if f := a.ws.ExpectReplyAny(rid); f.ErrorCode() != tt.code {
				t.Fatalf("ring %s: %s, want %s", tt.name, f.Raw, tt.code)
			}
		})
	}
}
