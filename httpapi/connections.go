package httpapi

import (
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// The legacy connections API (spec 002). A legacy "connection" is a request
// (its _id is the request id, which the connection keeps); only pending and
// accepted ones are listed. The rules live in the Pair grain and its read
// models; these handlers decode, call and encode.

// listConnections serves GET /connections?page=&limit=&status=.
func (a *API) listConnections(c *fiber.Ctx) error {
	page, err := intQuery(c, "page", 1, 1, 1<<30)
	if err != nil {
		return err
	}
	limit, err := intQuery(c, "limit", 10, 1, 100)
	if err != nil {
		return err
	}
	status := c.Query("status")
	if status != "" && status != pair.LegacyListPending && status != pair.LegacyListAccepted {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "status must be pending or accepted")
	}
	list, err := pair.LegacyConnections(c.UserContext(), a.d.Pairs, userID(c), status, page, limit, a.d.Clock.Now())
	if err != nil {
		return err
	}
	return c.JSON(list)
}

func intQuery(c *fiber.Ctx, name string, def, min, max int) (int, error) {
	raw := c.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < min || n > max {
		return 0, protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "%s must be an integer from %d to %d", name, min, max)
	}
	return n, nil
}

// target reads and checks the :userId of a connections route.
func (a *API) target(c *fiber.Ctx) (string, error) {
	// Copied: fiber's strings alias a request buffer that is reused, and
	// this one is kept by a grain.
	other := strings.Clone(c.Params("userId"))
	if other == userID(c) {
		return "", protocol.Errorf(pair.CodeSelfRequest, protocol.DomainConnections, "userId cannot be your own id")
	}
	if !protocol.ValidID(other) {
		return "", protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainConnections, "user not found")
	}
	return other, nil
}

// pairCall runs one operation on the pair of the caller and other, and
// answers with the request it created or resolved, in spec 002's short form.
func (a *API) pairCall(c *fiber.Ctx, other string, msg proto.Message) error {
	me := userID(c)
	rep, err := cluster.Call[*grainpb.PairReply](c.UserContext(), a.d.Node, cluster.KindPair, storage.PairID(me, other), msg)
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	r, err := pair.LegacyRequest(c.UserContext(), a.d.Pairs, me, other, rep.RequestId)
	if err != nil {
		return err
	}
	return c.JSON(protocol.LegacyConnectionReply{Connection: *r})
}

// createConnection serves POST /connections/:userId. Unlike the socket,
// spec 002 requires the target to have an active vibe.
func (a *API) createConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	return a.pairCall(c, other, &grainpb.SendRequest{ActorId: userID(c), TargetId: other, RequireVibe: true})
}

// acceptConnection serves POST /connections/:userId/accept: accept the
// pending request that user sent me.
func (a *API) acceptConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	pending, err := pair.PendingBetween(c.UserContext(), a.d.Pairs, userID(c), other)
	if err != nil {
		return err
	}
	return a.pairCall(c, other, &grainpb.AcceptRequest{ActorId: userID(c), RequestId: pending.ID})
}

// deleteConnection serves DELETE /connections/:userId: the sender cancels
// its pending request, the receiver declines it. An accepted connection is
// not deleted here (spec 002); it is closed with connection.close.
func (a *API) deleteConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	me := userID(c)
	pending, err := pair.PendingBetween(c.UserContext(), a.d.Pairs, me, other)
	if err != nil {
		return err
	}
	if pending.FromUserID == me {
		return a.pairCall(c, other, &grainpb.CancelRequest{ActorId: me, RequestId: pending.ID})
	}
	return a.pairCall(c, other, &grainpb.RejectRequest{ActorId: me, RequestId: pending.ID})
}
