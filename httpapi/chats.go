package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// The chats REST for legacy clients: a chat is a pair's conversation under
// its chat id. Reads go through the pair read models; a message goes
// through the Pair grain exactly as chat.message.created does, so both
// dialects hear of it.

// listChats serves GET /chats.
func (a *API) listChats(c *fiber.Ctx) error {
	list, err := pair.Chats(c.UserContext(), a.d.Pairs, userID(c), a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(list)
}

// chatMessages serves GET /chats/:chat/messages?before=&limit=: newest
// first, paged like GET /conversations/:userId/messages.
func (a *API) chatMessages(c *fiber.Ctx) error {
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	page, err := pair.ChatPage(c.UserContext(), a.d.Pairs, userID(c), strings.Clone(c.Params("chat")), strings.Clone(c.Query("before")), limit, a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(page)
}

// postChatMessage serves POST /chats/:chat/messages {content,
// clientMessageId?}. It answers once the Pair grain stored the message;
// every socket of both users, the sender's included (there is no origin
// socket to skip), gets it. A resend with the same clientMessageId answers
// the stored message and delivers nothing (the grain decides).
func (a *API) postChatMessage(c *fiber.Ctx) error {
	me := userID(c)
	pairID, err := pair.ChatToSend(c.UserContext(), a.d.Pairs, me, strings.Clone(c.Params("chat")))
	if err != nil {
		return err
	}
	var body protocol.LegacyChatPost
	if err := protocol.DecodeStrictIn(c.Body(), protocol.DomainChat, &body); err != nil {
		return err
	}
	if err := body.Validate(); err != nil {
		return err
	}
	rep, err := cluster.Call[*grainpb.PairReply](c.UserContext(), a.d.Node, cluster.KindPair, pairID, &grainpb.PostMessage{ActorId: me, Content: body.Content, ClientMessageId: body.ClientID()})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	m, err := pair.PostedMessage(c.UserContext(), a.d.Pairs, rep.PayloadJson, a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(protocol.LegacyMessageEvent{Message: *m})
}
