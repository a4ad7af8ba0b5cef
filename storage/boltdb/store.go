package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gisbi/engine/storage"
)

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long Open waits for the file lock held by another
	// process (default 1s). bbolt's own default is to wait forever, which
	// turns a second instance on the same file into a silent hang.
	Timeout time.Duration

	// OnCommit, when set, is called after every committed write with the
	// operation name ("users.create", "tokens.rotate", …) and the time the
	// caller waited, including the group-commit delay and the fsync. It is
	// meant for a latency histogram. It runs on the writer's goroutine after
	// the store's locks are released, so it must be cheap but may do anything.
	OnCommit func(op string, d time.Duration)

	// MaxBatchSize bounds how many writes share one commit (1000 when
	// zero). There is no batch delay: writes queued while a commit runs go
	// into the next one, so batches grow with the load and the fsync time.
	MaxBatchSize int
}

// Store is a storage.Store over one bbolt file. It is safe for concurrent use.
type Store struct {
	db       *bolt.DB
	w        *committer
	path     string
	onCommit func(string, time.Duration)

	// mu is held shared by every operation and exclusively by Close, so
	// Close waits for in-flight work and nothing reaches a closed bolt.DB.
	mu     sync.RWMutex
	closed bool
}

var _ storage.Store = (*Store)(nil)

// Open opens or creates the database at path and migrates it to
// SchemaVersion. It fails with ErrSchemaVersion for a file from a newer
// binary, and with a bbolt timeout error when another process holds the file.
func Open(path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, fmt.Errorf("%w: database path is empty", ErrInvalid)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = time.Second
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("boltdb: create directory for %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: opts.Timeout})
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return nil, fmt.Errorf("boltdb: open %s: file is locked by another process (waited %s): %w", path, opts.Timeout, err)
		}
		return nil, fmt.Errorf("boltdb: open %s: %w", path, err)
	}
	start := time.Now()
	var from, to int
	err = db.Update(func(tx *bolt.Tx) error {
		var err error
		from, to, err = migrate(tx, migrations)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltdb: open %s: %w", path, err)
	}
	if opts.OnCommit != nil && from != to {
		opts.OnCommit("migrate", time.Since(start))
	}
	return &Store{db: db, w: newCommitter(db, opts.MaxBatchSize), path: path, onCommit: opts.OnCommit}, nil
}

// Users returns the account store.
func (s *Store) Users() storage.Users { return users{s} }

// Tokens returns the refresh-token store.
func (s *Store) Tokens() storage.Tokens { return tokens{s} }

// Devices returns the push-token store.
func (s *Store) Devices() storage.Devices { return devices{s} }

// Safety returns the blocks and reports store.
func (s *Store) Safety() storage.Safety { return safety{s} }

// Reminders returns the durable-timer store.
func (s *Store) Reminders() storage.Reminders { return reminders{s} }

// Pairs returns the store of requests and connections between two users.
func (s *Store) Pairs() storage.Pairs { return pairs{s} }

// Messages returns the store of chat messages and conversation summaries.
func (s *Store) Messages() storage.Messages { return messages{s} }

// Snapshots implements storage.Store.
func (s *Store) Snapshots() storage.Snapshots { return snapshots{s} }

// Rewards returns the store of brands, campaigns and their gifts.
func (s *Store) Rewards() storage.Rewards { return rewards{s} }

// Scores returns the store of each user's daily social score.
func (s *Store) Scores() storage.Scores { return scores{s} }

// Path returns the database file path.
func (s *Store) Path() string { return s.path }

// update runs fn in a group-committed write transaction and returns once it
// is durable. fn may run more than once (when another call in the batch
// fails, the batch is retried without it), so it must only touch tx and
// variables it resets itself.
func (s *Store) update(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return fmt.Errorf("boltdb: %s: %w", op, storage.ErrClosed)
	}
	start := time.Now()
	err := s.w.do(ctx, fn)
	s.mu.RUnlock()
	if err != nil {
		return mapErr(op, err)
	}
	if s.onCommit != nil {
		s.onCommit(op, time.Since(start))
	}
	return nil
}

// updateAsync is update without the wait: it queues fn and returns, and done
// gets update's result on the store's writer goroutine, so it must not block.
// The store stays open until done has been called.
func (s *Store) updateAsync(op string, fn func(*bolt.Tx) error, done func(error)) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		done(fmt.Errorf("boltdb: %s: %w", op, storage.ErrClosed))
		return
	}
	start := time.Now()
	s.w.enqueue(fn, func(err error) {
		s.mu.RUnlock()
		if err != nil {
			done(mapErr(op, err))
			return
		}
		if s.onCommit != nil {
			s.onCommit(op, time.Since(start))
		}
		done(nil)
	})
}

// WriterStats counts the writes committed since Open, to see how well they
// group: Calls/Commits writes share a commit on average, and each commit
// writes PagesWritten/Commits pages before its fsyncs.
type WriterStats struct {
	Commits      int64 // transactions committed by the writer
	Calls        int64 // write calls they carried
	PagesWritten int64 // pages written by all write transactions, Open's included
}

// WriterStats reports the writer's counters; they only grow.
func (s *Store) WriterStats() WriterStats {
	st := s.db.Stats()
	return WriterStats{Commits: s.w.commits.Load(), Calls: s.w.calls.Load(), PagesWritten: st.TxStats.GetWrite()}
}

// HoldCommits makes the store stall as a disk whose fsync hangs would:
// from now on each commit, once its writes are in the transaction, waits
// with bbolt's writer lock held until release is called, and every write
// queued behind it waits too. Reads go on. It is a fault-injection hook for
// tests (the server never calls it, and no setting reaches it); release
// may be called more than once.
func (s *Store) HoldCommits() (release func()) {
	ch := make(chan struct{})
	s.w.hold.Store(&ch)
	var once sync.Once
	return func() {
		once.Do(func() {
			s.w.hold.CompareAndSwap(&ch, nil)
			close(ch)
		})
	}
}

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, op string, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return fmt.Errorf("boltdb: %s: %w", op, storage.ErrClosed)
	}
	return mapErr(op, s.db.View(fn))
}

// mapErr turns bbolt's "not open" into the contract's ErrClosed (the
// mutex makes that unreachable today; the mapping keeps the contract if
// that changes) and a full disk into ErrUnavailable.
func mapErr(op string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("boltdb: %s: %w", op, storage.ErrClosed)
	case diskFull(err):
		return fmt.Errorf("boltdb: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return err
}

// diskFull tells a commit that failed for want of space. bbolt rolls such
// a commit back before it writes the meta page, so the file still holds
// the previous commit and the same write can succeed once space is freed.
// Growing the file reports its error with %s (bbolt's "file resize
// error: …"), which loses the errno, hence the text match beside
// errors.Is.
func diskFull(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return true
	}
	msg := err.Error()
	return strings.Contains(msg, syscall.ENOSPC.Error()) || strings.Contains(msg, syscall.EDQUOT.Error())
}

// Check walks every page reachable from the last commit, as bbolt's own
// check does (every page used once, none both used and free, branches and
// leaves well formed), and returns what it found wrong, nil for a sound
// file. It runs in a read transaction, so writers keep going; it reads
// the whole file, so it is for tests and operators, not for every start.
// bbolt asserts some invariants (a page names its own id, has a known
// type) by panicking on the walk's own goroutine: a file damaged that way
// ends the process instead of returning an error, so check a copy
// (Backup) when the process must live.
func (s *Store) Check(ctx context.Context) error {
	var problems []error
	err := s.view(ctx, "check", func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			// Drain the channel whatever happens: the walk's goroutine
			// blocks on it otherwise.
			if len(problems) < 10 {
				problems = append(problems, err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("boltdb: check %s: %w", s.path, errors.Join(problems...))
	}
	return nil
}

// Ping checks the file is open and carries a schema.
func (s *Store) Ping(ctx context.Context) error {
	return s.view(ctx, "ping", func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("boltdb: ping: meta bucket missing")
		}
		return nil
	})
}

// Close waits for in-flight operations and closes the file. Closing twice is
// not an error.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.w.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltdb: close %s: %w", s.path, err)
	}
	return nil
}

// Backup writes a consistent snapshot to path while writers keep going: a
// read transaction pins one version of every page. The copy goes to a
// temporary file in the target directory, is fsynced, then renamed, so path
// holds either the previous backup or a complete new one, never a torn file.
// Cancelling ctx aborts the copy and removes the temporary file.
func (s *Store) Backup(ctx context.Context, path string) (err error) {
	if path == "" {
		return fmt.Errorf("%w: backup path is empty", ErrInvalid)
	}
	if same, err := samePath(path, s.path); err != nil {
		return fmt.Errorf("boltdb: backup: %w", err)
	} else if same {
		return fmt.Errorf("%w: backup path %s is the live database", ErrInvalid, path)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("boltdb: backup: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("boltdb: backup: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()

	err = s.view(ctx, "backup", func(tx *bolt.Tx) error {
		_, err := tx.WriteTo(ctxWriter{ctx, f})
		return err
	})
	if err != nil {
		return fmt.Errorf("boltdb: backup to %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("boltdb: backup: sync: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("boltdb: backup: close: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("boltdb: backup: %w", err)
	}
	// The rename is only durable once the directory entry is.
	return syncDir(dir)
}

type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}

func samePath(a, b string) (bool, error) {
	aa, err := filepath.Abs(a)
	if err != nil {
		return false, err
	}
	bb, err := filepath.Abs(b)
	if err != nil {
		return false, err
	}
	if aa == bb {
		return true, nil
	}
	ai, aerr := os.Stat(a)
	bi, berr := os.Stat(b)
	if aerr != nil || berr != nil {
		return false, nil // a missing file cannot be the live one
	}
	return os.SameFile(ai, bi), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("boltdb: backup: sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("boltdb: backup: sync dir: %w", err)
	}
	return nil
}

// fence checks a fenced write (see storage.ErrStale): stored is the
// version in the file, 0 when the record is absent or predates versions.
func fence(what string, stored, have uint64) error {
	if stored != have {
		return fmt.Errorf("boltdb: %s: write from version %d, stored version is %d: %w", what, have, stored, storage.ErrStale)
	}
	return nil
}

// storedVersion reads only the version of the JSON record under key.
func storedVersion(b *bolt.Bucket, key []byte) (uint64, error) {
	var v struct {
		Version uint64 `json:"version"`
	}
	if _, err := getJSON(b, key, &v); err != nil {
		return 0, err
	}
	return v.Version, nil
}

// getJSON decodes the record under key into v; found is false when absent.
// Decoding copies, so v stays valid after the transaction.
func getJSON(b *bolt.Bucket, key []byte, v any) (found bool, err error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("boltdb: decode record %q: %w", key, err)
	}
	return true, nil
}

// buckets looks up buckets that migrations guarantee; a missing one means
// the file was damaged or edited by hand, which must not become a nil-pointer
// panic inside a transaction.
func buckets(tx *bolt.Tx, names ...[]byte) ([]*bolt.Bucket, error) {
	out := make([]*bolt.Bucket, len(names))
	for i, n := range names {
		if out[i] = tx.Bucket(n); out[i] == nil {
			return nil, fmt.Errorf("boltdb: bucket %s missing (schema damaged?)", n)
		}
	}
	return out, nil
}

// marshal encodes outside the transaction: the write lock is held by the
// whole batch, so the less each function does inside it the better.
func marshal(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("boltdb: encode %T: %w", v, err)
	}
	return raw, nil
}

func jsonUnmarshal(raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("boltdb: decode %T: %w", v, err)
	}
	return nil
}
