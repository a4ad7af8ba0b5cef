package storagetest

import (
	"testing"

	"github.com/gisbi/engine/storage"
)

// fencedRecord drives one fenced record type through the same checks.
type fencedRecord struct {
	name string
	// create stores a fresh record and returns it as stored (Version set).
	create func(t *testing.T, s storage.Store) any
	// write writes rec (a value create or load returned) back.
	write func(t *testing.T, s storage.Store, rec any) error
	// load reads the record back.
	load func(t *testing.T, s storage.Store) any
	// version reads rec's Version; touch changes something visible in rec
	// and returns a copy.
	version func(rec any) uint64
	touch   func(rec any, mark string) any
	// mark reads back what touch changed.
	mark func(rec any) string
}

var fencedRecords = []fencedRecord{
	{
		name: "user",
		create: func(t *testing.T, s storage.Store) any {
			u := newUser("u1")
			must(t, s.Users().Create(t.Context(), u))
			return u
		},
		write: func(t *testing.T, s storage.Store, rec any) error {
			return s.Users().Put(t.Context(), rec.(*storage.User))
		},
		load: func(t *testing.T, s storage.Store) any {
			u, err := s.Users().Get(t.Context(), "u1")
			must(t, err)
			return u
		},
		version: func(rec any) uint64 { return rec.(*storage.User).Version },
		touch: func(rec any, mark string) any {
			c := *rec.(*storage.User)
			c.Name = mark
			return &c
		},
		mark: func(rec any) string { return rec.(*storage.User).Name },
	},
	{
		name: "pair",
		create: func(t *testing.T, s storage.Store) any {
			p := &storage.Pair{ID: storage.PairID("u1", "u2"), UserA: "u1", UserB: "u2"}
			must(t, s.Pairs().Save(t.Context(), p))
			return p
		},
		write: func(t *testing.T, s storage.Store, rec any) error {
			return s.Pairs().Save(t.Context(), rec.(*storage.Pair))
		},
		load: func(t *testing.T, s storage.Store) any {
			p, err := s.Pairs().Get(t.Context(), storage.PairID("u1", "u2"))
			must(t, err)
			return p
		},
		version: func(rec any) uint64 { return rec.(*storage.Pair).Version },
		touch: func(rec any, mark string) any {
			c := *rec.(*storage.Pair)
			c.Requests = []storage.Request{{ID: "req_" + mark, FromUserID: "u1", ToUserID: "u2", Status: "pending", LegacyStatus: "pending", CreatedAt: at(0), ExpiresAt: at(10)}}
			return &c
		},
		mark: func(rec any) string {
			p := rec.(*storage.Pair)
			if len(p.Requests) == 0 {
				return ""
			}
			return p.Requests[0].ID[len("req_"):]
		},
	},
	{
		name: "score day",
		create: func(t *testing.T, s storage.Store) any {
			d := &storage.ScoreDay{UserID: "u1", Date: at(0), UpdatedAt: at(0)}
			must(t, s.Scores().Put(t.Context(), d))
			return d
		},
		write: func(t *testing.T, s storage.Store, rec any) error {
			return s.Scores().Put(t.Context(), rec.(*storage.ScoreDay))
		},
		load: func(t *testing.T, s storage.Store) any {
			d, err := s.Scores().Get(t.Context(), "u1")
			must(t, err)
			return d
		},
		version: func(rec any) uint64 { return rec.(*storage.ScoreDay).Version },
		touch: func(rec any, mark string) any {
			c := *rec.(*storage.ScoreDay)
			c.Counts = map[string]int{mark: 1}
			return &c
		},
		mark: func(rec any) string {
			for k := range rec.(*storage.ScoreDay).Counts {
				return k
			}
			return ""
		},
	},
	{
		name: "snapshot",
		create: func(t *testing.T, s storage.Store) any {
			snap := &storage.Snapshot{Kind: "proximity", ID: "conn_1", Data: []byte("first")}
			must(t, s.Snapshots().Put(t.Context(), snap))
			return snap
		},
		write: func(t *testing.T, s storage.Store, rec any) error {
			return s.Snapshots().Put(t.Context(), rec.(*storage.Snapshot))
		},
		load: func(t *testing.T, s storage.Store) any {
			snap, err := s.Snapshots().Get(t.Context(), "proximity", "conn_1")
			must(t, err)
			return snap
		},
		version: func(rec any) uint64 { return rec.(*storage.Snapshot).Version },
		touch: func(rec any, mark string) any {
			c := *rec.(*storage.Snapshot)
			c.Data = []byte(mark)
			return &c
		},
		mark: func(rec any) string { return string(rec.(*storage.Snapshot).Data) },
	},
	{
		name: "gift",
		create: func(t *testing.T, s storage.Store) any {
			g := giftOf(campaignFor(t, s, "camp_1", nil), "", "u1", "u2", 0)
			refused, err := s.Rewards().Grant(t.Context(), []storage.Grant{{Gift: g}})
			must(t, err)
			must(t, refused[0])
			return g
		},
		write: func(t *testing.T, s storage.Store, rec any) error {
			return s.Rewards().PutGift(t.Context(), rec.(*storage.Gift))
		},
		load: func(t *testing.T, s storage.Store) any {
			gs, err := s.Rewards().GiftsOfPair(t.Context(), storage.PairID("u1", "u2"))
			must(t, err)
			if len(gs) != 1 {
				t.Fatalf("gifts of the pair: %d, want 1", len(gs))
			}
			return &gs[0]
		},
		version: func(rec any) uint64 { return rec.(*storage.Gift).Version },
		touch: func(rec any, mark string) any {
			c := *rec.(*storage.Gift)
			c.EndReason = mark
			return &c
		},
		mark: func(rec any) string { return rec.(*storage.Gift).EndReason },
	},
}

var fencingCases = func() []testCase {
	var out []testCase
	for _, r := range fencedRecords {
		out = append(out,
			testCase{r.name + ": versions count writes and read back", func(t *testing.T, s storage.Store) {
				rec := r.create(t, s)
				if v := r.version(rec); v != 1 {
					t.Fatalf("version after the first write = %d, want 1", v)
				}
				next := r.touch(r.load(t, s), "second")
				must(t, r.write(t, s, next))
				if v := r.version(next); v != 2 {
					t.Fatalf("version after the second write = %d, want 2", v)
				}
				got := r.load(t, s)
				if v, m := r.version(got), r.mark(got); v != 2 || m != "second" {
					t.Fatalf("read back version %d mark %q, want 2 and \"second\"", v, m)
				}
			}},
			testCase{r.name + ": a stale activation's write is refused and changes nothing", func(t *testing.T, s storage.Store) {
				r.create(t, s)
				// Two activations read the same state; the newer one writes first.
				older, newer := r.load(t, s), r.load(t, s)
				newer = r.touch(newer, "newer")
				must(t, r.write(t, s, newer))
				stale := r.touch(older, "stale")
				before := r.version(stale)
				wantIs(t, "stale write", r.write(t, s, stale), storage.ErrStale)
				if v := r.version(stale); v != before {
					t.Fatalf("refused write moved the caller's version %d → %d", before, v)
				}
				got := r.load(t, s)
				if v, m := r.version(got), r.mark(got); v != 2 || m != "newer" {
					t.Fatalf("after the refused write: version %d mark %q, want 2 and \"newer\"", v, m)
				}
				// A version from the future is as wrong as one from the past.
				ahead := r.touch(got, "ahead")
				switch x := ahead.(type) {
				case *storage.User:
					x.Version += 5
				case *storage.Pair:
					x.Version += 5
				case *storage.ScoreDay:
					x.Version += 5
				case *storage.Snapshot:
					x.Version += 5
				case *storage.Gift:
					x.Version += 5
				}
				wantIs(t, "write from a version ahead", r.write(t, s, ahead), storage.ErrStale)
			}},
		)
	}
	out = append(out,
		testCase{"a second first write of a new record is stale", func(t *testing.T, s storage.Store) {
			ctx := t.Context()
			a := &storage.Pair{ID: storage.PairID("u1", "u2"), UserA: "u1", UserB: "u2"}
			b := &storage.Pair{ID: storage.PairID("u1", "u2"), UserA: "u1", UserB: "u2"}
			must(t, s.Pairs().Save(ctx, a))
			wantIs(t, "second creation", s.Pairs().Save(ctx, b), storage.ErrStale)
			d1 := &storage.ScoreDay{UserID: "u1", Date: at(0)}
			d2 := &storage.ScoreDay{UserID: "u1", Date: at(0)}
			must(t, s.Scores().Put(ctx, d1))
			wantIs(t, "second score creation", s.Scores().Put(ctx, d2), storage.ErrStale)
			s1 := &storage.Snapshot{Kind: "k", ID: "i", Data: []byte("1")}
			s2 := &storage.Snapshot{Kind: "k", ID: "i", Data: []byte("2")}
			must(t, s.Snapshots().Put(ctx, s1))
			wantIs(t, "second snapshot creation", s.Snapshots().Put(ctx, s2), storage.ErrStale)
			got, err := s.Snapshots().Get(ctx, "k", "i")
			must(t, err)
			wantEqual(t, "snapshot after the refused creation", string(got.Data), "1")
		}},
	)
	return out
}()
