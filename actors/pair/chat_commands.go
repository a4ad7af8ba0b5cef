package pair

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Chat history limits: how much chat.history.fetch and bootstrap carry.
// Every conversation's last message is in the conversations map anyway, so
// the flat list only needs to fill the chats a user is likely to open first;
// older messages are paged over REST. 20 × 20 keeps a reconnect's bootstrap
// to a few hundred messages however many conversations a user has.
const (
	historyConversations = 20
	historyPerConv       = 20
	// ReplayLimit caps the messages replayed after session.start (SPEC-NOTES).
	ReplayLimit = 1000
)

// ChatHandlers are the chat socket commands, served by Pair grains.
func ChatHandlers(d Deps) map[string]session.Handler {
	relay := func(c *session.Context) error { return chatRelay(c) }
	return map[string]session.Handler{
		protocol.TypeChatMessage:      chatSend,
		protocol.TypeChatRead:         func(c *session.Context) error { return chatRead(c, d) },
		protocol.TypeChatTyping:       relay,
		protocol.TypeChatShareStart:   relay,
		protocol.TypeChatShareUpdated: relay,
		protocol.TypeChatShareStop:    relay,
		protocol.TypeChatHistory: func(c *session.Context) error {
			h, err := LoadChat(c.Ctx, d, c.UserID, c.Now)
			if err != nil {
				return err
			}
			return c.Reply(protocol.TypeChatHistory, h)
		},
	}
}

func chatSend(c *session.Context) error {
	var p protocol.ChatSend
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if p.RecipientID == c.UserID {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainChat, "you cannot message yourself")
	}
	// Asynchronous: the Pair grain answers once the message is stored, and
	// the socket's next messages must not wait behind that fsync.
	return call(c, storage.PairID(c.UserID, p.RecipientID), &grainpb.PostMessage{ActorId: c.UserID, Content: p.Content, OriginSessionId: c.SessionID, ClientMessageId: p.ClientID()})
}

func chatRead(c *session.Context, d Deps) error {
	var p protocol.ChatRead
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.MessageID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainChat, "messageId is required")
	}
	// An id we could not have issued names nothing; the store never sees it.
	if !protocol.ValidID(p.MessageID) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainChat, "message not found")
	}
	m, err := d.Store.Messages().Get(c.Ctx, p.MessageID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainChat, "message not found")
	}
	if err != nil {
		return err
	}
	if m.SenderID != c.UserID && m.RecipientID != c.UserID {
		return protocol.Errorf(protocol.CodeForbidden, protocol.DomainChat, "not your conversation")
	}
	return call(c, m.PairID, &grainpb.MarkRead{ActorId: c.UserID, MessageId: m.ID, OriginSessionId: c.SessionID})
}

func chatRelay(c *session.Context) error {
	var p protocol.ChatRelay
	if err := c.Decode(&p); err != nil {
		if err.Code == protocol.CodeInvalidPayload && (c.Frame.Type == protocol.TypeChatShareStart || c.Frame.Type == protocol.TypeChatShareUpdated) {
			err.Code = protocol.CodeInvalidLocation
		}
		return err
	}
	fields, perr := p.ValidateRelay(c.Frame.Type)
	if perr != nil {
		return perr
	}
	if p.RecipientID == c.UserID {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainChat, "you cannot relay to yourself")
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	return call(c, storage.PairID(c.UserID, p.RecipientID), &grainpb.RelayToPartner{ActorId: c.UserID, RelayType: c.Frame.Type, RelayJson: raw, OriginSessionId: c.SessionID})
}

// fillChat puts messages, conversations and the unread counts into the
// bootstrap.
func fillChat(b *protocol.Bootstrap, h *protocol.ChatHistory) error {
	raw, err := json.Marshal(h.Messages)
	if err != nil {
		return err
	}
	b.Messages = raw
	for k, v := range h.Conversations {
		lm, err := json.Marshal(v.LastMessage)
		if err != nil {
			return err
		}
		b.Conversations[k] = protocol.Conversation{LastMessage: lm, UnreadCount: v.UnreadCount}
	}
	b.UnreadMessageCount = h.UnreadMessageCount
	b.TotalUnreadMessageCount = h.TotalUnreadMessageCount
	return nil
}

// Replay sends, after bootstrap, every message to the user created after
// lastSeenAt, oldest first, at most ReplayLimit.
func Replay(d Deps) func(c *session.Context, since time.Time) error {
	return func(c *session.Context, since time.Time) error {
		msgs, err := d.Store.Messages().Since(c.Ctx, c.UserID, since, ReplayLimit)
		if err != nil {
			return err
		}
		profiles := user.NewProfiles(d.Store.Users(), c.Now)
		for i := range msgs {
			m := &msgs[i]
			c.Event(protocol.TypeChatMessage, MessageView(m, profiles.Get(c.Ctx, m.SenderID), profiles.Get(c.Ctx, m.RecipientID), c.UserID))
		}
		return nil
	}
}
