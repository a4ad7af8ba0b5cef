package protocol

import (
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// Message is the Message model.
type Message struct {
	MessageID   string  `json:"messageId"`
	SenderID    string  `json:"senderId"`
	RecipientID string  `json:"recipientId"`
	Sender      User    `json:"sender"`
	Recipient   User    `json:"recipient"`
	Content     string  `json:"content"`
	CreatedAt   string  `json:"createdAt"`
	ReadAt      *string `json:"readAt"`
	// ClientMessageID is the idempotency key the message was sent with.
	// Only its sender sees it (it is the sender's device's bookkeeping,
	// for matching an optimistic message to the stored one); absent for
	// the recipient and when the message was sent without one.
	ClientMessageID string `json:"clientMessageId,omitempty"`
}

// MaxMessageChars bounds a chat message after trimming.
const MaxMessageChars = 4000

// ChatSend is the chat.message.created payload a client sends.
type ChatSend struct {
	RecipientID string `json:"recipientId"`
	Content     string `json:"content"`
	// ClientMessageID is an optional idempotency key: a resend with the
	// same key by the same sender in the same conversation within 24 h
	// answers the first message instead of sending another. Absent or
	// null sends without one.
	ClientMessageID *string `json:"clientMessageId"`
}

// Validate checks the recipient and the key and normalises the content.
func (p *ChatSend) Validate() *Error {
	if err := validRecipient(p.RecipientID); err != nil {
		return err
	}
	if err := validClientMessageID(p.ClientMessageID); err != nil {
		return err
	}
	return validContent(&p.Content)
}

// ClientID is the idempotency key, "" when there is none.
func (p *ChatSend) ClientID() string { return deref(p.ClientMessageID) }

// validClientMessageID checks an idempotency key as strictly as an id we
// issue (ValidID): it becomes part of a store key and of the sender's
// views, so NUL, control characters and oversized keys never get that far.
// A UUID or a ULID fits; an empty key is refused rather than read as none,
// since a client that sends "" most likely meant a key.
func validClientMessageID(p *string) *Error {
	if p != nil && !ValidID(*p) {
		return Errorf(CodeInvalidPayload, DomainChat, "clientMessageId must be 1 to %d printable ASCII characters without spaces", MaxIDChars)
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// validContent trims a message's content and checks it; every way of
// sending a message (chat.message.created, POST /chats/:chat/messages)
// goes through it, so they accept exactly the same content.
func validContent(content *string) *Error {
	*content = strings.TrimSpace(*content)
	if *content == "" {
		return Errorf(CodeInvalidPayload, DomainChat, "content is required")
	}
	if utf8.RuneCountInString(*content) > MaxMessageChars {
		return Errorf(CodeInvalidPayload, DomainChat, "content is longer than %d characters", MaxMessageChars)
	}
	if !utf8.ValidString(*content) {
		return Errorf(CodeInvalidPayload, DomainChat, "content is not valid UTF-8")
	}
	return nil
}

func validRecipient(id string) *Error {
	if id == "" {
		return Errorf(CodeMissingRecipientID, DomainChat, "recipientId is required")
	}
	if !ValidID(id) {
		return Errorf(CodeUserNotFound, DomainChat, "user not found")
	}
	return nil
}

// ChatRelay is the payload of chat.typing and the location-share frames.
// fromUserId, if a client sends it, is ignored: the socket says who it is.
type ChatRelay struct {
	RecipientID string          `json:"recipientId"`
	IsTyping    *bool           `json:"isTyping"`
	Location    json.RawMessage `json:"location"`
}

// SharedLocation is the location object of a share frame.
type SharedLocation struct {
	Lat            *float64 `json:"lat"`
	Lng            *float64 `json:"lng"`
	AccuracyMeters *float64 `json:"accuracyMeters,omitempty"`
	Heading        *float64 `json:"heading,omitempty"`
	Speed          *float64 `json:"speed,omitempty"`
	UpdatedAt      *string  `json:"updatedAt,omitempty"`
}

// ValidateRelay checks a relay frame of the given type and returns what
// to forward (with the location normalised).
func (p *ChatRelay) ValidateRelay(typ string) (*ChatRelayed, *Error) {
	if err := validRecipient(p.RecipientID); err != nil {
		return nil, err
	}
	out := &ChatRelayed{RecipientID: p.RecipientID}
	switch typ {
	case TypeChatTyping:
		if p.IsTyping == nil {
			return nil, Errorf(CodeInvalidPayload, DomainChat, "isTyping is required")
		}
		typing := *p.IsTyping
		out.IsTyping = &typing
	case TypeChatShareStart, TypeChatShareUpdated:
		if len(p.Location) == 0 || string(p.Location) == "null" {
			return nil, Errorf(CodeInvalidLocation, DomainChat, "location is required")
		}
		var l SharedLocation
		if err := json.Unmarshal(p.Location, &l); err != nil {
			return nil, Errorf(CodeInvalidLocation, DomainChat, "location must be an object with lat and lng")
		}
		lu := LocationUpdate{Lat: l.Lat, Lng: l.Lng, AccuracyMeters: l.AccuracyMeters, Heading: l.Heading, Speed: l.Speed}
		if err := lu.Validate(); err != nil {
			return nil, &Error{Code: CodeInvalidLocation, Domain: DomainChat, Message: err.Message}
		}
		if l.UpdatedAt != nil {
			if _, err := time.Parse(time.RFC3339, *l.UpdatedAt); err != nil {
				return nil, Errorf(CodeInvalidLocation, DomainChat, "location.updatedAt must be RFC 3339")
			}
		}
		out.Location = &l
	}
	return out, nil
}

// ChatRead is what chat.message.read accepts.
type ChatRead struct {
	MessageID string `json:"messageId"`
}

// ChatReadReceipt is the chat.message.read answer and event. ReadAt is the
// message's stored read time: null while its recipient has not read it.
type ChatReadReceipt struct {
	MessageID   string  `json:"messageId"`
	ReadAt      *string `json:"readAt"`
	RecipientID string  `json:"recipientId"`
	SenderID    string  `json:"senderId"`
}

// ChatRelayed is a relayed chat.typing or location-share frame: the
// validated fields, who it is from and to, and, in the relayer's answer,
// Status "sent". Nothing of it is stored.
type ChatRelayed struct {
	FromUserID  string          `json:"fromUserId,omitempty"`
	IsTyping    *bool           `json:"isTyping,omitempty"`
	Location    *SharedLocation `json:"location,omitempty"`
	RecipientID string          `json:"recipientId"`
	Status      string          `json:"status,omitempty"`
}

// ConversationSummary is one entry of the conversations map.
type ConversationSummary struct {
	LastMessage Message `json:"lastMessage"`
	UnreadCount int     `json:"unreadCount"`
}

// ChatHistory is the chat.history.fetch payload (and the chat part of
// bootstrap): messages oldest first, conversations keyed by the other
// user's id.
type ChatHistory struct {
	Messages                []Message                      `json:"messages"`
	Conversations           map[string]ConversationSummary `json:"conversations"`
	UnreadMessageCount      map[string]int                 `json:"unreadMessageCount"`
	TotalUnreadMessageCount int                            `json:"totalUnreadMessageCount"`
}

// ConversationList is the GET /conversations body: ChatHistory without
// the messages.
type ConversationList struct {
	Conversations           map[string]ConversationSummary `json:"conversations"`
	UnreadMessageCount      map[string]int                 `json:"unreadMessageCount"`
	TotalUnreadMessageCount int                            `json:"totalUnreadMessageCount"`
}

// MessagePage is the GET /conversations/:userId/messages body: newest
// first; NextBefore is the id to page on from, null on the last page.
type MessagePage struct {
	Messages   []Message `json:"messages"`
	NextBefore *string   `json:"nextBefore"`
}
