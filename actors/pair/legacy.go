package pair

import (
	"context"
	"errors"
	"fmt"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// The legacy dialect's chats are the pairs' conversations under another
// name (storage.ChatID); these are the renderings and the one check that
// both its socket events and its chats REST use.

// LegacyMessage renders a stored message as the legacy dialect shows it.
func LegacyMessage(m *storage.Message, sender protocol.User) protocol.LegacyMessage {
	return protocol.LegacyMessage{
		ID: m.ID, User: protocol.ChatUserOf(sender), Chat: storage.ChatID(m.PairID),
		Content: m.Content, At: protocol.FormatTime(m.CreatedAt),
	}
}

// LegacyMessageRef renders a stored message with its sender as a bare id.
func LegacyMessageRef(m *storage.Message) *protocol.LegacyMessageRef {
	return &protocol.LegacyMessageRef{
		ID: m.ID, User: m.SenderID, Chat: storage.ChatID(m.PairID),
		Content: m.Content, At: protocol.FormatTime(m.CreatedAt),
	}
}

// ErrChatNotFound answers a chat id that names no conversation.
var ErrChatNotFound = protocol.Errorf(protocol.CodeNotFound, protocol.DomainChat, "chat not found")

// errNotYourChat answers a chat of two other users.
var errNotYourChat = protocol.Errorf(protocol.CodeForbidden, protocol.DomainChat, "you are not in this chat")

// ResolveChat reads the pair behind a chat id as me may see it: a chat
// that never had a connection is not found, and someone else's chat is
// forbidden. Whether it is still active is the caller's rule (history
// stays readable, sending needs an active connection).
func ResolveChat(ctx context.Context, d Deps, me, chat string) (*storage.Pair, error) {
	pairID, ok := storage.ChatPair(chat)
	if !ok {
		return nil, ErrChatNotFound
	}
	p, err := d.Store.Pairs().Get(ctx, pairID)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, ErrChatNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pair: read chat %s: %w", pairID, err)
	}
	if len(p.Connections) == 0 {
		// Requests alone make no chat.
		return nil, ErrChatNotFound
	}
	if p.UserA != me && p.UserB != me {
		return nil, errNotYourChat
	}
	return p, nil
}
