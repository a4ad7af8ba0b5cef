package boltdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gisbi/engine/storage"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

func openT(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func tempPath(t testing.TB) string {
	return filepath.Join(t.TempDir(), "data", "gisbi.db")
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func user(id string) *storage.User {
	return &storage.User{ID: id, Name: id, Provider: "dev", Subject: "s-" + id, CreatedAt: t0, UpdatedAt: t0}
}

// rawDB opens the file with plain bbolt, for looking behind the Store.
func rawDB(t testing.TB, path string) *bolt.DB {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(path), 0o700))
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func fileVersion(t testing.TB, db *bolt.DB) int {
	t.Helper()
	var v int
	must(t, db.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	}))
	return v
}

func allBuckets() [][]byte {
	var out [][]byte
	out = append(out, bucketMeta)
	out = append(out,
		bucketUsers, bucketIdentities, bucketUsernames,
		bucketTokens, bucketTokensByUser, bucketTokensByFamily, bucketRevokedFamilies,
		bucketDevices, bucketDevicesByUser,
		bucketBlocks, bucketBlocksRev,
		bucketReports, bucketReportsByReporter,
		bucketReminders, bucketRemindersDue,
		bucketPairs, bucketPairsByUser, bucketPairsByRequest, bucketPairsByConnection,
		bucketMessages, bucketMessagesByID, bucketInbox, bucketConversations,
		bucketSnapshots,
		bucketBrands, bucketBrandsBySlug, bucketBrandsByKey, bucketCampaigns,
		bucketGifts, bucketGiftsByPairCampaign, bucketGiftsByPair, bucketGiftsByUser, bucketGiftCodes,
		bucketScores, bucketReportsByStatus, bucketReportsAgainst, bucketAudit)
	return out
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	path := tempPath(t)
	openT(t, path, Options{})
	for p, want := range map[string]os.FileMode{filepath.Dir(path): 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		must(t, err)
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s mode %v, want at most %v", p, got, want)
		}
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := tempPath(t)
	ctx := t.Context()
	s := openT(t, path, Options{})
	u := user("u1")
	u.Username = new(string)
	*u.Username = "Ada"
	must(t, s.Users().Create(ctx, u))
	must(t, s.Tokens().Put(ctx, &storage.RefreshToken{ID: "t1", Family: "f1", UserID: "u1", IssuedAt: t0}))
	must(t, s.Tokens().Rotate(ctx, "t1", &storage.RefreshToken{ID: "t2", Family: "f1", UserID: "u1"}, t0))
	must(t, s.Devices().Register(ctx, &storage.Device{Token: "d1", UserID: "u1", Platform: "ios"}))
	must(t, s.Safety().Block(ctx, storage.Block{BlockerID: "u1", BlockedID: "u2", CreatedAt: t0}))
	must(t, s.Safety().AddReport(ctx, &storage.Report{ID: "r1", ReporterID: "u1", ReportedUserID: "u2", CreatedAt: t0}))
	must(t, s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: "i", Name: "n", DueAt: t0}))
	must(t, s.Close())

	s = openT(t, path, Options{})
	checks := []struct {
		name string
		ok   func() error
	}{
		{"user", func() error {
			got, err := s.Users().ByIdentity(ctx, "dev", "s-u1")
			if err == nil && *got.Username != "Ada" {
				err = fmt.Errorf("username %q", *got.Username)
			}
			return err
		}},
		{"username index", func() error {
			u2 := user("u2")
			u2.Username = new(string)
			*u2.Username = "ada"
			if err := s.Users().Create(ctx, u2); !errors.Is(err, storage.ErrConflict) {
				return fmt.Errorf("Create with taken username: %v", err)
			}
			return nil
		}},
		{"rotated token", func() error {
			tok, err := s.Tokens().Get(ctx, "t1")
			if err == nil && tok.RotatedAt == nil {
				err = errors.New("RotatedAt lost")
			}
			return err
		}},
		{"device", func() error {
			ds, err := s.Devices().ListByUser(ctx, "u1")
			if err == nil && len(ds) != 1 {
				err = fmt.Errorf("%d devices", len(ds))
			}
			return err
		}},
		{"block", func() error {
			ids, err := s.Safety().BlockersOf(ctx, "u2")
			if err == nil && !slices.Equal(ids, []string{"u1"}) {
				err = fmt.Errorf("blockers %v", ids)
			}
			return err
		}},
		{"report", func() error {
			rs, err := s.Safety().ReportsBy(ctx, "u1")
			if err == nil && len(rs) != 1 {
				err = fmt.Errorf("%d reports", len(rs))
			}
			return err
		}},
		{"reminder", func() error { _, err := s.Reminders().Next(ctx); return err }},
	}
	for _, c := range checks {
		if err := c.ok(); err != nil {
			t.Errorf("%s after reopen: %v", c.name, err)
		}
	}
}

func TestMigrationsAreConsecutive(t *testing.T) {
	if len(migrations) != SchemaVersion {
		t.Fatalf("SchemaVersion = %d but there are %d migrations", SchemaVersion, len(migrations))
	}
	for i, m := range migrations {
		if m.version != i+1 || m.name == "" || m.up == nil {
			t.Fatalf("migration %d = {%d %q}, want version %d with a name and a func", i, m.version, m.name, i+1)
		}
	}
}

// TestMigrateV0File opens a file as written before schema versioning: a
// users bucket and nothing else.
func TestMigrateV0File(t *testing.T) {
	path := tempPath(t)
	must(t, os.MkdirAll(filepath.Dir(path), 0o700))
	db, err := bolt.Open(path, 0o600, nil)
	must(t, err)
	raw, _ := json.Marshal(user("old"))
	must(t, db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bucketUsers)
		if err != nil {
			return err
		}
		return b.Put([]byte("old"), raw)
	}))
	must(t, db.Close())

	var ops []string
	s := openT(t, path, Options{OnCommit: func(op string, _ time.Duration) { ops = append(ops, op) }})
	if !slices.Equal(ops, []string{"migrate"}) {
		t.Errorf("OnCommit ops during Open = %v, want [migrate]", ops)
	}
	got, err := s.Users().Get(t.Context(), "old")
	must(t, err)
	if got.Name != "old" {
		t.Fatalf("user after migration: %+v", got)
	}
	must(t, s.Close())

	db = rawDB(t, path)
	if v := fileVersion(t, db); v != SchemaVersion {
		t.Fatalf("version after migration = %d, want %d", v, SchemaVersion)
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		_, err := buckets(tx, allBuckets()...)
		return err
	}))
}

func TestMigrateRunsOnlyNewerAndRollsBackOnFailure(t *testing.T) {
	db := rawDB(t, tempPath(t))
	var ran []int
	step := func(v int, fail bool) migration {
		return migration{version: v, name: fmt.Sprint("step ", v), up: func(tx *bolt.Tx) error {
			ran = append(ran, v)
			if _, err := tx.CreateBucketIfNotExists(fmt.Appendf(nil, "b%d", v)); err != nil {
				return err
			}
			if fail {
				return errors.New("boom")
			}
			return nil
		}}
	}
	run := func(ms []migration) (int, int, error) {
		var from, to int
		err := db.Update(func(tx *bolt.Tx) error {
			var err error
			from, to, err = migrate(tx, ms)
			return err
		})
		return from, to, err
	}

	tests := []struct {
		name             string
		ms               []migration
		wantRan          []int
		wantFrom, wantTo int
		wantErr          bool
		wantVersion      int
	}{
		{"fresh file to v1", []migration{step(1, false)}, []int{1}, 0, 1, false, 1},
		{"v1 to v3", []migration{step(1, false), step(2, false), step(3, false)}, []int{2, 3}, 1, 3, false, 3},
		{"up to date", []migration{step(1, false), step(2, false), step(3, false)}, nil, 3, 3, false, 3},
		{"failing v5 rolls back v4", []migration{step(1, false), step(2, false), step(3, false), step(4, false), step(5, true)}, []int{4, 5}, 3, 3, true, 3},
		{"gap in versions", []migration{step(1, false), step(3, false)}, nil, 0, 0, true, 3},
	}
	for _, tt := range tests {
		ran = nil
		from, to, err := run(tt.ms)
		if (err != nil) != tt.wantErr {
			t.Fatalf("%s: err = %v, want error %v", tt.name, err, tt.wantErr)
		}
		if !tt.wantErr && (from != tt.wantFrom || to != tt.wantTo) {
			t.Fatalf("%s: from %d to %d, want %d to %d", tt.name, from, to, tt.wantFrom, tt.wantTo)
		}
		if !slices.Equal(ran, tt.wantRan) {
			t.Fatalf("%s: ran %v, want %v", tt.name, ran, tt.wantRan)
		}
		if v := fileVersion(t, db); v != tt.wantVersion {
			t.Fatalf("%s: version %d, want %d", tt.name, v, tt.wantVersion)
		}
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("b4")) != nil {
			return errors.New("bucket of the rolled-back migration exists")
		}
		return nil
	}))
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	must(t, s.Close())
	db := rawDB(t, path)
	must(t, db.Update(func(tx *bolt.Tx) error { return writeVersion(tx, SchemaVersion+41) }))
	must(t, db.Close())

	_, err := Open(path, Options{})
	if !errors.Is(err, ErrSchemaVersion) {
		t.Fatalf("Open of a newer file: %v, want ErrSchemaVersion", err)
	}
	for _, v := range []int{SchemaVersion + 41, SchemaVersion} {
		if !strings.Contains(err.Error(), fmt.Sprint(v)) {
			t.Errorf("error %q does not name version %d", err, v)
		}
	}
	// The refused file is untouched and unlocked.
	if v := fileVersion(t, rawDB(t, path)); v != SchemaVersion+41 {
		t.Fatalf("version after refused Open = %d", v)
	}
}

func TestOpenLockedFileTimesOut(t *testing.T) {
	path := tempPath(t)
	openT(t, path, Options{})
	_, err := Open(path, Options{Timeout: 50 * time.Millisecond})
	if !errors.Is(err, berrors.ErrTimeout) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("second Open: %v, want a lock timeout", err)
	}
}

func TestBackupDuringWrites(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	const writers = 8
	var (
		acked   [writers]atomic.Int64 // per writer: users 0..acked-1 are committed
		stop    = make(chan struct{})
		wg      sync.WaitGroup
		failure atomic.Pointer[error]
	)
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := s.Users().Create(ctx, user(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					failure.Store(&err)
					return
				}
				acked[w].Store(int64(i + 1))
			}
		})
	}
	// Let some writes land, then back up while the writers keep going.
	for acked[writers-1].Load() < 5 && failure.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	var before [writers]int64
	for w := range writers {
		before[w] = acked[w].Load()
	}
	backup := filepath.Join(t.TempDir(), "backups", "gisbi.db")
	must(t, s.Backup(ctx, backup))
	close(stop)
	wg.Wait()
	if err := failure.Load(); err != nil {
		t.Fatalf("writer: %v", *err)
	}

	db := rawDB(t, backup)
	must(t, db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return fmt.Errorf("backup fails consistency check: %w", err)
		}
		return nil
	}))
	must(t, db.Close())

	b := openT(t, backup, Options{})
	for w := range writers {
		for i := range before[w] {
			id := fmt.Sprintf("w%d-%d", w, i)
			if _, err := b.Users().ByIdentity(ctx, "dev", "s-"+id); err != nil {
				t.Fatalf("user %s acknowledged before the backup: %v", id, err)
			}
		}
	}
	entries, err := os.ReadDir(filepath.Dir(backup))
	must(t, err)
	if len(entries) != 1 {
		t.Fatalf("backup dir holds %d entries, want only the backup", len(entries))
	}
}

func TestBackupRefusals(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	dir := t.TempDir()
	tests := []struct {
		name string
		ctx  context.Context
		path string
		want error
	}{
		{"the live file", t.Context(), path, ErrInvalid},
		{"the live file by another name", t.Context(), filepath.Join(filepath.Dir(path), ".", "gisbi.db"), ErrInvalid},
		{"empty path", t.Context(), "", ErrInvalid},
		{"cancelled", cancelled, filepath.Join(dir, "b.db"), context.Canceled},
	}
	for _, tt := range tests {
		if err := s.Backup(tt.ctx, tt.path); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused backups left %d files behind", len(entries))
	}
	must(t, s.Ping(t.Context()))
}

func TestConcurrentBatchWriters(t *testing.T) {
	var commits sync.Map // op → *atomic.Int64
	s := openT(t, tempPath(t), Options{OnCommit: func(op string, d time.Duration) {
		if d < 0 {
			t.Errorf("negative duration for %s", op)
		}
		c, _ := commits.LoadOrStore(op, new(atomic.Int64))
		c.(*atomic.Int64).Add(1)
	}})
	ctx := t.Context()
	const workers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("u%d-%d", w, i)
				u := user(id)
				name := "name-" + id
				u.Username = &name
				errs <- s.Users().Create(ctx, u)
				errs <- s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: id, Name: "n", DueAt: t0.Add(time.Duration(i) * time.Second)})
				errs <- s.Safety().Block(ctx, storage.Block{BlockerID: fmt.Sprint("w", w), BlockedID: id, CreatedAt: t0})
				// Every worker also fights over one username: one wins.
				contested := user("c" + id)
				taken := "contested"
				contested.Username = &taken
				if err := s.Users().Create(ctx, contested); err != nil && !errors.Is(err, storage.ErrConflict) {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}

	rs, err := s.Reminders().Due(ctx, t0.Add(time.Hour), workers*each+1)
	must(t, err)
	if len(rs) != workers*each {
		t.Fatalf("%d reminders, want %d", len(rs), workers*each)
	}
	if !slices.IsSortedFunc(rs, func(a, b storage.Reminder) int { return a.DueAt.Compare(b.DueAt) }) {
		t.Fatal("Due not in due order")
	}
	for w := range workers {
		bs, err := s.Safety().BlockedBy(ctx, fmt.Sprint("w", w))
		must(t, err)
		if len(bs) != each {
			t.Fatalf("worker %d: %d blocks, want %d", w, len(bs), each)
		}
	}
	want := map[string]int64{"users.create": workers*each + 1, "reminders.set": workers * each, "safety.block": workers * each}
	for op, n := range want {
		c, ok := commits.Load(op)
		if !ok || c.(*atomic.Int64).Load() != n {
			got := int64(0)
			if ok {
				got = c.(*atomic.Int64).Load()
			}
			t.Errorf("OnCommit(%s) called %d times, want %d", op, got, n)
		}
	}
}

func TestCloseDuringWrites(t *testing.T) {
	s, err := Open(tempPath(t), Options{})
	must(t, err)
	ctx := t.Context()
	const writers = 16
	var (
		wg      sync.WaitGroup
		started sync.WaitGroup
		bad     = make(chan error, writers*2)
	)
	started.Add(writers)
	for w := range writers {
		wg.Go(func() {
			once := sync.OnceFunc(started.Done)
			defer once()
			for i := 0; ; i++ {
				var err error
				if i%2 == 0 {
					err = s.Users().Create(ctx, user(fmt.Sprintf("w%d-%d", w, i)))
				} else {
					_, err = s.Users().Get(ctx, fmt.Sprintf("w%d-%d", w, i-1))
				}
				once()
				if errors.Is(err, storage.ErrClosed) {
					return
				}
				if err != nil {
					bad <- err
					return
				}
			}
		})
	}
	started.Wait()
	must(t, s.Close())
	wg.Wait()
	close(bad)
	for err := range bad {
		t.Errorf("write during Close: %v, want nil or ErrClosed", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, storage.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}
}

func TestOnCommit(t *testing.T) {
	var ops []string
	var mu sync.Mutex
	s := openT(t, tempPath(t), Options{OnCommit: func(op string, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
	}})
	ctx := t.Context()
	must(t, s.Users().Create(ctx, user("u1")))
	_ = s.Users().Create(ctx, user("u1")) // conflict: rolled back, not a commit
	_, _ = s.Users().Get(ctx, "u1")       // read: not a commit
	must(t, s.Tokens().Put(ctx, &storage.RefreshToken{ID: "t1", Family: "f", UserID: "u1"}))
	must(t, s.Tokens().Revoke(ctx, "t1", t0))
	// Reuse detection commits the family revocation and still fails.
	err := s.Tokens().Rotate(ctx, "t1", &storage.RefreshToken{ID: "t2", Family: "f", UserID: "u1"}, t0)
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("Rotate of revoked token: %v", err)
	}
	want := []string{"migrate", "users.create", "tokens.put", "tokens.revoke", "tokens.rotate"}
	if !slices.Equal(ops, want) {
		t.Fatalf("OnCommit ops %v, want %v", ops, want)
	}
}

func TestErrorsNameTheirSubject(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	taken := "Ada"
	u := user("u1")
	u.Username = &taken
	must(t, s.Users().Create(ctx, u))
	u2 := user("u2")
	u2.Username = &taken

	long := strings.Repeat("x", maxKeyPart+1)
	tests := []struct {
		name    string
		err     error
		target  error
		mention string
	}{
		{"missing user", func() error { _, err := s.Users().Get(ctx, "ghost-7"); return err }(), storage.ErrNotFound, "ghost-7"},
		{"missing identity", func() error { _, err := s.Users().ByIdentity(ctx, "apple", "sub-9"); return err }(), storage.ErrNotFound, "sub-9"},
		{"taken username", s.Users().Create(ctx, u2), storage.ErrConflict, "ada"},
		{"linked identity", s.Users().Create(ctx, &storage.User{ID: "u3", Provider: "dev", Subject: "s-u1"}), storage.ErrConflict, "s-u1"},
		{"missing token", s.Tokens().Revoke(ctx, "jti-5", t0), storage.ErrNotFound, "jti-5"},
		{"missing device", s.Devices().Deactivate(ctx, "u1", "push-3", t0), storage.ErrNotFound, "push-3"},
		{"empty user id", func() error { _, err := s.Users().Get(ctx, ""); return err }(), ErrInvalid, "user id is empty"},
		{"NUL in id", s.Safety().Block(ctx, storage.Block{BlockerID: "a\x00b", BlockedID: "c"}), ErrInvalid, "NUL"},
		{"oversized id", s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: long, Name: "n"}), ErrInvalid, "limit"},
		{"nil user", s.Users().Create(ctx, nil), ErrInvalid, "nil"},
		{"rotation changing family", func() error {
			must(t, s.Tokens().Put(ctx, &storage.RefreshToken{ID: "t1", Family: "f", UserID: "u1"}))
			return s.Tokens().Rotate(ctx, "t1", &storage.RefreshToken{ID: "t2", Family: "other", UserID: "u1"}, t0)
		}(), ErrInvalid, "family"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.target) || !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: %v, want %v mentioning %q", tt.name, tt.err, tt.target, tt.mention)
		}
	}
	if tok, err := s.Tokens().Get(ctx, "t1"); err != nil || tok.RotatedAt != nil {
		t.Fatalf("refused rotation changed the old token: %+v, %v", tok, err)
	}
}

// TestIndexesFollowChanges looks at the raw buckets: the contract tests see
// only behaviour, and a stale index entry would go unnoticed until it
// wrongly blocked a username or listed a device twice.
func TestIndexesFollowChanges(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	ctx := t.Context()
	name := "Ada"
	u := user("u1")
	u.Username = &name
	must(t, s.Users().Create(ctx, u))
	del := *u
	del.DeletedAt = &t0
	must(t, s.Users().Put(ctx, &del))
	must(t, s.Devices().Register(ctx, &storage.Device{Token: "d", UserID: "u1"}))
	must(t, s.Devices().Register(ctx, &storage.Device{Token: "d", UserID: "u2"}))
	must(t, s.Safety().Block(ctx, storage.Block{BlockerID: "a", BlockedID: "b"}))
	must(t, s.Safety().Unblock(ctx, "a", "b"))
	must(t, s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: "i", Name: "n", DueAt: t0}))
	must(t, s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: "i", Name: "n", DueAt: t0.Add(time.Hour)}))
	must(t, s.Close())

	want := map[string]int{
		"users": 1, "identities": 0, "usernames": 0,
		"devices": 1, "devices_by_user": 1,
		"blocks": 0, "blocks_rev": 0,
		"reminders": 1, "reminders_due": 1,
	}
	db := rawDB(t, path)
	must(t, db.View(func(tx *bolt.Tx) error {
		for name, n := range want {
			if got := tx.Bucket([]byte(name)).Stats().KeyN; got != n {
				t.Errorf("bucket %s holds %d keys, want %d", name, got, n)
			}
		}
		if tx.Bucket(bucketDevicesByUser).Get(join("u2", "d")) == nil {
			t.Error("moved device not indexed under its new user")
		}
		return nil
	}))
}

func TestTimeKeyOrder(t *testing.T) {
	times := []time.Time{
		{}, // zero: year 1, clamps to the minimum
		time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Unix(0, 0),
		time.Unix(0, 1),
		t0,
		time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := 1; i < len(times); i++ {
		a, b := timeKey(times[i-1]), timeKey(times[i])
		if c := strings.Compare(string(a), string(b)); c > 0 {
			t.Errorf("timeKey(%v) sorts after timeKey(%v)", times[i-1], times[i])
		}
	}
	if string(timeKey(time.Unix(0, 0))) >= string(timeKey(time.Unix(0, 1))) {
		t.Error("adjacent nanoseconds do not sort strictly")
	}
}

func TestRemindersBeyondNanosecondRange(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	far := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)
	must(t, s.Reminders().Set(ctx, storage.Reminder{Kind: "k", Identity: "i", Name: "far", DueAt: far}))
	rs, err := s.Reminders().Due(ctx, time.Date(2500, 1, 1, 0, 0, 0, 0, time.UTC), 10)
	must(t, err)
	if len(rs) != 0 {
		t.Fatalf("reminder due in 3000 is due in 2500: %+v", rs)
	}
	rs, err = s.Reminders().Due(ctx, far, 10)
	must(t, err)
	if len(rs) != 1 || !rs[0].DueAt.Equal(far) {
		t.Fatalf("Due(3000) = %+v", rs)
	}
}

// TestBatchRetryKeepsResults forces three calls into one batch, one of which
// fails. The store then re-runs the others in a new transaction, so any result a
// function computed on the first run must be recomputed, not accumulated.
func TestBatchRetryKeepsResults(t *testing.T) {
	s := openT(t, tempPath(t), Options{MaxBatchSize: 3})
	ctx := t.Context()
	// Exactly three writes per phase, so no batch waits for the delay.
	seed := []func() error{
		func() error { return s.Users().Create(ctx, user("u1")) },
		func() error {
			return s.Tokens().Put(ctx, &storage.RefreshToken{ID: "a1", Family: "fa", UserID: "u1"})
		},
		func() error {
			return s.Tokens().Put(ctx, &storage.RefreshToken{ID: "b1", Family: "fb", UserID: "u1", RevokedAt: &t0})
		},
	}
	runTogether(t, s, seed...)

	var errRotate, errDup, errReuse error
	runTogether(t, s,
		func() error {
			errRotate = s.Tokens().Rotate(ctx, "a1", &storage.RefreshToken{ID: "a2", Family: "fa", UserID: "u1"}, t0)
			return nil
		},
		func() error { errDup = s.Users().Create(ctx, user("u1")); return nil },
		func() error {
			errReuse = s.Tokens().Rotate(ctx, "b1", &storage.RefreshToken{ID: "b2", Family: "fb", UserID: "u1"}, t0)
			return nil
		},
	)
	if errRotate != nil {
		t.Errorf("normal rotation: %v", errRotate)
	}
	if !errors.Is(errDup, storage.ErrConflict) {
		t.Errorf("duplicate create: %v, want ErrConflict", errDup)
	}
	if !errors.Is(errReuse, storage.ErrConflict) {
		t.Errorf("reuse: %v, want ErrConflict", errReuse)
	}
	if _, err := s.Tokens().Get(ctx, "a2"); err != nil {
		t.Errorf("rotated token: %v", err)
	}
	if _, err := s.Tokens().Get(ctx, "b2"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("token offered on reuse was stored: %v", err)
	}
	if ok, err := s.Tokens().FamilyRevoked(ctx, "fb"); err != nil || !ok {
		t.Errorf("FamilyRevoked(fb) = %v, %v", ok, err)
	}
	if ok, err := s.Tokens().FamilyRevoked(ctx, "fa"); err != nil || ok {
		t.Errorf("FamilyRevoked(fa) = %v, %v", ok, err)
	}
}

// runTogether runs fns in one batch: it holds the writer inside a
// transaction until all of them are queued behind it, then lets it go. fns
// must not be more than the store's MaxBatchSize.
func runTogether(t *testing.T, s *Store, fns ...func() error) {
	t.Helper()
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	holding := make(chan error, 1)
	go func() {
		holding <- s.update(context.Background(), "test.hold", func(*bolt.Tx) error {
			once.Do(func() { close(held) })
			<-release
			return nil
		})
	}()
	<-held
	var wg sync.WaitGroup
	errs := make([]error, len(fns))
	for i, fn := range fns {
		wg.Go(func() { errs[i] = fn() })
	}
	for deadline := time.Now().Add(10 * time.Second); s.w.queued() < len(fns); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			close(release)
			t.Fatalf("%d of %d writes queued", s.w.queued(), len(fns))
		}
	}
	close(release)
	wg.Wait()
	must(t, <-holding)
	must(t, errors.Join(errs...))
}
