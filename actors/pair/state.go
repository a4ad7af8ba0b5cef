package pair

import (
	"time"

	"github.com/gisbi/engine/ids"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Statuses of requests and connections (SPEC-NOTES "Connection requests").
const (
	StatusPending  = "pending"
	StatusAccepted = "accepted"
	StatusDeclined = "declined"
	StatusMissed   = "missed"
	StatusClosed   = "closed"

	LegacyPending   = "pending"
	LegacyAccepted  = "accepted"
	LegacyRejected  = "rejected"
	LegacyMissed    = "missed"
	LegacyCancelled = "cancelled"

	ConnActive = storage.ConnectionAccepted
	ConnClosed = "closed"

	ReasonCancelled      = "cancelled"
	ReasonBlocked        = "blocked"
	ReasonAccountDeleted = "account_deleted"
	ReasonUserLeft       = "user_left"
)

// Feature codes of connections, named here for the package's readers.
const (
	CodeSelfRequest      = protocol.CodeSelfRequest
	CodeBlocked          = protocol.CodeBlocked
	CodeRequestExists    = protocol.CodeRequestExists
	CodeAlreadyConnected = protocol.CodeAlreadyConnected
	CodeRequestNotFound  = protocol.CodeRequestNotFound
)

// RingInterval is the least time between two rings of one pair.
const RingInterval = 10 * time.Second

// Event is something both users of the pair must hear about.
type Event struct {
	Type       string // protocol.TypeRequest*, TypeConnClose, TypeConnectionRing
	Request    *storage.Request
	Connection *storage.Connection
	By         string // the user who acted, when one did
}

// State is one pair's requests and connections plus what is not stored.
type State struct {
	storage.Pair
	lastRing time.Time
}

// New returns the state of two users who never interacted.
func New(a, b string) *State {
	if b < a {
		a, b = b, a
	}
	return &State{Pair: storage.Pair{ID: storage.PairID(a, b), UserA: a, UserB: b}}
}

func fail(code protocol.Code, msg string) *protocol.Error {
	return &protocol.Error{Code: code, Message: msg, Domain: protocol.DomainConnections}
}

// Has reports whether u is one of the pair.
func (s *State) Has(u string) bool { return u == s.UserA || u == s.UserB }

// Pending returns the pending request, if any.
func (s *State) Pending() *storage.Request {
	for i := range s.Requests {
		if s.Requests[i].Status == StatusPending {
			return &s.Requests[i]
		}
	}
	return nil
}

// Active returns the active connection, if any.
func (s *State) Active() *storage.Connection {
	for i := range s.Connections {
		if s.Connections[i].Status == ConnActive {
			return &s.Connections[i]
		}
	}
	return nil
}

// Request returns the request with id, or nil.
func (s *State) Request(id string) *storage.Request {
	for i := range s.Requests {
		if s.Requests[i].ID == id {
			return &s.Requests[i]
		}
	}
	return nil
}

func (s *State) connection(id string) *storage.Connection {
	for i := range s.Connections {
		if s.Connections[i].ID == id {
			return &s.Connections[i]
		}
	}
	return nil
}

// SendGuards are facts the pair cannot know by itself; the grain gathers
// them from the users before sending.
type SendGuards struct {
	TargetMissing bool // deleted or never existed
	Blocked       bool // either user blocked the other
	// RequireVibe refuses a target without an active vibe (spec 002's
	// REST requires one; the socket does not).
	RequireVibe, TargetHasVibe bool
}

// Send creates a pending request from → to. A second request while one is
// pending, in either direction, is refused with request_exists and the
// existing request, so crossing requests leave exactly one.
func (s *State) Send(from, to string, g SendGuards, now time.Time, ttl time.Duration) (*storage.Request, []Event, *protocol.Error) {
	switch {
	case from == to:
		return nil, nil, fail(CodeSelfRequest, "you cannot send a request to yourself")
	case !s.Has(from) || !s.Has(to):
		return nil, nil, fail(protocol.CodeForbidden, "not your pair")
	case g.TargetMissing:
		return nil, nil, fail(protocol.CodeUserNotFound, "user not found")
	case g.Blocked:
		return nil, nil, fail(CodeBlocked, "you cannot connect with this user")
	case g.RequireVibe && !g.TargetHasVibe:
		return nil, nil, fail(protocol.CodeVibeRequired, "this user has no active vibe")
	}
	evs := s.Expire(now)
	if p := s.Pending(); p != nil {
		e := fail(CodeRequestExists, "a request between you is already pending")
		cp := *p
		e.Details = &cp
		return nil, evs, e
	}
	if s.Active() != nil {
		return nil, evs, fail(CodeAlreadyConnected, "you are already connected")
	}
	s.Requests = append(s.Requests, storage.Request{
		ID: ids.New("req"), FromUserID: from, ToUserID: to,
		Status: StatusPending, LegacyStatus: LegacyPending,
		CreatedAt: now, ExpiresAt: now.Add(ttl),
	})
	r := &s.Requests[len(s.Requests)-1]
	return r, append(evs, Event{Type: protocol.TypeRequestSend, Request: r, By: from}), nil
}

// Expire marks a pending request missed once its time has passed. It is
// called on every action and by the expiry reminder, so a request is missed
// no later than the first thing that looks at it. resolvedAt is the expiry
// time itself, also when the server was down at that moment.
func (s *State) Expire(now time.Time) []Event {
	p := s.Pending()
	if p == nil || now.Before(p.ExpiresAt) {
		return nil
	}
	at := p.ExpiresAt
	p.Status, p.LegacyStatus, p.ResolvedAt = StatusMissed, LegacyMissed, &at
	return []Event{{Type: protocol.TypeRequestMissed, Request: p}}
}

// find returns the request by id for an action by user, applying expiry.
func (s *State) find(by, id string, now time.Time) (*storage.Request, []Event, *protocol.Error) {
	evs := s.Expire(now)
	if !s.Has(by) {
		return nil, evs, fail(protocol.CodeForbidden, "this request is not yours")
	}
	r := s.Request(id)
	if r == nil {
		return nil, evs, fail(CodeRequestNotFound, "request not found")
	}
	return r, evs, nil
}

// CanAccept reports whether by may accept the request now. The grain asks
// before it gathers what an accept needs; Accept checks again when it
// applies, since the state may have changed in between.
func (s *State) CanAccept(by, requestID string, now time.Time) bool {
	r := s.Request(requestID)
	return r != nil && s.Has(by) && r.ToUserID == by && r.Status == StatusPending && now.Before(r.ExpiresAt)
}

// Accept turns the pending request into a connection. Only its receiver may
// accept; accepting after expiry answers request_expired (and the missed
// event goes to both).
func (s *State) Accept(by, requestID string, at *storage.LatLng, now time.Time) (*storage.Connection, []Event, *protocol.Error) {
	r, evs, err := s.find(by, requestID, now)
	if err != nil {
		return nil, evs, err
	}
	if r.ToUserID != by {
		return nil, evs, fail(protocol.CodeForbidden, "only the receiver can accept this request")
	}
	switch r.Status {
	case StatusPending:
	case StatusMissed:
		return nil, evs, fail(protocol.CodeRequestExpired, "the request expired")
	case StatusAccepted:
		return nil, evs, fail(CodeAlreadyConnected, "you are already connected")
	default:
		return nil, evs, fail(CodeRequestNotFound, "the request is no longer pending")
	}
	t := now
	r.Status, r.LegacyStatus, r.ResolvedAt = StatusAccepted, LegacyAccepted, &t
	c := storage.Connection{
		ID: ids.New("conn"), RequestID: r.ID, SenderID: r.FromUserID, ReceiverID: r.ToUserID,
		Status: ConnActive, CreatedAt: r.CreatedAt, AcceptedAt: now, ConnectedLocation: at,
	}
	r.ConnectionID = c.ID
	s.Connections = append(s.Connections, c)
	conn := &s.Connections[len(s.Connections)-1]
	return conn, append(evs, Event{Type: protocol.TypeRequestAccept, Request: r, Connection: conn, By: by}), nil
}

// Reject declines the pending request; only its receiver may.
func (s *State) Reject(by, requestID string, now time.Time) (*storage.Request, []Event, *protocol.Error) {
	return s.resolve(by, requestID, now, false)
}

// Cancel withdraws the pending request; only its sender may.
func (s *State) Cancel(by, requestID string, now time.Time) (*storage.Request, []Event, *protocol.Error) {
	return s.resolve(by, requestID, now, true)
}

func (s *State) resolve(by, requestID string, now time.Time, cancel bool) (*storage.Request, []Event, *protocol.Error) {
	r, evs, err := s.find(by, requestID, now)
	if err != nil {
		return nil, evs, err
	}
	if cancel && r.FromUserID != by {
		return nil, evs, fail(protocol.CodeForbidden, "only the sender can cancel this request")
	}
	if !cancel && r.ToUserID != by {
		return nil, evs, fail(protocol.CodeForbidden, "only the receiver can reject this request")
	}
	switch r.Status {
	case StatusPending:
	case StatusMissed:
		return nil, evs, fail(protocol.CodeRequestExpired, "the request expired")
	default:
		return nil, evs, fail(CodeRequestNotFound, "the request is no longer pending")
	}
	t := now
	r.ResolvedAt = &t
	typ := protocol.TypeRequestReject
	if cancel {
		reason := ReasonCancelled
		r.Status, r.LegacyStatus, r.ClosureReason = StatusClosed, LegacyCancelled, &reason
		typ = protocol.TypeRequestCancel
	} else {
		r.Status, r.LegacyStatus = StatusDeclined, LegacyRejected
	}
	return r, append(evs, Event{Type: typ, Request: r, By: by}), nil
}

// Close ends the active connection; either user may.
func (s *State) Close(by, connectionID, reason string, now time.Time) (*storage.Connection, []Event, *protocol.Error) {
	evs := s.Expire(now)
	if !s.Has(by) {
		return nil, evs, fail(protocol.CodeForbidden, "this connection is not yours")
	}
	c := s.connection(connectionID)
	if c == nil {
		return nil, evs, fail(protocol.CodeNotFound, "connection not found")
	}
	if c.Status != ConnActive {
		return nil, evs, fail(protocol.CodeActiveConnectionRequired, "the connection is already closed")
	}
	if reason == "" {
		reason = ReasonUserLeft
	}
	s.closeConn(c, by, reason, now)
	return c, append(evs, Event{Type: protocol.TypeConnClose, Connection: c, By: by}), nil
}

func (s *State) closeConn(c *storage.Connection, by, reason string, now time.Time) {
	t, r, b := now, reason, by
	c.Status, c.ClosedAt, c.ClosureReason = ConnClosed, &t, &r
	if by != "" {
		c.ClosedByUserID = &b
	}
}

// End closes whatever is open between the two (a pending request and an
// active connection) with reason: a block or an account deletion. by is the
// user whose act caused it.
func (s *State) End(by, reason string, now time.Time) []Event {
	evs := s.Expire(now)
	if p := s.Pending(); p != nil {
		t, r := now, reason
		p.Status, p.LegacyStatus, p.ResolvedAt, p.ClosureReason = StatusClosed, LegacyCancelled, &t, &r
		evs = append(evs, Event{Type: protocol.TypeRequestCancel, Request: p, By: by})
	}
	if c := s.Active(); c != nil {
		s.closeConn(c, by, reason, now)
		evs = append(evs, Event{Type: protocol.TypeConnClose, Connection: c, By: by})
	}
	return evs
}

// Ring checks a ring from by to the other user: it needs an active
// connection and at most one ring per pair every RingInterval. Like a send,
// a ring to oneself or to a user who does not exist (targetMissing) is
// refused by name.
func (s *State) Ring(by, to string, targetMissing bool, now time.Time) (*storage.Connection, *protocol.Error) {
	switch {
	case by == to:
		return nil, fail(CodeSelfRequest, "you cannot ring yourself")
	case targetMissing:
		return nil, fail(protocol.CodeUserNotFound, "user not found")
	}
	c := s.Active()
	if c == nil || !s.Has(by) || !s.Has(to) {
		return nil, fail(protocol.CodeActiveConnectionRequired, "ringing needs an active connection")
	}
	if !s.lastRing.IsZero() && now.Sub(s.lastRing) < RingInterval {
		return nil, fail(protocol.CodeRateLimited, "you can ring again in a few seconds")
	}
	s.lastRing = now
	return c, nil
}

// Other returns the other user of the pair.
func (s *State) Other(u string) string {
	if u == s.UserA {
		return s.UserB
	}
	return s.UserA
}
