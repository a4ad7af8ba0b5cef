package httpapi

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/protocol"
)

// listConversations serves GET /conversations: the chat.history.fetch
// payload without its messages.
func (a *API) listConversations(c *fiber.Ctx) error {
	list, err := pair.LoadConversations(c.UserContext(), a.d.Pairs, userID(c), a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(list)
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
	page, err := pair.ConversationPage(c.UserContext(), a.d.Pairs, me, other, strings.Clone(c.Query("before")), limit, a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(page)
}
