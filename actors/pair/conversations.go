package pair

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Read models of conversations. The Pair grain is the only writer of its
// conversation and stores a message before anyone hears of it, so reading
// the store shows every acknowledged message.

// LoadChat reads a user's conversations (exact unread counts, kept
// incrementally by the store) and the latest messages of the most recent
// ones, oldest first.
func LoadChat(ctx context.Context, d Deps, userID string, now time.Time) (*protocol.ChatHistory, error) {
	return loadChat(ctx, d, userID, user.NewProfiles(d.Store.Users(), now), true)
}

// LoadConversations is LoadChat without the messages (GET /conversations).
func LoadConversations(ctx context.Context, d Deps, userID string, now time.Time) (*protocol.ConversationList, error) {
	h, err := loadChat(ctx, d, userID, user.NewProfiles(d.Store.Users(), now), false)
	if err != nil {
		return nil, err
	}
	return &protocol.ConversationList{Conversations: h.Conversations, UnreadMessageCount: h.UnreadMessageCount, TotalUnreadMessageCount: h.TotalUnreadMessageCount}, nil
}

func loadChat(ctx context.Context, d Deps, userID string, profiles *user.Profiles, withMessages bool) (*protocol.ChatHistory, error) {
	convs, err := d.Store.Messages().Conversations(ctx, userID, 0)
	if err != nil {
		return nil, fmt.Errorf("pair: conversations of %s: %w", userID, err)
	}
	out := &protocol.ChatHistory{Messages: []protocol.Message{}, Conversations: map[string]protocol.ConversationSummary{}, UnreadMessageCount: map[string]int{}}
	view := func(m *storage.Message) protocol.Message {
		return MessageView(m, profiles.Get(ctx, m.SenderID), profiles.Get(ctx, m.RecipientID), userID)
	}
	for i, cv := range convs {
		out.Conversations[cv.OtherUserID] = protocol.ConversationSummary{LastMessage: view(&cv.Last), UnreadCount: cv.Unread}
		out.UnreadMessageCount[cv.OtherUserID] = cv.Unread
		out.TotalUnreadMessageCount += cv.Unread
		if withMessages && i < historyConversations {
			page, err := d.Store.Messages().Page(ctx, cv.PairID, 0, historyPerConv)
			if err != nil {
				return nil, fmt.Errorf("pair: messages of %s: %w", cv.PairID, err)
			}
			for j := range page {
				out.Messages = append(out.Messages, view(&page[j]))
			}
		}
	}
	sort.SliceStable(out.Messages, func(i, j int) bool { return out.Messages[i].CreatedAt < out.Messages[j].CreatedAt })
	return out, nil
}

// ConversationPage is one page of the conversation of me and other, newest
// first, before the message with id before ("" for the newest). Following
// NextBefore until it is null lists the whole conversation exactly once.
// History of a closed connection stays readable; a stranger's conversation
// reads as empty.
func ConversationPage(ctx context.Context, d Deps, me, other, before string, limit int, now time.Time) (*protocol.MessagePage, error) {
	page, next, err := messagePage(ctx, d, storage.PairID(me, other), before, limit)
	if err != nil {
		return nil, err
	}
	profiles := user.NewProfiles(d.Store.Users(), now)
	out := &protocol.MessagePage{Messages: make([]protocol.Message, 0, len(page)), NextBefore: next}
	for i := range page {
		out.Messages = append(out.Messages, MessageView(&page[i], profiles.Get(ctx, page[i].SenderID), profiles.Get(ctx, page[i].RecipientID), me))
	}
	return out, nil
}

// messagePage is the paging both conversation REST and chats REST serve:
// the stored messages of a pair, newest first, before the message with id
// before, and the id to page on from (nil on the last page).
func messagePage(ctx context.Context, d Deps, pairID, before string, limit int) ([]storage.Message, *string, error) {
	var seq uint64
	if before != "" {
		m, err := d.Store.Messages().Get(ctx, before)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && m.PairID != pairID) {
			return nil, nil, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainChat, "before is not a message of this conversation")
		}
		if err != nil {
			return nil, nil, fmt.Errorf("pair: read message %s: %w", before, err)
		}
		seq = m.Seq
	}
	page, err := d.Store.Messages().Page(ctx, pairID, seq, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("pair: messages of %s: %w", pairID, err)
	}
	var next *string
	if len(page) == limit && page[len(page)-1].Seq > 1 {
		id := page[len(page)-1].ID
		next = &id
	}
	return page, next, nil
}
