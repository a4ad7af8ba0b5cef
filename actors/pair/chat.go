package pair

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/ids"
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

// queued is a message numbered and waiting for its commit, with who to ack.
type queued struct {
	msg     *storage.Message
	replyTo *actor.PID
	origin  string
}

// appendDone reports a batch commit back to the grain.
type appendDone struct {
	batch []queued
	epoch uint64
	err   error
}

// flushQueue is what a grain sends itself after queueing a message: it is
// handled once the messages already in the mailbox are, so the messages
// that arrived together go to the store as one batch.
type flushQueue struct{}

// maxInFlight bounds the batches a grain has handed the store and not yet
// heard back about. A grain does not wait for one batch's answer before
// handing over the next: a message that arrives while a commit runs must be
// queued for the next commit when it starts, and the answer comes too late
// for that (the writer starts the next commit as soon as it has answered).
// The store commits a pair's batches in order and refuses one queued behind
// a failed one, so this never commits out of order or after a gap.
const maxInFlight = 4

// queueMessage numbers a message and queues it for the store. The grain does
// not wait for the fsync: it keeps taking messages and handing them over.
// The sender is acked, and both users told, only once the message is stored.
func (g *grain) queueMessage(ctx actor.Context, m *grainpb.PostMessage) {
	if !g.ready(ctx) {
		ctx.Respond(unavailable())
		return
	}
	if perr := g.chatGuard(m.ActorId); perr != nil {
		ctx.Respond(failReply(perr))
		return
	}
	seq, err := g.nextSeq()
	if err != nil {
		ctx.Respond(internal(err))
		return
	}
	g.lastSeq = seq
	msg := &storage.Message{
		ID: ids.New("msg"), PairID: g.state.ID, Seq: seq,
		SenderID: m.ActorId, RecipientID: g.state.Other(m.ActorId),
		Content: m.Content, CreatedAt: g.deps.Clock.Now(),
	}
	g.queue = append(g.queue, queued{msg: msg, replyTo: ctx.Sender(), origin: m.OriginSessionId})
	if !g.flushing {
		g.flushing = true
		ctx.Send(ctx.Self(), flushQueue{})
	}
}

// flushQueued hands the queue over unless too many batches are in flight;
// then the next answer does.
func (g *grain) flushQueued(ctx actor.Context) {
	g.flushing = false
	if len(g.queue) > 0 && g.inFlight < maxInFlight {
		g.flush(ctx)
	}
}

// flush hands the queue to the store as one batch. The store answers on its
// writer goroutine, which only posts the answer back to the grain.
func (g *grain) flush(ctx actor.Context) {
	batch := g.queue
	g.queue = nil
	g.inFlight++
	msgs := make([]*storage.Message, len(batch))
	for i := range batch {
		msgs[i] = batch[i].msg
	}
	self, sys, epoch := ctx.Self(), ctx.ActorSystem(), g.epoch
	g.deps.Store.Messages().AppendAsync(msgs, func(err error) {
		sys.Root.Send(self, appendDone{batch: batch, epoch: epoch, err: err})
	})
}

// appended acks and delivers a committed batch, in order.
func (g *grain) appended(ctx actor.Context, d appendDone) {
	g.inFlight--
	if d.err != nil {
		failed := d.batch
		if d.epoch == g.epoch {
			g.deps.Logger.Error("pair grain: store messages", "pair", g.state.ID, "n", len(d.batch), "err", d.err)
			// Nothing of the batch is stored, nor will be of the batches
			// behind it (they fail too, their answers are stale). Everything
			// queued was numbered after it: fail it too and renumber from
			// the store.
			failed = append(failed, g.queue...)
			g.queue, g.lastSeq = nil, 0
			g.epoch++
		}
		for _, q := range failed {
			if q.replyTo != nil {
				ctx.Send(q.replyTo, internal(d.err))
			}
		}
		g.stopWhenIdle(ctx)
		return
	}
	now := g.deps.Clock.Now()
	c := context.Background()
	profiles := user.NewProfiles(g.deps.Store.Users(), now)
	for _, q := range d.batch {
		sender := profiles.Get(c, q.msg.SenderID)
		view := MessageView(q.msg, sender, profiles.Get(c, q.msg.RecipientID))
		payload, _ := json.Marshal(view)
		// One encoding for both users: the Message model is the same for
		// each. The legacy dialect names the event by direction, with the
		// same message.
		frame := protocol.EncodeRawFrame(protocol.TypeChatMessage, payload, now, "", "")
		legacy, _ := json.Marshal(protocol.LegacyMessageEvent{Message: LegacyMessage(q.msg, sender)})
		cluster.SendIn(ctx, cluster.KindUser, q.msg.RecipientID, &grainpb.Deliver{
			WsFrame: frame, LegacyFrame: protocol.EncodeLegacyRawFrame(protocol.EventMessagesReceived, legacy), Type: protocol.TypeChatMessage,
		})
		cluster.SendIn(ctx, cluster.KindUser, q.msg.SenderID, &grainpb.Deliver{
			WsFrame: frame, LegacyFrame: protocol.EncodeLegacyRawFrame(protocol.EventMessagesSent, legacy), Type: protocol.TypeChatMessage, ExceptSessionId: q.origin,
		})
		if q.replyTo != nil {
			ctx.Send(q.replyTo, &grainpb.PairReply{PayloadJson: payload})
		}
		if g.deps.Notify != nil && (g.deps.Online == nil || !g.deps.Online(q.msg.RecipientID)) {
			g.deps.Notify(q.msg.RecipientID, "message", view.Sender.Name, preview(q.msg.Content), map[string]string{"messageId": q.msg.ID, "senderId": q.msg.SenderID})
		}
	}
	g.scoreMessages(ctx, d.batch)
	if g.stale {
		g.stopWhenIdle(ctx)
		return
	}
	if !g.flushing {
		g.flushQueued(ctx)
	}
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
		CreatedAt: protocol.FormatTime(m.CreatedAt), ReadAt: protocol.FormatTimePtr(m.ReadAt),
	}
}

// read marks a message and every earlier one to the reader as read, and
// tells the sender. Only a message's recipient reads it: its sender naming
// it changes nothing and is answered the message as stored (readAt null
// until the recipient reads it), never a time that was not stored.
func (g *grain) read(ctx actor.Context, m *grainpb.MarkRead) *grainpb.PairReply {
	if !g.ready(ctx) {
		return unavailable()
	}
	if !g.state.Has(m.ActorId) {
		return failReply(&protocol.Error{Code: protocol.CodeForbidden, Domain: protocol.DomainChat, Message: "not your conversation"})
	}
	c := context.Background()
	if m.All {
		last, err := g.lastIncoming(c, m.ActorId)
		if err != nil {
			return internal(err)
		}
		if last == nil {
			// Nothing was ever sent to the reader: nothing to mark.
			return &grainpb.PairReply{}
		}
		m.MessageId = last.ID
	}
	msg, err := g.deps.Store.Messages().Get(c, m.MessageId)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && msg.PairID != g.state.ID) {
		return failReply(&protocol.Error{Code: protocol.CodeNotFound, Domain: protocol.DomainChat, Message: "message not found"})
	}
	if err != nil {
		return internal(err)
	}
	receipt := protocol.ChatReadReceipt{MessageID: msg.ID, ReadAt: protocol.FormatTimePtr(msg.ReadAt), RecipientID: msg.RecipientID, SenderID: msg.SenderID}
	if msg.RecipientID != m.ActorId {
		return encoded(receipt)
	}
	now := g.deps.Clock.Now()
	n, err := g.deps.Store.Messages().MarkRead(c, g.state.ID, m.ActorId, msg.Seq, now)
	if err != nil {
		return internal(err)
	}
	if n > 0 || receipt.ReadAt == nil {
		// Marked now, or by a read that crossed this one: the store has it.
		if fresh, err := g.deps.Store.Messages().Get(c, msg.ID); err == nil {
			receipt.ReadAt = protocol.FormatTimePtr(fresh.ReadAt)
		}
	}
	if n > 0 {
		// The sender's legacy sockets hear that its messages were read, up
		// to which one.
		lastReadAt := protocol.FormatTime(now)
		if receipt.ReadAt != nil {
			lastReadAt = *receipt.ReadAt
		}
		read := legacyFrame(protocol.EventMessagesRead, protocol.LegacyRead{
			User: protocol.ChatUserOf(g.profile(m.ActorId, now)), Chat: storage.ChatID(g.state.ID),
			LastReadAt: lastReadAt, LastMessage: LegacyMessageRef(msg),
		})
		g.deliverTo(ctx, g.state.Other(m.ActorId), protocol.TypeChatRead, receipt, "", read)
		g.deliverTo(ctx, m.ActorId, protocol.TypeChatRead, receipt, m.OriginSessionId)
	}
	return encoded(receipt)
}

// lastIncoming is the newest message of the conversation sent to reader,
// nil when there is none.
func (g *grain) lastIncoming(c context.Context, reader string) (*storage.Message, error) {
	const page = 100
	var before uint64
	for {
		msgs, err := g.deps.Store.Messages().Page(c, g.state.ID, before, page)
		if err != nil {
			return nil, fmt.Errorf("pair grain: last incoming message: %w", err)
		}
		for i := range msgs {
			if msgs[i].RecipientID == reader {
				return &msgs[i], nil
			}
		}
		if len(msgs) < page {
			return nil, nil
		}
		before = msgs[len(msgs)-1].Seq
	}
}

// relay forwards typing and live-location frames; nothing is stored.
func (g *grain) relay(ctx actor.Context, m *grainpb.RelayToPartner) *grainpb.PairReply {
	if !g.ready(ctx) {
		return unavailable()
	}
	if perr := g.chatGuard(m.ActorId); perr != nil {
		return failReply(perr)
	}
	var fields protocol.ChatRelayed
	if err := json.Unmarshal(m.RelayJson, &fields); err != nil {
		return internal(fmt.Errorf("pair grain: relay payload: %w", err))
	}
	fields.FromUserID = m.ActorId
	fields.RecipientID = g.state.Other(m.ActorId)
	var legacy [][]byte
	if m.RelayType == protocol.TypeChatTyping && fields.IsTyping != nil {
		event := protocol.EventTypingStopped
		if *fields.IsTyping {
			event = protocol.EventTypingStarted
		}
		legacy = append(legacy, legacyFrame(event, protocol.LegacyTyping{
			User: protocol.ChatUserOf(g.profile(m.ActorId, g.deps.Clock.Now())), Chat: storage.ChatID(g.state.ID),
		}))
	}
	g.deliverTo(ctx, fields.RecipientID, m.RelayType, fields, "", legacy...)
	fields.Status = "sent"
	return encoded(fields)
}

// encoded answers with v as the payload.
func encoded(v any) *grainpb.PairReply {
	b, err := json.Marshal(v)
	if err != nil {
		return internal(err)
	}
	return &grainpb.PairReply{PayloadJson: b}
}
