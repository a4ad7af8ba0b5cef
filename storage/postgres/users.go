package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gisbi/engine/storage"
)

type users struct{ s *Store }

// Users returns the store's users.
func (s *Store) Users() storage.Users { return users{s: s} }

func checkUser(u *storage.User) error { return storage.CheckUser(u, checkID) }

// userRow is a user as its table's columns hold it.
type userRow struct {
	doc          []byte
	username     *string
	usernameKey  *string
	deletedAt    *time.Time
	terminatedAt *time.Time
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

// toUserRow derives the indexed columns from the record. The username key
// is lower-cased here with the same strings.ToLower bbolt uses, not with
// the server's lower(), so which handles collide does not depend on the
// database's locale.
func toUserRow(u *storage.User) (userRow, error) {
	d := *u
	d.Version = 0 // the version column is the only truth
	d.VibeExpiresAt, d.DeletedAt, d.TerminatedAt = utcPtr(d.VibeExpiresAt), utcPtr(d.DeletedAt), utcPtr(d.TerminatedAt)
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	doc, err := json.Marshal(&d)
	if err != nil {
		return userRow{}, fmt.Errorf("postgres: encode user %q: %w", u.ID, err)
	}
	row := userRow{doc: doc, deletedAt: d.DeletedAt, terminatedAt: d.TerminatedAt}
	if u.Username != nil && *u.Username != "" {
		name := *u.Username
		row.username = &name
		if !u.Deleted() {
			key := strings.ToLower(name)
			row.usernameKey = &key
		}
	}
	return row, nil
}

// scanUser reads the doc and version columns of one user.
func scanUser(row pgx.Row) (*storage.User, error) {
	var doc []byte
	var version int64
	if err := row.Scan(&doc, &version); err != nil {
		return nil, err
	}
	var u storage.User
	if err := json.Unmarshal(doc, &u); err != nil {
		return nil, fmt.Errorf("decode user: %w", err)
	}
	u.Version = uint64(version)
	return &u, nil
}

// userConflict names which uniqueness rule a write broke; other errors
// pass through.
func userConflict(u *storage.User, err error) error {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || pg.Code != "23505" {
		return err
	}
	switch pg.ConstraintName {
	case "users_pkey":
		return fmt.Errorf("postgres: user id %q already exists: %w", u.ID, storage.ErrConflict)
	case "users_identity":
		return fmt.Errorf("postgres: identity %s/%q is already linked to another user: %w", u.Provider, u.Subject, storage.ErrConflict)
	case "users_username":
		return fmt.Errorf("postgres: username %q is taken: %w", *u.Username, storage.ErrConflict)
	}
	return fmt.Errorf("postgres: user %q: %s: %w", u.ID, pg.ConstraintName, storage.ErrConflict)
}

func (r users) Get(ctx context.Context, id string) (*storage.User, error) {
	if err := checkID("user id", id); err != nil {
		return nil, err
	}
	var u *storage.User
	err := r.s.read(ctx, "users.get", func(q querier) error {
		var err error
		u, err = scanUser(q.QueryRow(ctx, `SELECT doc, version FROM users WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: user %q: %w", id, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (r users) ByIdentity(ctx context.Context, provider, subject string) (*storage.User, error) {
	if err := checkIDs("provider", provider, "subject", subject); err != nil {
		return nil, err
	}
	var u *storage.User
	err := r.s.read(ctx, "users.by_identity", func(q querier) error {
		// The predicate is users_identity's, so the unique index answers.
		var err error
		u, err = scanUser(q.QueryRow(ctx, `SELECT doc, version FROM users
			WHERE provider = $1 AND subject = $2 AND (deleted_at IS NULL OR terminated_at IS NOT NULL)`,
			provider, subject))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: no live user for identity %s/%q: %w", provider, subject, storage.ErrNotFound)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// Create relies on the unique indexes rather than checking first: two
// racing creates of one identity or handle are ordered by the index, and
// the loser gets a unique violation, that is ErrConflict.
func (r users) Create(ctx context.Context, u *storage.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	row, err := toUserRow(u)
	if err != nil {
		return err
	}
	err = r.s.write(ctx, "users.create", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO users
			(id, provider, subject, name, username, username_key, deleted_at, terminated_at, version, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1, $9)`,
			u.ID, u.Provider, u.Subject, u.Name, row.username, row.usernameKey, row.deletedAt, row.terminatedAt, row.doc)
		return userConflict(u, err)
	})
	if err != nil {
		return err
	}
	u.Version = 1
	return nil
}

func (r users) Put(ctx context.Context, u *storage.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	row, err := toUserRow(u)
	if err != nil {
		return err
	}
	err = r.s.write(ctx, "users.put", func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET
			provider = $3, subject = $4, name = $5, username = $6, username_key = $7,
			deleted_at = $8, terminated_at = $9, doc = $10, version = version + 1
			WHERE id = $1 AND version = $2`,
			u.ID, int64(u.Version), u.Provider, u.Subject, u.Name, row.username, row.usernameKey,
			row.deletedAt, row.terminatedAt, row.doc)
		if err != nil {
			return userConflict(u, err)
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var stored int64
		err = tx.QueryRow(ctx, `SELECT version FROM users WHERE id = $1`, u.ID).Scan(&stored)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: user %q: %w", u.ID, storage.ErrNotFound)
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("postgres: user %q at version %d, write carries %d: %w", u.ID, stored, u.Version, storage.ErrStale)
	})
	if err != nil {
		return err
	}
	u.Version++
	return nil
}
