package httpapi

import (
	"github.com/gofiber/fiber/v2"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/proximity"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// proximityToken serves POST /connections/:connectionId/proximity/token:
// the caller's current BLE token for that connection (issued or rotated
// as needed).
func (a *API) proximityToken(c *fiber.Ctx) error {
	return a.proximityCall(c, &grainpb.ProximityIssueToken{ActorId: userID(c)})
}

// proximitySummary serves GET /connections/:connectionId/proximity/summary.
func (a *API) proximitySummary(c *fiber.Ctx) error {
	return a.proximityCall(c, &grainpb.ProximityGetSummary{ActorId: userID(c)})
}

func (a *API) proximityCall(c *fiber.Ctx, req proto.Message) error {
	id := c.Params("connectionId")
	if !proximity.ValidConnectionID(id) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainProximity, "connection not found")
	}
	rep, err := cluster.Call[*grainpb.ProximityReply](c.UserContext(), a.d.Node, cluster.KindProximity, id, req)
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(rep.PayloadJson)
}
