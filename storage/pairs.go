package storage

import (
	"context"
	"strings"
	"time"
)

// LatLng is a point, e.g. where two users connected.
type LatLng struct {
	Lat float64 `json:"lat"`
	Lng float64 `json:"lng"`
}

// Request is one connection request between the two users of a pair.
type Request struct {
	ID         string `json:"id"` // req_…
	FromUserID string `json:"fromUserId"`
	ToUserID   string `json:"toUserId"`
	// Status is pending | accepted | declined | missed | closed;
	// LegacyStatus the raw value pending | accepted | rejected | missed | cancelled.
	Status        string     `json:"status"`
	LegacyStatus  string     `json:"legacyStatus"`
	ClosureReason *string    `json:"closureReason,omitempty"`
	CreatedAt     time.Time  `json:"createdAt"`
	ExpiresAt     time.Time  `json:"expiresAt"`
	ResolvedAt    *time.Time `json:"resolvedAt,omitempty"`
	ConnectionID  string     `json:"connectionId,omitempty"` // set once accepted
}

// Connection is an accepted request and its life until closed.
type Connection struct {
	ID                string     `json:"id"` // conn_…
	RequestID         string     `json:"requestId"`
	SenderID          string     `json:"senderId"`
	ReceiverID        string     `json:"receiverId"`
	Status            string     `json:"status"`     // accepted | closed
	CreatedAt         time.Time  `json:"createdAt"`  // when the request was sent
	AcceptedAt        time.Time  `json:"acceptedAt"` // resolvedAt of the request
	ClosedAt          *time.Time `json:"closedAt,omitempty"`
	ClosureReason     *string    `json:"closureReason,omitempty"`
	ClosedByUserID    *string    `json:"closedByUserId,omitempty"`
	ConnectedLocation *LatLng    `json:"connectedLocation,omitempty"`
}

// Pair is everything between two users, oldest first. A pair has at most
// one pending request and at most one active connection at a time.
type Pair struct {
	ID          string       `json:"id"` // PairID(a, b)
	UserA       string       `json:"userA"`
	UserB       string       `json:"userB"`
	Requests    []Request    `json:"requests"`
	Connections []Connection `json:"connections"`
	// Version fences Save (see ErrStale).
	Version uint64 `json:"version,omitempty"`
}

// PairID names the pair of two users independently of their order.
func PairID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return a + "|" + b
}

// Pairs stores pairs as whole records with indexes by user, request id and
// connection id. The Pair grain is the only writer of a pair; Save is
// fenced by Pair.Version so a stale activation of it cannot overwrite what a
// newer one wrote.
type Pairs interface {
	// Get returns a pair; ErrNotFound when the two users never interacted.
	Get(ctx context.Context, pairID string) (*Pair, error)
	// Save writes a pair and its indexes durably (acknowledged writes). It
	// is fenced: ErrStale when p.Version is not the stored version (0: the
	// pair must not exist yet); on success p.Version is the new one.
	Save(ctx context.Context, p *Pair) error
	// Of lists the ids of the pairs a user belongs to.
	Of(ctx context.Context, userID string) ([]string, error)
	// ByRequest and ByConnection find the pair of a request or connection id;
	// ErrNotFound when unknown.
	ByRequest(ctx context.Context, requestID string) (string, error)
	ByConnection(ctx context.Context, connectionID string) (string, error)
}

// Chat ids: "chat_<a>~<b>" with the users' "user_" prefix left out (so a
// chat id fits the 64-byte id limit of the wire), or "chatx_<a>~<b>" with
// the ids whole for ids without it.
const (
	chatPrefix     = "chat_"
	chatLongPrefix = "chatx_"
	userPrefix     = "user_"
)

// ChatID names the legacy dialect's chat of a pair: the 1:1 conversation
// of its connections, the same id for every connection the two ever have.
// It is the pair's id in a URL-safe form, so it needs no index to resolve
// and cannot collide.
func ChatID(pairID string) string {
	a, b, _ := strings.Cut(pairID, "|")
	sa, okA := strings.CutPrefix(a, userPrefix)
	sb, okB := strings.CutPrefix(b, userPrefix)
	if okA && okB {
		return chatPrefix + sa + "~" + sb
	}
	return chatLongPrefix + a + "~" + b
}

// ChatPair is the pair of a chat id; false when chat is not a well-formed
// chat id (the chat is then unknown, whoever asks).
func ChatPair(chat string) (string, bool) {
	short := true
	rest, ok := strings.CutPrefix(chat, chatPrefix)
	if !ok {
		if rest, ok = strings.CutPrefix(chat, chatLongPrefix); !ok {
			return "", false
		}
		short = false
	}
	a, b, ok := strings.Cut(rest, "~")
	if !ok || a == "" || b == "" || strings.ContainsAny(b, "~|") || strings.Contains(a, "|") {
		return "", false
	}
	if short {
		a, b = userPrefix+a, userPrefix+b
	}
	if a >= b || ChatID(a+"|"+b) != chat {
		// One spelling per pair: anything else names no chat.
		return "", false
	}
	return a + "|" + b, true
}

// ActiveConnection is the pair's accepted, not yet closed connection, or nil.
func (p *Pair) ActiveConnection() *Connection {
	for i := range p.Connections {
		if p.Connections[i].Status == ConnectionAccepted {
			return &p.Connections[i]
		}
	}
	return nil
}

// ConnectionAccepted is the status of an active connection.
const ConnectionAccepted = "accepted"
