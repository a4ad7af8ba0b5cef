package protocol

import (
	"bytes"
	"encoding/json"
)

// The legacy `/socket` dialect (spec 001 events, spec 002 connection
// events) is a second envelope over the same engine: `{event, data}` both
// ways, no requestId, no timestamp. Only the envelope, the event names and
// the payload shapes live here; the features are the same grains.

// Dialects name the two socket envelopes; a session and its SessionRef
// carry one of them, and fan-outs pick the frame encoded for it.
const (
	DialectWS     = "ws"
	DialectLegacy = "socket"
)

// Events of the legacy dialect.
const (
	EventUserOnline             = "user-online"
	EventUserOffline            = "user-offline"
	EventTypingStarted          = "typing-started"
	EventTypingStopped          = "typing-stopped"
	EventMessagesRead           = "messages-read"
	EventMessagesReceived       = "messages-received"
	EventMessagesSent           = "messages-sent"
	EventChatCreated            = "chat-created"
	EventChatJoined             = "chat-joined"
	EventChatParticipantRemoved = "chat-participant-removed"
	EventChatDeleted            = "chat-deleted"
	EventAccountTerminated      = "account-terminated"
	EventRewardConsumed         = "reward-consumed"
	EventScoreUpdated           = "score-updated"
	EventConnectionRequest      = "connection-request"
	EventConnectionAccepted     = "connection-accepted"
)

// Error events of the legacy dialect: `{event: <one of these>, data: {message}}`.
const (
	EventAuthorizationFailed  = "authorization-failed"
	EventVerificationRequired = "verification-required"
	EventServerError          = "server-error"
	EventValidationFailed     = "validation-failed"
	EventNotFound             = "not-found"
	EventPermissionDenied     = "permission-denied"
)

// MaxEventLength bounds a legacy event name; longer ones are unknown.
const MaxEventLength = 64

// DecodeLegacyFrame parses one `{event, data}` text frame into the
// ClientFrame the session dispatches on: Type is the event, Payload the
// data (`{}` when absent or null).
func DecodeLegacyFrame(data []byte) (ClientFrame, *Error) {
	var f ClientFrame
	trimmed := bytes.Trim(data, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return f, Errorf(CodeInvalidJSON, DomainSession, "frame must be a JSON object")
	}
	var raw struct {
		Event json.RawMessage `json:"event"`
		Data  json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(trimmed, &raw); err != nil {
		return f, Errorf(CodeInvalidJSON, DomainSession, "frame is not valid JSON")
	}
	if len(raw.Event) == 0 || string(raw.Event) == "null" {
		return f, Errorf(CodeInvalidPayload, DomainSession, "event is required")
	}
	if err := json.Unmarshal(raw.Event, &f.Type); err != nil || f.Type == "" {
		return f, Errorf(CodeInvalidPayload, DomainSession, "event must be a non-empty string")
	}
	if len(f.Type) > MaxEventLength {
		f.Type = ""
		return f, Errorf(CodeUnknownType, DomainSession, "unknown event")
	}
	f.Payload = raw.Data
	if len(f.Payload) == 0 || string(f.Payload) == "null" {
		f.Payload = json.RawMessage("{}")
	}
	return f, nil
}

// EncodeLegacyFrame encodes one server event of the legacy dialect.
func EncodeLegacyFrame(event string, data any) ([]byte, error) {
	if data == nil {
		data = struct{}{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return EncodeLegacyRawFrame(event, raw), nil
}

// EncodeLegacyRawFrame is EncodeLegacyFrame for data that is already
// compact JSON the server produced.
func EncodeLegacyRawFrame(event string, data []byte) []byte {
	b := make([]byte, 0, len(data)+len(event)+24)
	b = append(b, `{"event":`...)
	b = appendJSONString(b, event)
	b = append(b, `,"data":`...)
	if len(data) == 0 {
		data = []byte("{}")
	}
	b = append(b, data...)
	return append(b, '}')
}

// LegacyErrorEvent names the legacy error event that carries a code. The
// legacy dialect has seven error events for all of our codes: the code
// itself is not on the wire, only its class and message.
func LegacyErrorEvent(c Code) string {
	switch c {
	case CodeUnauthorized, CodeTokenExpired:
		return EventAuthorizationFailed
	case CodeVerificationRequired:
		return EventVerificationRequired
	case CodeAccountDeleted, CodeAccountTerminated:
		return EventAccountTerminated
	case CodeNotFound, CodeUserNotFound, CodeRequestNotFound:
		return EventNotFound
	case CodeForbidden, CodeBlocked, CodeActiveConnectionRequired:
		return EventPermissionDenied
	case CodeInternal, CodeUnavailable:
		return EventServerError
	}
	return EventValidationFailed
}

// TerminatedMessage is what a terminated account's sockets are told, in
// spec 001's words.
const TerminatedMessage = "Your account has been terminated due to a violation of our Terms and Conditions and in accordance with our Privacy Policy."

// LegacyText is the data of the legacy error events and of
// account-terminated.
type LegacyText struct {
	Message string `json:"message"`
}

// EncodeLegacyError encodes an error as its legacy error event.
func EncodeLegacyError(e *Error) []byte {
	b, err := EncodeLegacyFrame(LegacyErrorEvent(e.Code), LegacyText{Message: e.Message})
	if err != nil {
		// A string always encodes; this is unreachable but must not panic.
		return EncodeLegacyRawFrame(EventServerError, []byte(`{"message":"internal error"}`))
	}
	return b
}

// ChatUser is spec 001's user object.
type ChatUser struct {
	ID       string  `json:"_id"`
	Name     string  `json:"name"`
	Username *string `json:"username"`
	Photo    *string `json:"photo"`
}

// ChatUserOf renders a User model as spec 001's user object.
func ChatUserOf(u User) ChatUser {
	return ChatUser{ID: u.ID, Name: u.Name, Username: u.Username, Photo: u.Avatar}
}

// LegacyMessage is a chat message as the legacy dialect shows it: its
// sender as a user object.
type LegacyMessage struct {
	ID      string   `json:"_id"`
	User    ChatUser `json:"user"`
	Chat    string   `json:"chat"`
	Content string   `json:"content"`
	At      string   `json:"at"`
	// ClientMessageID: as on Message, for the sender only.
	ClientMessageID string `json:"clientMessageId,omitempty"`
}

// LegacyMessageRef is a message with its sender as a bare id, as
// messages-read carries its lastMessage.
type LegacyMessageRef struct {
	ID      string `json:"_id"`
	User    string `json:"user"`
	Chat    string `json:"chat"`
	Content string `json:"content"`
	At      string `json:"at"`
}

// LegacyMessageEvent is the data of messages-received and messages-sent,
// and the answer of POST /chats/:chat/messages.
type LegacyMessageEvent struct {
	Message LegacyMessage `json:"message"`
}

// LegacyPresence is the data of user-online and user-offline.
type LegacyPresence struct {
	User  ChatUser `json:"user"`
	Chats []string `json:"chats"`
	Chat  string   `json:"chat"`
}

// LegacyTyping is the data of typing-started and typing-stopped.
type LegacyTyping struct {
	User ChatUser `json:"user"`
	Chat string   `json:"chat"`
}

// LegacyRead is the data of messages-read sent to the other user.
type LegacyRead struct {
	User        ChatUser          `json:"user"`
	Chat        string            `json:"chat"`
	LastReadAt  string            `json:"lastReadAt"`
	LastMessage *LegacyMessageRef `json:"lastMessage"`
}

// LegacyChat is the data of chat-created, and of the client's
// typing-started, typing-stopped and messages-read.
type LegacyChat struct {
	Chat string `json:"chat"`
}

// Validate checks a client's chat reference.
func (p *LegacyChat) Validate() *Error {
	if p.Chat == "" {
		return Errorf(CodeInvalidPayload, DomainChat, "chat is required")
	}
	if !ValidID(p.Chat) {
		return Errorf(CodeNotFound, DomainChat, "chat not found")
	}
	return nil
}

// LegacyChatJoined is the data of chat-joined: admin is who sent the
// request that made the chat.
type LegacyChatJoined struct {
	Chat  string    `json:"chat"`
	Admin *ChatUser `json:"admin"`
}

// LegacyChatUser is the data of chat-participant-removed (user: who left
// the chat) and chat-deleted (user: who closed it), a bare user id.
type LegacyChatUser struct {
	Chat string `json:"chat"`
	User string `json:"user"`
}

// LegacyConnectionEvent is the data of connection-request and
// connection-accepted: spec 002's connection in its short form.
type LegacyConnectionEvent struct {
	Connection LegacyRequest `json:"connection"`
}

// LegacyRewardConsumed is the data of reward-consumed.
type LegacyRewardConsumed struct {
	Reward          string `json:"reward"`
	IsExpired       bool   `json:"isExpired"`
	Remaining       *int   `json:"remaining"` // the campaign's stock left; null when unlimited
	IsConsumedByYou bool   `json:"isConsumedByYou"`
}
