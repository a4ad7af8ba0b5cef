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

type scores struct{ s *Store }

// Scores returns the store's daily scores.
func (s *Store) Scores() storage.Scores { return scores{s: s} }

func (r scores) Get(ctx context.Context, userID string) (*storage.ScoreDay, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var d storage.ScoreDay
	err := r.s.read(ctx, "scores.get", func(q querier) error {
		var doc []byte
		var version int64
		err := q.QueryRow(ctx, `SELECT doc, version FROM score_days WHERE user_id = $1`, userID).Scan(&doc, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: score of %s: %w", userID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		d = storage.ScoreDay{}
		if err := json.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("decode score of %s: %w", userID, err)
		}
		d.Version = uint64(version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Put is fenced by d.Version: the Score grain is the only writer, and a
// stale activation of it must not overwrite the current one's day.
func (r scores) Put(ctx context.Context, d *storage.ScoreDay) error {
	if d == nil {
		return fmt.Errorf("%w: score day is nil", ErrInvalid)
	}
	if err := checkID("user id", d.UserID); err != nil {
		return err
	}
	c := *d
	c.Version = 0 // the version column is the only truth
	c.Date, c.UpdatedAt = c.Date.UTC(), c.UpdatedAt.UTC()
	doc, err := json.Marshal(&c)
	if err != nil {
		return fmt.Errorf("postgres: encode score of %s: %w", d.UserID, err)
	}
	err = r.s.write(ctx, "scores.put", func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if d.Version == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO score_days (user_id, version, doc) VALUES ($1, 1, $2)
				ON CONFLICT (user_id) DO NOTHING`, d.UserID, doc)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE score_days SET doc = $3, version = version + 1
				WHERE user_id = $1 AND version = $2`, d.UserID, int64(d.Version), doc)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: score of %s: version %d is not the stored one: %w", d.UserID, d.Version, storage.ErrStale)
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.Version++
	return nil
}
