package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gisbi/engine/storage"
)

type pairs struct{ s *Store }

// Pairs returns the store's pairs.
func (s *Store) Pairs() storage.Pairs { return pairs{s: s} }

// pairSep is the separator storage.PairID puts between the two user ids. A
// user id containing it would make two different pairs share one id
// ("a|b"+"c" and "a"+"b|c"), so such ids are refused.
const pairSep = "|"

// maxPairIDBytes bounds a pair id: two ids and pairSep.
const maxPairIDBytes = 2*maxIDBytes + len(pairSep)

// validPairID is checkID with the longer limit of a pair id.
func validPairID(id string) error { return checkIDUpTo("pair id", id, maxPairIDBytes) }

// validPair checks p (storage.CheckPair with PostgreSQL's id rule) and
// returns the request and connection ids to index.
func validPair(p *storage.Pair) (reqIDs, connIDs []string, err error) {
	if err := storage.CheckPair(p, checkID); err != nil {
		return nil, nil, err
	}
	reqIDs = make([]string, len(p.Requests))
	for i, r := range p.Requests {
		reqIDs[i] = r.ID
	}
	connIDs = make([]string, len(p.Connections))
	for i, c := range p.Connections {
		connIDs[i] = c.ID
	}
	return reqIDs, connIDs, nil
}

// maxPairVersion is the largest version a bigint column holds.
const maxPairVersion = 1<<63 - 1

func (r pairs) Get(ctx context.Context, pairID string) (*storage.Pair, error) {
	if err := validPairID(pairID); err != nil {
		return nil, err
	}
	var p *storage.Pair
	err := r.s.read(ctx, "pairs.get", func(q querier) error {
		var doc []byte
		var version int64
		err := q.QueryRow(ctx, `SELECT doc, version FROM pairs WHERE id = $1`, pairID).Scan(&doc, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: pair %q: %w", pairID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		p, err = decodePair(doc, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// decodePair reads a stored document; its times come back in UTC, as the
// typed columns' do.
func decodePair(doc []byte, version int64) (*storage.Pair, error) {
	var p storage.Pair
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("decode pair: %w", err)
	}
	p.Version = uint64(version)
	for i := range p.Requests {
		q := &p.Requests[i]
		q.CreatedAt, q.ExpiresAt, q.ResolvedAt = q.CreatedAt.UTC(), q.ExpiresAt.UTC(), utcPtr(q.ResolvedAt)
	}
	for i := range p.Connections {
		c := &p.Connections[i]
		c.CreatedAt, c.AcceptedAt, c.ClosedAt = c.CreatedAt.UTC(), c.AcceptedAt.UTC(), utcPtr(c.ClosedAt)
	}
	return &p, nil
}

// Save writes the fenced record, then the index rows it lacks, all in one
// transaction. Index rows are never removed: ids never leave a pair. A
// request or connection id indexed under another pair is ErrConflict and
// the transaction writes nothing.
func (r pairs) Save(ctx context.Context, p *storage.Pair) error {
	reqIDs, connIDs, err := validPair(p)
	if err != nil {
		return err
	}
	if p.Version > maxPairVersion {
		return fmt.Errorf("postgres: pair %q: version %d is beyond any stored version: %w", p.ID, p.Version, storage.ErrStale)
	}
	// The version lives in its column only; the document omits it.
	stored := *p
	stored.Version = 0
	doc, err := json.Marshal(&stored)
	if err != nil {
		return fmt.Errorf("postgres: pair %q: encode: %w", p.ID, err)
	}
	from := int64(p.Version)
	// One round trip: the fenced write and the index statements go as one
	// pipeline, and a stale version fails the transaction before the
	// index statements' results are looked at.
	err = r.s.write(ctx, "pairs.save", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		var q *pgx.QueuedQuery
		if from == 0 {
			q = b.Queue(`INSERT INTO pairs (id, user_a, user_b, version, doc) VALUES ($1, $2, $3, 1, $4)
				ON CONFLICT (id) DO NOTHING`, p.ID, p.UserA, p.UserB, doc)
		} else {
			q = b.Queue(`UPDATE pairs SET doc = $3, version = version + 1 WHERE id = $1 AND version = $2`, p.ID, from, doc)
		}
		q.Exec(func(ct pgconn.CommandTag) error {
			switch {
			case ct.RowsAffected() > 0:
				return nil
			case from == 0:
				return fmt.Errorf("postgres: pair %q: saved as new, but it is already stored: %w", p.ID, storage.ErrStale)
			default:
				return fmt.Errorf("postgres: pair %q: version %d is not the stored one: %w", p.ID, from, storage.ErrStale)
			}
		})
		conflict := queueIndexPair(b, p.ID, reqIDs, connIDs)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		return conflict()
	})
	if err != nil {
		return err
	}
	p.Version = uint64(from + 1)
	return nil
}

// queueIndexPair adds the request and connection index rows of pairID that
// are missing, then checks that none of its ids belongs to another pair;
// the returned function reports that once the batch ran. The check is a
// statement of its own, after the inserts: under READ COMMITTED it sees a
// claim committed by a concurrent Save that the inserts waited for, which
// a single statement's snapshot would not.
func queueIndexPair(b *pgx.Batch, pairID string, reqIDs, connIDs []string) (conflict func() error) {
	if len(reqIDs) == 0 && len(connIDs) == 0 {
		return func() error { return nil }
	}
	if len(reqIDs) > 0 {
		b.Queue(`INSERT INTO pair_requests (request_id, pair_id) SELECT r, $2 FROM unnest($1::text[]) AS r ORDER BY r
			ON CONFLICT (request_id) DO NOTHING`, reqIDs, pairID)
	}
	if len(connIDs) > 0 {
		b.Queue(`INSERT INTO pair_connections (connection_id, pair_id) SELECT c, $2 FROM unnest($1::text[]) AS c ORDER BY c
			ON CONFLICT (connection_id) DO NOTHING`, connIDs, pairID)
	}
	var what, id, owner string
	found := false
	b.Queue(`SELECT 'request', request_id, pair_id FROM pair_requests WHERE request_id = ANY($1::text[]) AND pair_id <> $3
		UNION ALL
		SELECT 'connection', connection_id, pair_id FROM pair_connections WHERE connection_id = ANY($2::text[]) AND pair_id <> $3
		LIMIT 1`, reqIDs, connIDs, pairID).QueryRow(func(row pgx.Row) error {
		found = false
		err := row.Scan(&what, &id, &owner)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return func() error {
		if found {
			return fmt.Errorf("postgres: pair %q: %s %q already belongs to pair %q: %w", pairID, what, id, owner, storage.ErrConflict)
		}
		return nil
	}
}

// Of lists the user's pair ids in pair id order.
func (r pairs) Of(ctx context.Context, userID string) ([]string, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []string
	err := r.s.read(ctx, "pairs.of", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT id FROM pairs WHERE user_a = $1 UNION SELECT id FROM pairs WHERE user_b = $1 ORDER BY 1`, userID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func (r pairs) ByRequest(ctx context.Context, requestID string) (string, error) {
	return r.lookup(ctx, "pairs.by_request", "request", requestID,
		`SELECT pair_id FROM pair_requests WHERE request_id = $1`)
}

func (r pairs) ByConnection(ctx context.Context, connectionID string) (string, error) {
	return r.lookup(ctx, "pairs.by_connection", "connection", connectionID,
		`SELECT pair_id FROM pair_connections WHERE connection_id = $1`)
}

func (r pairs) lookup(ctx context.Context, op, what, id, query string) (string, error) {
	if err := checkID(what+" id", id); err != nil {
		return "", err
	}
	var pairID string
	err := r.s.read(ctx, op, func(q querier) error {
		err := q.QueryRow(ctx, query, id).Scan(&pairID)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: no pair for %s %q: %w", what, id, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return "", err
	}
	return pairID, nil
}
