package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage"
)

// TestChatsRESTReachesEveryDialect: a message POSTed over REST reaches the
// recipient's and the sender's sockets in both dialects, as the very
// message the POST answered.
func TestChatsRESTReachesEveryDialect(t *testing.T) {
	srv := servertest.Start(t)
	a, b := joinBoth(t, srv, "dialects-a"), joinBoth(t, srv, "dialects-b")
	pairUp(t, a.member, b.member)
	chat := storage.ChatID(storage.PairID(a.ID, b.ID))
	// chat-created on both legacy sockets: they are attached and hear
	// the pair's events.
	for _, w := range []*servertest.WS{a.old, b.old} {
		if got := data(t, w.ExpectPush(protocol.EventChatCreated, waitEvent))["chat"]; got != chat {
			t.Fatalf("chat-created for %v, want %s", got, chat)
		}
	}

	res := b.Do(http.MethodPost, "/chats/"+chat+"/messages", map[string]any{"content": "to every socket"})
	if res.Status != http.StatusOK {
		t.Fatalf("POST: %d %s", res.Status, res.Body)
	}
	var answer struct {
		Message json.RawMessage `json:"message"`
	}
	if err := json.Unmarshal(res.Body, &answer); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who   string
		ws    *servertest.WS
		event string
	}{
		{"recipient", a.old, protocol.EventMessagesReceived},
		{"sender", b.old, protocol.EventMessagesSent},
	} {
		var data struct {
			Message json.RawMessage `json:"message"`
		}
		f := c.ws.ExpectPush(c.event, waitEvent)
		if err := json.Unmarshal(f.Payload, &data); err != nil {
			t.Fatalf("%s: %s", c.event, f.Raw)
		}
		if !sameJSON(t, data.Message, answer.Message) {
			t.Fatalf("the %s's legacy socket got %s, the POST answered %s", c.who, data.Message, answer.Message)
		}
	}
	id := res.JSON(t)["message"].(map[string]any)["_id"]
	for who, ws := range map[string]*servertest.WS{"recipient": a.ws, "sender": b.ws} {
		if got := ws.ExpectPush("chat.message.created", waitEvent).Map(t); got["messageId"] != id {
			t.Fatalf("the %s's /ws socket got %v, want %s", who, got, id)
		}
	}
	// The recipient's legacy socket is told once, as received, never as sent.
	a.old.NoFrame(protocol.EventMessagesSent, 100*time.Millisecond)
	b.old.NoFrame(protocol.EventMessagesReceived, 100*time.Millisecond)
}

// sameJSON compares two JSON documents by value.
func sameJSON(t *testing.T, x, y json.RawMessage) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(x, &a); err != nil {
		t.Fatalf("%s: %v", x, err)
	}
	if err := json.Unmarshal(y, &b); err != nil {
		t.Fatalf("%s: %v", y, err)
	}
	ax, _ := json.Marshal(a)
	bx, _ := json.Marshal(b)
	return string(ax) == string(bx)
}
