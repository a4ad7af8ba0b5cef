package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrSchemaVersion: the database was migrated by a newer binary.
var ErrSchemaVersion = errors.New("postgres: database schema is newer than this binary")

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one schema step. Steps are numbered from 1 by their file
// name (0001_accounts.sql) and never edited once released: a change is a
// new file.
type migration struct {
	version int
	name    string
	sql     string
}

var migrations = loadMigrations()

func loadMigrations() []migration {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	slices.Sort(names)
	out := make([]migration, 0, len(names))
	for i, n := range names {
		base := path.Base(n)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v != i+1 {
			// A build-time mistake in the embedded files, caught by every test.
			panic(fmt.Sprintf("postgres: migration %s: want number %04d", base, i+1))
		}
		raw, err := migrationFiles.ReadFile(n)
		if err != nil {
			panic(err)
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(base, ".sql"), sql: string(raw)})
	}
	return out
}

// SchemaVersion is the schema this binary migrates to.
func SchemaVersion() int { return len(migrations) }

// lockKey names the advisory lock that serialises migrations of one
// schema: nodes starting together take turns, and each finds the work done
// by the first. It is hashed with the current schema so databases that
// hold several schemas (tests do) do not wait on each other.
const lockKey = "gisbi.migrate"

// Migrate applies the migrations the database at url lacks, under the
// advisory lock, and reports the versions before and after. It is what
// `gisbi migrate` runs ahead of a rollout.
func Migrate(ctx context.Context, url string) (from, to int, err error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: parse store URL: %w", err)
	}
	defer pool.Close()
	if err := pool.Ping(ctx); err != nil {
		return 0, 0, fmt.Errorf("postgres: cannot reach %s: %w", redact(pool.Config()), err)
	}
	return migrate(ctx, pool)
}

func migrate(ctx context.Context, pool *pgxpool.Pool) (from, to int, err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	// A session lock, not a transaction one: each step commits on its own,
	// and the lock must cover the version check and every step.
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtext(current_schema() || $1))`, lockKey); err != nil {
		return 0, 0, fmt.Errorf("postgres: migrate: take lock: %w", err)
	}
	defer func() {
		// Released on a fresh context: the caller's may be done.
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext(current_schema() || $1))`, lockKey)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS gisbi_schema (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return 0, 0, fmt.Errorf("postgres: migrate: schema table: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM gisbi_schema`).Scan(&from); err != nil {
		return 0, 0, fmt.Errorf("postgres: migrate: read version: %w", err)
	}
	if from > len(migrations) {
		return from, from, fmt.Errorf("%w: database is at version %d, this binary knows %d", ErrSchemaVersion, from, len(migrations))
	}
	to = from
	for _, m := range migrations[from:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO gisbi_schema (version, name) VALUES ($1, $2)`, m.version, m.name)
			return err
		})
		if err != nil {
			return from, to, fmt.Errorf("postgres: migrate to %d (%s): %w", m.version, m.name, err)
		}
		to = m.version
	}
	return from, to, nil
}

// checkSchema refuses a database migrated by a newer binary or not yet
// migrated to this one's version.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	var v int
	err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM gisbi_schema`).Scan(&v)
	if err != nil {
		return fmt.Errorf("postgres: read schema version (run `gisbi migrate` first): %w", err)
	}
	switch {
	case v > len(migrations):
		return fmt.Errorf("%w: database is at version %d, this binary knows %d", ErrSchemaVersion, v, len(migrations))
	case v < len(migrations):
		return fmt.Errorf("postgres: database is at schema version %d, this binary needs %d: run `gisbi migrate`", v, len(migrations))
	}
	return nil
}
