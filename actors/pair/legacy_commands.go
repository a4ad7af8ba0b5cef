package pair

import (
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// LegacyHandlers are the events a legacy `/socket` client emits (spec
// 001), served by the same Pair grain operations as their `/ws`
// counterparts: typing is chat.typing, messages-read is chat.message.read
// of the chat's newest incoming message. Success answers nothing (the
// dialect has no acknowledgements); a failure is a legacy error event.
func LegacyHandlers(d Deps) map[string]session.Handler {
	return map[string]session.Handler{
		protocol.EventTypingStarted: func(c *session.Context) error { return legacyTyping(c, d, true) },
		protocol.EventTypingStopped: func(c *session.Context) error { return legacyTyping(c, d, false) },
		protocol.EventMessagesRead:  func(c *session.Context) error { return legacyRead(c, d) },
	}
}

// legacyChat decodes `{chat}` and resolves it to a pair the user is in,
// after checking the user may chat at all.
func legacyChat(c *session.Context, d Deps) (*storage.Pair, error) {
	var p protocol.LegacyChat
	if err := c.Decode(&p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := verified(c, d); err != nil {
		return nil, err
	}
	return ResolveChat(c.Ctx, d, c.UserID, p.Chat)
}

// verified refuses a user with no name yet: legacy clients finish sign-up
// (the name) before they chat.
func verified(c *session.Context, d Deps) error {
	u, err := d.Store.Users().Get(c.Ctx, c.UserID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainChat, "user not found")
	}
	if err != nil {
		return fmt.Errorf("pair: read user %s: %w", c.UserID, err)
	}
	if u.Name == "" {
		return protocol.Errorf(protocol.CodeVerificationRequired, protocol.DomainChat, "set your name before you chat")
	}
	return nil
}

func legacyTyping(c *session.Context, d Deps, typing bool) error {
	p, err := legacyChat(c, d)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(protocol.ChatRelayed{RecipientID: (&State{Pair: *p}).Other(c.UserID), IsTyping: &typing})
	if err != nil {
		return err
	}
	return legacyCall(c, p.ID, &grainpb.RelayToPartner{ActorId: c.UserID, RelayType: protocol.TypeChatTyping, RelayJson: raw, OriginSessionId: c.SessionID})
}

func legacyRead(c *session.Context, d Deps) error {
	p, err := legacyChat(c, d)
	if err != nil {
		return err
	}
	return legacyCall(c, p.ID, &grainpb.MarkRead{ActorId: c.UserID, All: true, OriginSessionId: c.SessionID})
}

// legacyCall runs a Pair grain operation; only its failure is answered.
func legacyCall(c *session.Context, pairID string, msg proto.Message) error {
	session.CallAsync(c, cluster.KindPair, pairID, msg, func(rep *grainpb.PairReply) error {
		return rep.Failure.Err()
	})
	return nil
}
