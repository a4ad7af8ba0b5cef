package boltdb

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

func testPair(a, b string) *storage.Pair {
	return &storage.Pair{ID: storage.PairID(a, b), UserA: a, UserB: b}
}

func testRequest(id, from, to string) storage.Request {
	return storage.Request{ID: id, FromUserID: from, ToUserID: to, Status: "pending", LegacyStatus: "pending", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func testConnection(id, reqID, from, to string) storage.Connection {
	return storage.Connection{ID: id, RequestID: reqID, SenderID: from, ReceiverID: to, Status: "accepted", CreatedAt: t0, AcceptedAt: t0}
}

// TestMigrateV1File opens a file written by schema version 1, the release
// before pairs existed: Open must add the pair buckets and keep the data.
func TestMigrateV1File(t *testing.T) {
	path := tempPath(t)
	db := rawDB(t, path)
	raw, err := json.Marshal(user("old"))
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		if _, _, err := migrate(tx, migrations[:1]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsers).Put([]byte("old"), raw); err != nil {
			return err
		}
		return tx.Bucket(bucketBlocks).Put(join("old", "x"), []byte(`{"blockerId":"old","blockedId":"x"}`))
	}))
	if v := fileVersion(t, db); v != 1 {
		t.Fatalf("hand-made file has version %d, want 1", v)
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPairs) != nil {
			return errors.New("a v1 file already has the pairs bucket")
		}
		return nil
	}))
	must(t, db.Close())

	var ops []string
	s := openT(t, path, Options{OnCommit: func(op string, _ time.Duration) { ops = append(ops, op) }})
	if !slices.Equal(ops, []string{"migrate"}) {
		t.Errorf("OnCommit ops during Open = %v, want [migrate]", ops)
	}
	ctx := t.Context()
	got, err := s.Users().Get(ctx, "old")
	must(t, err)
	if got.Name != "old" {
		t.Fatalf("user after migration: %+v", got)
	}
	bs, err := s.Safety().BlockedBy(ctx, "old")
	must(t, err)
	if len(bs) != 1 || bs[0].BlockedID != "x" {
		t.Fatalf("blocks after migration: %+v", bs)
	}
	p := testPair("old", "new")
	p.Requests = []storage.Request{testRequest("req_1", "new", "old")}
	must(t, s.Pairs().Save(ctx, p))
	must(t, s.Close())

	db = rawDB(t, path)
	if v := fileVersion(t, db); v != SchemaVersion {
		t.Fatalf("version after migration = %d, want %d", v, SchemaVersion)
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		_, err := buckets(tx, allBuckets()...)
		return err
	}))
	must(t, db.Close())

	// A second Open has nothing to migrate and sees the pair.
	ops = nil
	s = openT(t, path, Options{OnCommit: func(op string, _ time.Duration) { ops = append(ops, op) }})
	if len(ops) != 0 {
		t.Errorf("OnCommit ops during second Open = %v, want none", ops)
	}
	if id, err := s.Pairs().ByRequest(ctx, "req_1"); err != nil || id != p.ID {
		t.Fatalf("ByRequest after reopen = %q, %v", id, err)
	}
}

// TestPairIndexes looks at the raw buckets after a pair grows: every id is
// indexed exactly once and re-saves add nothing.
func TestPairIndexes(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	ctx := t.Context()
	ab := testPair("b", "a") // UserA need not sort first
	must(t, s.Pairs().Save(ctx, ab))
	must(t, s.Pairs().Save(ctx, ab))
	ab.Requests = append(ab.Requests, testRequest("req_1", "a", "b"))
	must(t, s.Pairs().Save(ctx, ab))
	ab.Connections = append(ab.Connections, testConnection("conn_1", "req_1", "a", "b"))
	must(t, s.Pairs().Save(ctx, ab))
	ab.Requests = append(ab.Requests, testRequest("req_2", "b", "a"))
	must(t, s.Pairs().Save(ctx, ab))
	must(t, s.Pairs().Save(ctx, ab))
	ac := testPair("a", "c")
	ac.Requests = append(ac.Requests, testRequest("req_3", "c", "a"))
	must(t, s.Pairs().Save(ctx, ac))
	must(t, s.Close())

	want := map[string][]string{
		"pairs":               {"a|b", "a|c"},
		"pairs_by_user":       {"a\x00a|b", "a\x00a|c", "b\x00a|b", "c\x00a|c"},
		"pairs_by_request":    {"req_1=a|b", "req_2=a|b", "req_3=a|c"},
		"pairs_by_connection": {"conn_1=a|b"},
	}
	db := rawDB(t, path)
	must(t, db.View(func(tx *bolt.Tx) error {
		for name, keys := range want {
			var got []string
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				switch name {
				case "pairs":
					got = append(got, string(k))
				case "pairs_by_user":
					if len(v) != 0 {
						t.Errorf("%s[%q] = %q, want empty", name, k, v)
					}
					got = append(got, string(k))
				default:
					got = append(got, string(k)+"="+string(v))
				}
				return nil
			})
			if err != nil {
				return err
			}
			if !slices.Equal(got, keys) {
				t.Errorf("bucket %s = %q, want %q", name, got, keys)
			}
		}
		return nil
	}))
}

func TestPairErrors(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	s := openT(t, tempPath(t), Options{OnCommit: func(op string, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
	}})
	ctx := t.Context()
	ab := testPair("a", "b")
	ab.Requests = []storage.Request{testRequest("req_1", "a", "b")}
	ab.Connections = []storage.Connection{testConnection("conn_1", "req_1", "b", "a")}
	must(t, s.Pairs().Save(ctx, ab))

	reuseReq := testPair("a", "c")
	reuseReq.Requests = []storage.Request{testRequest("req_1", "c", "a")}
	reuseConn := testPair("a", "c")
	reuseConn.Connections = []storage.Connection{testConnection("conn_1", "req_9", "c", "a")}
	strangerReq := testPair("a", "b")
	strangerReq.Requests = []storage.Request{testRequest("req_7", "a", "mallory")}
	selfConn := testPair("a", "b")
	selfConn.Connections = []storage.Connection{testConnection("conn_7", "req_7", "b", "b")}
	dupReq := testPair("a", "b")
	dupReq.Requests = []storage.Request{testRequest("req_8", "a", "b"), testRequest("req_8", "b", "a")}
	emptyReq := testPair("a", "b")
	emptyReq.Requests = []storage.Request{testRequest("", "a", "b")}
	nulConn := testPair("a", "b")
	nulConn.Connections = []storage.Connection{testConnection("c\x00x", "req_1", "a", "b")}
	long := strings.Repeat("x", maxPairID+1)

	tests := []struct {
		name    string
		err     error
		target  error
		mention string
	}{
		{"unknown pair", func() error { _, err := s.Pairs().Get(ctx, "ghost|pair"); return err }(), storage.ErrNotFound, "ghost|pair"},
		{"unknown request", func() error { _, err := s.Pairs().ByRequest(ctx, "req_404"); return err }(), storage.ErrNotFound, "req_404"},
		{"unknown connection", func() error { _, err := s.Pairs().ByConnection(ctx, "conn_404"); return err }(), storage.ErrNotFound, "conn_404"},
		{"request of another pair", s.Pairs().Save(ctx, reuseReq), storage.ErrConflict, `"req_1" already belongs to pair "a|b"`},
		{"connection of another pair", s.Pairs().Save(ctx, reuseConn), storage.ErrConflict, `"conn_1" already belongs to pair "a|b"`},
		{"nil pair", s.Pairs().Save(ctx, nil), ErrInvalid, "nil"},
		{"wrong pair id", s.Pairs().Save(ctx, &storage.Pair{ID: "b|a", UserA: "a", UserB: "b"}), ErrInvalid, `want "a|b"`},
		{"empty user", s.Pairs().Save(ctx, &storage.Pair{ID: "|b", UserB: "b"}), ErrInvalid, "user a is empty"},
		{"same user", s.Pairs().Save(ctx, testPair("a", "a")), ErrInvalid, `both "a"`},
		{"separator in user id", s.Pairs().Save(ctx, testPair("a|b", "c")), ErrInvalid, "separator"},
		{"request with a stranger", s.Pairs().Save(ctx, strangerReq), ErrInvalid, "mallory"},
		{"connection with oneself", s.Pairs().Save(ctx, selfConn), ErrInvalid, "conn_7"},
		{"request id twice", s.Pairs().Save(ctx, dupReq), ErrInvalid, "req_8"},
		{"empty request id", s.Pairs().Save(ctx, emptyReq), ErrInvalid, "request id is empty"},
		{"NUL in connection id", s.Pairs().Save(ctx, nulConn), ErrInvalid, "NUL"},
		{"empty pair id", func() error { _, err := s.Pairs().Get(ctx, ""); return err }(), ErrInvalid, "pair id is empty"},
		{"oversized pair id", func() error { _, err := s.Pairs().Get(ctx, long); return err }(), ErrInvalid, "limit"},
		{"empty user id", func() error { _, err := s.Pairs().Of(ctx, ""); return err }(), ErrInvalid, "user id is empty"},
		{"empty request id lookup", func() error { _, err := s.Pairs().ByRequest(ctx, ""); return err }(), ErrInvalid, "request id is empty"},
		{"empty connection id lookup", func() error { _, err := s.Pairs().ByConnection(ctx, ""); return err }(), ErrInvalid, "connection id is empty"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.target) || !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: %v, want %v mentioning %q", tt.name, tt.err, tt.target, tt.mention)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"migrate", "pairs.save"}; !slices.Equal(ops, want) {
		t.Errorf("OnCommit ops %v, want %v", ops, want)
	}
}

// TestPairLongestIDs: two user ids at the key-part limit make a pair id over
// that limit, which Get must still accept.
func TestPairLongestIDs(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	a, b := strings.Repeat("a", maxKeyPart), strings.Repeat("b", maxKeyPart)
	p := testPair(a, b)
	must(t, s.Pairs().Save(ctx, p))
	got, err := s.Pairs().Get(ctx, p.ID)
	must(t, err)
	if got.ID != p.ID || len(p.ID) != maxPairID {
		t.Fatalf("pair id of %d bytes came back as %d bytes", len(p.ID), len(got.ID))
	}
	ids, err := s.Pairs().Of(ctx, b)
	must(t, err)
	if !slices.Equal(ids, []string{p.ID}) {
		t.Fatalf("Of(b) = %d ids", len(ids))
	}
}

// TestPairsOfIndexOrder pins Of's order: pair id order, which is key order.
func TestPairsOfIndexOrder(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	ctx := t.Context()
	for _, other := range []string{"m", "0", "z", "b"} {
		must(t, s.Pairs().Save(ctx, testPair("k", other)))
	}
	ids, err := s.Pairs().Of(ctx, "k")
	must(t, err)
	if want := []string{"0|k", "b|k", "k|m", "k|z"}; !slices.Equal(ids, want) {
		t.Fatalf("Of(k) = %q, want %q", ids, want)
	}
}

// TestPairSaveBatchRetry puts a conflicting Save in the same batch as a
// valid one: the store re-runs the valid one without it and it must still land whole.
func TestPairSaveBatchRetry(t *testing.T) {
	s := openT(t, tempPath(t), Options{MaxBatchSize: 2})
	ctx := t.Context()
	seed := testPair("a", "b")
	seed.Requests = []storage.Request{testRequest("req_1", "a", "b")}
	other := testPair("x", "y")
	runTogether(t, s,
		func() error { return s.Pairs().Save(ctx, seed) },
		func() error { return s.Pairs().Save(ctx, other) },
	)

	good := testPair("c", "d")
	good.Requests = []storage.Request{testRequest("req_2", "c", "d")}
	good.Connections = []storage.Connection{testConnection("conn_2", "req_2", "c", "d")}
	bad := testPair("a", "c")
	bad.Requests = []storage.Request{testRequest("req_1", "a", "c")}
	var errGood, errBad error
	runTogether(t, s,
		func() error { errGood = s.Pairs().Save(ctx, good); return nil },
		func() error { errBad = s.Pairs().Save(ctx, bad); return nil },
	)
	if errGood != nil {
		t.Fatalf("valid save: %v", errGood)
	}
	if !errors.Is(errBad, storage.ErrConflict) {
		t.Fatalf("conflicting save: %v, want ErrConflict", errBad)
	}
	for _, c := range []struct{ got func() (string, error) }{
		{func() (string, error) { return s.Pairs().ByRequest(ctx, "req_2") }},
		{func() (string, error) { return s.Pairs().ByConnection(ctx, "conn_2") }},
	} {
		if id, err := c.got(); err != nil || id != good.ID {
			t.Fatalf("lookup after retried batch = %q, %v", id, err)
		}
	}
	if id, err := s.Pairs().ByRequest(ctx, "req_1"); err != nil || id != seed.ID {
		t.Fatalf("ByRequest(req_1) = %q, %v; the refused save moved it", id, err)
	}
	if _, err := s.Pairs().Get(ctx, bad.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("refused pair was stored: %v", err)
	}
}
