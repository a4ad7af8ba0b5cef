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

// outFrame is a client frame.
type outFrame struct {
	Type      string `json:"type"`
	Payload   any    `json:"payload"`
	RequestID string `json:"requestId,omitempty"`
}

// inFrame is a server frame; the payload is decoded only by whoever needs it.
type inFrame struct {
	Type      string          `json:"type"`
	Payload   json.RawMessage `json:"payload"`
	Timestamp string          `json:"timestamp"`
	RequestID string          `json:"requestId"`
	recvAt    time.Time
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
