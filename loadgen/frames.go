package loadgen

import (
	"encoding/json"
	"time"
)

// Frame types the generator sends or reacts to (docs/protocol.md).
const (
	typeError            = "error"
	typeSessionStart     = "session.start"
	typeSessionBootstrap = "session.bootstrap"
	typeSessionRefresh   = "session.refresh"
	typeLocationUpdate   = "presence.location_update"
	typeRadarNearby      = "radar.nearby.updated"
	typeRequestSend      = "connection.request.send"
	typeRequestAccept    = "connection.request.accept"
	typeChatMessage      = "chat.message.created"
	typeProxStart        = "proximity.session.start"
	typeProxConfirmed    = "proximity.partner.confirmed"
	typeProxUpdated      = "proximity.session.updated"
	typeProxHeartbeat    = "proximity.heartbeat"
	typeProxMilestone    = "proximity.milestone.reached"
	typeProxRotate       = "proximity.token.rotate"
	typeProxEnd          = "proximity.session.end"
)

// Events of the legacy `/socket` dialect the generator sends or reads
// (protocol/legacy.go).
const (
	eventMessagesRead         = "messages-read"
	eventNotFound             = "not-found"
	eventAuthorizationFailed  = "authorization-failed"
	eventVerificationRequired = "verification-required"
	eventAccountTerminated    = "account-terminated"
	eventServerError          = "server-error"
	eventValidationFailed     = "validation-failed"
	eventPermissionDenied     = "permission-denied"
)

// legacyErrorEvents are the legacy dialect's error events, each with data
// {message}. The dialect carries no error code, so the event name is the
// code the statistics and --allow-errors see.
var legacyErrorEvents = map[string]bool{
	eventAuthorizationFailed:  true,
	eventVerificationRequired: true,
	eventAccountTerminated:    true,
	eventServerError:          true,
	eventValidationFailed:     true,
	eventNotFound:             true,
	eventPermissionDenied:     true,
}

// probeChat names a chat that cannot exist: it is the pair of user_0 and
// user_1, and user ids end in a 26-character ULID. The
// server answers messages-read on it with not-found without touching any
// pair, so the probe leaves nothing behind in the memory it measures.
const probeChat = "chat_0~1"

// probeFrame asks the cheapest question that a legacy socket answers only
// once it is attached to its user (the server holds a legacy socket's
// frames until then), so its answer proves the session is live.
var probeFrame = []byte(`{"event":"` + eventMessagesRead + `","data":{"chat":"` + probeChat + `"}}`)

// outFrame is a client frame.
type outFrame struct {
	Type      string `json:"type"`
	Payload   any    `json:"payload"`
	RequestID string `json:"requestId,omitempty"`
}

// inFrame is a server frame; the payload is decoded only by whoever needs
// it. A radar.nearby.updated frame keeps no payload, only its count.
type inFrame struct {
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp string          `json:"timestamp"`
	RequestID string          `json:"requestId"`
	recvAt    time.Time
	// nearby counts the entries of payload.nearbyUsers (-1: none), found
	// while skimming; radar payloads are not kept (see readLoop).
	nearby int
}

// errorPayload is the payload of an error frame.
type errorPayload struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Domain  string `json:"domain"`
}

func (f *inFrame) errorCode() string {
	var e errorPayload
	_ = json.Unmarshal(f.Payload, &e)
	if e.Code == "" {
		return "error_without_code"
	}
	return e.Code
}

// syntheticError is handed to a waiter whose request got no answer.
func syntheticError(code string) *inFrame {
	p, _ := json.Marshal(errorPayload{Code: code, Message: "generator: " + code})
	return &inFrame{Type: typeError, Payload: p, recvAt: time.Now()}
}

// Client payloads.
type (
	locationPayload struct {
		Lat            float64 `json:"lat"`
		Lng            float64 `json:"lng"`
		AccuracyMeters float64 `json:"accuracyMeters"`
		Heading        float64 `json:"heading"`
		Speed          float64 `json:"speed"`
	}
	userIDPayload struct {
		UserID string `json:"userId"`
	}
	requestIDPayload struct {
		RequestID string `json:"requestId"`
	}
	chatPayload struct {
		RecipientID string `json:"recipientId"`
		Content     string `json:"content"`
	}
	scanPayload struct {
		ConnectionID string `json:"connectionId"`
		Token        string `json:"token"`
		RSSI         int    `json:"rssi"`
	}
	connectionIDPayload struct {
		ConnectionID string `json:"connectionId"`
	}
	refreshPayload struct {
		AccessToken string `json:"accessToken"`
	}
)

// Server payloads, only the fields the generator reads.
type (
	bootstrapPayload struct {
		CurrentUser struct {
			ID string `json:"id"`
		} `json:"currentUser"`
	}
	requestPayload struct {
		Request struct {
			RequestID  string `json:"requestId"`
			FromUserID string `json:"fromUserId"`
			ToUserID   string `json:"toUserId"`
		} `json:"request"`
	}
	acceptPayload struct {
		RequestID  string `json:"requestId"`
		Connection struct {
			ConnectionID string `json:"connectionId"`
		} `json:"connection"`
	}
	tokenPayload struct {
		ConnectionID string    `json:"connectionId"`
		Token        string    `json:"token"`
		ExpiresAt    time.Time `json:"expiresAt"`
	}
	startAck struct {
		SessionActive     bool `json:"sessionActive"`
		YourTokenReceived bool `json:"yourTokenReceived"`
		WaitingForPartner bool `json:"waitingForPartner"`
	}
	summaryPayload struct {
		ConnectionID       string `json:"connectionId"`
		AccumulatedSeconds int    `json:"accumulatedSeconds"`
	}
	chatEvent struct {
		SenderID string `json:"senderId"`
		Content  string `json:"content"`
	}
)
