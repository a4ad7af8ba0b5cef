package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gisbi/engine/storage"
)

type devices struct{ s *Store }

// Devices returns the store's push devices.
func (s *Store) Devices() storage.Devices { return devices{s: s} }

// Register stores d as active whatever d.IsActive says: registering is the
// client telling us the token works. A push token identifies an app
// install, so when another account logs in on that install the upsert
// moves the token to it.
func (r devices) Register(ctx context.Context, d *storage.Device) error {
	if d == nil {
		return fmt.Errorf("%w: device is nil", ErrInvalid)
	}
	if err := checkIDs("device token", d.Token, "user id", d.UserID); err != nil {
		return err
	}
	return r.s.write(ctx, "devices.register", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO devices (token, platform, user_id, is_active, updated_at)
			VALUES ($1, $2, $3, true, $4)
			ON CONFLICT (token) DO UPDATE SET platform = excluded.platform, user_id = excluded.user_id,
				is_active = true, updated_at = excluded.updated_at`,
			d.Token, d.Platform, d.UserID, d.UpdatedAt)
		return err
	})
}

// Deactivate treats someone else's token as unknown, so a caller cannot
// probe which tokens exist.
func (r devices) Deactivate(ctx context.Context, userID, token string, now time.Time) error {
	if err := checkID("device token", token); err != nil {
		return err
	}
	if userID != "" {
		if err := checkID("user id", userID); err != nil {
			return err
		}
	}
	return r.s.write(ctx, "devices.deactivate", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE devices SET is_active = false, updated_at = $3
			WHERE token = $1 AND ($2 = '' OR user_id = $2)`, token, userID, now)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: device %q of user %q: %w", token, userID, storage.ErrNotFound)
		}
		return nil
	})
}

func (r devices) ListByUser(ctx context.Context, userID string) ([]storage.Device, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []storage.Device
	err := r.s.read(ctx, "devices.list_by_user", func(q querier) error {
		rows, err := q.Query(ctx, `SELECT token, platform, user_id, is_active, updated_at
			FROM devices WHERE user_id = $1 ORDER BY token`, userID)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Device, error) {
			var d storage.Device
			err := row.Scan(&d.Token, &d.Platform, &d.UserID, &d.IsActive, &d.UpdatedAt)
			d.UpdatedAt = d.UpdatedAt.UTC()
			return d, err
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []storage.Device{}
	}
	return out, nil
}

func (r devices) DeactivateUser(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user id", userID); err != nil {
		return err
	}
	return r.s.write(ctx, "devices.deactivate_user", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE devices SET is_active = false, updated_at = $2
			WHERE user_id = $1 AND is_active`, userID, now)
		return err
	})
}
