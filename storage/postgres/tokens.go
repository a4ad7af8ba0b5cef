package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/storage"
)

type tokens struct{ s *Store }

// Tokens returns the store's refresh tokens.
func (s *Store) Tokens() storage.Tokens { return tokens{s: s} }

func checkToken(t *storage.RefreshToken) error { return storage.CheckToken(t, checkID) }

const tokenColumns = `id, family, user_id, issued_at, expires_at, rotated_at, revoked_at`

func scanToken(row pgx.Row) (*storage.RefreshToken, error) {
	var t storage.RefreshToken
	if err := row.Scan(&t.ID, &t.Family, &t.UserID, &t.IssuedAt, &t.ExpiresAt, &t.RotatedAt, &t.RevokedAt); err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt = t.IssuedAt.UTC(), t.ExpiresAt.UTC()
	t.RotatedAt, t.RevokedAt = utcPtr(t.RotatedAt), utcPtr(t.RevokedAt)
	return &t, nil
}

func (r tokens) Put(ctx context.Context, t *storage.RefreshToken) error {
	if err := checkToken(t); err != nil {
		return err
	}
	return r.s.write(ctx, "tokens.put", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (`+tokenColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET family = excluded.family, user_id = excluded.user_id,
				issued_at = excluded.issued_at, expires_at = excluded.expires_at,
				rotated_at = excluded.rotated_at, revoked_at = excluded.revoked_at`,
			t.ID, t.Family, t.UserID, t.IssuedAt, t.ExpiresAt, t.RotatedAt, t.RevokedAt)
		return err
	})
}

func (r tokens) Get(ctx context.Context, id string) (*storage.RefreshToken, error) {
	if err := checkID("token id", id); err != nil {
		return nil, err
	}
	var t *storage.RefreshToken
	err := r.s.read(ctx, "tokens.get", func(q querier) error {
		var err error
		t, err = scanToken(q.QueryRow(ctx, `SELECT `+tokenColumns+` FROM refresh_tokens WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: refresh token %q: %w", id, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Rotate locks the old token's row, so of two racing rotations of one
// token the second sees the first's RotatedAt and is treated as reuse.
func (r tokens) Rotate(ctx context.Context, oldID string, next *storage.RefreshToken, now time.Time) error {
	if err := storage.CheckRotation(oldID, next, checkID); err != nil {
		return err
	}
	// Reuse detection must commit the family revocation and still fail the
	// call, so it is reported through these variables rather than an error
	// (an error would roll the revocation back). write may run the function
	// again, hence the reset at its top.
	var reused bool
	var family string
	err := r.s.write(ctx, "tokens.rotate", func(tx pgx.Tx) error {
		reused, family = false, ""
		old, err := scanToken(tx.QueryRow(ctx, `SELECT `+tokenColumns+` FROM refresh_tokens WHERE id = $1 FOR UPDATE`, oldID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: refresh token %q: %w", oldID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if old.RotatedAt != nil || old.RevokedAt != nil {
			reused, family = true, old.Family
			return revokeFamily(ctx, tx, old.Family, now)
		}
		if next.Family != old.Family || next.UserID != old.UserID {
			return fmt.Errorf("%w: next token must keep family %q and user %q of %q (got %q, %q)",
				ErrInvalid, old.Family, old.UserID, oldID, next.Family, next.UserID)
		}
		tag, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (`+tokenColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
			next.ID, next.Family, next.UserID, next.IssuedAt, next.ExpiresAt, next.RotatedAt, next.RevokedAt)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: refresh token %q already exists: %w", next.ID, storage.ErrConflict)
		}
		_, err = tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $2 WHERE id = $1`, oldID, now)
		return err
	})
	if err != nil {
		return err
	}
	if reused {
		return fmt.Errorf("postgres: refresh token %q reused after rotation or revocation; family %q revoked: %w",
			oldID, family, storage.ErrConflict)
	}
	return nil
}

// revokeFamily revokes every token of family and records the family,
// keeping the first revocation time of tokens and family alike.
func revokeFamily(ctx context.Context, tx pgx.Tx, family string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL`, family, now); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `INSERT INTO revoked_families (family, revoked_at) VALUES ($1, $2) ON CONFLICT (family) DO NOTHING`, family, now)
	return err
}

// Revoke keeps the first revocation time, so a logout followed by reuse
// detection still shows when the token was first given up.
func (r tokens) Revoke(ctx context.Context, id string, now time.Time) error {
	if err := checkID("token id", id); err != nil {
		return err
	}
	return r.s.write(ctx, "tokens.revoke", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1`, id, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: refresh token %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
}

func (r tokens) RevokeUser(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user id", userID); err != nil {
		return err
	}
	return r.s.write(ctx, "tokens.revoke_user", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
		return err
	})
}

func (r tokens) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	if err := checkID("token family", family); err != nil {
		return false, err
	}
	var revoked bool
	err := r.s.read(ctx, "tokens.family_revoked", func(q querier) error {
		return q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM revoked_families WHERE family = $1)`, family).Scan(&revoked)
	})
	return revoked, err
}
