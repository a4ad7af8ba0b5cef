package storagetest

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// chatMsg is message seq of the conversation of from and to, sent at
// t0+created. Its id names the pair and seq, so ids never collide.
func chatMsg(from, to string, seq uint64, created time.Duration) *storage.Message {
	pair := storage.PairID(from, to)
	return &storage.Message{
		ID: fmt.Sprintf("msg_%s_%d", pair, seq), PairID: pair, Seq: seq,
		SenderID: from, RecipientID: to,
		Content: fmt.Sprintf("%s → %s #%d ✓", from, to, seq), CreatedAt: at(created),
	}
}

// chat appends chatMsg(from, to, seq, seq minutes) and returns the message.
func chat(t *testing.T, s storage.Store, from, to string, seq uint64) *storage.Message {
	t.Helper()
	m := chatMsg(from, to, seq, time.Duration(seq)*time.Minute)
	must(t, s.Messages().Append(t.Context(), m))
	return m
}

// read is the message as MarkRead at when leaves it.
func read(m *storage.Message, when time.Time) *storage.Message {
	c := *m
	c.ReadAt = ptr(when)
	return &c
}

func page(t *testing.T, s storage.Store, pairID string, before uint64, limit int) []storage.Message {
	t.Helper()
	ms, err := s.Messages().Page(t.Context(), pairID, before, limit)
	must(t, err)
	if ms == nil {
		t.Fatalf("Page(%s, %d, %d) = nil, want an empty slice", pairID, before, limit)
	}
	return ms
}

func convs(t *testing.T, s storage.Store, user string, limit int) []storage.Conversation {
	t.Helper()
	cs, err := s.Messages().Conversations(t.Context(), user, limit)
	must(t, err)
	if cs == nil {
		t.Fatalf("Conversations(%s, %d) = nil, want an empty slice", user, limit)
	}
	return cs
}

func since(t *testing.T, s storage.Store, user string, after time.Time, limit int) []storage.Message {
	t.Helper()
	ms, err := s.Messages().Since(t.Context(), user, after, limit)
	must(t, err)
	if ms == nil {
		t.Fatalf("Since(%s, %v, %d) = nil, want an empty slice", user, after, limit)
	}
	return ms
}

func markRead(t *testing.T, s storage.Store, pairID, reader string, upTo uint64, when time.Time) int {
	t.Helper()
	n, err := s.Messages().MarkRead(t.Context(), pairID, reader, upTo, when)
	must(t, err)
	return n
}

func lastSeqOf(t *testing.T, s storage.Store, pairID string) uint64 {
	t.Helper()
	seq, err := s.Messages().LastSeq(t.Context(), pairID)
	must(t, err)
	return seq
}

// unread is the unread count of each of the user's conversations, by pair.
func unread(t *testing.T, s storage.Store, user string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, c := range convs(t, s, user, 0) {
		out[c.PairID] = c.Unread
	}
	return out
}

func deref(ms []*storage.Message) []storage.Message {
	out := make([]storage.Message, len(ms))
	for i, m := range ms {
		out[i] = *m
	}
	return out
}

// appendAsync queues ms and returns the channel its one answer arrives on;
// a second answer fails the test.
func appendAsync(t *testing.T, s storage.Store, ms ...*storage.Message) <-chan error {
	t.Helper()
	ch := make(chan error, 1)
	var once sync.Once
	s.Messages().AppendAsync(ms, func(err error) {
		answered := false
		once.Do(func() { answered = true; ch <- err })
		if !answered {
			t.Errorf("AppendAsync answered twice, the second time with %v", err)
		}
	})
	return ch
}

func answer(t *testing.T, what string, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no answer after 10s", what)
		return nil
	}
}

var messageCases = []testCase{
	{"append async commits a pair's batches in order", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("amy", "bob")
		var ms []*storage.Message
		for seq := uint64(1); seq <= 6; seq++ {
			from, to := "amy", "bob"
			if seq == 4 {
				from, to = to, from
			}
			ms = append(ms, chatMsg(from, to, seq, time.Duration(seq)*time.Minute))
		}
		// Queued back to back, without waiting: each must follow the one
		// before it, which is only stored once its commit runs.
		var mu sync.Mutex
		var order []int
		answers := make([]chan error, 3)
		for i, batch := range [][]*storage.Message{ms[:2], ms[2:3], ms[3:]} {
			answers[i] = make(chan error, 1)
			s.Messages().AppendAsync(batch, func(err error) {
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				answers[i] <- err
			})
		}
		for i, ch := range answers {
			must(t, answer(t, fmt.Sprint("batch ", i), ch))
		}
		wantEqual(t, "order of the answers", order, []int{0, 1, 2})
		wantEqual(t, "Page", page(t, s, ab, 0, 10), deref([]*storage.Message{ms[5], ms[4], ms[3], ms[2], ms[1], ms[0]}))
		wantEqual(t, "unread of bob", unread(t, s, "bob"), map[string]int{ab: 5})
		wantEqual(t, "unread of amy", unread(t, s, "amy"), map[string]int{ab: 1})
		wantEqual(t, "Since(bob)", len(since(t, s, "bob", time.Time{}, 10)), 5)
		must(t, answer(t, "empty batch", appendAsync(t, s)))
	}},
	{"append async refuses a batch that does not follow the pair's last message", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("a", "b")
		wantIs(t, "first batch at seq 2", answer(t, "seq 2", appendAsync(t, s, chatMsg("a", "b", 2, 0))), storage.ErrConflict)
		chat(t, s, "a", "b", 1)
		wantIs(t, "seq 3 after 1", answer(t, "seq 3", appendAsync(t, s, chatMsg("a", "b", 3, time.Hour))), storage.ErrConflict)
		wantIs(t, "seq 1 again", answer(t, "seq 1", appendAsync(t, s, chatMsg("b", "a", 1, time.Hour))), storage.ErrConflict)
		wantErr(t, "a gap inside the batch", answer(t, "gap", appendAsync(t, s, chatMsg("a", "b", 2, time.Hour), chatMsg("a", "b", 4, time.Hour))))
		wantErr(t, "two pairs in one batch", answer(t, "two pairs", appendAsync(t, s, chatMsg("a", "b", 2, time.Hour), chatMsg("a", "c", 3, time.Hour))))
		wantEqual(t, "LastSeq", lastSeqOf(t, s, ab), uint64(1))
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 1})
	}},
	{"append async fails every batch queued behind a failed one", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("a", "b")
		taken := chat(t, s, "c", "d", 1)
		bad := chatMsg("a", "b", 1, time.Minute)
		bad.ID = taken.ID // conflicts inside the transaction, not before
		first, second := appendAsync(t, s, bad), appendAsync(t, s, chatMsg("a", "b", 2, 2*time.Minute))
		third := appendAsync(t, s, chatMsg("c", "d", 2, 3*time.Minute)) // another pair: unaffected
		wantIs(t, "the failing batch", answer(t, "first", first), storage.ErrConflict)
		wantIs(t, "the batch behind it", answer(t, "second", second), storage.ErrConflict)
		must(t, answer(t, "another pair's batch", third))
		wantEqual(t, "LastSeq", lastSeqOf(t, s, ab), uint64(0))
		wantEqual(t, "Page", page(t, s, ab, 0, 10), []storage.Message{})
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{})
		// Renumbered from the store, the pair goes on.
		must(t, answer(t, "renumbered", appendAsync(t, s, chatMsg("a", "b", 1, 4*time.Minute))))
		wantEqual(t, "LastSeq after", lastSeqOf(t, s, ab), uint64(1))
	}},
	{"append batch stores in order, all or nothing", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		batch := []*storage.Message{chatMsg("amy", "bob", 1, 0), chatMsg("amy", "bob", 2, 1), chatMsg("bob", "amy", 3, 2)}
		must(t, s.Messages().AppendBatch(ctx, batch))
		page, err := s.Messages().Page(ctx, storage.PairID("amy", "bob"), 0, 10)
		must(t, err)
		if len(page) != 3 || page[0].Seq != 3 || page[2].Seq != 1 {
			t.Fatalf("page after a batch: %d messages, %s", len(page), show(page))
		}
		convs, err := s.Messages().Conversations(ctx, "bob", 0)
		must(t, err)
		if len(convs) != 1 || convs[0].Unread != 2 {
			t.Fatalf("bob's conversations after a batch: %s", show(convs))
		}
		// A batch whose second message conflicts stores nothing.
		bad := []*storage.Message{chatMsg("amy", "bob", 4, 3), chatMsg("amy", "bob", 2, 4)}
		if err := s.Messages().AppendBatch(ctx, bad); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("conflicting batch: %v, want ErrConflict", err)
		}
		if last, err := s.Messages().LastSeq(ctx, storage.PairID("amy", "bob")); err != nil || last != 3 {
			t.Fatalf("LastSeq after a failed batch = %d, %v; want 3", last, err)
		}
		must(t, s.Messages().AppendBatch(ctx, nil))
	}},
	{"append then get round-trips every field", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		m := chatMsg("zed", "amy", 1, 0)
		m.Content = "hé 👋\n<b>\"quoted\"</b> \x01"
		must(t, s.Messages().Append(ctx, m))
		got, err := s.Messages().Get(ctx, m.ID)
		must(t, err)
		wantEqual(t, "Get", got, m)
		if got.ReadAt != nil {
			t.Fatalf("a new message came back read: %s", show(got))
		}
		// The result is a copy: changing it changes nothing stored.
		got.Content = "mutated"
		again, err := s.Messages().Get(ctx, m.ID)
		must(t, err)
		wantEqual(t, "Get after mutating a result", again, m)

		_, err = s.Messages().Get(ctx, "msg_unknown")
		wantIs(t, "Get(unknown)", err, storage.ErrNotFound)
		wantEqual(t, "LastSeq", lastSeqOf(t, s, m.PairID), uint64(1))
		wantEqual(t, "LastSeq of an unknown pair", lastSeqOf(t, s, storage.PairID("a", "b")), uint64(0))
	}},
	{"page lists newest first before a seq, within limit", func(t *testing.T, s storage.Store) {
		var all []*storage.Message // newest first
		for seq := uint64(1); seq <= 7; seq++ {
			from, to := "a", "b"
			if seq%3 == 0 {
				from, to = to, from
			}
			all = append([]*storage.Message{chat(t, s, from, to, seq)}, all...)
		}
		// Another pair whose id extends this one's must not leak in.
		chat(t, s, "a", "bb", 1)
		ab := storage.PairID("a", "b")
		newest := func(from, to int) []storage.Message { return deref(all[from:to]) }
		tests := []struct {
			before uint64
			limit  int
			want   []storage.Message
		}{
			{0, 100, newest(0, 7)},
			{0, 7, newest(0, 7)},
			{0, 3, newest(0, 3)},
			{0, 1, newest(0, 1)},
			{8, 100, newest(0, 7)},
			{7, 100, newest(1, 7)}, // beforeSeq is exclusive
			{5, 2, newest(3, 5)},
			{2, 100, newest(6, 7)},
			{1, 100, nil},
			{1000, 2, newest(0, 2)},
			{math.MaxUint64, 100, newest(0, 7)},
		}
		for _, tt := range tests {
			wantEqual(t, fmt.Sprintf("Page(%d, %d)", tt.before, tt.limit), page(t, s, ab, tt.before, tt.limit), tt.want)
		}
		wantEqual(t, "Page of an unknown pair", page(t, s, storage.PairID("a", "c"), 0, 10), []storage.Message{})

		// Following the last Seq of each page lists every message once.
		for _, limit := range []int{1, 2, 3, 7, 8} {
			var got []storage.Message
			before := uint64(0)
			for range 10 {
				p := page(t, s, ab, before, limit)
				if len(p) == 0 {
					break
				}
				if len(p) > limit {
					t.Fatalf("page of limit %d has %d messages", limit, len(p))
				}
				got = append(got, p...)
				before = p[len(p)-1].Seq
			}
			wantEqual(t, fmt.Sprintf("paging by %d", limit), got, newest(0, 7))
		}
	}},
	{"last seq follows appends", func(t *testing.T, s storage.Store) {
		ab, abc := storage.PairID("a", "b"), storage.PairID("a", "bc")
		wantEqual(t, "LastSeq before any message", lastSeqOf(t, s, ab), uint64(0))
		for seq := uint64(1); seq <= 3; seq++ {
			chat(t, s, "b", "a", seq)
			wantEqual(t, "LastSeq", lastSeqOf(t, s, ab), seq)
		}
		// Gaps are allowed: the grain assigns seqs, storage only orders them.
		must(t, s.Messages().Append(t.Context(), chatMsg("a", "b", 10, time.Hour)))
		wantEqual(t, "LastSeq after a gap", lastSeqOf(t, s, ab), uint64(10))
		chat(t, s, "a", "bc", 1)
		wantEqual(t, "LastSeq of a pair whose id extends another", lastSeqOf(t, s, abc), uint64(1))
		wantEqual(t, "LastSeq unchanged by another pair", lastSeqOf(t, s, ab), uint64(10))
	}},
	{"unread counts stay exact for both users", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("a", "b")
		m1, m2, m3 := chat(t, s, "a", "b", 1), chat(t, s, "a", "b", 2), chat(t, s, "a", "b", 3)
		m4, m5 := chat(t, s, "b", "a", 4), chat(t, s, "b", "a", 5)
		wantEqual(t, "Conversations(a)", convs(t, s, "a", 0), []storage.Conversation{{PairID: ab, OtherUserID: "b", Last: *m5, Unread: 2}})
		wantEqual(t, "Conversations(b)", convs(t, s, "b", 0), []storage.Conversation{{PairID: ab, OtherUserID: "a", Last: *m5, Unread: 3}})

		r1, r2, r3, r4 := at(time.Hour), at(2*time.Hour), at(3*time.Hour), at(4*time.Hour)
		wantEqual(t, "b reads up to 2", markRead(t, s, ab, "b", 2, r1), 2)
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 1})
		wantEqual(t, "unread of a", unread(t, s, "a"), map[string]int{ab: 2})
		wantEqual(t, "b reads up to 2 again", markRead(t, s, ab, "b", 2, r2), 0)
		wantEqual(t, "b reads up to 1", markRead(t, s, ab, "b", 1, r2), 0)

		// a reads up to 5: only b's messages 4 and 5 are a's to read.
		wantEqual(t, "a reads up to 5", markRead(t, s, ab, "a", 5, r2), 2)
		wantEqual(t, "unread of a", unread(t, s, "a"), map[string]int{ab: 0})
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 1})

		// b reads up to 5: 4 and 5 are b's own, 3 is left.
		wantEqual(t, "b reads up to 5", markRead(t, s, ab, "b", 5, r3), 1)
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 0})

		m6 := chat(t, s, "a", "b", 6)
		m7 := chat(t, s, "b", "a", 7)
		wantEqual(t, "unread of b after 6", unread(t, s, "b"), map[string]int{ab: 1})
		wantEqual(t, "unread of a after 7", unread(t, s, "a"), map[string]int{ab: 1})
		wantEqual(t, "b reads up to 3 again", markRead(t, s, ab, "b", 3, r4), 0)
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 1})
		// Beyond the last message marks what exists.
		wantEqual(t, "b reads up to 100", markRead(t, s, ab, "b", 100, r4), 1)
		wantEqual(t, "b reads up to max", markRead(t, s, ab, "b", math.MaxUint64, r4), 0)
		wantEqual(t, "a reads up to 0", markRead(t, s, ab, "a", 0, r4), 0)
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 0})
		wantEqual(t, "unread of a", unread(t, s, "a"), map[string]int{ab: 1})
		wantEqual(t, "a reads up to max", markRead(t, s, ab, "a", math.MaxUint64, r4), 1)
		for range 2 {
			wantEqual(t, "a reads again", markRead(t, s, ab, "a", 7, r4), 0)
			wantEqual(t, "b reads again", markRead(t, s, ab, "b", 7, r4), 0)
		}
		wantEqual(t, "unread of a", unread(t, s, "a"), map[string]int{ab: 0})
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 0})

		// Each message keeps the time of the MarkRead that marked it.
		want := deref([]*storage.Message{read(m7, r4), read(m6, r4), read(m5, r2), read(m4, r2), read(m3, r3), read(m2, r1), read(m1, r1)})
		wantEqual(t, "Page after reads", page(t, s, ab, 0, 10), want)
		got, err := s.Messages().Get(t.Context(), m3.ID)
		must(t, err)
		wantEqual(t, "Get after read", got, read(m3, r3))
		wantEqual(t, "Conversations(a) after reads", convs(t, s, "a", 0), []storage.Conversation{{PairID: ab, OtherUserID: "b", Last: want[0]}})
	}},
	{"mark read only marks messages to the reader", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("a", "b")
		wantEqual(t, "MarkRead of an unknown pair", markRead(t, s, ab, "a", 10, t0), 0)
		m1, m2 := chat(t, s, "a", "b", 1), chat(t, s, "a", "b", 2)
		wantEqual(t, "the sender reads", markRead(t, s, ab, "a", 2, t0), 0)
		wantEqual(t, "Page", page(t, s, ab, 0, 10), deref([]*storage.Message{m2, m1}))
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 2})
		// Reads in one pair leave the reader's other pairs alone.
		bc := storage.PairID("b", "c")
		chat(t, s, "c", "b", 1)
		wantEqual(t, "b reads a's messages", markRead(t, s, ab, "b", 2, t0), 2)
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 0, bc: 1})
	}},
	{"conversations are ordered by their last message, within limit", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		wantEqual(t, "Conversations of a stranger", convs(t, s, "hub", 0), []storage.Conversation{})
		send := func(from, to string, seq uint64, created time.Duration) *storage.Message {
			t.Helper()
			m := chatMsg(from, to, seq, created)
			must(t, s.Messages().Append(ctx, m))
			return m
		}
		hx, hy, hz := storage.PairID("hub", "x"), storage.PairID("hub", "y"), storage.PairID("hub", "z")
		x1 := send("x", "hub", 1, 1*time.Minute)
		y1 := send("hub", "y", 1, 2*time.Minute)
		z1 := send("z", "hub", 1, 3*time.Minute)
		wantEqual(t, "Conversations(hub)", convs(t, s, "hub", 0), []storage.Conversation{
			{PairID: hz, OtherUserID: "z", Last: *z1, Unread: 1},
			{PairID: hy, OtherUserID: "y", Last: *y1, Unread: 0},
			{PairID: hx, OtherUserID: "x", Last: *x1, Unread: 1},
		})
		send("hub", "x", 2, 4*time.Minute)
		x3 := send("x", "hub", 3, 5*time.Minute)
		want := []storage.Conversation{
			{PairID: hx, OtherUserID: "x", Last: *x3, Unread: 2},
			{PairID: hz, OtherUserID: "z", Last: *z1, Unread: 1},
			{PairID: hy, OtherUserID: "y", Last: *y1, Unread: 0},
		}
		wantEqual(t, "Conversations(hub) after x wrote", convs(t, s, "hub", 0), want)
		for limit := 1; limit <= 4; limit++ {
			wantEqual(t, fmt.Sprintf("Conversations(hub, %d)", limit), convs(t, s, "hub", limit), want[:min(limit, 3)])
		}
		// Each other user sees only their own conversation, from their side.
		wantEqual(t, "Conversations(x)", convs(t, s, "x", 0), []storage.Conversation{{PairID: hx, OtherUserID: "hub", Last: *x3, Unread: 1}})
		wantEqual(t, "Conversations(y)", convs(t, s, "y", 0), []storage.Conversation{{PairID: hy, OtherUserID: "hub", Last: *y1, Unread: 1}})

		// Equal times come in pair id order.
		y2 := send("y", "hub", 2, 5*time.Minute)
		got := convs(t, s, "hub", 2)
		wantEqual(t, "Conversations(hub, 2) with a tie", got, []storage.Conversation{
			{PairID: hx, OtherUserID: "x", Last: *x3, Unread: 2},
			{PairID: hy, OtherUserID: "y", Last: *y2, Unread: 1},
		})
		// "hu" is a prefix of "hub" but has no conversations.
		wantEqual(t, "Conversations(hu)", convs(t, s, "hu", 0), []storage.Conversation{})
	}},
	{"since lists messages to the user strictly after t, oldest first", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		send := func(from, to string, seq uint64, created time.Duration) *storage.Message {
			t.Helper()
			m := chatMsg(from, to, seq, created)
			must(t, s.Messages().Append(ctx, m))
			return m
		}
		// Creation order differs from append order across pairs.
		a1 := send("a", "u", 1, 3*time.Minute)
		b1 := send("b", "u", 1, 1*time.Minute)
		send("u", "a", 2, 4*time.Minute) // from u: not in u's inbox
		a3 := send("a", "u", 3, 5*time.Minute)
		b2 := send("b", "u", 2, 4*time.Minute)
		c1 := send("c", "u", 1, 4*time.Minute) // same time as b2
		send("a", "u2", 1, 2*time.Minute)      // u is a prefix of u2
		all := deref([]*storage.Message{b1, a1, b2, c1, a3})
		if b2.ID > c1.ID {
			all[2], all[3] = all[3], all[2]
		}
		tests := []struct {
			after time.Time
			limit int
			want  []storage.Message
		}{
			{time.Time{}, 100, all},
			{t0, 100, all},
			{at(time.Minute), 100, all[1:]}, // strictly after
			{at(time.Minute - time.Microsecond), 100, all},
			{at(3 * time.Minute), 100, all[2:]},
			{at(4 * time.Minute), 100, all[4:]},
			{at(5 * time.Minute), 100, nil},
			{at(time.Hour), 100, nil},
			{t0, 2, all[:2]},
			{at(time.Minute), 1, all[1:2]},
			{at(3 * time.Minute), 3, all[2:]},
		}
		for _, tt := range tests {
			wantEqual(t, fmt.Sprintf("Since(%v, %d)", tt.after, tt.limit), since(t, s, "u", tt.after, tt.limit), tt.want)
		}
		wantEqual(t, "Since of a stranger", since(t, s, "nobody", t0, 10), []storage.Message{})
		// Reading does not take a message out of the inbox.
		markRead(t, s, storage.PairID("a", "u"), "u", 3, at(time.Hour))
		got := since(t, s, "u", at(4*time.Minute), 10)
		wantEqual(t, "Since after a read", got, deref([]*storage.Message{read(a3, at(time.Hour))}))
	}},
	{"a duplicate id or seq is ErrConflict and writes nothing", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := storage.PairID("a", "b")
		m1, m2 := chat(t, s, "a", "b", 1), chat(t, s, "a", "b", 2)

		sameID := chatMsg("b", "a", 3, time.Hour)
		sameID.ID = m1.ID
		wantIs(t, "Append reusing an id", s.Messages().Append(ctx, sameID), storage.ErrConflict)
		otherPair := chatMsg("c", "d", 1, time.Hour)
		otherPair.ID = m2.ID
		wantIs(t, "Append reusing an id in another pair", s.Messages().Append(ctx, otherPair), storage.ErrConflict)
		sameSeq := chatMsg("b", "a", 2, time.Hour)
		sameSeq.ID = "msg_new"
		wantIs(t, "Append reusing a seq", s.Messages().Append(ctx, sameSeq), storage.ErrConflict)
		wantIs(t, "Append of the same message again", s.Messages().Append(ctx, m2), storage.ErrConflict)

		// A seq below the last would land under messages already read.
		m5 := chatMsg("a", "b", 5, time.Hour)
		must(t, s.Messages().Append(ctx, m5))
		gapFill := chatMsg("b", "a", 4, 2*time.Hour)
		wantIs(t, "Append of a seq below the last", s.Messages().Append(ctx, gapFill), storage.ErrConflict)

		wantEqual(t, "Page", page(t, s, ab, 0, 10), deref([]*storage.Message{m5, m2, m1}))
		wantEqual(t, "LastSeq", lastSeqOf(t, s, ab), uint64(5))
		for _, id := range []string{"msg_new", gapFill.ID} {
			_, err := s.Messages().Get(ctx, id)
			wantIs(t, "Get("+id+")", err, storage.ErrNotFound)
		}
		got, err := s.Messages().Get(ctx, m1.ID)
		must(t, err)
		wantEqual(t, "Get of the original", got, m1)
		wantEqual(t, "unread of a", unread(t, s, "a"), map[string]int{ab: 0})
		wantEqual(t, "unread of b", unread(t, s, "b"), map[string]int{ab: 3})
		wantEqual(t, "Since(a)", since(t, s, "a", time.Time{}, 10), []storage.Message{})
		wantEqual(t, "Since(b)", since(t, s, "b", time.Time{}, 10), deref([]*storage.Message{m1, m2, m5}))
		wantEqual(t, "Conversations(c)", convs(t, s, "c", 0), []storage.Conversation{})
	}},
	{"invalid messages and arguments are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		with := func(edit func(m *storage.Message)) *storage.Message {
			m := chatMsg("a", "b", 1, 0)
			edit(m)
			return m
		}
		invalid := map[string]*storage.Message{
			"nil message":                   nil,
			"empty id":                      with(func(m *storage.Message) { m.ID = "" }),
			"NUL in id":                     with(func(m *storage.Message) { m.ID = "m\x00" }),
			"empty pair id":                 with(func(m *storage.Message) { m.PairID = "" }),
			"pair id in the wrong order":    with(func(m *storage.Message) { m.PairID = "b|a" }),
			"pair id of other users":        with(func(m *storage.Message) { m.PairID = storage.PairID("a", "c") }),
			"empty sender":                  with(func(m *storage.Message) { m.SenderID, m.PairID = "", storage.PairID("", "b") }),
			"empty recipient":               with(func(m *storage.Message) { m.RecipientID, m.PairID = "", storage.PairID("a", "") }),
			"sender is recipient":           with(func(m *storage.Message) { m.RecipientID, m.PairID = "a", storage.PairID("a", "a") }),
			"ambiguous user ids":            with(func(m *storage.Message) { m.SenderID, m.PairID = "a|x", storage.PairID("a|x", "b") }),
			"seq 0":                         with(func(m *storage.Message) { m.Seq = 0 }),
			"empty content":                 with(func(m *storage.Message) { m.Content = "" }),
			"zero createdAt":                with(func(m *storage.Message) { m.CreatedAt = time.Time{} }),
			"readAt set on a new message":   with(func(m *storage.Message) { m.ReadAt = ptr(t0) }),
			"everything but the id missing": {ID: "m"},
		}
		for name, m := range invalid {
			wantErr(t, "Append with "+name, s.Messages().Append(ctx, m))
		}
		// Nothing was written by the refused appends.
		for _, u := range []string{"a", "b", "c", "a|x"} {
			wantEqual(t, "Conversations("+u+")", convs(t, s, u, 0), []storage.Conversation{})
			wantEqual(t, "Since("+u+")", since(t, s, u, time.Time{}, 10), []storage.Message{})
		}
		wantEqual(t, "LastSeq", lastSeqOf(t, s, storage.PairID("a", "b")), uint64(0))
		_, err := s.Messages().Get(ctx, "msg_a|b_1")
		wantIs(t, "Get after refused appends", err, storage.ErrNotFound)

		ab := storage.PairID("a", "b")
		chat(t, s, "a", "b", 1)
		for name, err := range map[string]error{
			"Get(\"\")": func() error { _, err := s.Messages().Get(ctx, ""); return err }(),
			"MarkRead by a stranger": func() error {
				_, err := s.Messages().MarkRead(ctx, ab, "c", 1, t0)
				return err
			}(),
			"MarkRead by a user whose id is a prefix": func() error {
				_, err := s.Messages().MarkRead(ctx, storage.PairID("ab", "c"), "a", 1, t0)
				return err
			}(),
			"MarkRead without reader":      func() error { _, err := s.Messages().MarkRead(ctx, ab, "", 1, t0); return err }(),
			"MarkRead without pair":        func() error { _, err := s.Messages().MarkRead(ctx, "", "b", 1, t0); return err }(),
			"MarkRead of a malformed pair": func() error { _, err := s.Messages().MarkRead(ctx, "b", "b", 1, t0); return err }(),
			"MarkRead of a reversed pair":  func() error { _, err := s.Messages().MarkRead(ctx, "b|a", "b", 1, t0); return err }(),
			"MarkRead at the zero time": func() error {
				_, err := s.Messages().MarkRead(ctx, ab, "b", 1, time.Time{})
				return err
			}(),
			"Page without pair":           func() error { _, err := s.Messages().Page(ctx, "", 0, 10); return err }(),
			"Page limit 0":                func() error { _, err := s.Messages().Page(ctx, ab, 0, 0); return err }(),
			"Page limit -1":               func() error { _, err := s.Messages().Page(ctx, ab, 0, -1); return err }(),
			"Conversations without user":  func() error { _, err := s.Messages().Conversations(ctx, "", 0); return err }(),
			"Conversations limit -1":      func() error { _, err := s.Messages().Conversations(ctx, "a", -1); return err }(),
			"Since without user":          func() error { _, err := s.Messages().Since(ctx, "", t0, 10); return err }(),
			"Since limit 0":               func() error { _, err := s.Messages().Since(ctx, "b", t0, 0); return err }(),
			"Since limit -1":              func() error { _, err := s.Messages().Since(ctx, "b", t0, -1); return err }(),
			"LastSeq without pair":        func() error { _, err := s.Messages().LastSeq(ctx, ""); return err }(),
			"LastSeq of a NUL in pair id": func() error { _, err := s.Messages().LastSeq(ctx, "a\x00|b"); return err }(),
		} {
			wantErr(t, name, err)
		}
		wantEqual(t, "unread of b after refused reads", unread(t, s, "b"), map[string]int{ab: 1})
	}},
	{"calls after close are ErrClosed", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := storage.PairID("a", "b")
		m := chat(t, s, "a", "b", 1)
		must(t, s.Close())
		wantIs(t, "Append", s.Messages().Append(ctx, chatMsg("a", "b", 2, time.Hour)), storage.ErrClosed)
		wantIs(t, "AppendAsync", answer(t, "AppendAsync", appendAsync(t, s, chatMsg("a", "b", 2, time.Hour))), storage.ErrClosed)
		_, err := s.Messages().Get(ctx, m.ID)
		wantIs(t, "Get", err, storage.ErrClosed)
		_, err = s.Messages().MarkRead(ctx, ab, "b", 1, t0)
		wantIs(t, "MarkRead", err, storage.ErrClosed)
		_, err = s.Messages().MarkRead(ctx, ab, "a", 1, t0) // nothing to mark
		wantIs(t, "MarkRead with nothing to mark", err, storage.ErrClosed)
		_, err = s.Messages().Page(ctx, ab, 0, 10)
		wantIs(t, "Page", err, storage.ErrClosed)
		_, err = s.Messages().Conversations(ctx, "a", 0)
		wantIs(t, "Conversations", err, storage.ErrClosed)
		_, err = s.Messages().Since(ctx, "b", t0, 10)
		wantIs(t, "Since", err, storage.ErrClosed)
		_, err = s.Messages().LastSeq(ctx, ab)
		wantIs(t, "LastSeq", err, storage.ErrClosed)
	}},
	{"concurrent appends to different pairs all land", func(t *testing.T, s storage.Store) {
		// Every pair shares the hub user, so all writers touch its
		// conversations and inbox; each pair has one writer, as with grains.
		const pairs, perPair = 16, 4
		ctx := t.Context()
		var wg sync.WaitGroup
		errs := make([]error, pairs)
		for i := range pairs {
			u := fmt.Sprintf("u%02d", i)
			wg.Go(func() {
				for seq := uint64(1); seq <= perPair; seq++ {
					from, to := u, "hub"
					if seq == perPair {
						from, to = to, from
					}
					if errs[i] = s.Messages().Append(ctx, chatMsg(from, to, seq, time.Duration(i)*time.Minute+time.Duration(seq)*time.Second)); errs[i] != nil {
						return
					}
				}
				_, errs[i] = s.Messages().MarkRead(ctx, storage.PairID("hub", u), "hub", 1, at(time.Hour))
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		cs := convs(t, s, "hub", 0)
		if len(cs) != pairs {
			t.Fatalf("Conversations(hub) has %d entries, want %d", len(cs), pairs)
		}
		for j, c := range cs {
			u := fmt.Sprintf("u%02d", pairs-1-j) // later pairs wrote later times
			if c.OtherUserID != u || c.Unread != perPair-2 || c.Last.Seq != perPair || c.Last.SenderID != "hub" {
				t.Fatalf("conversation %d of hub: %s", j, show(c))
			}
			wantEqual(t, "unread of "+u, unread(t, s, u), map[string]int{c.PairID: 1})
			wantEqual(t, "LastSeq of "+c.PairID, lastSeqOf(t, s, c.PairID), uint64(perPair))
		}
		inbox := since(t, s, "hub", time.Time{}, 1000)
		if len(inbox) != pairs*(perPair-1) {
			t.Fatalf("Since(hub) has %d messages, want %d", len(inbox), pairs*(perPair-1))
		}
		for i := 1; i < len(inbox); i++ {
			if inbox[i].CreatedAt.Before(inbox[i-1].CreatedAt) {
				t.Fatalf("Since(hub) out of order at %d: %s after %s", i, show(inbox[i]), show(inbox[i-1]))
			}
		}
	}},
}
