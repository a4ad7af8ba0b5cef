package pair

import (
	"sort"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// RequestView is the ConnectionRequest model as one viewer sees it.
type RequestView = protocol.ConnectionRequest

// ConnectionView is the Connection model as one viewer sees it.
type ConnectionView = protocol.Connection

func direction(senderID, viewer string) string {
	if senderID == viewer {
		return "outgoing"
	}
	return "incoming"
}

// snippet is the other user's vibe, the line list UIs show under a name.
func snippet(u protocol.User) string {
	if u.Vibe != nil {
		return *u.Vibe
	}
	return ""
}

// ViewRequest renders r for viewer; other is the other user's profile.
func ViewRequest(r *storage.Request, viewer string, other protocol.User) RequestView {
	v := RequestView{
		ID: r.ID, RequestID: r.ID, FromUserID: r.FromUserID, ToUserID: r.ToUserID,
		SenderID: r.FromUserID, ReceiverID: r.ToUserID,
		User: other, UserID: other.ID, Name: other.Name, Age: other.Age, Avatar: other.Avatar,
		Snippet: snippet(other), Direction: direction(r.FromUserID, viewer),
		Status: r.Status, LegacyStatus: r.LegacyStatus, ClosureReason: r.ClosureReason,
		CreatedAt: protocol.FormatTime(r.CreatedAt), ResolvedAt: protocol.FormatTimePtr(r.ResolvedAt),
	}
	if r.Status == StatusPending {
		v.ExpiresAt = protocol.FormatTimePtr(&r.ExpiresAt)
	}
	return v
}

// ViewConnection renders c for viewer. Together-time (accumulatedMinutes,
// nextMilestoneMinutes) belongs to proximity; Deps.together fills it in.
func ViewConnection(c *storage.Connection, viewer string, other protocol.User, online bool) ConnectionView {
	v := ConnectionView{
		ConnectionID: c.ID, User: other, IsOnline: online,
		Direction: direction(c.SenderID, viewer), Type: "connection",
		Status: StatusAccepted, LegacyStatus: "active",
		SenderID: c.SenderID, ReceiverID: c.ReceiverID,
		Name: other.Name, Age: other.Age, Avatar: other.Avatar, Snippet: snippet(other),
		ClosureReason: c.ClosureReason, ClosedByUserID: c.ClosedByUserID, ConnectedLocation: latLng(c.ConnectedLocation),
		CreatedAt: protocol.FormatTime(c.CreatedAt), ResolvedAt: protocol.FormatTime(c.AcceptedAt), ClosedAt: protocol.FormatTimePtr(c.ClosedAt),
	}
	if c.Status == ConnClosed {
		v.Status, v.LegacyStatus, v.IsOnline = StatusClosed, "closed", false
	}
	return v
}

func latLng(p *storage.LatLng) *protocol.LatLng {
	if p == nil {
		return nil
	}
	return &protocol.LatLng{Lat: p.Lat, Lng: p.Lng}
}

// SortRequests orders the unified requests list as the spec says: pending
// first by createdAt descending, then the rest by resolvedAt descending.
func SortRequests(rs []RequestView) {
	sort.SliceStable(rs, func(i, j int) bool {
		pi, pj := rs[i].Status == StatusPending, rs[j].Status == StatusPending
		if pi != pj {
			return pi
		}
		if pi {
			return rs[i].CreatedAt > rs[j].CreatedAt
		}
		return deref(rs[i].ResolvedAt) > deref(rs[j].ResolvedAt)
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
