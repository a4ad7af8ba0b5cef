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
	d := storage.ScoreDay{UserID: userID}
	err := r.s.read(ctx, "scores.get", func(q querier) error {
		var counts []byte
		var version int64
		err := q.QueryRow(ctx, `SELECT day, counts, updated_at, version FROM score_days WHERE user_id = $1`, userID).
			Scan(&d.Date, &counts, &d.UpdatedAt, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: score of %s: %w", userID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		d.Counts = nil
		if len(counts) > 0 {
			if err := json.Unmarshal(counts, &d.Counts); err != nil {
				return fmt.Errorf("decode score counts of %s: %w", userID, err)
			}
		}
		d.Version = uint64(version)
		return nil
	})
	if err != nil {
		return nil, err
	}
	d.Date, d.UpdatedAt = d.Date.UTC(), d.UpdatedAt.UTC()
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
	// No counts is SQL NULL and reads back as a nil map, as bbolt's
	// omitempty JSON does.
	var counts []byte
	if len(d.Counts) > 0 {
		var err error
		if counts, err = json.Marshal(d.Counts); err != nil {
			return fmt.Errorf("postgres: encode score counts of %s: %w", d.UserID, err)
		}
	}
	err := r.s.write(ctx, "scores.put", func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if d.Version == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO score_days (user_id, day, counts, updated_at, version)
				VALUES ($1, $2, $3, $4, 1) ON CONFLICT (user_id) DO NOTHING`,
				d.UserID, d.Date, counts, d.UpdatedAt)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE score_days SET day = $3, counts = $4, updated_at = $5, version = version + 1
				WHERE user_id = $1 AND version = $2`,
				d.UserID, int64(d.Version), d.Date, counts, d.UpdatedAt)
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
