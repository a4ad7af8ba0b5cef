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
	keyed   *keyedSend // nil when sent without a clientMessageId
}

// sendKey names a keyed send: the key is its sender's, within the pair.
type sendKey struct{ sender, clientID string }

// keyedSend is a message sent with a clientMessageId, numbered and not yet
// answered by the store. A resend that arrives meanwhile is not numbered:
// it waits here for the first one's answer.
type keyedSend struct {
	key     sendKey
	content string
	waiters []*actor.PID
}

// errKeyReused answers a clientMessageId reused for other content.
var errKeyReused = &protocol.Error{Code: protocol.CodeClientMessageIDConflict, Domain: protocol.DomainChat,
	Message: "clientMessageId was already used for another message in this conversation"}

// repeat answers a resend of a keyed message and reports whether m was
// one. While the first send is being stored the resend waits for its
// answer; once it is stored, the store finds it, after a restart too. A
// resend delivers, pushes and counts nothing: only the first send did.
// It is checked before the chat guard: a message already stored is
// answered as it is even if the connection closed since.
func (g *grain) repeat(ctx actor.Context, m *grainpb.PostMessage) bool {
	key := sendKey{m.ActorId, m.ClientMessageId}
	if p := g.keyed[key]; p != nil {
		if p.content != m.Content {
			ctx.Respond(failReply(errKeyReused))
		} else if ctx.Sender() != nil {
			p.waiters = append(p.waiters, ctx.Sender())
		}
		return true
	}
	now := g.deps.Clock.Now()
	c := context.Background()
	orig, err := g.deps.Store.Messages().ByClientMessageID(c, g.state.ID, m.ActorId, m.ClientMessageId, now.Add(-storage.ClientMessageIDWindow))
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return false
	case err != nil:
		g.deps.Logger.Error("pair grain: find client message id", "pair", g.state.ID, "err", err)
		ctx.Respond(internal(err))
	case orig.Content != m.Content:
		ctx.Respond(failReply(errKeyReused))
	default:
		profiles := user.NewProfiles(g.deps.Store.Users(), now)
		ctx.Respond(encoded(MessageView(orig, profiles.Get(c, orig.SenderID), profiles.Get(c, orig.RecipientID), orig.SenderID)))
	}
	return true
}

// settle forgets a keyed send the store answered: from now on the store
// (or nothing, if it failed) answers its resends.
func (g *grain) settle(q queued) {
	if q.keyed != nil && g.keyed[q.keyed.key] == q.keyed {
		delete(g.keyed, q.keyed.key)
	}
}

// answerQueued sends one reply to the sender of a queued message and to
// every resend that waited for it.
func answerQueued(ctx actor.Context, q queued, rep *grainpb.PairReply) {
	if q.replyTo != nil {
		ctx.Send(q.replyTo, rep)
	}
	if q.keyed != nil {
		for _, w := range q.keyed.waiters {
			ctx.Send(w, rep)
		}
	}
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
	if m.ClientMessageId != "" && g.repeat(ctx, m) {
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
		Content: m.Content, CreatedAt: g.deps.Clock.Now(), ClientMessageID: m.ClientMessageId,
	}
	q := queued{msg: msg, replyTo: ctx.Sender(), origin: m.OriginSessionId}
	if m.ClientMessageId != "" {
		q.keyed = &keyedSend{key: sendKey{m.ActorId, m.ClientMessageId}, content: m.Content}
		if g.keyed == nil {
			g.keyed = map[sendKey]*keyedSend{}
		}
		g.keyed[q.keyed.key] = q.keyed
	}
	g.queue = append(g.queue, q)
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
			g.settle(q)
			answerQueued(ctx, q, internal(d.err))
		}
		g.stopWhenIdle(ctx)
		return
	}
	now := g.deps.Clock.Now()
	c := context.Background()
	profiles := user.NewProfiles(g.deps.Store.Users(), now)
	for _, q := range d.batch {
		g.settle(q)
		sender, recipient := profiles.Get(c, q.msg.SenderID), profiles.Get(c, q.msg.RecipientID)
		// One encoding for both users when the message has no
		// clientMessageId: the Message model is then the same for each. A
		// key is shown to its sender only, so a keyed message is encoded
		// once per user. The legacy dialect names the event by direction,
		// with the same message.
		payload, _ := json.Marshal(MessageView(q.msg, sender, recipient, q.msg.RecipientID))
		legacy, _ := json.Marshal(protocol.LegacyMessageEvent{Message: LegacyMessage(q.msg, sender, q.msg.RecipientID)})
		frame := protocol.EncodeRawFrame(protocol.TypeChatMessage, payload, now, "", "")
		senderPayload, senderFrame, senderLegacy := payload, frame, legacy
		if q.msg.ClientMessageID != "" {
			senderPayload, _ = json.Marshal(MessageView(q.msg, sender, recipient, q.msg.SenderID))
			senderLegacy, _ = json.Marshal(protocol.LegacyMessageEvent{Message: LegacyMessage(q.msg, sender, q.msg.SenderID)})
			senderFrame = protocol.EncodeRawFrame(protocol.TypeChatMessage, senderPayload, now, "", "")
		}
		cluster.SendIn(ctx, cluster.KindUser, q.msg.RecipientID, &grainpb.Deliver{
			WsFrame: frame, LegacyFrame: protocol.EncodeLegacyRawFrame(protocol.EventMessagesReceived, legacy), Type: protocol.TypeChatMessage,
		})
		cluster.SendIn(ctx, cluster.KindUser, q.msg.SenderID, &grainpb.Deliver{
			WsFrame: senderFrame, LegacyFrame: protocol.EncodeLegacyRawFrame(protocol.EventMessagesSent, senderLegacy), Type: protocol.TypeChatMessage, ExceptSessionId: q.origin,
		})
		answerQueued(ctx, q, &grainpb.PairReply{PayloadJson: senderPayload})
		if g.deps.Notify != nil && (g.deps.Online == nil || !g.deps.Online(q.msg.RecipientID)) {
			g.deps.Notify(q.msg.RecipientID, "message", sender.Name, preview(q.msg.Content), map[string]string{"messageId": q.msg.ID, "senderId": q.msg.SenderID})
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

// MessageView renders a stored message for viewer: its clientMessageId
// only for its sender.
func MessageView(m *storage.Message, sender, recipient protocol.User, viewer string) protocol.Message {
	v := protocol.Message{
		MessageID: m.ID, SenderID: m.SenderID, RecipientID: m.RecipientID,
		Sender: sender, Recipient: recipient, Content: m.Content,
		CreatedAt: protocol.FormatTime(m.CreatedAt), ReadAt: protocol.FormatTimePtr(m.ReadAt),
	}
	if viewer == m.SenderID {
		v.ClientMessageID = m.ClientMessageID
	}
	return v
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
