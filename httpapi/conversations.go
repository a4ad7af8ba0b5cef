package httpapi

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// listConversations serves GET /conversations: the chat.history.fetch payload.
func (a *API) listConversations(c *fiber.Ctx) error {
	h, err := pair.LoadChat(c.UserContext(), a.d.Pairs, userID(c), a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(fiber.Map{"conversations": h.Conversations, "unreadMessageCount": h.UnreadMessageCount, "totalUnreadMessageCount": h.TotalUnreadMessageCount})
}

// conversationMessages serves GET /conversations/:userId/messages?before=&limit=:
// newest first; following nextBefore until null lists the whole
// conversation exactly once. History of a closed connection stays readable.
func (a *API) conversationMessages(c *fiber.Ctx) error {
	me := userID(c)
	other := strings.Clone(c.Params("userId"))
	if other == me || !protocol.ValidID(other) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainChat, "user not found")
	}
	limit, err := intQuery(c, "limit", 50, 1, 100)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	pairID := storage.PairID(me, other)
	var before uint64
	if b := c.Query("before"); b != "" {
		m, err := a.d.Store.Messages().Get(ctx, b)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && m.PairID != pairID) {
			return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainChat, "before is not a message of this conversation")
		}
		if err != nil {
			return err
		}
		before = m.Seq
	}
	page, err := a.d.Store.Messages().Page(ctx, pairID, before, limit)
	if err != nil {
		return err
	}
	profiles := user.NewProfiles(a.d.Store.Users(), a.d.Clock.Now())
	out := make([]protocol.Message, 0, len(page))
	for i := range page {
		out = append(out, pair.MessageView(&page[i], profiles.Get(ctx, page[i].SenderID), profiles.Get(ctx, page[i].RecipientID)))
	}
	var next *string
	if len(page) == limit && page[len(page)-1].Seq > 1 {
		id := page[len(page)-1].ID
		next = &id
	}
	return c.JSON(fiber.Map{"messages": out, "nextBefore": next})
}
