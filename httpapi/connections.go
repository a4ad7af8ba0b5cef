package httpapi

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/actors/pair"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// The legacy connections API (spec 002). A legacy "connection" is a request
// (its _id is the request id, which the connection keeps); only pending and
// accepted ones are listed.

type legacyUser struct {
	ID       string  `json:"_id"`
	Name     string  `json:"name"`
	Username *string `json:"username,omitempty"`
	Photo    *string `json:"photo,omitempty"`
	Bio      *string `json:"bio,omitempty"`
}

type legacyConnection struct {
	ID         string      `json:"_id"`
	From       any         `json:"from"`
	To         any         `json:"to"`
	Status     string      `json:"status"`
	CreatedAt  string      `json:"createdAt"`
	AcceptedAt *string     `json:"acceptedAt,omitempty"`
	User       *legacyUser `json:"user,omitempty"`
}

func (a *API) legacyUser(ctx context.Context, id string) legacyUser {
	w := user.Profile(ctx, a.d.Store.Users(), id, a.d.Clock.Now())
	return legacyUser{ID: id, Name: w.Name, Username: w.Username, Photo: w.Avatar, Bio: w.Bio}
}

func legacyStatus(r *storage.Request) string {
	if r.Status == pair.StatusAccepted {
		return "accepted"
	}
	return r.LegacyStatus
}

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
	if status != "" && status != "pending" && status != "accepted" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "status must be pending or accepted")
	}
	me, ctx, now := userID(c), c.UserContext(), a.d.Clock.Now()
	ids, err := a.d.Store.Pairs().Of(ctx, me)
	if err != nil {
		return err
	}
	type item struct {
		r     storage.Request
		other string
	}
	var items []item
	for _, id := range ids {
		p, err := a.d.Store.Pairs().Get(ctx, id)
		if err != nil {
			return err
		}
		s := &pair.State{Pair: *p}
		s.Expire(now)
		for _, r := range s.Requests {
			active := r.Status == pair.StatusAccepted && s.Active() != nil && s.Active().RequestID == r.ID
			if !(r.Status == pair.StatusPending || active) {
				continue
			}
			if status != "" && legacyStatus(&r) != status {
				continue
			}
			items = append(items, item{r, s.Other(me)})
		}
	}
	sort.Slice(items, func(i, j int) bool {
		if !items[i].r.CreatedAt.Equal(items[j].r.CreatedAt) {
			return items[i].r.CreatedAt.After(items[j].r.CreatedAt)
		}
		return items[i].r.ID > items[j].r.ID
	})
	out := []legacyConnection{}
	for i := (page - 1) * limit; i < len(items) && i < page*limit; i++ {
		r := &items[i].r
		from, to, other := a.legacyUser(ctx, r.FromUserID), a.legacyUser(ctx, r.ToUserID), a.legacyUser(ctx, items[i].other)
		out = append(out, legacyConnection{ID: r.ID, From: from, To: to, Status: legacyStatus(r),
			CreatedAt: protocol.FormatTime(r.CreatedAt), AcceptedAt: acceptedAt(r), User: &other})
	}
	return c.JSON(fiber.Map{"connections": out, "count": len(items)})
}

func acceptedAt(r *storage.Request) *string {
	if r.Status != pair.StatusAccepted || r.ResolvedAt == nil {
		return nil
	}
	s := protocol.FormatTime(*r.ResolvedAt)
	return &s
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

func (a *API) pairCall(c *fiber.Ctx, other string, cmd *grainpb.PairCommand) error {
	cmd.ActorId = userID(c)
	rep, err := cluster.Call[*grainpb.PairReply](c.UserContext(), a.d.Node, cluster.KindPair, storage.PairID(cmd.ActorId, other), cmd)
	if err != nil {
		return err
	}
	return rep.Failure.Err()
}

// legacyRequest renders a request of the pair in the short form of the
// create/accept answers (from/to as ids).
func (a *API) legacyRequest(c *fiber.Ctx, other string, pick func(*pair.State) *storage.Request) error {
	p, err := a.d.Store.Pairs().Get(c.UserContext(), storage.PairID(userID(c), other))
	if err != nil {
		return err
	}
	r := pick(&pair.State{Pair: *p})
	if r == nil {
		return errors.New("connections: request vanished after the grain acknowledged it")
	}
	return c.JSON(fiber.Map{"connection": legacyConnection{ID: r.ID, From: r.FromUserID, To: r.ToUserID,
		Status: legacyStatus(r), CreatedAt: protocol.FormatTime(r.CreatedAt), AcceptedAt: acceptedAt(r)}})
}

func last(s *pair.State) *storage.Request {
	if len(s.Requests) == 0 {
		return nil
	}
	return &s.Requests[len(s.Requests)-1]
}

// createConnection serves POST /connections/:userId. Unlike the socket,
// spec 002 requires the target to have an active vibe.
func (a *API) createConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	u, err := a.d.Store.Users().Get(c.UserContext(), other)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && u.Deleted()) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainConnections, "user not found")
	}
	if err != nil {
		return err
	}
	if user.Wire(u, a.d.Clock.Now()).Vibe == nil {
		return protocol.Errorf(protocol.CodeVibeRequired, protocol.DomainConnections, "this user has no active vibe")
	}
	if err := a.pairCall(c, other, &grainpb.PairCommand{Op: "send", TargetId: other}); err != nil {
		return err
	}
	return a.legacyRequest(c, other, last)
}

// acceptConnection serves POST /connections/:userId/accept: accept the
// pending request that user sent me.
func (a *API) acceptConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	pending, err := a.pendingBetween(c, other)
	if err != nil {
		return err
	}
	if err := a.pairCall(c, other, &grainpb.PairCommand{Op: "accept", RequestId: pending.ID}); err != nil {
		return err
	}
	return a.legacyRequest(c, other, func(s *pair.State) *storage.Request { return s.Request(pending.ID) })
}

// deleteConnection serves DELETE /connections/:userId: the sender cancels
// its pending request, the receiver declines it. An accepted connection is
// not deleted here (spec 002); it is closed with connection.close.
func (a *API) deleteConnection(c *fiber.Ctx) error {
	other, err := a.target(c)
	if err != nil {
		return err
	}
	pending, err := a.pendingBetween(c, other)
	if err != nil {
		return err
	}
	op := "reject"
	if pending.FromUserID == userID(c) {
		op = "cancel"
	}
	if err := a.pairCall(c, other, &grainpb.PairCommand{Op: op, RequestId: pending.ID}); err != nil {
		return err
	}
	return a.legacyRequest(c, other, func(s *pair.State) *storage.Request { return s.Request(pending.ID) })
}

// pendingBetween finds the pending request between me and other.
func (a *API) pendingBetween(c *fiber.Ctx, other string) (*storage.Request, error) {
	p, err := a.d.Store.Pairs().Get(c.UserContext(), storage.PairID(userID(c), other))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, protocol.Errorf(pair.CodeRequestNotFound, protocol.DomainConnections, "no pending request with this user")
	}
	if err != nil {
		return nil, err
	}
	s := &pair.State{Pair: *p}
	if s.Active() != nil {
		return nil, protocol.Errorf(pair.CodeAlreadyConnected, protocol.DomainConnections, "you are already connected; close it with connection.close")
	}
	r := s.Pending()
	if r == nil {
		return nil, protocol.Errorf(pair.CodeRequestNotFound, protocol.DomainConnections, "no pending request with this user")
	}
	return r, nil
}
