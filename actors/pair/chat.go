package pair

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Notifier sends a push notification to a user with no open socket.
type Notifier func(userID, kind, title, body string, data map[string]string)

// chatGuard checks that actor may talk to the other user: both exist and
// an active connection joins them.
func (g *grain) chatGuard(actor string) *protocol.Error {
	if !g.state.Has(actor) {
		return &protocol.Error{Code: protocol.CodeForbidden, Domain: protocol.DomainChat, Message: "not your conversation"}
	}
	u, err := g.deps.Store.Users().Get(context.Background(), g.state.Other(actor))
	if err != nil || u.Deleted() {
		return &protocol.Error{Code: protocol.CodeUserNotFound, Domain: protocol.DomainChat, Message: "user not found"}
	}
	if g.state.Active() == nil {
		return &protocol.Error{Code: protocol.CodeActiveConnectionRequired, Domain: protocol.DomainChat, Message: "chatting needs an active connection"}
	}
	return nil
}

// nextSeq numbers the conversation's messages; the grain is the only writer.
func (g *grain) nextSeq() (uint64, error) {
	if g.lastSeq == 0 {
		n, err := g.deps.Store.Messages().LastSeq(context.Background(), g.state.ID)
		if err != nil {
			return 0, err
		}
		g.lastSeq = n
	}
	return g.lastSeq + 1, nil
}

// message stores a chat message durably, then delivers it to both users.
func (g *grain) message(ctx actor.Context, m *grainpb.PairCommand) *grainpb.PairReply {
	if perr := g.chatGuard(m.ActorId); perr != nil {
		return failReply(perr)
	}
	now := g.deps.Clock.Now()
	seq, err := g.nextSeq()
	if err != nil {
		return internal(err)
	}
	msg := &storage.Message{
		ID: "msg_" + lowerULID(), PairID: g.state.ID, Seq: seq,
		SenderID: m.ActorId, RecipientID: g.state.Other(m.ActorId),
		Content: m.Content, CreatedAt: now,
	}
	if err := g.deps.Store.Messages().Append(context.Background(), msg); err != nil {
		g.lastSeq = 0 // re-read on the next message
		g.deps.Logger.Error("pair grain: store message", "pair", g.state.ID, "err", err)
		return internal(err)
	}
	g.lastSeq = seq
	view := g.messageView(msg, now)
	g.deliverTo(ctx, msg.RecipientID, protocol.TypeChatMessage, view, "")
	g.deliverTo(ctx, msg.SenderID, protocol.TypeChatMessage, view, m.OriginSessionId)
	if g.deps.Notify != nil && (g.deps.Online == nil || !g.deps.Online(msg.RecipientID)) {
		g.deps.Notify(msg.RecipientID, "message", view.Sender.Name, preview(msg.Content), map[string]string{"messageId": msg.ID, "senderId": msg.SenderID})
	}
	b, _ := json.Marshal(view)
	return &grainpb.PairReply{PayloadJson: b}
}

func preview(s string) string {
	r := []rune(s)
	if len(r) > 120 {
		return string(r[:120]) + "…"
	}
	return s
}

func failReply(e *protocol.Error) *grainpb.PairReply {
	return &grainpb.PairReply{Failure: &grainpb.Failure{Code: string(e.Code), Message: e.Message, Domain: e.Domain}}
}

// MessageView renders a stored message.
func MessageView(m *storage.Message, sender, recipient protocol.User) protocol.Message {
	return protocol.Message{
		MessageID: m.ID, SenderID: m.SenderID, RecipientID: m.RecipientID,
		Sender: sender, Recipient: recipient, Content: m.Content,
		CreatedAt: protocol.FormatTime(m.CreatedAt), ReadAt: fmtPtr(m.ReadAt),
	}
}

func (g *grain) messageView(m *storage.Message, now time.Time) protocol.Message {
	return MessageView(m, g.profile(m.SenderID, now), g.profile(m.RecipientID, now))
}

// read marks a message and every earlier one to the reader as read, and
// tells the sender.
func (g *grain) read(ctx actor.Context, m *grainpb.PairCommand) *grainpb.PairReply {
	if !g.state.Has(m.ActorId) {
		return failReply(&protocol.Error{Code: protocol.CodeForbidden, Domain: protocol.DomainChat, Message: "not your conversation"})
	}
	c := context.Background()
	msg, err := g.deps.Store.Messages().Get(c, m.MessageId)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && msg.PairID != g.state.ID) {
		return failReply(&protocol.Error{Code: protocol.CodeNotFound, Domain: protocol.DomainChat, Message: "message not found"})
	}
	if err != nil {
		return internal(err)
	}
	now := g.deps.Clock.Now()
	n, err := g.deps.Store.Messages().MarkRead(c, g.state.ID, m.ActorId, msg.Seq, now)
	if err != nil {
		return internal(err)
	}
	readAt := protocol.FormatTime(now)
	if n == 0 {
		if fresh, err := g.deps.Store.Messages().Get(c, msg.ID); err == nil && fresh.ReadAt != nil {
			readAt = protocol.FormatTime(*fresh.ReadAt)
		}
	}
	payload := map[string]any{"messageId": msg.ID, "senderId": msg.SenderID, "recipientId": msg.RecipientID, "readAt": readAt}
	if n > 0 {
		g.deliverTo(ctx, g.state.Other(m.ActorId), protocol.TypeChatRead, payload, "")
		g.deliverTo(ctx, m.ActorId, protocol.TypeChatRead, payload, m.OriginSessionId)
	}
	b, _ := json.Marshal(payload)
	return &grainpb.PairReply{PayloadJson: b}
}

// relay forwards typing and live-location frames; nothing is stored.
func (g *grain) relay(ctx actor.Context, m *grainpb.PairCommand) *grainpb.PairReply {
	if perr := g.chatGuard(m.ActorId); perr != nil {
		return failReply(perr)
	}
	var fields map[string]any
	if err := json.Unmarshal(m.RelayJson, &fields); err != nil || fields == nil {
		return internal(err)
	}
	fields["fromUserId"] = m.ActorId
	fields["recipientId"] = g.state.Other(m.ActorId)
	g.deliverTo(ctx, g.state.Other(m.ActorId), m.RelayType, fields, "")
	fields["status"] = "sent"
	b, _ := json.Marshal(fields)
	return &grainpb.PairReply{PayloadJson: b}
}
