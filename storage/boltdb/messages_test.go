package boltdb

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// testMessage is message seq from → to, created seq minutes after t0.
func testMessage(from, to string, seq uint64) *storage.Message {
	pair := storage.PairID(from, to)
	return &storage.Message{
		ID: fmt.Sprintf("msg_%s_%d", pair, seq), PairID: pair, Seq: seq,
		SenderID: from, RecipientID: to, Content: fmt.Sprint("hello ", seq),
		CreatedAt: t0.Add(time.Duration(seq) * time.Minute),
	}
}

func seqBytes(seq uint64) string {
	return string(binary.BigEndian.AppendUint64(nil, seq))
}

// TestMigrateV2File opens a file written by schema version 2, the release
// before messages existed: Open must add the message buckets and keep the
// users and pairs.
func TestMigrateV2File(t *testing.T) {
	path := tempPath(t)
	db := rawDB(t, path)
	rawUser, err := json.Marshal(user("old"))
	must(t, err)
	p := testPair("old", "new")
	p.Requests = []storage.Request{testRequest("req_1", "new", "old")}
	rawPair, err := json.Marshal(p)
	must(t, err)
	must(t, db.Update(func(tx *bolt.Tx) error {
		if _, _, err := migrate(tx, migrations[:2]); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsers).Put([]byte("old"), rawUser); err != nil {
			return err
		}
		if err := tx.Bucket(bucketPairs).Put([]byte(p.ID), rawPair); err != nil {
			return err
		}
		return tx.Bucket(bucketPairsByRequest).Put([]byte("req_1"), []byte(p.ID))
	}))
	if v := fileVersion(t, db); v != 2 {
		t.Fatalf("hand-made file has version %d, want 2", v)
	}
	must(t, db.View(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMessages, bucketMessagesByID, bucketInbox, bucketConversations} {
			if tx.Bucket(b) != nil {
				return fmt.Errorf("a v2 file already has the %s bucket", b)
			}
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
	if id, err := s.Pairs().ByRequest(ctx, "req_1"); err != nil || id != p.ID {
		t.Fatalf("ByRequest after migration = %q, %v", id, err)
	}
	m := testMessage("new", "old", 1)
	must(t, s.Messages().Append(ctx, m))
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

	// A second Open has nothing to migrate and sees the message.
	ops = nil
	s = openT(t, path, Options{OnCommit: func(op string, _ time.Duration) { ops = append(ops, op) }})
	if len(ops) != 0 {
		t.Errorf("OnCommit ops during second Open = %v, want none", ops)
	}
	cs, err := s.Messages().Conversations(ctx, "old", 0)
	must(t, err)
	if len(cs) != 1 || cs[0].Last.ID != m.ID || cs[0].Unread != 1 {
		t.Fatalf("Conversations after reopen = %+v", cs)
	}
}

// TestMessageIndexes looks at the raw buckets after a conversation: every
// message is indexed once and the summaries hold what Conversations shows.
func TestMessageIndexes(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	ctx := t.Context()
	ms := []*storage.Message{
		testMessage("a", "b", 1), testMessage("a", "b", 2), testMessage("b", "a", 3), testMessage("c", "a", 1),
	}
	for _, m := range ms {
		must(t, s.Messages().Append(ctx, m))
	}
	if n, err := s.Messages().MarkRead(ctx, "a|b", "b", 1, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("MarkRead = %d, %v", n, err)
	}
	must(t, s.Close())

	created := func(m *storage.Message) string { return string(timeKey(m.CreatedAt)) }
	want := map[string][]string{
		"messages": {
			"a|b\x00" + seqBytes(1), "a|b\x00" + seqBytes(2), "a|b\x00" + seqBytes(3), "a|c\x00" + seqBytes(1),
		},
		"messages_by_id": {
			"msg_a|b_1=a|b\x00" + seqBytes(1), "msg_a|b_2=a|b\x00" + seqBytes(2),
			"msg_a|b_3=a|b\x00" + seqBytes(3), "msg_a|c_1=a|c\x00" + seqBytes(1),
		},
		"inbox": {
			"a\x00" + created(ms[3]) + "\x00msg_a|c_1=a|c\x00" + seqBytes(1),
			"a\x00" + created(ms[2]) + "\x00msg_a|b_3=a|b\x00" + seqBytes(3),
			"b\x00" + created(ms[0]) + "\x00msg_a|b_1=a|b\x00" + seqBytes(1),
			"b\x00" + created(ms[1]) + "\x00msg_a|b_2=a|b\x00" + seqBytes(2),
		},
		"conversations": {
			`a` + "\x00" + `a|b={"otherUserId":"b","lastSeq":3,"unread":1}`,
			`a` + "\x00" + `a|c={"otherUserId":"c","lastSeq":1,"unread":1}`,
			`b` + "\x00" + `a|b={"otherUserId":"a","lastSeq":3,"unread":1}`,
			`c` + "\x00" + `a|c={"otherUserId":"a","lastSeq":1,"unread":0}`,
		},
	}
	db := rawDB(t, path)
	must(t, db.View(func(tx *bolt.Tx) error {
		for name, keys := range want {
			var got []string
			err := tx.Bucket([]byte(name)).ForEach(func(k, v []byte) error {
				if name == "messages" {
					var m storage.Message
					if err := json.Unmarshal(v, &m); err != nil {
						return err
					}
					if string(k) != string(seqKey(m.PairID, m.Seq)) {
						t.Errorf("message %s stored under %q", m.ID, k)
					}
					got = append(got, string(k))
					return nil
				}
				got = append(got, string(k)+"="+string(v))
				return nil
			})
			if err != nil {
				return err
			}
			if !slices.Equal(got, keys) {
				t.Errorf("bucket %s =\n%q\nwant\n%q", name, got, keys)
			}
		}
		return nil
	}))
}

func TestMessageErrors(t *testing.T) {
	var mu sync.Mutex
	var ops []string
	s := openT(t, tempPath(t), Options{OnCommit: func(op string, _ time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
	}})
	ctx := t.Context()
	m1 := testMessage("a", "b", 1)
	must(t, s.Messages().Append(ctx, m1))
	must(t, s.Messages().Append(ctx, testMessage("a", "b", 3)))
	if n, err := s.Messages().MarkRead(ctx, "a|b", "b", 3, t0); err != nil || n != 2 {
		t.Fatalf("MarkRead = %d, %v", n, err)
	}
	// Nothing left to mark: answered from a read transaction, no commit.
	if n, err := s.Messages().MarkRead(ctx, "a|b", "b", 3, t0); err != nil || n != 0 {
		t.Fatalf("second MarkRead = %d, %v", n, err)
	}

	dupID := testMessage("b", "a", 4)
	dupID.ID = m1.ID
	dupSeq := testMessage("b", "a", 3)
	dupSeq.ID = "msg_new"
	with := func(edit func(m *storage.Message)) *storage.Message {
		m := testMessage("a", "b", 9)
		edit(m)
		return m
	}
	long := strings.Repeat("x", maxPairID+1)
	mark := func(pair, reader string, upTo uint64, when time.Time) error {
		_, err := s.Messages().MarkRead(ctx, pair, reader, upTo, when)
		return err
	}
	tests := []struct {
		name    string
		err     error
		target  error
		mention string
	}{
		{"unknown message", func() error { _, err := s.Messages().Get(ctx, "msg_404"); return err }(), storage.ErrNotFound, "msg_404"},
		{"duplicate id", s.Messages().Append(ctx, dupID), storage.ErrConflict, `"msg_a|b_1" already exists`},
		{"duplicate seq", s.Messages().Append(ctx, dupSeq), storage.ErrConflict, `"a|b" already has message seq 3`},
		{"seq below last", s.Messages().Append(ctx, testMessage("b", "a", 2)), storage.ErrConflict, "seq 2 is not after pair \"a|b\"'s last seq 3"},
		{"nil message", s.Messages().Append(ctx, nil), ErrInvalid, "nil"},
		{"empty id", s.Messages().Append(ctx, with(func(m *storage.Message) { m.ID = "" })), ErrInvalid, "message id is empty"},
		{"wrong pair id", s.Messages().Append(ctx, with(func(m *storage.Message) { m.PairID = "b|a" })), ErrInvalid, `want "a|b"`},
		{"to oneself", s.Messages().Append(ctx, with(func(m *storage.Message) { m.RecipientID = "a" })), ErrInvalid, `both "a"`},
		{"separator in user id", s.Messages().Append(ctx, with(func(m *storage.Message) { m.SenderID = "a|z" })), ErrInvalid, "separator"},
		{"seq 0", s.Messages().Append(ctx, with(func(m *storage.Message) { m.Seq = 0 })), ErrInvalid, "seq is 0"},
		{"no content", s.Messages().Append(ctx, with(func(m *storage.Message) { m.Content = "" })), ErrInvalid, "content is empty"},
		{"no time", s.Messages().Append(ctx, with(func(m *storage.Message) { m.CreatedAt = time.Time{} })), ErrInvalid, "createdAt is zero"},
		{"already read", s.Messages().Append(ctx, with(func(m *storage.Message) { m.ReadAt = &t0 })), ErrInvalid, "readAt"},
		{"stranger reads", mark("a|b", "c", 1, t0), ErrInvalid, `reader "c" is not in pair "a|b"`},
		{"malformed pair", mark("a|b|c", "a", 1, t0), ErrInvalid, "not storage.PairID"},
		{"reversed pair", mark("b|a", "a", 1, t0), ErrInvalid, "not storage.PairID"},
		{"zero read time", mark("a|b", "b", 1, time.Time{}), ErrInvalid, "read time is zero"},
		{"oversized pair id", func() error { _, err := s.Messages().LastSeq(ctx, long); return err }(), ErrInvalid, "limit"},
		{"page limit", func() error { _, err := s.Messages().Page(ctx, "a|b", 0, 0); return err }(), ErrInvalid, "page limit 0"},
		{"since limit", func() error { _, err := s.Messages().Since(ctx, "b", t0, -2); return err }(), ErrInvalid, "since limit -2"},
		{"conversations limit", func() error { _, err := s.Messages().Conversations(ctx, "b", -1); return err }(), ErrInvalid, "limit -1"},
		{"empty user", func() error { _, err := s.Messages().Conversations(ctx, "", 0); return err }(), ErrInvalid, "user id is empty"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.target) || !strings.Contains(tt.err.Error(), tt.mention) {
			t.Errorf("%s: %v, want %v mentioning %q", tt.name, tt.err, tt.target, tt.mention)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"migrate", "messages.append", "messages.append", "messages.mark_read"}; !slices.Equal(ops, want) {
		t.Errorf("OnCommit ops %v, want %v", ops, want)
	}
}

// TestAppendBatchRetry puts a conflicting Append in the same batch as a
// valid one: the store re-runs the valid one without it, which must land whole and
// count the recipient's unread message once.
func TestAppendBatchRetry(t *testing.T) {
	s := openT(t, tempPath(t), Options{MaxBatchSize: 2})
	ctx := t.Context()
	runTogether(t, s,
		func() error { return s.Messages().Append(ctx, testMessage("a", "b", 1)) },
		func() error { return s.Messages().Append(ctx, testMessage("c", "b", 1)) },
	)
	good := testMessage("a", "b", 2)
	bad := testMessage("c", "b", 2)
	bad.ID = "msg_a|b_1"
	var errGood, errBad error
	runTogether(t, s,
		func() error { errGood = s.Messages().Append(ctx, good); return nil },
		func() error { errBad = s.Messages().Append(ctx, bad); return nil },
	)
	if errGood != nil {
		t.Fatalf("valid append: %v", errGood)
	}
	if !errors.Is(errBad, storage.ErrConflict) {
		t.Fatalf("conflicting append: %v, want ErrConflict", errBad)
	}
	cs, err := s.Messages().Conversations(ctx, "b", 0)
	must(t, err)
	unread := map[string]int{}
	for _, c := range cs {
		unread[c.PairID] = c.Unread
	}
	if want := map[string]int{"a|b": 2, "b|c": 1}; fmt.Sprint(unread) != fmt.Sprint(want) {
		t.Fatalf("unread of b after a retried batch = %v, want %v", unread, want)
	}
	inbox, err := s.Messages().Since(ctx, "b", time.Time{}, 10)
	must(t, err)
	if len(inbox) != 3 {
		t.Fatalf("inbox of b has %d messages, want 3", len(inbox))
	}
	if seq, err := s.Messages().LastSeq(ctx, "b|c"); err != nil || seq != 1 {
		t.Fatalf("LastSeq(b|c) = %d, %v; the refused append landed", seq, err)
	}
}

// TestMarkReadStopsEarly pins the invariant the backwards scan relies on by
// breaking it behind the store's back: a message made unread again below a
// read one is not reached, because the scan stops at the first read message.
func TestMarkReadStopsEarly(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	ctx := t.Context()
	for seq := uint64(1); seq <= 3; seq++ {
		must(t, s.Messages().Append(ctx, testMessage("a", "b", seq)))
	}
	if n, err := s.Messages().MarkRead(ctx, "a|b", "b", 3, t0); err != nil || n != 3 {
		t.Fatalf("MarkRead = %d, %v", n, err)
	}
	must(t, s.Messages().Append(ctx, testMessage("a", "b", 4)))
	must(t, s.Close())

	db := rawDB(t, path)
	must(t, db.Update(func(tx *bolt.Tx) error {
		m := testMessage("a", "b", 1) // unread again
		raw, err := json.Marshal(m)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketMessages).Put(seqKey("a|b", 1), raw); err != nil {
			return err
		}
		return tx.Bucket(bucketConversations).Put(join("b", "a|b"), []byte(`{"otherUserId":"a","lastSeq":4,"unread":2}`))
	}))
	must(t, db.Close())

	s = openT(t, path, Options{})
	if n, err := s.Messages().MarkRead(ctx, "a|b", "b", 4, t0.Add(time.Hour)); err != nil || n != 1 {
		t.Fatalf("MarkRead after the edit = %d, %v; want 1 (seq 4 only)", n, err)
	}
	if m, err := s.Messages().Get(ctx, "msg_a|b_1"); err != nil || m.ReadAt != nil {
		t.Fatalf("seq 1 below a read message was reached: %+v, %v", m, err)
	}
}
