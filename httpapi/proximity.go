package httpapi

import (
	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/proximity"
	"github.com/gisbi/engine/cluster/grainpb"
)

// proximityToken serves POST /connections/:connectionId/proximity/token:
// the caller's current BLE token for that connection (issued or rotated
// as needed).
func (a *API) proximityToken(c *fiber.Ctx) error {
	return a.proximityCall(c, "token")
}

// proximitySummary serves GET /connections/:connectionId/proximity/summary.
func (a *API) proximitySummary(c *fiber.Ctx) error {
	return a.proximityCall(c, "summary")
}

func (a *API) proximityCall(c *fiber.Ctx, op string) error {
	b, err := proximity.Ask(c.UserContext(), a.d.Node, c.Params("connectionId"), &grainpb.ProximityCommand{Op: op, ActorId: userID(c)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(b)
}
