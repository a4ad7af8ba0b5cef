package pair

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// Read models of requests and connections. They read the store, which the
// Pair grains write before anyone hears of a change, and apply the same
// rules the grain would (a pending request past its expiry reads as
// missed), so a read never needs to wake a grain or wait on one.

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

// pairsOf reads every pair of the user as it stands at now.
func pairsOf(ctx context.Context, d Deps, userID string, now time.Time) ([]*State, error) {
	ids, err := d.Store.Pairs().Of(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("pair: pairs of %s: %w", userID, err)
	}
	out := make([]*State, 0, len(ids))
	for _, id := range ids {
		p, err := d.Store.Pairs().Get(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("pair: read %s: %w", id, err)
		}
		s := &State{Pair: *p}
		s.Expire(now)
		out = append(out, s)
	}
	return out, nil
}

func loadHistory(ctx context.Context, d Deps, userID string, now time.Time, profiles *user.Profiles) (*History, error) {
	pairs, err := pairsOf(ctx, d, userID, now)
	if err != nil {
		return nil, err
	}
	h := &History{Incoming: []RequestView{}, Sent: []RequestView{}, Requests: []RequestView{}, Active: []ConnectionView{}, Closed: []ConnectionView{}}
	for _, s := range pairs {
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

// Legacy statuses filtering GET /connections (spec 002).
const (
	LegacyListPending  = "pending"
	LegacyListAccepted = "accepted"
)

// legacyStatus is a request's status in spec 002: accepted, or the raw
// legacy status.
func legacyStatus(r *storage.Request) string {
	if r.Status == StatusAccepted {
		return LegacyListAccepted
	}
	return r.LegacyStatus
}

func legacyAcceptedAt(r *storage.Request) *string {
	if r.Status != StatusAccepted {
		return nil
	}
	return protocol.FormatTimePtr(r.ResolvedAt)
}

// LegacyConnections is the GET /connections list (spec 002): the user's
// pending requests, either direction, and the requests of its active
// connections, newest first; status ("", pending or accepted) filters, and
// page (from 1) and limit cut one page. Count is every match, not the page.
func LegacyConnections(ctx context.Context, d Deps, me, status string, page, limit int, now time.Time) (*protocol.LegacyConnectionList, error) {
	pairs, err := pairsOf(ctx, d, me, now)
	if err != nil {
		return nil, err
	}
	type item struct {
		r     storage.Request
		other string
	}
	var items []item
	for _, s := range pairs {
		active := s.Active()
		for _, r := range s.Requests {
			listed := r.Status == StatusPending || (r.Status == StatusAccepted && active != nil && active.RequestID == r.ID)
			if !listed || (status != "" && legacyStatus(&r) != status) {
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
	profiles := user.NewProfiles(d.Store.Users(), now)
	legacyUser := func(id string) protocol.LegacyUser {
		w := profiles.Get(ctx, id)
		return protocol.LegacyUser{ID: id, Name: w.Name, Username: w.Username, Photo: w.Avatar, Bio: w.Bio}
	}
	out := &protocol.LegacyConnectionList{Connections: []protocol.LegacyConnection{}, Count: len(items)}
	for i := (page - 1) * limit; i >= 0 && i < len(items) && i < page*limit; i++ {
		r := &items[i].r
		out.Connections = append(out.Connections, protocol.LegacyConnection{
			ID: r.ID, From: legacyUser(r.FromUserID), To: legacyUser(r.ToUserID), Status: legacyStatus(r),
			CreatedAt: protocol.FormatTime(r.CreatedAt), AcceptedAt: legacyAcceptedAt(r), User: legacyUser(items[i].other),
		})
	}
	return out, nil
}

// PendingBetween finds the pending request between me and other, for the
// spec 002 routes that name the user instead of the request. A request
// past its expiry is still found: the grain then answers request_expired
// and tells both users it is missed, which a read must not do.
func PendingBetween(ctx context.Context, d Deps, me, other string) (*storage.Request, error) {
	p, err := d.Store.Pairs().Get(ctx, storage.PairID(me, other))
	if errors.Is(err, storage.ErrNotFound) {
		return nil, protocol.Errorf(CodeRequestNotFound, protocol.DomainConnections, "no pending request with this user")
	}
	if err != nil {
		return nil, fmt.Errorf("pair: read %s: %w", storage.PairID(me, other), err)
	}
	s := &State{Pair: *p}
	if s.Active() != nil {
		return nil, protocol.Errorf(CodeAlreadyConnected, protocol.DomainConnections, "you are already connected; close it with connection.close")
	}
	r := s.Pending()
	if r == nil {
		return nil, protocol.Errorf(CodeRequestNotFound, protocol.DomainConnections, "no pending request with this user")
	}
	cp := *r
	return &cp, nil
}

// LegacyRequest renders a request of the pair of me and other in spec
// 002's short form, as stored: the grain stores a change before it
// answers, so this reads what the grain just did.
func LegacyRequest(ctx context.Context, d Deps, me, other, requestID string) (*protocol.LegacyRequest, error) {
	p, err := d.Store.Pairs().Get(ctx, storage.PairID(me, other))
	if err != nil {
		return nil, fmt.Errorf("pair: read %s: %w", storage.PairID(me, other), err)
	}
	r := (&State{Pair: *p}).Request(requestID)
	if r == nil {
		return nil, fmt.Errorf("pair: request %s is not in %s", requestID, p.ID)
	}
	return legacyShort(r), nil
}

// legacyShort is spec 002's short form of a request.
func legacyShort(r *storage.Request) *protocol.LegacyRequest {
	return &protocol.LegacyRequest{
		ID: r.ID, From: r.FromUserID, To: r.ToUserID, Status: legacyStatus(r),
		CreatedAt: protocol.FormatTime(r.CreatedAt), AcceptedAt: legacyAcceptedAt(r),
	}
}
