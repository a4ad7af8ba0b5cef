package protocol

import (
	"encoding/json"
	"fmt"
)

// User is the User model of spec 000. username and bio are the legacy
// dialect's extra profile fields (SPEC-NOTES "Users"). Nullable fields are
// pointers so they encode as null, never omitted: clients rely on every key.
type User struct {
	ID            string  `json:"id"`
	Name          string  `json:"name"`
	Age           *int    `json:"age"`
	Avatar        *string `json:"avatar"`
	Gender        *string `json:"gender"`
	Vibe          *string `json:"vibe"`
	VibeExpiresAt *string `json:"vibeExpiresAt"`
	Username      *string `json:"username"`
	Bio           *string `json:"bio"`
}

// Location is the Location model.
type Location struct {
	Lat            float64  `json:"lat"`
	Lng            float64  `json:"lng"`
	AccuracyMeters *float64 `json:"accuracyMeters,omitempty"`
	Heading        *float64 `json:"heading,omitempty"`
	Speed          *float64 `json:"speed,omitempty"`
	UpdatedAt      string   `json:"updatedAt"`
}

// Presence is the Presence model plus isOnRadar.
type Presence struct {
	IsLive    bool      `json:"isLive"`
	IsOnRadar bool      `json:"isOnRadar"`
	Location  *Location `json:"location"`
}

// SafetyReport is the SafetyReport model.
type SafetyReport struct {
	ReportID       string `json:"reportId"`
	ReportedUserID string `json:"reportedUserId"`
	Reason         string `json:"reason"`
	Status         string `json:"status"`
	CreatedAt      string `json:"createdAt"`
}

// Conversation is one entry of the conversations map.
type Conversation struct {
	LastMessage json.RawMessage `json:"lastMessage"`
	UnreadCount int             `json:"unreadCount"`
}

// Bootstrap is the session.bootstrap payload. Every key is always present:
// lists encode as [], maps as {}, absent objects as null. Features fill their
// fields with pre-encoded JSON (RawMessage) so the session need not know
// their models.
type Bootstrap struct {
	CurrentUser              User                    `json:"currentUser"`
	Presence                 Presence                `json:"presence"`
	NearbyUsers              json.RawMessage         `json:"nearbyUsers"`
	IncomingRequests         json.RawMessage         `json:"incomingRequests"`
	SentRequests             json.RawMessage         `json:"sentRequests"`
	Requests                 json.RawMessage         `json:"requests"`
	ActiveConnections        json.RawMessage         `json:"activeConnections"`
	ClosedConnections        json.RawMessage         `json:"closedConnections"`
	Messages                 json.RawMessage         `json:"messages"`
	Conversations            map[string]Conversation `json:"conversations"`
	UnreadMessageCount       map[string]int          `json:"unreadMessageCount"`
	TotalUnreadMessageCount  int                     `json:"totalUnreadMessageCount"`
	Gifts                    []struct{}              `json:"gifts"`
	SponsoredGifts           json.RawMessage         `json:"sponsoredGifts"`
	SponsoredGiftsNextCursor *string                 `json:"sponsoredGiftsNextCursor"`
	ProximitySession         json.RawMessage         `json:"proximitySession"`
	BlockedUserIDs           []string                `json:"blockedUserIds"`
	SafetyReports            []SafetyReport          `json:"safetyReports"`

	// ActiveConnectionIDs is not sent: the connections source hands the
	// active connection ids (most recently accepted first) to the sources
	// after it, which would otherwise decode ActiveConnections again.
	ActiveConnectionIDs []string `json:"-"`
}

var emptyList = json.RawMessage("[]")

// NewBootstrap returns a bootstrap with every key at its empty value; callers
// fill what their features know.
func NewBootstrap() Bootstrap {
	return Bootstrap{
		NearbyUsers:        emptyList,
		IncomingRequests:   emptyList,
		SentRequests:       emptyList,
		Requests:           emptyList,
		ActiveConnections:  emptyList,
		ClosedConnections:  emptyList,
		Messages:           emptyList,
		Conversations:      map[string]Conversation{},
		UnreadMessageCount: map[string]int{},
		Gifts:              []struct{}{},
		SponsoredGifts:     emptyList,
		ProximitySession:   json.RawMessage("null"),
		BlockedUserIDs:     []string{},
		SafetyReports:      []SafetyReport{},
	}
}

// BootstrapKeys lists every key of the spec's bootstrap payload; tests check
// a live bootstrap against it.
var BootstrapKeys = []string{
	"currentUser", "presence", "nearbyUsers", "incomingRequests", "sentRequests",
	"requests", "activeConnections", "closedConnections", "messages", "conversations",
	"unreadMessageCount", "totalUnreadMessageCount", "gifts", "sponsoredGifts",
	"sponsoredGiftsNextCursor", "proximitySession", "blockedUserIds", "safetyReports",
}

// NearbyUser is the NearbyUser model.
type NearbyUser struct {
	User            json.RawMessage `json:"user"`
	Distance        float64         `json:"distance"`
	Angle           float64         `json:"angle"`
	IsLive          bool            `json:"isLive"`
	SharedInterests []string        `json:"sharedInterests"`
	Location        Location        `json:"location"`
}

// NearbyPayload is the radar.nearby.updated payload.
type NearbyPayload struct {
	NearbyUsers []NearbyUser `json:"nearbyUsers"`
}

// PresencePayload is the presence.updated payload.
type PresencePayload struct {
	UserID   string   `json:"userId"`
	Presence Presence `json:"presence"`
}

// AppendJSON appends the bootstrap's JSON to dst. The raw parts (messages,
// connections, radar…) were encoded by the server a moment ago, so they are
// copied as they are: json.Marshal would validate and compact every byte of
// them again, which for a user with a thousand messages costs more than
// building them did.
func (b *Bootstrap) AppendJSON(dst []byte) ([]byte, error) {
	fields := []struct {
		key string
		raw json.RawMessage
		val any
	}{
		{"currentUser", nil, b.CurrentUser},
		{"presence", nil, b.Presence},
		{"nearbyUsers", b.NearbyUsers, nil},
		{"incomingRequests", b.IncomingRequests, nil},
		{"sentRequests", b.SentRequests, nil},
		{"requests", b.Requests, nil},
		{"activeConnections", b.ActiveConnections, nil},
		{"closedConnections", b.ClosedConnections, nil},
		{"messages", b.Messages, nil},
		{"conversations", nil, b.Conversations},
		{"unreadMessageCount", nil, b.UnreadMessageCount},
		{"totalUnreadMessageCount", nil, b.TotalUnreadMessageCount},
		{"gifts", nil, b.Gifts},
		{"sponsoredGifts", b.SponsoredGifts, nil},
		{"sponsoredGiftsNextCursor", nil, b.SponsoredGiftsNextCursor},
		{"proximitySession", b.ProximitySession, nil},
		{"blockedUserIds", nil, b.BlockedUserIDs},
		{"safetyReports", nil, b.SafetyReports},
	}
	dst = append(dst, '{')
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, f.key...)
		dst = append(dst, `":`...)
		raw := f.raw
		if f.val != nil {
			var err error
			if raw, err = json.Marshal(f.val); err != nil {
				return nil, fmt.Errorf("bootstrap %s: %w", f.key, err)
			}
		}
		if len(raw) == 0 {
			raw = json.RawMessage("null")
		}
		dst = append(dst, raw...)
	}
	return append(dst, '}'), nil
}
