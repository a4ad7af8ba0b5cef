package storage

import (
	"context"
	"time"
)

// Message is one chat message of a pair's conversation.
type Message struct {
	ID          string     `json:"id"` // msg_… (a ULID: time-ordered)
	PairID      string     `json:"pairId"`
	Seq         uint64     `json:"seq"` // 1, 2, 3… within the conversation, assigned by the Pair grain
	SenderID    string     `json:"senderId"`
	RecipientID string     `json:"recipientId"`
	Content     string     `json:"content"`
	CreatedAt   time.Time  `json:"createdAt"`
	ReadAt      *time.Time `json:"readAt,omitempty"`
	// ClientMessageID is the sender's idempotency key for this message
	// ("" when the client sent none). It is kept with the message for as
	// long as the message is, but it only dedupes a resend for
	// ClientMessageIDWindow (see ByClientMessageID).
	ClientMessageID string `json:"clientMessageId,omitempty"`
}

// ClientMessageIDWindow is how long a clientMessageId dedupes a resend: a
// repeat of a sender's key in a conversation within it answers the first
// message; after it the key is forgotten and names a new message.
const ClientMessageIDWindow = 24 * time.Hour

// Conversation summarises one conversation for one user.
type Conversation struct {
	PairID      string  `json:"pairId"`
	OtherUserID string  `json:"otherUserId"`
	Last        Message `json:"last"`
	Unread      int     `json:"unread"` // messages to this user not yet read
}

// Messages stores conversations. The Pair grain is the only writer of a
// pair's conversation, so sequence numbers need no coordination. Unread
// counts are kept incrementally: reading them never scans messages.
type Messages interface {
	// Append stores m durably (acknowledged writes), updates both users'
	// conversation summaries and the recipient's unread count and inbox.
	// ErrConflict if (PairID, Seq) or ID already exists.
	Append(ctx context.Context, m *Message) error
	// AppendBatch is Append for several messages, in order, in one
	// transaction: all are stored or none (the first error is returned).
	AppendBatch(ctx context.Context, ms []*Message) error
	// AppendAsync is AppendBatch without the wait, for a pair's only
	// writer: it queues ms and returns, and done gets the result once (nil
	// when stored durably). ms are one pair's messages with consecutive
	// seqs, the first directly after the pair's last stored one (else
	// ErrConflict), so when a batch fails every batch of the pair queued
	// behind it fails too rather than leaving a gap. A pair's batches queued
	// from one goroutine commit, and are answered, in the order queued (the
	// Pair grain acks and delivers in that order). done may run on the
	// store's own goroutine and must not block.
	AppendAsync(ms []*Message, done func(error))
	// Get returns a message by id; ErrNotFound when unknown.
	Get(ctx context.Context, id string) (*Message, error)
	// MarkRead sets ReadAt=at on message upToSeq and every earlier message of
	// the pair sent to readerID that is still unread, and lowers the unread
	// count accordingly. It returns how many messages it marked (0 when all
	// were read already).
	MarkRead(ctx context.Context, pairID, readerID string, upToSeq uint64, at time.Time) (int, error)
	// Page lists a conversation newest first: messages with Seq < beforeSeq
	// (0 = from the latest), at most limit.
	Page(ctx context.Context, pairID string, beforeSeq uint64, limit int) ([]Message, error)
	// Conversations lists the conversations of a user, most recent last
	// message first, at most limit (0 = all).
	Conversations(ctx context.Context, userID string, limit int) ([]Conversation, error)
	// Since lists messages sent to userID created strictly after t, oldest
	// first, at most limit (replay after a reconnect).
	Since(ctx context.Context, userID string, t time.Time, limit int) ([]Message, error)
	// LastSeq is the highest Seq of a pair's conversation, 0 when empty.
	LastSeq(ctx context.Context, pairID string) (uint64, error)
	// ByClientMessageID returns the latest message (highest Seq) of the pair
	// that senderID sent with that ClientMessageID, provided it was created
	// at or after since; ErrNotFound otherwise. A key whose latest message
	// is older than since is forgotten (the expiry is lazy: nothing is
	// deleted, a lookup just no longer sees it, and a message appended later
	// with the same key takes its place).
	ByClientMessageID(ctx context.Context, pairID, senderID, clientMessageID string, since time.Time) (*Message, error)
}
