package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gisbi/engine/storage"
)

// Messages are rows of the messages table; conversations holds each user's
// side of each conversation (see migrations/0002_pairs_messages.sql).
//
// Invariant (what lets MarkRead visit only unread messages): for each pair
// and reader, every message to the reader with seq <= read_seq is read, and
// every later one is unread. It holds because
//   - an append refuses a message with ReadAt set and a seq that is not
//     above the pair's last seq, so a new message is unread and lands after
//     read_seq;
//   - MarkRead is the only way to read a message: it marks every unread
//     message to the reader up to min(upToSeq, last_seq) and moves read_seq
//     there, holding the reader's conversations row, which every append to
//     the pair locks too.
//
// Unread counts change only in the transactions that append or mark, so
// they stay exact and are never counted.

type messages struct{ s *Store }

// Messages returns the store's messages.
func (s *Store) Messages() storage.Messages { return messages{s: s} }

// maxMessageSeq is the largest seq a bigint column holds. Seqs count one pair's
// messages, so no conversation comes near it; a larger one is refused
// rather than wrapped.
const maxMessageSeq = 1<<63 - 1

// JSON, which bbolt stores times in, holds the years 0 to 9999; PostgreSQL
// holds more, but both stores accept the same times.
var (
	minMessageTime = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)
	maxMessageTime = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Microsecond)
)

// checkMessageTime refuses the zero time and times JSON cannot hold.
func checkMessageTime(what string, t time.Time) error {
	switch {
	case t.IsZero():
		return fmt.Errorf("%w: %s is zero", ErrInvalid, what)
	case t.Before(minMessageTime) || t.After(maxMessageTime):
		return fmt.Errorf("%w: %s %v is outside the years 0 to 9999", ErrInvalid, what, t)
	}
	return nil
}

// checkMessage is storage.CheckMessage with PostgreSQL's id rule, plus
// seqs beyond a bigint and times JSON cannot hold.
func checkMessage(m *storage.Message) error {
	if err := storage.CheckMessage(m, checkID); err != nil {
		return err
	}
	if m.Seq > maxMessageSeq {
		return fmt.Errorf("%w: message %q: seq %d is beyond the largest storable seq %d", ErrInvalid, m.ID, m.Seq, uint64(maxMessageSeq))
	}
	if err := checkMessageTime("createdAt", m.CreatedAt); err != nil {
		return fmt.Errorf("postgres: message %q: %w", m.ID, err)
	}
	return nil
}

func checkMessages(ms []*storage.Message) error {
	for _, m := range ms {
		if err := checkMessage(m); err != nil {
			return err
		}
	}
	return nil
}

// checkRun requires one pair's consecutive seqs, as AppendAsync's batches are.
func checkRun(ms []*storage.Message) error {
	for i, m := range ms[1:] {
		if prev := ms[i]; m.PairID != prev.PairID || m.Seq != prev.Seq+1 {
			return fmt.Errorf("%w: message %q (pair %q, seq %d) does not directly follow message %q (pair %q, seq %d) in its batch", ErrInvalid,
				m.ID, m.PairID, m.Seq, prev.ID, prev.PairID, prev.Seq)
		}
	}
	return nil
}

// messageCols are read by scanMessage, in its order.
const messageCols = `pair_id, seq, id, sender_id, recipient_id, content, created_at, read_at, client_message_id`

func scanMessage(row pgx.CollectableRow) (storage.Message, error) {
	var m storage.Message
	var seq int64
	var content []byte
	var clientID *string
	if err := row.Scan(&m.PairID, &seq, &m.ID, &m.SenderID, &m.RecipientID, &content, &m.CreatedAt, &m.ReadAt, &clientID); err != nil {
		return m, err
	}
	m.Seq, m.Content, m.CreatedAt, m.ReadAt = uint64(seq), string(content), m.CreatedAt.UTC(), utcPtr(m.ReadAt)
	if clientID != nil {
		m.ClientMessageID = *clientID
	}
	return m, nil
}

// nullIfEmpty stores "" as NULL, which the partial client id index skips.
func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Append is AppendBatch of one message.
func (r messages) Append(ctx context.Context, m *storage.Message) error {
	return r.AppendBatch(ctx, []*storage.Message{m})
}

// AppendBatch stores ms in order in one transaction: all or none.
func (r messages) AppendBatch(ctx context.Context, ms []*storage.Message) error {
	if len(ms) == 0 {
		return nil
	}
	if err := checkMessages(ms); err != nil {
		return err
	}
	const op = "messages.append"
	release, err := r.s.acquire(op)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	u := &appendUnit{ms: ms}
	if err := r.s.runAppend(ctx, []*appendUnit{u}); err != nil {
		return mapErr(op, err)
	}
	if u.err != nil {
		return u.err
	}
	if r.s.onCommit != nil {
		r.s.onCommit(op, time.Since(start))
	}
	return nil
}

// AppendAsync queues the batch for the store's group commit (appender) and
// returns. The batch must follow the pair's last stored message directly,
// so that when one batch fails every batch queued behind it fails too
// (storage.ErrConflict) instead of committing after a gap.
func (r messages) AppendAsync(ms []*storage.Message, done func(error)) {
	if len(ms) == 0 {
		done(nil)
		return
	}
	err := checkMessages(ms)
	if err == nil {
		err = checkRun(ms)
	}
	if err != nil {
		done(err)
		return
	}
	r.s.appender.enqueue(&appendUnit{ms: ms, follow: true, done: done, queued: time.Now()})
}

// appendUnit is one AppendBatch call or one AppendAsync batch: runAppend
// stores all of its messages or none.
type appendUnit struct {
	ms []*storage.Message
	// follow: the first message must directly follow the pair's last stored
	// one (AppendAsync). Otherwise each message's seq must only be above the
	// pair's last (a unit may then hold several pairs).
	follow bool
	// err says why runAppend refused the unit, nil when it was written.
	err error

	done   func(error) // AppendAsync's callback
	queued time.Time
}

// convKey names a conversations row.
type convKey struct{ user, pair string }

func compareConvKeys(a, b convKey) int {
	if c := strings.Compare(a.user, b.user); c != 0 {
		return c
	}
	return strings.Compare(a.pair, b.pair)
}

// errNothingAccepted rolls back an append transaction that refused every
// unit: it has nothing to commit.
var errNothingAccepted = errors.New("postgres: every append unit was refused")

// runAppend writes units in one transaction, in two round trips: the first
// (with BEGIN) locks the conversations rows of every pair and reads their
// last seqs and which message ids exist; Go then decides which units to
// write, and the second (with COMMIT) writes them. Units refused by those
// checks get their err and do not stop the others; an error returned means
// the transaction wrote nothing. Serialisation failures and deadlocks are
// retried like Store.write's.
func (s *Store) runAppend(ctx context.Context, units []*appendUnit) error {
	var err error
	for attempt := 0; ; attempt++ {
		err = s.appendOnce(ctx, units)
		if !retryable(err) || attempt == 4 {
			break
		}
	}
	if errors.Is(err, errNothingAccepted) {
		return nil
	}
	return err
}

func (s *Store) appendOnce(ctx context.Context, units []*appendUnit) (err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// A connection left inside a transaction is closed by the pool on
	// release rather than reused.
	defer conn.Release()
	defer func() {
		if err != nil && conn.Conn().PgConn().TxStatus() != 'I' {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()

	p := newAppendPlan(units)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	// How these statements should run depends on how many rows their arrays
	// carry and how large the tables are. A cached generic plan made while
	// the tables were small (a new database) scans all of messages for the
	// ids until the next ANALYZE; planning once per group costs far less.
	b.Queue("SET LOCAL plan_cache_mode = force_custom_plan")
	p.queueReads(b)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return err
	}
	if !p.decide() {
		return errNothingAccepted
	}
	b = &pgx.Batch{}
	p.queueWrites(b)
	b.Queue("COMMIT").Exec(func(ct pgconn.CommandTag) error {
		if ct.String() != "COMMIT" {
			// The server answers ROLLBACK to a COMMIT of a failed transaction.
			return fmt.Errorf("commit answered %q", ct.String())
		}
		return nil
	})
	return conn.SendBatch(ctx, b).Close()
}

// appendPlan is one append transaction's reads, decisions and writes.
type appendPlan struct {
	units []*appendUnit
	keys  []convKey          // both users' rows of every pair, sorted: the lock order
	other map[convKey]string // the other user of each row
	ids   []string

	lastSeq  map[string]int64 // by pair, as stored
	existing map[string]bool  // message ids already stored

	accepted []*storage.Message
	// written is each row's new last seq and how many messages to its user
	// were accepted.
	written map[convKey]*convDelta
}

type convDelta struct {
	last   int64
	unread int32
}

func newAppendPlan(units []*appendUnit) *appendPlan {
	p := &appendPlan{units: units, other: map[convKey]string{}, lastSeq: map[string]int64{}, existing: map[string]bool{}}
	for _, u := range units {
		u.err = nil // a retried transaction decides afresh
		for _, m := range u.ms {
			p.other[convKey{m.SenderID, m.PairID}] = m.RecipientID
			p.other[convKey{m.RecipientID, m.PairID}] = m.SenderID
			p.ids = append(p.ids, m.ID)
		}
	}
	p.keys = slices.SortedFunc(maps.Keys(p.other), compareConvKeys)
	return p
}

// columns splits rows into parallel arrays for unnest.
func columns(keys []convKey) (users, pairIDs []string) {
	users, pairIDs = make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		users[i], pairIDs[i] = k.user, k.pair
	}
	return users, pairIDs
}

// queueReads creates the rows a pair's first append needs, so that even
// then there is a row to lock, then locks every row in key order (two
// transactions appending to the same pairs wait instead of deadlocking).
// The lock is taken before last_seq is read, and by a statement of its
// own: under READ COMMITTED the reads after it see whatever the writer it
// waited for committed.
func (p *appendPlan) queueReads(b *pgx.Batch) {
	users, pairIDs := columns(p.keys)
	others := make([]string, len(p.keys))
	for i, k := range p.keys {
		others[i] = p.other[k]
	}
	b.Queue(`INSERT INTO conversations (user_id, pair_id, other_user_id)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
		ON CONFLICT (user_id, pair_id) DO NOTHING`, users, pairIDs, others)
	b.Queue(`SELECT pair_id, last_seq FROM conversations
		WHERE (user_id, pair_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
		ORDER BY user_id, pair_id FOR UPDATE`, users, pairIDs).Query(func(rows pgx.Rows) error {
		var pair string
		var last int64
		_, err := pgx.ForEachRow(rows, []any{&pair, &last}, func() error {
			p.lastSeq[pair] = max(p.lastSeq[pair], last)
			return nil
		})
		return err
	})
	b.Queue(`SELECT id FROM messages WHERE id = ANY($1::text[])`, p.ids).Query(func(rows pgx.Rows) error {
		var id string
		_, err := pgx.ForEachRow(rows, []any{&id}, func() error {
			p.existing[id] = true
			return nil
		})
		return err
	})
}

// decide checks every unit in queue order against what is stored and what
// the units before it add, and reports whether any was accepted. A refused
// unit of a pair leaves its last seq where it was, so an AppendAsync batch
// queued behind it no longer follows it and is refused too.
func (p *appendPlan) decide() bool {
	p.written = map[convKey]*convDelta{}
	for _, u := range p.units {
		last := map[string]int64{} // this unit's view of its pairs
		ids := map[string]bool{}
		for i, m := range u.ms {
			cur, ok := last[m.PairID]
			if !ok {
				cur = p.lastSeq[m.PairID]
			}
			seq := int64(m.Seq)
			switch {
			case p.existing[m.ID] || ids[m.ID]:
				u.err = fmt.Errorf("postgres: message id %q already exists: %w", m.ID, storage.ErrConflict)
			case u.follow && i == 0 && seq != cur+1:
				u.err = fmt.Errorf("postgres: message %q: seq %d does not follow pair %q's last seq %d: %w",
					m.ID, m.Seq, m.PairID, cur, storage.ErrConflict)
			case seq <= cur:
				u.err = fmt.Errorf("postgres: message %q: seq %d is not after pair %q's last seq %d: %w",
					m.ID, m.Seq, m.PairID, cur, storage.ErrConflict)
			}
			if u.err != nil {
				break
			}
			last[m.PairID] = seq
			ids[m.ID] = true
		}
		if u.err != nil {
			continue
		}
		maps.Copy(p.lastSeq, last)
		maps.Copy(p.existing, ids)
		p.accepted = append(p.accepted, u.ms...)
		for _, m := range u.ms {
			for _, k := range []convKey{{m.SenderID, m.PairID}, {m.RecipientID, m.PairID}} {
				d := p.written[k]
				if d == nil {
					d = &convDelta{}
					p.written[k] = d
				}
				d.last = int64(m.Seq)
				if k.user == m.RecipientID {
					d.unread++
				}
			}
		}
	}
	return len(p.accepted) > 0
}

// queueWrites inserts the accepted messages in one statement, moves their
// rows' last seqs and unread counts in another, and removes the rows
// queueReads created for pairs that got nothing.
func (p *appendPlan) queueWrites(b *pgx.Batch) {
	n := len(p.accepted)
	pairIDs, seqs, ids := make([]string, n), make([]int64, n), make([]string, n)
	senders, recipients := make([]string, n), make([]string, n)
	contents, created := make([][]byte, n), make([]time.Time, n)
	clientIDs := make([]*string, n)
	for i, m := range p.accepted {
		pairIDs[i], seqs[i], ids[i] = m.PairID, int64(m.Seq), m.ID
		senders[i], recipients[i] = m.SenderID, m.RecipientID
		contents[i], created[i] = []byte(m.Content), m.CreatedAt
		clientIDs[i] = nullIfEmpty(m.ClientMessageID)
	}
	b.Queue(`INSERT INTO messages (pair_id, seq, id, sender_id, recipient_id, content, created_at, client_message_id)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bytea[], $7::timestamptz[], $8::text[])`,
		pairIDs, seqs, ids, senders, recipients, contents, created, clientIDs)

	var untouched []convKey
	var written []convKey
	for _, k := range p.keys {
		if p.written[k] != nil {
			written = append(written, k)
		} else {
			untouched = append(untouched, k)
		}
	}
	users, wPairs := columns(written)
	lasts, unread := make([]int64, len(written)), make([]int32, len(written))
	for i, k := range written {
		lasts[i], unread[i] = p.written[k].last, p.written[k].unread
	}
	b.Queue(`UPDATE conversations c SET last_seq = v.last_seq, unread = c.unread + v.unread
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::int[]) AS v(user_id, pair_id, last_seq, unread)
		WHERE c.user_id = v.user_id AND c.pair_id = v.pair_id`, users, wPairs, lasts, unread)
	if len(untouched) > 0 {
		users, uPairs := columns(untouched)
		b.Queue(`DELETE FROM conversations
			WHERE (user_id, pair_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) AND last_seq = 0`, users, uPairs)
	}
}

func (r messages) Get(ctx context.Context, id string) (*storage.Message, error) {
	if err := checkID("message id", id); err != nil {
		return nil, err
	}
	var m storage.Message
	err := r.s.read(ctx, "messages.get", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+messageCols+` FROM messages WHERE id = $1`, id)
		if err != nil {
			return err
		}
		m, err = pgx.CollectExactlyOneRow(rows, scanMessage)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: message %q: %w", id, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// MarkRead first reads the reader's unread count, so the common repeated
// read receipt with nothing left to mark costs no transaction and no WAL
// flush (and is no commit for OnCommit). Otherwise one implicit
// transaction (a pipelined batch, one round trip) locks the reader's row
// and then, in a statement of its own so that it sees every message
// appended before the lock, marks the messages after read_seq and lowers
// the count. An unknown pair or a seq beyond the last message marks what
// exists; upToSeq 0 marks nothing.
func (r messages) MarkRead(ctx context.Context, pairID, readerID string, upToSeq uint64, at time.Time) (int, error) {
	if err := validPairID(pairID); err != nil {
		return 0, err
	}
	if err := storage.CheckReader(pairID, readerID, checkID); err != nil {
		return 0, err
	}
	if err := checkMessageTime("read time", at); err != nil {
		return 0, fmt.Errorf("postgres: mark read in pair %q: %w", pairID, err)
	}

	const op = "messages.mark_read"
	var unread int
	err := r.s.read(ctx, op, func(q querier) error {
		err := q.QueryRow(ctx, `SELECT unread FROM conversations WHERE user_id = $1 AND pair_id = $2`, readerID, pairID).Scan(&unread)
		if errors.Is(err, pgx.ErrNoRows) {
			unread = 0
			return nil
		}
		return err
	})
	if err != nil || unread <= 0 || upToSeq == 0 {
		return 0, err
	}

	release, err := r.s.acquire(op)
	if err != nil {
		return 0, err
	}
	defer release()
	start := time.Now()
	upTo := int64(min(upToSeq, maxMessageSeq))
	var n int
	for attempt := 0; ; attempt++ {
		n = 0
		batch := &pgx.Batch{}
		batch.Queue(`SELECT FROM conversations WHERE user_id = $1 AND pair_id = $2 FOR UPDATE`, readerID, pairID)
		batch.Queue(`WITH c AS (
				SELECT read_seq, least($3::bigint, last_seq) AS upto FROM conversations
				WHERE user_id = $1 AND pair_id = $2 AND unread > 0
			), marked AS (
				UPDATE messages m SET read_at = $4 FROM c
				WHERE m.pair_id = $2 AND m.seq > c.read_seq AND m.seq <= c.upto
					AND m.recipient_id = $1 AND m.read_at IS NULL
				RETURNING 1
			), n AS (SELECT count(*)::int AS n FROM marked)
			UPDATE conversations v SET read_seq = c.upto, unread = greatest(v.unread - n.n, 0)
			FROM c, n WHERE v.user_id = $1 AND v.pair_id = $2 AND c.upto > c.read_seq
			RETURNING n.n`, readerID, pairID, upTo, at).QueryRow(func(row pgx.Row) error {
			err := row.Scan(&n)
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
			return err
		})
		err = r.s.pool.SendBatch(ctx, batch).Close()
		if !retryable(err) || attempt == 4 {
			break
		}
	}
	if err != nil {
		return 0, mapErr(op, err)
	}
	if r.s.onCommit != nil {
		r.s.onCommit(op, time.Since(start))
	}
	return n, nil
}

// Page is a backwards range scan of the pair's primary key from beforeSeq.
// An unknown pair has an empty page. limit must be positive, so one call
// never loads a whole conversation.
func (r messages) Page(ctx context.Context, pairID string, beforeSeq uint64, limit int) ([]storage.Message, error) {
	if err := validPairID(pairID); err != nil {
		return nil, err
	}
	if err := storage.CheckLimit("messages page", limit); err != nil {
		return nil, err
	}
	var out []storage.Message
	err := r.s.read(ctx, "messages.page", func(q querier) error {
		var rows pgx.Rows
		var err error
		if beforeSeq == 0 || beforeSeq > maxMessageSeq {
			// Every stored seq is below the bound.
			rows, err = q.Query(ctx, `SELECT `+messageCols+` FROM messages WHERE pair_id = $1 ORDER BY seq DESC LIMIT $2`, pairID, limit)
		} else {
			rows, err = q.Query(ctx, `SELECT `+messageCols+` FROM messages WHERE pair_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`,
				pairID, int64(beforeSeq), limit)
		}
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, scanMessage)
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.Message{}
	}
	return out, nil
}

// Conversations joins the user's rows with the last message of each and
// sorts by that message's CreatedAt, newest first, ties by pair id. Its
// cost grows with the user's number of conversations, whatever the limit,
// as bbolt's does.
func (r messages) Conversations(ctx context.Context, userID string, limit int) ([]storage.Conversation, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if limit < 0 {
		return nil, fmt.Errorf("%w: conversations limit %d, must be 0 (all) or positive", ErrInvalid, limit)
	}
	var lim *int // NULL: no limit
	if limit > 0 {
		lim = &limit
	}
	var out []storage.Conversation
	err := r.s.read(ctx, "messages.conversations", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT c.other_user_id, c.unread,
				m.pair_id, m.seq, m.id, m.sender_id, m.recipient_id, m.content, m.created_at, m.read_at, m.client_message_id
			FROM conversations c JOIN messages m ON m.pair_id = c.pair_id AND m.seq = c.last_seq
			WHERE c.user_id = $1
			ORDER BY m.created_at DESC, c.pair_id
			LIMIT $2`, userID, lim)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Conversation, error) {
			var c storage.Conversation
			var seq int64
			var content []byte
			var clientID *string
			m := &c.Last
			err := row.Scan(&c.OtherUserID, &c.Unread,
				&m.PairID, &seq, &m.ID, &m.SenderID, &m.RecipientID, &content, &m.CreatedAt, &m.ReadAt, &clientID)
			c.PairID = m.PairID
			m.Seq, m.Content, m.CreatedAt, m.ReadAt = uint64(seq), string(content), m.CreatedAt.UTC(), utcPtr(m.ReadAt)
			if clientID != nil {
				m.ClientMessageID = *clientID
			}
			return c, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.Conversation{}
	}
	return out, nil
}

// Since is a forward range scan of the inbox index from t; ties in time
// come in message id order.
func (r messages) Since(ctx context.Context, userID string, t time.Time, limit int) ([]storage.Message, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	if err := storage.CheckLimit("messages since", limit); err != nil {
		return nil, err
	}
	// Stored times lie within [minMessageTime, maxMessageTime], so clamping t to
	// just around them changes no answer and keeps it storable.
	if t.Before(minMessageTime) {
		t = minMessageTime.Add(-time.Microsecond)
	} else if t.After(maxMessageTime) {
		t = maxMessageTime
	}
	out := []storage.Message{}
	err := r.s.read(ctx, "messages.since", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+messageCols+` FROM messages
			WHERE recipient_id = $1 AND created_at > $2
			ORDER BY created_at, id LIMIT $3`, userID, t, limit)
		if err != nil {
			return err
		}
		out, err = pgx.AppendRows(out, rows, scanMessage)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ByClientMessageID reads the latest message of the pair with the key by
// the partial index; one created before since is not found (the key
// expired), even when an older one with the same key exists.
func (r messages) ByClientMessageID(ctx context.Context, pairID, senderID, clientMessageID string, since time.Time) (*storage.Message, error) {
	if err := validPairID(pairID); err != nil {
		return nil, err
	}
	if err := checkIDs("sender id", senderID, "client message id", clientMessageID); err != nil {
		return nil, err
	}
	var m storage.Message
	err := r.s.read(ctx, "messages.by_client_id", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT `+messageCols+` FROM messages
			WHERE pair_id = $1 AND sender_id = $2 AND client_message_id = $3
			ORDER BY seq DESC LIMIT 1`, pairID, senderID, clientMessageID)
		if err != nil {
			return err
		}
		m, err = pgx.CollectExactlyOneRow(rows, scanMessage)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: client message id %q of %q in pair %q: %w", clientMessageID, senderID, pairID, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if m.CreatedAt.Before(since) {
		return nil, fmt.Errorf("postgres: client message id %q of %q in pair %q expired: %w", clientMessageID, senderID, pairID, storage.ErrNotFound)
	}
	return &m, nil
}

func (r messages) LastSeq(ctx context.Context, pairID string) (uint64, error) {
	if err := validPairID(pairID); err != nil {
		return 0, err
	}
	var seq int64
	err := r.s.read(ctx, "messages.last_seq", func(q querier) error {
		return q.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM messages WHERE pair_id = $1`, pairID).Scan(&seq)
	})
	if err != nil {
		return 0, err
	}
	return uint64(seq), nil
}

// appendTimeout bounds one group commit, so a database that stops
// answering fails the queued batches instead of holding them (and Close)
// forever.
const appendTimeout = time.Minute

// appender is the store's group commit for AppendAsync. Batches go to one
// of a few lanes by pair, so a pair's batches are committed, and answered,
// in the order queued, and lanes commit in parallel on their own
// connections: two lanes never touch one conversations row, since every
// row belongs to one pair. Each lane's goroutine takes every batch queued
// while its previous commit ran, up to the store's maxBatch, and writes
// them in one transaction of two round trips (runAppend), so the slower
// the commit the larger the next group.
type appender struct {
	s     *Store
	lanes []*appendLane

	// mu is held shared while a batch is queued and exclusively by close,
	// so no batch is queued after the lanes were told to stop.
	mu     sync.RWMutex
	closed bool

	stop    chan struct{}
	stopped sync.WaitGroup
	once    sync.Once
}

type appendLane struct {
	a     *appender
	mu    sync.Mutex
	queue []*appendUnit
	wake  chan struct{} // capacity 1: a pending wake-up is enough
}

// newAppender starts one lane per four pooled connections, at most four:
// the rest of the pool stays for reads and synchronous writes.
func newAppender(s *Store) *appender {
	n := min(max(int(s.pool.Config().MaxConns)/4, 1), 4)
	a := &appender{s: s, lanes: make([]*appendLane, n), stop: make(chan struct{})}
	for i := range a.lanes {
		l := &appendLane{a: a, wake: make(chan struct{}, 1)}
		a.lanes[i] = l
		a.stopped.Add(1)
		go l.loop()
	}
	return a
}

func (a *appender) enqueue(u *appendUnit) {
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		u.done(fmt.Errorf("postgres: messages.append: %w", storage.ErrClosed))
		return
	}
	l := a.lanes[laneOf(u.ms[0].PairID, len(a.lanes))]
	l.mu.Lock()
	l.queue = append(l.queue, u)
	l.mu.Unlock()
	a.mu.RUnlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// laneOf spreads pairs over n lanes (FNV-1a).
func laneOf(pairID string, n int) int {
	h := uint32(2166136261)
	for i := 0; i < len(pairID); i++ {
		h = (h ^ uint32(pairID[i])) * 16777619
	}
	return int(h % uint32(n))
}

// close refuses new batches, lets the lanes commit and answer every batch
// already queued, and returns once they stopped. Every call waits for that.
func (a *appender) close() {
	a.once.Do(func() {
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		close(a.stop)
	})
	a.stopped.Wait()
}

func (l *appendLane) loop() {
	defer l.a.stopped.Done()
	for {
		select {
		case <-l.wake:
		case <-l.a.stop:
			for l.commitNext() {
			}
			return
		}
		for l.commitNext() {
			// The callers just answered are runnable; letting them run
			// first lets those that append again join the next group
			// instead of the one after.
			runtime.Gosched()
		}
	}
}

// commitNext commits up to maxBatch queued batches and reports whether it
// found any.
func (l *appendLane) commitNext() bool {
	l.mu.Lock()
	n := min(len(l.queue), l.a.s.maxBatch)
	if n == 0 {
		l.mu.Unlock()
		return false
	}
	units := slices.Clone(l.queue[:n])
	clear(l.queue[:n])
	l.queue = l.queue[n:]
	if len(l.queue) == 0 {
		l.queue = nil // let the backing array go after a burst
	}
	l.mu.Unlock()
	l.a.commit(units)
	return true
}

// commit writes units in one transaction and answers each, in queue order.
// Batches refused by the checks (a seq that does not follow, an id that
// exists) are answered with their own error and do not stop the others.
// When the transaction itself fails with an error from the server (it
// rolled back: say a concurrent writer took a message id between the check
// and the insert), the batches are committed one by one instead, so one
// bad batch does not fail its neighbours; a pair's batches behind a failed
// one then no longer follow the pair's last message and fail too. Any
// other failure (the connection broke, the commit's outcome is unknown)
// answers every batch with it: running them again could store twice.
func (a *appender) commit(units []*appendUnit) {
	const op = "messages.append"
	err := a.run(units)
	var pg *pgconn.PgError
	switch {
	case err == nil:
	case len(units) > 1 && errors.As(err, &pg):
		for _, u := range units {
			if err := a.run([]*appendUnit{u}); err != nil {
				u.err = err
			}
		}
	default:
		for _, u := range units {
			u.err = err
		}
	}
	for _, u := range units {
		if u.err != nil {
			u.done(mapErr(op, u.err))
			continue
		}
		if a.s.onCommit != nil {
			a.s.onCommit(op, time.Since(u.queued))
		}
		u.done(nil)
	}
}

func (a *appender) run(units []*appendUnit) error {
	ctx, cancel := context.WithTimeout(context.Background(), appendTimeout)
	defer cancel()
	return a.s.runAppend(ctx, units)
}
