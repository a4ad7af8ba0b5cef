package protocol

// The chats REST for legacy clients: spec 001 has no socket event to send
// a message with, so legacy clients list, page and send over REST. A chat
// is a pair's 1:1 conversation under its chat id.

// LegacyChatSummary is one chat of GET /chats.
type LegacyChatSummary struct {
	ID string `json:"_id"`
	// Users are both participants, the caller first.
	Users []ChatUser `json:"users"`
	// LastMessage is null while the chat has no message yet.
	LastMessage *LegacyMessage `json:"lastMessage"`
	// UnreadCount counts the messages to the caller not yet read.
	UnreadCount int `json:"unreadCount"`
}

// LegacyChatList is the GET /chats body, most recent activity first.
type LegacyChatList struct {
	Chats []LegacyChatSummary `json:"chats"`
}

// LegacyMessagePage is the GET /chats/:chat/messages body: newest first;
// NextBefore is the id to page on from, null on the last page.
type LegacyMessagePage struct {
	Messages   []LegacyMessage `json:"messages"`
	NextBefore *string         `json:"nextBefore"`
}

// LegacyChatPost is the POST /chats/:chat/messages body.
type LegacyChatPost struct {
	Content string `json:"content"`
	// ClientMessageID is the idempotency key, as on chat.message.created.
	ClientMessageID *string `json:"clientMessageId"`
}

// Validate trims the content and checks it and the key as
// chat.message.created does.
func (p *LegacyChatPost) Validate() *Error {
	if err := validClientMessageID(p.ClientMessageID); err != nil {
		return err
	}
	return validContent(&p.Content)
}

// ClientID is the idempotency key, "" when there is none.
func (p *LegacyChatPost) ClientID() string { return deref(p.ClientMessageID) }
