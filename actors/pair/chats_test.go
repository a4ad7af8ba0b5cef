package pair

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// connectedAt is a pair of me and other whose connection was accepted at
// accepted, closed at once when closed is set.
func connectedAt(t *testing.T, me, other string, accepted time.Time, closed bool) *State {
	t.Helper()
	s := New(me, other)
	r := must(s.Send(other, me, SendGuards{}, accepted.Add(-time.Minute), ttl))
	c := must(s.Accept(me, r.ID, nil, accepted))
	if closed {
		must(s.Close(me, c.ID, "", accepted.Add(time.Second)))
	}
	return s
}

func lastAt(pairID string, at time.Time) *storage.Conversation {
	return &storage.Conversation{PairID: pairID, Last: storage.Message{CreatedAt: at}}
}

func TestChatItemsFilterAndOrder(t *testing.T) {
	ab, ac, ad := storage.PairID("a", "b"), storage.PairID("a", "c"), storage.PairID("a", "d")
	tests := []struct {
		name    string
		pairs   []*State
		convs   map[string]*storage.Conversation
		blocked map[string]bool
		want    []string // the other user of each chat, in order
	}{
		{
			name:  "acceptance orders chats without messages, newest first",
			pairs: []*State{connectedAt(t, "a", "b", t0, false), connectedAt(t, "a", "c", t0.Add(time.Hour), false)},
			want:  []string{"c", "b"},
		},
		{
			name:  "a later message moves a chat up",
			pairs: []*State{connectedAt(t, "a", "b", t0, false), connectedAt(t, "a", "c", t0.Add(time.Hour), false)},
			convs: map[string]*storage.Conversation{ab: lastAt(ab, t0.Add(2*time.Hour))},
			want:  []string{"b", "c"},
		},
		{
			name:  "a reconnection is newer than the last message of an earlier connection",
			pairs: []*State{connectedAt(t, "a", "b", t0.Add(3*time.Hour), false), connectedAt(t, "a", "c", t0.Add(time.Hour), false)},
			convs: map[string]*storage.Conversation{ab: lastAt(ab, t0), ac: lastAt(ac, t0.Add(2*time.Hour))},
			want:  []string{"b", "c"},
		},
		{
			name:  "equal activity falls back to the chat id",
			pairs: []*State{connectedAt(t, "a", "c", t0, false), connectedAt(t, "a", "b", t0, false)},
			want:  []string{"b", "c"},
		},
		{
			name:  "a closed connection's chat is gone, its messages notwithstanding",
			pairs: []*State{connectedAt(t, "a", "b", t0, true), connectedAt(t, "a", "c", t0, false)},
			convs: map[string]*storage.Conversation{ab: lastAt(ab, t0.Add(time.Hour))},
			want:  []string{"c"},
		},
		{
			name:  "requests alone make no chat",
			pairs: []*State{func() *State { s := New("a", "d"); must(s.Send("a", "d", SendGuards{}, t0, ttl)); return s }()},
			want:  []string{},
		},
		{
			name:    "a block either way hides the chat",
			pairs:   []*State{connectedAt(t, "a", "b", t0, false), connectedAt(t, "a", "c", t0, false), connectedAt(t, "a", "d", t0, false)},
			convs:   map[string]*storage.Conversation{ad: lastAt(ad, t0.Add(time.Hour))},
			blocked: map[string]bool{"b": true, "d": true},
			want:    []string{"c"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := []string{}
			for _, it := range chatItems(tt.pairs, tt.convs, tt.blocked, "a") {
				got = append(got, it.other)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("chats with %v, want %v", got, tt.want)
			}
		})
	}
}

// chatsOfA: a is connected with b (a message from b, unread) and c (no
// message); d blocked a while connected; a closed its connection with e,
// which has a message.
func chatsOfA(t *testing.T, save func(*State)) {
	save(connectedAt(t, "a", "b", t0, false))
	save(connectedAt(t, "a", "c", t0.Add(time.Minute), false))
	save(connectedAt(t, "a", "d", t0.Add(2*time.Minute), false))
	save(connectedAt(t, "a", "e", t0.Add(3*time.Minute), true))
}

func appendMessages(t *testing.T, d Deps, ms ...storage.Message) {
	t.Helper()
	for i := range ms {
		if err := d.Store.Messages().Append(context.Background(), &ms[i]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestChats(t *testing.T) {
	d := readStore(t, chatsOfA)
	ctx := context.Background()
	ab, ae := storage.PairID("a", "b"), storage.PairID("a", "e")
	appendMessages(t, d,
		storage.Message{ID: "msg_1", PairID: ab, Seq: 1, SenderID: "a", RecipientID: "b", Content: "hi b", CreatedAt: t0.Add(5 * time.Minute)},
		storage.Message{ID: "msg_2", PairID: ab, Seq: 2, SenderID: "b", RecipientID: "a", Content: "hi a", CreatedAt: t0.Add(6 * time.Minute)},
		storage.Message{ID: "msg_3", PairID: ae, Seq: 1, SenderID: "e", RecipientID: "a", Content: "bye", CreatedAt: t0.Add(7 * time.Minute)},
	)
	if err := d.Store.Safety().Block(ctx, storage.Block{BlockerID: "d", BlockedID: "a", CreatedAt: t0.Add(8 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	l, err := Chats(ctx, d, "a", t0.Add(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Chats) != 2 {
		t.Fatalf("chats = %+v, want b and c", l.Chats)
	}
	b, c := l.Chats[0], l.Chats[1]
	if b.ID != storage.ChatID(ab) || len(b.Users) != 2 || b.Users[0].ID != "a" || b.Users[1].ID != "b" || b.Users[1].Name != "User b" {
		t.Fatalf("chat with b = %+v", b)
	}
	if u := b.Users[0]; u.Username == nil || *u.Username != "ay" || u.Photo != nil {
		t.Fatalf("a as a chat user = %+v", u)
	}
	if m := b.LastMessage; m == nil || m.ID != "msg_2" || m.User.ID != "b" || m.Chat != b.ID || m.Content != "hi a" || m.At != protocol.FormatTime(t0.Add(6*time.Minute)) || b.UnreadCount != 1 {
		t.Fatalf("chat with b: last %+v, unread %d", b.LastMessage, b.UnreadCount)
	}
	if c.ID != storage.ChatID(storage.PairID("a", "c")) || c.LastMessage != nil || c.UnreadCount != 0 {
		t.Fatalf("chat with c = %+v", c)
	}
	// b sees the same chat, caller first, with a's message to it unread.
	lb, err := Chats(ctx, d, "b", t0.Add(10*time.Minute))
	if err != nil || len(lb.Chats) != 1 || lb.Chats[0].ID != b.ID || lb.Chats[0].UnreadCount != 1 || lb.Chats[0].Users[0].ID != "b" {
		t.Fatalf("b's chats = %+v, %v", lb, err)
	}
	// The blocker does not see the chat either.
	if ld, err := Chats(ctx, d, "d", t0.Add(10*time.Minute)); err != nil || len(ld.Chats) != 0 {
		t.Fatalf("d's chats = %+v, %v", ld, err)
	}
}

func TestChatPageAndChatToSend(t *testing.T) {
	d := readStore(t, chatsOfA, func(t *testing.T, save func(*State)) {
		save(connectedAt(t, "b", "c", t0, false))
	})
	ctx := context.Background()
	// f has not set a name yet.
	if err := d.Store.Users().Create(ctx, &storage.User{ID: "f", Provider: "dev", Subject: "f", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	af := connectedAt(t, "a", "f", t0, false)
	if err := d.Store.Pairs().Save(ctx, &af.Pair); err != nil {
		t.Fatal(err)
	}
	ae := storage.PairID("a", "e")
	appendMessages(t, d,
		storage.Message{ID: "msg_1", PairID: ae, Seq: 1, SenderID: "e", RecipientID: "a", Content: "one", CreatedAt: t0.Add(5 * time.Minute)},
		storage.Message{ID: "msg_2", PairID: ae, Seq: 2, SenderID: "a", RecipientID: "e", Content: "two", CreatedAt: t0.Add(6 * time.Minute)},
	)
	chat := func(x, y string) string { return storage.ChatID(storage.PairID(x, y)) }
	tests := []struct {
		name      string
		me, chat  string
		page      protocol.Code // "" when ChatPage serves it
		send      protocol.Code // "" when ChatToSend admits it
		wantPages int
	}{
		{"an active chat", "a", chat("a", "b"), "", "", 0},
		{"a closed chat's history stays readable", "a", chat("a", "e"), "", "", 2},
		{"the other user reads it too", "e", chat("a", "e"), "", "", 2},
		{"not a chat id", "a", "conn_123", protocol.CodeNotFound, protocol.CodeNotFound, 0},
		{"a chat id in the wrong order", "a", "chat_b~a", protocol.CodeNotFound, protocol.CodeNotFound, 0},
		{"users who never connected", "a", chat("a", "zz"), protocol.CodeNotFound, protocol.CodeNotFound, 0},
		{"someone else's chat", "a", chat("b", "c"), protocol.CodeForbidden, protocol.CodeForbidden, 0},
		{"a sender with no name", "f", chat("a", "f"), "", protocol.CodeVerificationRequired, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ChatPage(ctx, d, tt.me, tt.chat, "", 50, t0.Add(10*time.Minute))
			if code := codeOf(err); code != tt.page {
				t.Fatalf("ChatPage: %v, want %q", err, tt.page)
			}
			if tt.page == "" && len(p.Messages) != tt.wantPages {
				t.Fatalf("ChatPage listed %+v, want %d messages", p.Messages, tt.wantPages)
			}
			pairID, err := ChatToSend(ctx, d, tt.me, tt.chat)
			if code := codeOf(err); code != tt.send {
				t.Fatalf("ChatToSend: %v, want %q", err, tt.send)
			}
			if want, _ := storage.ChatPair(tt.chat); tt.send == "" && pairID != want {
				t.Fatalf("ChatToSend = %q, want %q", pairID, want)
			}
		})
	}

	// Legacy rendering and paging of a closed chat, newest first.
	p, err := ChatPage(ctx, d, "a", chat("a", "e"), "", 1, t0)
	if err != nil || len(p.Messages) != 1 || p.NextBefore == nil || *p.NextBefore != "msg_2" {
		t.Fatalf("first page = %+v, %v", p, err)
	}
	if m := p.Messages[0]; m.ID != "msg_2" || m.User.ID != "a" || m.User.Name != "User a" || m.Chat != chat("a", "e") || m.Content != "two" {
		t.Fatalf("legacy message = %+v", m)
	}
	p, err = ChatPage(ctx, d, "a", chat("a", "e"), *p.NextBefore, 1, t0)
	if err != nil || len(p.Messages) != 1 || p.Messages[0].ID != "msg_1" || p.NextBefore != nil {
		t.Fatalf("last page = %+v, %v", p, err)
	}
	// A message of another chat is no place to page from.
	if _, err := ChatPage(ctx, d, "a", chat("a", "b"), "msg_1", 10, t0); codeOf(err) != protocol.CodeInvalidPayload {
		t.Fatalf("before from another chat: %v", err)
	}
}

func codeOf(err error) protocol.Code {
	if err == nil {
		return ""
	}
	if pe, ok := protocol.AsError(err); ok {
		return pe.Code
	}
	return protocol.CodeInternal
}
