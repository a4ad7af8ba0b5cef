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

// LegacyMessage renders a stored message as the legacy dialect shows it to
// viewer: its clientMessageId only for its sender.
func LegacyMessage(m *storage.Message, sender protocol.User, viewer string) protocol.LegacyMessage {
	v := protocol.LegacyMessage{
		ID: m.ID, User: protocol.ChatUserOf(sender), Chat: storage.ChatID(m.PairID),
		Content: m.Content, At: protocol.FormatTime(m.CreatedAt),
	}
	if viewer == m.SenderID {
		v.ClientMessageID = m.ClientMessageID
	}
	return v
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

// legacyFrame is one legacy event, encoded.
func legacyFrame(event string, data any) []byte {
	b, err := protocol.EncodeLegacyFrame(event, data)
	if err != nil {
		// Our own structs always encode; dropping the event beats a panic.
		return nil
	}
	return b
}

// removedReasons are the closure reasons that take a participant out of
// the chat (chat-participant-removed), beyond closing it.
var removedReasons = map[string]bool{"blocked": true, "account_deleted": true, "account_terminated": true}

// LegacyEvents renders what one pair event means to viewer's legacy
// sockets, in the order they are sent; nil when the legacy dialect has no
// such event (rejections, cancellations and misses are `/ws`-only).
// profile renders a user.
func LegacyEvents(ev Event, viewer string, profile func(id string) protocol.User) [][]byte {
	switch ev.Type {
	case protocol.TypeRequestSend:
		if viewer != ev.Request.ToUserID {
			return nil
		}
		return [][]byte{legacyFrame(protocol.EventConnectionRequest, protocol.LegacyConnectionEvent{Connection: *legacyShort(ev.Request)})}
	case protocol.TypeRequestAccept:
		if ev.Connection == nil {
			return nil
		}
		chat := protocol.LegacyChat{Chat: chatOf(ev.Request.FromUserID, ev.Request.ToUserID)}
		out := [][]byte{legacyFrame(protocol.EventChatCreated, chat)}
		if viewer == ev.Request.ToUserID {
			admin := protocol.ChatUserOf(profile(ev.Request.FromUserID))
			return append(out, legacyFrame(protocol.EventChatJoined, protocol.LegacyChatJoined{Chat: chat.Chat, Admin: &admin}))
		}
		return append(out, legacyFrame(protocol.EventConnectionAccepted, protocol.LegacyConnectionEvent{Connection: *legacyShort(ev.Request)}))
	case protocol.TypeConnClose:
		c := ev.Connection
		chat := chatOf(c.SenderID, c.ReceiverID)
		by := deref(c.ClosedByUserID)
		var out [][]byte
		if reason := deref(c.ClosureReason); removedReasons[reason] {
			// A block takes each out of the other's world; a deleted or
			// terminated account leaves its partner alone in the chat.
			if other := otherOf(c, viewer); reason == "blocked" || other == by {
				out = append(out, legacyFrame(protocol.EventChatParticipantRemoved, protocol.LegacyChatUser{Chat: chat, User: other}))
			}
		}
		return append(out, legacyFrame(protocol.EventChatDeleted, protocol.LegacyChatUser{Chat: chat, User: by}))
	}
	return nil
}

func chatOf(a, b string) string { return storage.ChatID(storage.PairID(a, b)) }

func otherOf(c *storage.Connection, u string) string {
	if u == c.SenderID {
		return c.ReceiverID
	}
	return c.SenderID
}
