package pair

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

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
		protocol.TypeRequestSend:    sendRequest,
		protocol.TypeConnectionRing: ring,
		protocol.TypeRequestAccept: func(c *session.Context) error {
			return onRequest(c, d, func(id string) proto.Message {
				return &grainpb.AcceptRequest{ActorId: c.UserID, RequestId: id, OriginSessionId: c.SessionID}
			})
		},
		protocol.TypeRequestReject: func(c *session.Context) error {
			return onRequest(c, d, func(id string) proto.Message {
				return &grainpb.RejectRequest{ActorId: c.UserID, RequestId: id, OriginSessionId: c.SessionID}
			})
		},
		protocol.TypeRequestCancel: func(c *session.Context) error {
			return onRequest(c, d, func(id string) proto.Message {
				return &grainpb.CancelRequest{ActorId: c.UserID, RequestId: id, OriginSessionId: c.SessionID}
			})
		},
		protocol.TypeConnClose: func(c *session.Context) error { return closeConn(c, d) },
		protocol.TypeConnHistory: func(c *session.Context) error {
			h, err := LoadHistory(c.Ctx, d, c.UserID, c.Now)
			if err != nil {
				return err
			}
			return c.Reply(protocol.TypeConnHistory, protocol.ConnectionHistory{ActiveConnections: h.Active, ClosedConnections: h.Closed})
		},
	}
}

// otherUser reads the userId of a command that names the other user.
// Naming oneself is self_request for every such command.
func otherUser(c *session.Context, self string) (string, error) {
	var p protocol.UserIDPayload
	if err := c.Decode(&p); err != nil {
		return "", err
	}
	if p.UserID == "" {
		return "", protocol.Errorf(protocol.CodeMissingUserID, protocol.DomainConnections, "userId is required")
	}
	if p.UserID == c.UserID {
		return "", protocol.Errorf(CodeSelfRequest, protocol.DomainConnections, "%s", self)
	}
	if !protocol.ValidID(p.UserID) {
		return "", protocol.Errorf(protocol.CodeUserNotFound, protocol.DomainConnections, "user not found")
	}
	return p.UserID, nil
}

func sendRequest(c *session.Context) error {
	other, err := otherUser(c, "you cannot send a request to yourself")
	if err != nil {
		return err
	}
	return call(c, storage.PairID(c.UserID, other), &grainpb.SendRequest{ActorId: c.UserID, TargetId: other, OriginSessionId: c.SessionID})
}

func ring(c *session.Context) error {
	other, err := otherUser(c, "you cannot ring yourself")
	if err != nil {
		return err
	}
	return call(c, storage.PairID(c.UserID, other), &grainpb.RingUser{ActorId: c.UserID, TargetId: other, OriginSessionId: c.SessionID})
}

func onRequest(c *session.Context, d Deps, msg func(requestID string) proto.Message) error {
	var p protocol.RequestIDPayload
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.RequestID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "requestId is required")
	}
	// An id we could not have issued (a NUL, a megabyte) names nothing:
	// it is answered here, never handed to the store.
	if !protocol.ValidID(p.RequestID) {
		return protocol.Errorf(CodeRequestNotFound, protocol.DomainConnections, "request not found")
	}
	pairID, err := d.Store.Pairs().ByRequest(c.Ctx, p.RequestID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(CodeRequestNotFound, protocol.DomainConnections, "request not found")
	}
	if err != nil {
		return fmt.Errorf("pair: find request %s: %w", p.RequestID, err)
	}
	return call(c, pairID, msg(p.RequestID))
}

func closeConn(c *session.Context, d Deps) error {
	var p protocol.ConnectionClose
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.ConnectionID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "connectionId is required")
	}
	if len(p.ClosureReason) > 64 {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainConnections, "closureReason is longer than 64 characters")
	}
	if !protocol.ValidID(p.ConnectionID) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainConnections, "connection not found")
	}
	pairID, err := d.Store.Pairs().ByConnection(c.Ctx, p.ConnectionID)
	if errors.Is(err, storage.ErrNotFound) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainConnections, "connection not found")
	}
	if err != nil {
		return fmt.Errorf("pair: find connection %s: %w", p.ConnectionID, err)
	}
	return call(c, pairID, &grainpb.CloseConnection{ActorId: c.UserID, ConnectionId: p.ConnectionID, Reason: p.ClosureReason, OriginSessionId: c.SessionID})
}

// call sends an operation to a pair without waiting and answers with the
// frame type of the request once the grain replies.
func call(c *session.Context, pairID string, msg proto.Message) error {
	session.CallAsync(c, cluster.KindPair, pairID, msg, func(rep *grainpb.PairReply) error {
		return answer(c, rep)
	})
	return nil
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

// Bootstrap fills the request, connection and chat keys of
// session.bootstrap, reading each other user's profile once for both, and
// hands the active connection ids (most recently accepted first) to the
// sources after it.
//
// It reads the store through the read models and asks no grain, so it
// calls done before it returns.
func Bootstrap(d Deps) session.BootstrapSource {
	return func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		done(bootstrap(c, d, b))
	}
}

func bootstrap(c *session.Context, d Deps, b *protocol.Bootstrap) error {
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
	chat, err := loadChat(c.Ctx, d, c.UserID, profiles, true)
	if err != nil {
		return err
	}
	return fillChat(b, chat)
}
