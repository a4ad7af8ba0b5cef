package pair

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Handlers are the socket commands served by Pair grains.
func Handlers(d Deps) map[string]session.Handler {
	return map[string]session.Handler{
		protocol.TypeRequestSend:    func(c *session.Context) error { return toUser(c, "send") },
		protocol.TypeConnectionRing: func(c *session.Context) error { return toUser(c, "ring") },
		protocol.TypeRequestAccept:  func(c *session.Context) error { return onRequest(c, d, "accept") },
		protocol.TypeRequestReject:  func(c *session.Context) error { return onRequest(c, d, "reject") },
		protocol.TypeRequestCancel:  func(c *session.Context) error { return onRequest(c, d, "cancel") },
		protocol.TypeConnClose:      func(c *session.Context) error { return closeConn(c, d) },
		protocol.TypeConnHistory: func(c *session.Context) error {
			h, err := LoadHistory(c.Ctx, d, c.UserID, c.Now)
			if err != nil {
				return err
			}
			return c.Reply(protocol.TypeConnHistory, map[string]any{"activeConnections": h.Active, "closedConnections": h.Closed})
		},
	}
}

// toUser serves the commands that name the other user.
func toUser(c *session.Context, op string) error {
	var p struct {
		UserID string `json:"userId"`
	}
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.UserID == "" {
		return protocol.Errorf(protocol.CodeMissingUserID, protocol.DomainConnections, "userId is required")
	}
	if p.UserID == c.UserID {
		if op == "send" {
			return protocol.Errorf(CodeSelfRequest, protocol.DomainConnections, "you cannot send a request to yourself")
		}
		return protocol.Errorf(protocol.CodeActiveConnectionRequired, protocol.DomainConnections, "ringing needs an active connection")
	}
	if !protocol.ValidID(p.UserID) {
		return protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainConnections, "user not found")
	}
	return call(c, storage.PairID(c.UserID, p.UserID), &grainpb.PairCommand{Op: op, ActorId: c.UserID, TargetId: p.UserID})
}

func onRequest(c *session.Context, d Deps, op string) error {
	var p struct {
		RequestID string `json:"requestId"`
	}
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.RequestID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "requestId is required")
	}
	pairID, err := d.Store.Pairs().ByRequest(c.Ctx, p.RequestID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(CodeRequestNotFound, protocol.DomainConnections, "request not found")
	}
	if err != nil {
		return err
	}
	return call(c, pairID, &grainpb.PairCommand{Op: op, ActorId: c.UserID, RequestId: p.RequestID})
}

func closeConn(c *session.Context, d Deps) error {
	var p struct {
		ConnectionID  string `json:"connectionId"`
		ClosureReason string `json:"closureReason"`
	}
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.ConnectionID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "connectionId is required")
	}
	if len(p.ClosureReason) > 64 {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "closureReason is longer than 64 characters")
	}
	pairID, err := d.Store.Pairs().ByConnection(c.Ctx, p.ConnectionID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainConnections, "connection not found")
	}
	if err != nil {
		return err
	}
	return call(c, pairID, &grainpb.PairCommand{Op: "close", ActorId: c.UserID, ConnectionId: p.ConnectionID, Reason: p.ClosureReason})
}

// call runs a command on a pair and answers with the frame type of the request.
func call(c *session.Context, pairID string, cmd *grainpb.PairCommand) error {
	cmd.OriginSessionId = c.SessionID
	rep, err := cluster.Call[*grainpb.PairReply](c.Ctx, c.Node, cluster.KindPair, pairID, cmd)
	if err != nil {
		return err
	}
	return answer(c, rep)
}

// answer replies with a PairReply's payload, or returns its failure (with
// the pending request as details on request_exists).
func answer(c *session.Context, rep *grainpb.PairReply) error {
	if rep.Failure != nil {
		pe := &protocol.Error{Code: protocol.Code(rep.Failure.Code), Message: rep.Failure.Message, Domain: rep.Failure.Domain}
		if len(rep.DetailsJson) > 0 {
			pe.Details = map[string]json.RawMessage{"request": rep.DetailsJson}
		}
		return pe
	}
	return c.ReplyRaw(c.Frame.Type, rep.PayloadJson)
}

// History is a user's requests and connections, rendered for them.
type History struct {
	Incoming, Sent, Requests []RequestView
	Active, Closed           []ConnectionView
}

// LoadHistory reads every pair of the user from the store. A pending
// request past its expiry reads as missed even before its reminder fired.
func LoadHistory(ctx context.Context, d Deps, userID string, now time.Time) (*History, error) {
	return loadHistory(ctx, d, userID, now, user.NewProfiles(d.Store.Users(), now))
}

func loadHistory(ctx context.Context, d Deps, userID string, now time.Time, profiles *user.Profiles) (*History, error) {
	ids, err := d.Store.Pairs().Of(ctx, userID)
	if err != nil {
		return nil, err
	}
	h := &History{Incoming: []RequestView{}, Sent: []RequestView{}, Requests: []RequestView{}, Active: []ConnectionView{}, Closed: []ConnectionView{}}
	for _, id := range ids {
		p, err := d.Store.Pairs().Get(ctx, id)
		if err != nil {
			return nil, err
		}
		s := &State{Pair: *p}
		s.Expire(now)
		otherID := s.Other(userID)
		other := profiles.Get(ctx, otherID)
		for i := range s.Requests {
			v := ViewRequest(&s.Requests[i], userID, other)
			h.Requests = append(h.Requests, v)
			if v.Status == StatusPending {
				if v.Direction == "incoming" {
					h.Incoming = append(h.Incoming, v)
				} else {
					h.Sent = append(h.Sent, v)
				}
			}
		}
		for i := range s.Connections {
			online := d.Online != nil && d.Online(otherID)
			v := ViewConnection(&s.Connections[i], userID, other, online)
			d.together(ctx, &v, &s.Connections[i], userID, false)
			if v.Status == StatusAccepted {
				h.Active = append(h.Active, v)
			} else {
				h.Closed = append(h.Closed, v)
			}
		}
	}
	SortRequests(h.Requests)
	SortRequests(h.Incoming)
	SortRequests(h.Sent)
	return h, nil
}

// Bootstrap fills the request, connection and chat keys of
// session.bootstrap, reading each other user's profile once for both, and
// hands the active connection ids (most recently accepted first) to the
// sources after it.
func Bootstrap(d Deps) session.BootstrapSource {
	return func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		done(bootstrap(c, d, b))
	}
}

func bootstrap(c *session.Context, d Deps, b *protocol.Bootstrap) error {
	{
		profiles := user.NewProfiles(d.Store.Users(), c.Now)
		h, err := loadHistory(c.Ctx, d, c.UserID, c.Now, profiles)
		if err != nil {
			return err
		}
		for _, kv := range []struct {
			dst *json.RawMessage
			v   any
		}{{&b.IncomingRequests, h.Incoming}, {&b.SentRequests, h.Sent}, {&b.Requests, h.Requests}, {&b.ActiveConnections, h.Active}, {&b.ClosedConnections, h.Closed}} {
			raw, err := json.Marshal(kv.v)
			if err != nil {
				return err
			}
			*kv.dst = raw
		}
		active := slices.Clone(h.Active)
		// RFC 3339 in UTC with fixed milliseconds sorts as text.
		slices.SortStableFunc(active, func(x, y ConnectionView) int { return strings.Compare(y.ResolvedAt, x.ResolvedAt) })
		b.ActiveConnectionIDs = make([]string, len(active))
		for i, v := range active {
			b.ActiveConnectionIDs[i] = v.ConnectionID
		}
		chat, err := loadChat(c.Ctx, d, c.UserID, profiles)
		if err != nil {
			return err
		}
		return fillChat(b, chat)
	}
}
