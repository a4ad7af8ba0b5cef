package httpapi

import (
	"github.com/gofiber/fiber/v2"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
)

// The daily social score belongs to the user's Score grain; these routes
// only carry it.

// getScore answers today's score (GET /score).
func (a *API) getScore(c *fiber.Ctx) error {
	return a.score(c, &grainpb.ScoreGet{})
}

// completeScoreAction completes a client-side action and answers the
// score (POST /score/actions/:type): not_found for a type the catalog
// lacks, invalid_payload for one the server completes itself.
func (a *API) completeScoreAction(c *fiber.Ctx) error {
	return a.score(c, &grainpb.ScoreComplete{ActionType: c.Params("type")})
}

func (a *API) score(c *fiber.Ctx, msg proto.Message) error {
	rep, err := cluster.Call[*grainpb.ScoreReply](c.UserContext(), a.d.Node, cluster.KindScore, userID(c), msg)
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(rep.ScoreJson)
}
