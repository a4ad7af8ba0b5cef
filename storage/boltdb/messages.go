package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// Messages layout (schema version 3):
//
//	messages        pair id \x00 seq(8)                       → Message JSON
//	messages_by_id  message id                                → pair id \x00 seq(8)
//	inbox           recipient \x00 created(8) \x00 message id → pair id \x00 seq(8)
//	conversations   user id \x00 pair id                      → convSummary JSON
//
// and (schema version 9)
//
//	messages_by_client_id  pair id \x00 sender \x00 client message id → pair id \x00 seq(8)
//
// The client message id index holds, per key, the latest message appended
// with it: appends only go forward in a pair, so overwriting is enough.
// Its entries are never deleted. The 24 h window is applied when it is
// read (ByClientMessageID compares the message's CreatedAt), so an old
// key costs one small entry, as messages_by_id does, for as long as its
// message is kept, and no sweep has to write (and fsync) to forget it.
//
// Sequence numbers are big-endian, so a pair's messages are one key range in
// conversation order: Page and LastSeq walk it backwards from a bound, and
// MarkRead walks it backwards from upToSeq. Times are timeKey, so a
// recipient's inbox is in creation order and Since is a forward range scan.
// Every Append writes one conversations entry for each of the two users, so
// Conversations reads one user's entries (a prefix scan over their
// conversations, never over messages) and unread counts are never counted.
//
// Invariant (what lets MarkRead stop early): for each pair and reader, the
// messages to the reader that are read form a prefix, by seq, of all
// messages to the reader. It holds because
//   - Append refuses a message with ReadAt set and a seq that is not above
//     the pair's last seq, so a new message is unread and lands after
//     every read one;
//   - MarkRead is the only way to read a message, and it marks every unread
//     message to the reader with seq ≤ upToSeq.
//
// Together with the exact unread count (changed only in the transactions
// that append or mark), a backwards scan from upToSeq may stop at the first
// message to the reader that is already read, or once it has marked as many
// messages as the summary counts unread.

type messages struct{ s *Store }

// convSummary is one user's side of a conversation. LastSeq names the last
// message in the messages bucket; Unread counts the messages to this user
// whose ReadAt is nil.
type convSummary struct {
	OtherUserID string `json:"otherUserId"`
	LastSeq     uint64 `json:"lastSeq"`
	Unread      int    `json:"unread"`
}

func messageBuckets(tx *bolt.Tx) (mb, byID, inbox, convs *bolt.Bucket, err error) {
	bs, err := buckets(tx, bucketMessages, bucketMessagesByID, bucketInbox, bucketConversations)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	return bs[0], bs[1], bs[2], bs[3], nil
}

func clientIDBucket(tx *bolt.Tx) (*bolt.Bucket, error) {
	bs, err := buckets(tx, bucketMessagesByClientID)
	if err != nil {
		return nil, err
	}
	return bs[0], nil
}

// seqKey is the messages key of a pair's message seq.
func seqKey(pairID string, seq uint64) []byte {
	k := make([]byte, 0, len(pairID)+1+8)
	k = append(k, pairID...)
	k = append(k, sep)
	return binary.BigEndian.AppendUint64(k, seq)
}

// seqBound is the first messages key after the pair's messages with
// Seq < before; before 0 means after all of them.
func seqBound(pairID string, before uint64) []byte {
	if before == 0 {
		end := prefix(pairID)
		end[len(end)-1]++
		return end
	}
	return seqKey(pairID, before)
}

// seekBefore positions c on the last key strictly before end.
func seekBefore(c *bolt.Cursor, end []byte) (k, v []byte) {
	if k, _ = c.Seek(end); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// seqOf returns the seq of a messages key of the pair whose prefix is p, and
// false when k is not such a key.
func seqOf(k, p []byte) (uint64, bool) {
	if len(k) != len(p)+8 || !bytes.HasPrefix(k, p) {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[len(p):]), true
}

// lastSeq is the pair's highest seq, 0 when it has no messages.
func lastSeq(mb *bolt.Bucket, pairID string) uint64 {
	p := prefix(pairID)
	k, _ := seekBefore(mb.Cursor(), seqBound(pairID, 0))
	seq, _ := seqOf(k, p)
	return seq
}

// checkMessage is storage.CheckMessage with bbolt's id rule.
func checkMessage(m *storage.Message) error { return storage.CheckMessage(m, checkID) }

// Append writes the message, its id and inbox entries and both users'
// summaries. Everything that can conflict is checked before the first Put,
// and every value written is derived from what the transaction reads, so a
// batch retry recomputes the unread count instead of adding twice.
func (r messages) Append(ctx context.Context, m *storage.Message) error {
	return r.AppendBatch(ctx, []*storage.Message{m})
}

// AppendBatch stores messages in order in one transaction: all or none.
func (r messages) AppendBatch(ctx context.Context, ms []*storage.Message) error {
	if len(ms) == 0 {
		return nil
	}
	raws, err := encodeMessages(ms)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "messages.append", func(tx *bolt.Tx) error {
		return appendAllTx(tx, ms, raws)
	})
}

// AppendAsync queues the batch and returns: a Pair grain hands over what it
// has numbered and keeps taking messages, and the batches of all pairs
// queued while a commit runs share the next one. The batch must follow the
// pair's last stored message directly, so that when one batch fails every
// batch queued behind it fails too (storage.ErrConflict) instead of
// committing after a gap.
func (r messages) AppendAsync(ms []*storage.Message, done func(error)) {
	if len(ms) == 0 {
		done(nil)
		return
	}
	raws, err := encodeMessages(ms)
	if err == nil {
		err = checkRun(ms)
	}
	if err != nil {
		done(err)
		return
	}
	first := ms[0]
	r.s.updateAsync("messages.append", func(tx *bolt.Tx) error {
		mb, _, _, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		if last := lastSeq(mb, first.PairID); last != first.Seq-1 {
			return fmt.Errorf("boltdb: message %q: seq %d does not follow pair %q's last seq %d: %w",
				first.ID, first.Seq, first.PairID, last, storage.ErrConflict)
		}
		return appendAllTx(tx, ms, raws)
	}, done)
}

// checkRun requires one pair's consecutive seqs.
func checkRun(ms []*storage.Message) error {
	for i, m := range ms[1:] {
		if prev := ms[i]; m.PairID != prev.PairID || m.Seq != prev.Seq+1 {
			return fmt.Errorf("%w: message %q (pair %q, seq %d) does not directly follow message %q (pair %q, seq %d) in its batch",
				ErrInvalid, m.ID, m.PairID, m.Seq, prev.ID, prev.PairID, prev.Seq)
		}
	}
	return nil
}

// encodeMessages checks and encodes outside the transaction.
func encodeMessages(ms []*storage.Message) ([][]byte, error) {
	raws := make([][]byte, len(ms))
	for i, m := range ms {
		if err := checkMessage(m); err != nil {
			return nil, err
		}
		raw, err := marshal(m)
		if err != nil {
			return nil, err
		}
		raws[i] = raw
	}
	return raws, nil
}

func appendAllTx(tx *bolt.Tx, ms []*storage.Message, raws [][]byte) error {
	for i, m := range ms {
		if err := appendTx(tx, m, raws[i]); err != nil {
			return err
		}
	}
	return nil
}

// appendTx writes one message and its indexes. Every value is recomputed
// from what the transaction reads, so a re-run batch writes the same.
func appendTx(tx *bolt.Tx, m *storage.Message, raw []byte) error {
	id := []byte(m.ID)
	key := seqKey(m.PairID, m.Seq)
	inboxKey := append(append(append(prefix(m.RecipientID), timeKey(m.CreatedAt)...), sep), m.ID...)
	senderKey, recipientKey := join(m.SenderID, m.PairID), join(m.RecipientID, m.PairID)
	mb, byID, inbox, convs, err := messageBuckets(tx)
	if err != nil {
		return err
	}
	if owner := byID.Get(id); owner != nil {
		return fmt.Errorf("boltdb: message id %q already exists: %w", m.ID, storage.ErrConflict)
	}
	if last := lastSeq(mb, m.PairID); m.Seq <= last {
		if mb.Get(key) != nil {
			return fmt.Errorf("boltdb: pair %q already has message seq %d: %w", m.PairID, m.Seq, storage.ErrConflict)
		}
		return fmt.Errorf("boltdb: message %q: seq %d is not after pair %q's last seq %d: %w",
			m.ID, m.Seq, m.PairID, last, storage.ErrConflict)
	}
	var snd, rcp convSummary
	if _, err := getJSON(convs, senderKey, &snd); err != nil {
		return err
	}
	if _, err := getJSON(convs, recipientKey, &rcp); err != nil {
		return err
	}
	snd.OtherUserID, snd.LastSeq = m.RecipientID, m.Seq
	rcp.OtherUserID, rcp.LastSeq = m.SenderID, m.Seq
	rcp.Unread++
	sraw, err := marshal(&snd)
	if err != nil {
		return err
	}
	rraw, err := marshal(&rcp)
	if err != nil {
		return err
	}
	puts := []struct {
		b    *bolt.Bucket
		k, v []byte
	}{
		{mb, key, raw}, {byID, id, key}, {inbox, inboxKey, key},
		{convs, senderKey, sraw}, {convs, recipientKey, rraw},
	}
	if m.ClientMessageID != "" {
		byClient, err := clientIDBucket(tx)
		if err != nil {
			return err
		}
		puts = append(puts, struct {
			b    *bolt.Bucket
			k, v []byte
		}{byClient, join(m.PairID, m.SenderID, m.ClientMessageID), key})
	}
	for _, put := range puts {
		if err := put.b.Put(put.k, put.v); err != nil {
			return err
		}
	}
	return nil
}

// loadMessage decodes the message under a messages key that an index named.
func loadMessage(mb *bolt.Bucket, key []byte, from string) (storage.Message, error) {
	var m storage.Message
	found, err := getJSON(mb, key, &m)
	if err != nil {
		return m, err
	}
	if !found {
		return m, fmt.Errorf("boltdb: %s names missing message %q", from, key)
	}
	return m, nil
}

func (r messages) Get(ctx context.Context, id string) (*storage.Message, error) {
	if err := checkID("message id", id); err != nil {
		return nil, err
	}
	var m storage.Message
	err := r.s.view(ctx, "messages.get", func(tx *bolt.Tx) error {
		mb, byID, _, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		key := byID.Get([]byte(id))
		if key == nil {
			return fmt.Errorf("boltdb: message %q: %w", id, storage.ErrNotFound)
		}
		m, err = loadMessage(mb, key, fmt.Sprintf("message id index entry %q", id))
		return err
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MarkRead first checks the reader's unread count in a read transaction, so
// the common repeated read receipt with nothing left to mark costs no write
// and no fsync (and is no commit for OnCommit). Otherwise it walks the pair's
// messages backwards from upToSeq, stopping early by the invariant at the
// top of this file. An unknown pair or a seq beyond the last message marks
// what exists; upToSeq 0 marks nothing.
func (r messages) MarkRead(ctx context.Context, pairID, readerID string, upToSeq uint64, at time.Time) (int, error) {
	if err := checkPairID(pairID); err != nil {
		return 0, err
	}
	if err := storage.CheckReader(pairID, readerID, checkID); err != nil {
		return 0, err
	}
	if at.IsZero() {
		return 0, fmt.Errorf("%w: mark read in pair %q: read time is zero", ErrInvalid, pairID)
	}
	convKey := join(readerID, pairID)
	unread := func(tx *bolt.Tx) (convSummary, error) {
		_, _, _, convs, err := messageBuckets(tx)
		if err != nil {
			return convSummary{}, err
		}
		var cs convSummary
		_, err = getJSON(convs, convKey, &cs)
		return cs, err
	}

	var pending bool
	err := r.s.view(ctx, "messages.mark_read", func(tx *bolt.Tx) error {
		cs, err := unread(tx)
		pending = err == nil && cs.Unread > 0 && upToSeq > 0
		return err
	})
	if err != nil || !pending {
		return 0, err
	}

	readAt := at
	var n int
	err = r.s.update(ctx, "messages.mark_read", func(tx *bolt.Tx) error {
		n = 0
		cs, err := unread(tx)
		if err != nil || cs.Unread <= 0 {
			return err
		}
		mb, _, _, convs, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		// Collect first: a cursor is not safe across writes to its bucket.
		type mark struct {
			key []byte
			m   storage.Message
		}
		var marks []mark
		p := prefix(pairID)
		c := mb.Cursor()
		// upToSeq+1 wraps to 0 for the largest seq, which seqBound reads as
		// "after every message": the same range.
		for k, v := seekBefore(c, seqBound(pairID, upToSeq+1)); len(marks) < cs.Unread; k, v = c.Prev() {
			if _, ok := seqOf(k, p); !ok {
				break
			}
			var m storage.Message
			if err := jsonUnmarshal(v, &m); err != nil {
				return err
			}
			if m.RecipientID != readerID {
				continue
			}
			if m.ReadAt != nil {
				break // everything earlier to the reader is read too
			}
			m.ReadAt = &readAt
			marks = append(marks, mark{bytes.Clone(k), m})
		}
		for _, mk := range marks {
			raw, err := marshal(&mk.m)
			if err != nil {
				return err
			}
			if err := mb.Put(mk.key, raw); err != nil {
				return err
			}
		}
		cs.Unread = max(cs.Unread-len(marks), 0)
		raw, err := marshal(&cs)
		if err != nil {
			return err
		}
		if err := convs.Put(convKey, raw); err != nil {
			return err
		}
		n = len(marks)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Page is a backwards range scan of the pair's messages from beforeSeq. An
// unknown pair has an empty page. limit must be positive, so one call never
// loads a whole conversation.
func (r messages) Page(ctx context.Context, pairID string, beforeSeq uint64, limit int) ([]storage.Message, error) {
	if err := checkPairID(pairID); err != nil {
		return nil, err
	}
	if err := storage.CheckLimit("messages page", limit); err != nil {
		return nil, err
	}
	var out []storage.Message
	err := r.s.view(ctx, "messages.page", func(tx *bolt.Tx) error {
		out = []storage.Message{}
		mb, _, _, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		p := prefix(pairID)
		c := mb.Cursor()
		for k, v := seekBefore(c, seqBound(pairID, beforeSeq)); len(out) < limit; k, v = c.Prev() {
			if _, ok := seqOf(k, p); !ok {
				break
			}
			var m storage.Message
			if err := jsonUnmarshal(v, &m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Conversations reads the user's summaries (one prefix scan) and the last
// message of each, then sorts by that message's CreatedAt, newest first,
// ties by pair id. Its cost grows with the user's number of conversations,
// whatever the limit.
func (r messages) Conversations(ctx context.Context, userID string, limit int) ([]storage.Conversation, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("%w: conversations limit %d, must be 0 (all) or positive", ErrInvalid, limit)
	}
	var out []storage.Conversation
	err := r.s.view(ctx, "messages.conversations", func(tx *bolt.Tx) error {
		out = []storage.Conversation{}
		mb, _, _, convs, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		return scanPrefix(convs, prefix(userID), func(suffix, v []byte) error {
			var cs convSummary
			if err := jsonUnmarshal(v, &cs); err != nil {
				return err
			}
			pairID := string(suffix)
			last, err := loadMessage(mb, seqKey(pairID, cs.LastSeq), fmt.Sprintf("conversation of %q in pair %q", userID, pairID))
			if err != nil {
				return err
			}
			out = append(out, storage.Conversation{PairID: pairID, OtherUserID: cs.OtherUserID, Last: last, Unread: max(cs.Unread, 0)})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b storage.Conversation) int {
		if c := b.Last.CreatedAt.Compare(a.Last.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.PairID, b.PairID)
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Since is a forward range scan of the user's inbox from t. Keys only hold
// times within 1678–2262 exactly (timeKey clamps the rest), so the record's
// CreatedAt decides strictness; ties in time come in message id order.
func (r messages) Since(ctx context.Context, userID string, t time.Time, limit int) ([]storage.Message, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if err := storage.CheckLimit("messages since", limit); err != nil {
		return nil, err
	}
	p := prefix(userID)
	start := append(bytes.Clone(p), timeKey(t)...)
	var out []storage.Message
	err := r.s.view(ctx, "messages.since", func(tx *bolt.Tx) error {
		out = []storage.Message{}
		mb, _, inbox, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		c := inbox.Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Next() {
			m, err := loadMessage(mb, v, fmt.Sprintf("inbox entry %q", k))
			if err != nil {
				return err
			}
			if m.CreatedAt.After(t) {
				out = append(out, m)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ByClientMessageID reads the index entry and the message it names; a
// message created before since is not found (the key expired).
func (r messages) ByClientMessageID(ctx context.Context, pairID, senderID, clientMessageID string, since time.Time) (*storage.Message, error) {
	if err := checkPairID(pairID); err != nil {
		return nil, err
	}
	if err := checkIDs("sender id", senderID, "client message id", clientMessageID); err != nil {
		return nil, err
	}
	var m storage.Message
	err := r.s.view(ctx, "messages.by_client_id", func(tx *bolt.Tx) error {
		byClient, err := clientIDBucket(tx)
		if err != nil {
			return err
		}
		mb, _, _, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		ik := join(pairID, senderID, clientMessageID)
		key := byClient.Get(ik)
		if key == nil {
			return fmt.Errorf("boltdb: client message id %q of %q in pair %q: %w", clientMessageID, senderID, pairID, storage.ErrNotFound)
		}
		m, err = loadMessage(mb, key, fmt.Sprintf("client message id index entry %q", ik))
		if err != nil {
			return err
		}
		if m.CreatedAt.Before(since) {
			return fmt.Errorf("boltdb: client message id %q of %q in pair %q expired: %w", clientMessageID, senderID, pairID, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

func (r messages) LastSeq(ctx context.Context, pairID string) (uint64, error) {
	if err := checkPairID(pairID); err != nil {
		return 0, err
	}
	var seq uint64
	err := r.s.view(ctx, "messages.last_seq", func(tx *bolt.Tx) error {
		mb, _, _, _, err := messageBuckets(tx)
		if err != nil {
			return err
		}
		seq = lastSeq(mb, pairID)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}
