package pair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Read models of the chats REST for legacy clients. A chat is a pair's
// conversation under storage.ChatID; like the conversation read models
// they read the store, which the Pair grain writes before anyone hears of
// a change.

// Chats lists me's chats with an active connection, most recent activity
// first. A closed connection's chat is gone for legacy clients (they were
// sent chat-deleted), and a pair where either user blocked the other never
// shows, even in the instant before the block closed its connection.
func Chats(ctx context.Context, d Deps, me string, now time.Time) (*protocol.LegacyChatList, error) {
	pairs, err := pairsOf(ctx, d, me, now)
	if err != nil {
		return nil, err
	}
	blocked, err := blockedWith(ctx, d, me)
	if err != nil {
		return nil, err
	}
	convs, err := d.Store.Messages().Conversations(ctx, me, 0)
	if err != nil {
		return nil, fmt.Errorf("pair: conversations of %s: %w", me, err)
	}
	byPair := make(map[string]*storage.Conversation, len(convs))
	for i := range convs {
		byPair[convs[i].PairID] = &convs[i]
	}
	items := chatItems(pairs, byPair, blocked, me)
	profiles := user.NewProfiles(d.Store.Users(), now)
	out := &protocol.LegacyChatList{Chats: make([]protocol.LegacyChatSummary, 0, len(items))}
	for _, it := range items {
		c := protocol.LegacyChatSummary{
			ID:    storage.ChatID(it.pairID),
			Users: []protocol.ChatUser{protocol.ChatUserOf(profiles.Get(ctx, me)), protocol.ChatUserOf(profiles.Get(ctx, it.other))},
		}
		if it.conv != nil {
			last := LegacyMessage(&it.conv.Last, profiles.Get(ctx, it.conv.Last.SenderID), me)
			c.LastMessage, c.UnreadCount = &last, it.conv.Unread
		}
		out.Chats = append(out.Chats, c)
	}
	return out, nil
}

// chatItem is one listed chat before rendering.
type chatItem struct {
	pairID, other string
	conv          *storage.Conversation // nil: no message yet
	activity      time.Time
}

// chatItems picks the listed chats and orders them. Activity is the later
// of the last message and the active connection's acceptance: a pair that
// reconnects after an old conversation is fresh activity although its last
// message is not. Ties fall back to the chat id so the order is stable.
func chatItems(pairs []*State, convs map[string]*storage.Conversation, blocked map[string]bool, me string) []chatItem {
	var items []chatItem
	for _, s := range pairs {
		active := s.Active()
		other := s.Other(me)
		if active == nil || blocked[other] {
			continue
		}
		it := chatItem{pairID: s.ID, other: other, conv: convs[s.ID], activity: active.AcceptedAt}
		if it.conv != nil && it.conv.Last.CreatedAt.After(it.activity) {
			it.activity = it.conv.Last.CreatedAt
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].activity.Equal(items[j].activity) {
			return items[i].activity.After(items[j].activity)
		}
		return items[i].pairID < items[j].pairID
	})
	return items
}

// blockedWith is the set of users me blocked or was blocked by.
func blockedWith(ctx context.Context, d Deps, me string) (map[string]bool, error) {
	blocks, err := d.Store.Safety().BlockedBy(ctx, me)
	if err != nil {
		return nil, fmt.Errorf("pair: blocks of %s: %w", me, err)
	}
	blockers, err := d.Store.Safety().BlockersOf(ctx, me)
	if err != nil {
		return nil, fmt.Errorf("pair: blockers of %s: %w", me, err)
	}
	out := make(map[string]bool, len(blocks)+len(blockers))
	for _, b := range blocks {
		out[b.BlockedID] = true
	}
	for _, id := range blockers {
		out[id] = true
	}
	return out, nil
}

// ChatPage is one page of a chat's messages, newest first, paged exactly
// like ConversationPage. A closed chat's history stays readable to its two
// users; anyone else is refused (ResolveChat).
func ChatPage(ctx context.Context, d Deps, me, chat, before string, limit int, now time.Time) (*protocol.LegacyMessagePage, error) {
	p, err := ResolveChat(ctx, d, me, chat)
	if err != nil {
		return nil, err
	}
	page, next, err := messagePage(ctx, d, p.ID, before, limit)
	if err != nil {
		return nil, err
	}
	profiles := user.NewProfiles(d.Store.Users(), now)
	out := &protocol.LegacyMessagePage{Messages: make([]protocol.LegacyMessage, 0, len(page)), NextBefore: next}
	for i := range page {
		out.Messages = append(out.Messages, LegacyMessage(&page[i], profiles.Get(ctx, page[i].SenderID), me))
	}
	return out, nil
}

// ChatToSend resolves a chat me wants to send to and returns its pair id.
// Whether the connection is active is left to the Pair grain, the one
// place that decides it at the moment the message is stored.
func ChatToSend(ctx context.Context, d Deps, me, chat string) (string, error) {
	p, err := ResolveChat(ctx, d, me, chat)
	if err != nil {
		return "", err
	}
	if err := mayChat(ctx, d, me); err != nil {
		return "", err
	}
	return p.ID, nil
}

// mayChat refuses a user with no name yet, in both the legacy socket and
// the chats REST: legacy clients finish sign-up (the name) before they chat.
func mayChat(ctx context.Context, d Deps, userID string) error {
	u, err := d.Store.Users().Get(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainChat, "user not found")
	}
	if err != nil {
		return fmt.Errorf("pair: read user %s: %w", userID, err)
	}
	if u.Deleted() {
		return protocol.Errorf(protocol.CodeAccountDeleted, protocol.DomainAuth, "account deleted")
	}
	if u.Name == "" {
		return protocol.Errorf(protocol.CodeVerificationRequired, protocol.DomainChat, "set your name before you chat")
	}
	return nil
}

// PostedMessage renders the message a PostMessage reply acknowledged as
// the legacy dialect shows it, read back from the store where the grain
// put it before it answered.
func PostedMessage(ctx context.Context, d Deps, reply []byte, now time.Time) (*protocol.LegacyMessage, error) {
	var ack protocol.Message
	if err := json.Unmarshal(reply, &ack); err != nil || ack.MessageID == "" {
		return nil, fmt.Errorf("pair: message reply without a message id: %s", reply)
	}
	m, err := d.Store.Messages().Get(ctx, ack.MessageID)
	if err != nil {
		return nil, fmt.Errorf("pair: read posted message %s: %w", ack.MessageID, err)
	}
	// The reply answers the message's sender: it sees its key.
	v := LegacyMessage(m, user.Profile(ctx, d.Store.Users(), m.SenderID, now), m.SenderID)
	return &v, nil
}
