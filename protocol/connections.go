package protocol

// The shapes of connection requests and connections: the models as one
// viewer sees them, the payloads of the connection.* events and answers,
// and the legacy /connections REST bodies (spec 002).
//
// The event payloads used to be maps, which encoding/json writes with their
// keys sorted; their fields are declared in that order so the bytes did not
// change when they became structs.

// UserIDPayload is what connection.request.send and connection.ring accept.
type UserIDPayload struct {
	UserID string `json:"userId"`
}

// RequestIDPayload is what connection.request.accept, .reject and .cancel
// accept.
type RequestIDPayload struct {
	RequestID string `json:"requestId"`
}

// ConnectionClose is what connection.close accepts.
type ConnectionClose struct {
	ConnectionID  string `json:"connectionId"`
	ClosureReason string `json:"closureReason"`
}

// LatLng is a bare point (Connection.connectedLocation).
type LatLng struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// ConnectionRequest is the ConnectionRequest model as one viewer sees it.
type ConnectionRequest struct {
	ID            string  `json:"id"`
	RequestID     string  `json:"requestId"`
	FromUserID    string  `json:"fromUserId"`
	ToUserID      string  `json:"toUserId"`
	SenderID      string  `json:"senderId"`
	ReceiverID    string  `json:"receiverId"`
	User          User    `json:"user"`
	UserID        string  `json:"userId"`
	Name          string  `json:"name"`
	Age           *int    `json:"age"`
	Avatar        *string `json:"avatar"`
	Snippet       string  `json:"snippet"`
	Direction     string  `json:"direction"`
	Status        string  `json:"status"`
	LegacyStatus  string  `json:"legacyStatus"`
	ClosureReason *string `json:"closureReason"`
	CreatedAt     string  `json:"createdAt"`
	ResolvedAt    *string `json:"resolvedAt"`
	ExpiresAt     *string `json:"expiresAt"`
}

// Connection is the Connection model as one viewer sees it.
type Connection struct {
	ConnectionID         string  `json:"connectionId"`
	User                 User    `json:"user"`
	IsOnline             bool    `json:"isOnline"`
	AccumulatedMinutes   int     `json:"accumulatedMinutes"`
	NextMilestoneMinutes *int    `json:"nextMilestoneMinutes"`
	Direction            string  `json:"direction"`
	Type                 string  `json:"type"`
	Status               string  `json:"status"`
	LegacyStatus         string  `json:"legacyStatus"`
	SenderID             string  `json:"senderId"`
	ReceiverID           string  `json:"receiverId"`
	Name                 string  `json:"name"`
	Age                  *int    `json:"age"`
	Avatar               *string `json:"avatar"`
	Snippet              string  `json:"snippet"`
	ClosureReason        *string `json:"closureReason"`
	ClosedByUserID       *string `json:"closedByUserId"`
	ConnectedLocation    *LatLng `json:"connectedLocation"`
	CreatedAt            string  `json:"createdAt"`
	ResolvedAt           string  `json:"resolvedAt"`
	ClosedAt             *string `json:"closedAt"`
}

// RequestSent is the connection.request.send payload.
type RequestSent struct {
	Request ConnectionRequest `json:"request"`
}

// RequestResolved is the payload of connection.request.accept, .reject,
// .cancel and .missed. Connection is set on accept only; Status on the
// others (rejected, missed, or the request's own status on cancel).
type RequestResolved struct {
	Connection *Connection       `json:"connection,omitempty"`
	Direction  string            `json:"direction"`
	FromUserID string            `json:"fromUserId"`
	Request    ConnectionRequest `json:"request"`
	RequestID  string            `json:"requestId"`
	ResolvedAt *string           `json:"resolvedAt"`
	Status     string            `json:"status,omitempty"`
	ToUserID   string            `json:"toUserId"`
}

// ConnectionClosed is the connection.close payload.
type ConnectionClosed struct {
	ClosedAt       *string `json:"closedAt"`
	ClosedByUserID *string `json:"closedByUserId"`
	ClosureReason  *string `json:"closureReason"`
	ConnectionID   string  `json:"connectionId"`
	RecipientID    string  `json:"recipientId"`
	Status         string  `json:"status"`
	Type           string  `json:"type"`
}

// Ring is the connection.ring event; the ringer's answer adds Status "sent".
type Ring struct {
	FromUser    User   `json:"fromUser"`
	FromUserID  string `json:"fromUserId"`
	RecipientID string `json:"recipientId"`
	Status      string `json:"status,omitempty"`
}

// ConnectionHistory is the connection.history.fetch answer.
type ConnectionHistory struct {
	ActiveConnections []Connection `json:"activeConnections"`
	ClosedConnections []Connection `json:"closedConnections"`
}

// LegacyUser is spec 002's user object. username, photo and bio are always
// present, null when unset, as the spec shows them.
type LegacyUser struct {
	ID       string  `json:"_id"`
	Name     string  `json:"name"`
	Username *string `json:"username"`
	Photo    *string `json:"photo"`
	Bio      *string `json:"bio"`
}

// LegacyConnection is spec 002's connection in the GET /connections list:
// a request, with its _id, both users and User, the other side.
type LegacyConnection struct {
	ID         string     `json:"_id"`
	From       LegacyUser `json:"from"`
	To         LegacyUser `json:"to"`
	Status     string     `json:"status"`
	CreatedAt  string     `json:"createdAt"`
	AcceptedAt *string    `json:"acceptedAt,omitempty"`
	User       LegacyUser `json:"user"`
}

// LegacyRequest is the short form of a spec 002 connection, with from and
// to as bare ids, that create, accept and delete answer.
type LegacyRequest struct {
	ID         string  `json:"_id"`
	From       string  `json:"from"`
	To         string  `json:"to"`
	Status     string  `json:"status"`
	CreatedAt  string  `json:"createdAt"`
	AcceptedAt *string `json:"acceptedAt,omitempty"`
}

// LegacyConnectionList is the GET /connections body.
type LegacyConnectionList struct {
	Connections []LegacyConnection `json:"connections"`
	Count       int                `json:"count"`
}

// LegacyConnectionReply is the body of POST /connections/:userId, its
// /accept, and DELETE /connections/:userId.
type LegacyConnectionReply struct {
	Connection LegacyRequest `json:"connection"`
}
