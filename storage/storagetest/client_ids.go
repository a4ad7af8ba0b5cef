package storagetest

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// keyed is chatMsg with a client message id.
func keyed(from, to string, seq uint64, created time.Duration, clientID string) *storage.Message {
	m := chatMsg(from, to, seq, created)
	m.ClientMessageID = clientID
	return m
}

// byClientID is ByClientMessageID; a nil message means ErrNotFound.
func byClientID(t *testing.T, s storage.Store, pairID, sender, clientID string, since time.Time) *storage.Message {
	t.Helper()
	m, err := s.Messages().ByClientMessageID(t.Context(), pairID, sender, clientID, since)
	if err != nil {
		wantIs(t, "ByClientMessageID("+pairID+", "+sender+", "+clientID+")", err, storage.ErrNotFound)
		return nil
	}
	return m
}

// clientIDCases: a message keeps its sender's idempotency key, and the key
// finds it back (per pair and sender) while it is within the window the
// caller names. The Pair grain relies on this after a restart, when its
// in-memory state is gone.
var clientIDCases = []testCase{
	{"a client message id round-trips and finds its message", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := storage.PairID("amy", "bob")
		m := keyed("amy", "bob", 1, time.Minute, "c-1")
		must(t, s.Messages().Append(ctx, m))
		plain := chat(t, s, "amy", "bob", 2)

		got, err := s.Messages().Get(ctx, m.ID)
		must(t, err)
		wantEqual(t, "Get", got, m)
		wantEqual(t, "ByClientMessageID", byClientID(t, s, ab, "amy", "c-1", t0), m)
		wantEqual(t, "Page", page(t, s, ab, 0, 10), deref([]*storage.Message{plain, m}))
		wantEqual(t, "Since", since(t, s, "bob", time.Time{}, 10), deref([]*storage.Message{m, plain}))
		last := convs(t, s, "amy", 0)
		wantEqual(t, "Conversations' last message", last[0].Last, *plain)

		// The last message of a conversation carries its key too.
		m3 := keyed("amy", "bob", 3, time.Hour, "c-3")
		must(t, s.Messages().Append(ctx, m3))
		wantEqual(t, "Conversations' last keyed message", convs(t, s, "bob", 0)[0].Last, *m3)
		read := markRead(t, s, ab, "bob", 3, at(2*time.Hour))
		wantEqual(t, "marked", read, 3)
		got = byClientID(t, s, ab, "amy", "c-3", t0)
		if got == nil || got.ReadAt == nil || got.ClientMessageID != "c-3" {
			t.Fatalf("a read keyed message: %s", show(got))
		}
	}},
	{"a client message id is scoped to its pair and sender", func(t *testing.T, s storage.Store) {
		ab, ac := storage.PairID("amy", "bob"), storage.PairID("amy", "cat")
		fromAmy := keyed("amy", "bob", 1, time.Minute, "same")
		fromBob := keyed("bob", "amy", 2, 2*time.Minute, "same")
		toCat := keyed("amy", "cat", 1, 3*time.Minute, "same")
		for _, m := range []*storage.Message{fromAmy, fromBob, toCat} {
			must(t, s.Messages().Append(t.Context(), m))
		}
		wantEqual(t, "amy's key to bob", byClientID(t, s, ab, "amy", "same", t0), fromAmy)
		wantEqual(t, "bob's key to amy", byClientID(t, s, ab, "bob", "same", t0), fromBob)
		wantEqual(t, "amy's key to cat", byClientID(t, s, ac, "amy", "same", t0), toCat)
		for _, c := range []struct{ pair, sender, key string }{
			{ac, "cat", "same"},                           // cat never used it
			{ab, "amy", "Same"},                           // keys are case-sensitive
			{ab, "amy", "sam"},                            // a prefix is another key
			{storage.PairID("bob", "cat"), "bob", "same"}, // nothing in that pair
			{ab, "amy", "same\u00a0"},
		} {
			if m := byClientID(t, s, c.pair, c.sender, c.key, t0); m != nil {
				t.Errorf("ByClientMessageID(%s, %s, %q) = %s, want ErrNotFound", c.pair, c.sender, c.key, show(m))
			}
		}
	}},
	{"a client message id older than since is forgotten", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := storage.PairID("amy", "bob")
		old := keyed("amy", "bob", 1, 0, "k")
		must(t, s.Messages().Append(ctx, old))
		// since is inclusive: at the message's own time it is still found.
		wantEqual(t, "at its creation", byClientID(t, s, ab, "amy", "k", at(0)), old)
		if m := byClientID(t, s, ab, "amy", "k", at(time.Microsecond)); m != nil {
			t.Fatalf("found after the window: %s", show(m))
		}
		// Reused after the window, the key names the new message; the old
		// one keeps its key.
		renewed := keyed("amy", "bob", 2, 25*time.Hour, "k")
		must(t, s.Messages().Append(ctx, renewed))
		wantEqual(t, "the reused key", byClientID(t, s, ab, "amy", "k", at(time.Hour)), renewed)
		wantEqual(t, "the reused key, wide window", byClientID(t, s, ab, "amy", "k", t0.Add(-time.Hour)), renewed)
		got, err := s.Messages().Get(ctx, old.ID)
		must(t, err)
		wantEqual(t, "the first message", got, old)
		if m := byClientID(t, s, ab, "amy", "k", at(26*time.Hour)); m != nil {
			t.Fatalf("the reused key found after its own window: %s", show(m))
		}
	}},
	{"a batch and async batches index their client message ids", func(t *testing.T, s storage.Store) {
		ab := storage.PairID("amy", "bob")
		must(t, s.Messages().AppendBatch(t.Context(), []*storage.Message{
			keyed("amy", "bob", 1, time.Minute, "b-1"), chatMsg("amy", "bob", 2, 2*time.Minute), keyed("bob", "amy", 3, 3*time.Minute, "b-1"),
		}))
		async := []*storage.Message{keyed("amy", "bob", 4, 4*time.Minute, "a-4"), keyed("amy", "bob", 5, 5*time.Minute, "a-5")}
		must(t, answer(t, "async batch", appendAsync(t, s, async...)))
		for _, c := range []struct {
			sender, key string
			seq         uint64
		}{{"amy", "b-1", 1}, {"bob", "b-1", 3}, {"amy", "a-4", 4}, {"amy", "a-5", 5}} {
			m := byClientID(t, s, ab, c.sender, c.key, t0)
			if m == nil || m.Seq != c.seq || m.ClientMessageID != c.key {
				t.Errorf("ByClientMessageID(%s, %s) = %s, want seq %d", c.sender, c.key, show(m), c.seq)
			}
		}
		// A refused batch indexes nothing.
		bad := keyed("amy", "bob", 5, 6*time.Minute, "never")
		wantIs(t, "a refused keyed message", answer(t, "refused", appendAsync(t, s, bad)), storage.ErrConflict)
		if m := byClientID(t, s, ab, "amy", "never", t0); m != nil {
			t.Fatalf("a refused message's key found: %s", show(m))
		}
	}},
	{"invalid client message ids and lookups are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		ab := storage.PairID("a", "b")
		for name, id := range map[string]string{
			"NUL":      "k\x00",
			"too long": string(make([]byte, 64<<10)),
		} {
			wantErr(t, "Append with a client message id with "+name, s.Messages().Append(ctx, keyed("a", "b", 1, 0, id)))
			_, err := s.Messages().ByClientMessageID(ctx, ab, "a", id, t0)
			wantErr(t, "ByClientMessageID with "+name, err)
		}
		wantEqual(t, "LastSeq after refused appends", lastSeqOf(t, s, ab), uint64(0))
		for name, args := range map[string][3]string{
			"no pair":        {"", "a", "k"},
			"no sender":      {ab, "", "k"},
			"no key":         {ab, "a", ""},
			"NUL in sender":  {ab, "a\x00", "k"},
			"NUL in pair id": {"a\x00|b", "a", "k"},
		} {
			_, err := s.Messages().ByClientMessageID(ctx, args[0], args[1], args[2], t0)
			wantErr(t, "ByClientMessageID with "+name, err)
		}
		must(t, s.Close())
		_, err := s.Messages().ByClientMessageID(ctx, ab, "a", "k", t0)
		wantIs(t, "ByClientMessageID after close", err, storage.ErrClosed)
	}},
}
