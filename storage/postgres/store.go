package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gisbi/engine/storage"
)

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// OnCommit, when set, is called after every committed write with the
	// operation name ("users.create", "messages.append", …) and the time
	// the caller waited. It feeds the same latency histogram as bbolt's.
	OnCommit func(op string, d time.Duration)

	// MaxConns caps the connection pool (default 16). Every node opens its
	// own pool, so the database's max_connections must cover nodes ×
	// MaxConns.
	MaxConns int32

	// MaxBatchSize bounds how many queued message batches share one
	// transaction (default 512).
	MaxBatchSize int

	// SkipMigrate opens without applying migrations; Open then only checks
	// that the schema is not newer than this binary.
	SkipMigrate bool
}

// Store is a storage.Store over a PostgreSQL database. It is safe for
// concurrent use, and any number of processes may share one database.
type Store struct {
	pool     *pgxpool.Pool
	onCommit func(string, time.Duration)
	maxBatch int
	appender *appender

	// mu is held shared by every operation and exclusively by Close, so
	// Close waits for in-flight work and nothing reaches a closed pool.
	mu     sync.RWMutex
	closed bool
}

var _ storage.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a key=value
// DSN), checks it answers and migrates it to the schema this binary knows.
// It fails with a clear error when the database cannot be reached.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse store URL: %w", err)
	}
	cfg.MaxConns = 16
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.MaxBatchSize <= 0 {
		opts.MaxBatchSize = 512
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", redact(cfg), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: cannot reach %s: %w", redact(cfg), err)
	}
	if opts.SkipMigrate {
		err = checkSchema(ctx, pool)
	} else {
		start := time.Now()
		var from, to int
		from, to, err = migrate(ctx, pool)
		if err == nil && opts.OnCommit != nil && from != to {
			opts.OnCommit("migrate", time.Since(start))
		}
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, onCommit: opts.OnCommit, maxBatch: opts.MaxBatchSize}
	s.appender = newAppender(s)
	return s, nil
}

// redact names the server without the password, for error messages.
func redact(cfg *pgxpool.Config) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
}

// acquire holds the store open for one operation; release must be called.
func (s *Store) acquire(op string) (release func(), err error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, fmt.Errorf("postgres: %s: %w", op, storage.ErrClosed)
	}
	return s.mu.RUnlock, nil
}

// write runs fn in a transaction and returns once it committed. fn must
// only touch tx and variables it resets itself: a serialization failure is
// retried from the start.
func (s *Store) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	release, err := s.acquire(op)
	if err != nil {
		return err
	}
	defer release()
	start := time.Now()
	for attempt := 0; ; attempt++ {
		err = pgx.BeginFunc(ctx, s.pool, fn)
		if !retryable(err) || attempt == 4 {
			break
		}
	}
	if err != nil {
		return mapErr(op, err)
	}
	if s.onCommit != nil {
		s.onCommit(op, time.Since(start))
	}
	return nil
}

// read runs fn with the pool for reads outside a transaction.
func (s *Store) read(ctx context.Context, op string, fn func(q querier) error) error {
	release, err := s.acquire(op)
	if err != nil {
		return err
	}
	defer release()
	return mapErr(op, fn(s.pool))
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// retryable reports a serialization failure or deadlock: the transaction
// did nothing and may run again.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && (pg.Code == "40001" || pg.Code == "40P01")
}

// mapErr turns database errors into the contract's sentinels: a unique
// violation is ErrConflict, a full disk ErrUnavailable; everything else
// keeps its cause.
func mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		return fmt.Errorf("postgres: %s: %s: %w", op, pg.ConstraintName, storage.ErrConflict)
	}
	if errors.As(err, &pg) && pg.Code == "53100" {
		// disk_full: the transaction rolled back and the database goes on
		// serving reads; the write can succeed once space is freed.
		return fmt.Errorf("postgres: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	if errors.Is(err, storage.ErrNotFound) || errors.Is(err, storage.ErrConflict) ||
		errors.Is(err, storage.ErrStale) || errors.Is(err, storage.ErrClosed) || errors.Is(err, storage.ErrExhausted) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Ping checks the database answers and carries this binary's schema.
func (s *Store) Ping(ctx context.Context) error {
	return s.read(ctx, "ping", func(q querier) error {
		var v int
		if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM gisbi_schema`).Scan(&v); err != nil {
			return err
		}
		if v != len(migrations) {
			return fmt.Errorf("schema version %d, this binary needs %d", v, len(migrations))
		}
		return nil
	})
}

// Backup is not done by the server on PostgreSQL: pg_dump takes a
// consistent copy of a live database, with every option an operator needs.
func (s *Store) Backup(ctx context.Context, path string) error {
	release, err := s.acquire("backup")
	if err != nil {
		return err
	}
	release()
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("postgres: backup: %w: run pg_dump against the database instead (pg_dump --format=custom --file=%s \"$GISBI_STORE\")", storage.ErrUnsupported, path)
}

// Close waits for in-flight operations and queued message batches, then
// closes the pool. Closing twice is not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.appender.close()
	s.pool.Close()
	return nil
}
