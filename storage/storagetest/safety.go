package storagetest

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func blockedBy(t *testing.T, s storage.Store, blocker string) []string {
	t.Helper()
	bs, err := s.Safety().BlockedBy(t.Context(), blocker)
	must(t, err)
	ids := make([]string, len(bs))
	for i, b := range bs {
		if b.BlockerID != blocker {
			t.Fatalf("BlockedBy(%s) returned a block by %s", blocker, b.BlockerID)
		}
		ids[i] = b.BlockedID
	}
	return sorted(ids)
}

func blockersOf(t *testing.T, s storage.Store, user string) []string {
	t.Helper()
	ids, err := s.Safety().BlockersOf(t.Context(), user)
	must(t, err)
	return sorted(ids)
}

func newReport(id, reporter string, created time.Time) *storage.Report {
	return &storage.Report{ID: id, ReporterID: reporter, ReportedUserID: "bad", Reason: "spam", Status: "open", CreatedAt: created}
}

var safetyCases = []testCase{
	{"blocks are listed in both directions", func(t *testing.T, s storage.Store) {
		for _, b := range []storage.Block{
			{BlockerID: "a", BlockedID: "b", CreatedAt: t0},
			{BlockerID: "a", BlockedID: "c", CreatedAt: t0},
			{BlockerID: "d", BlockedID: "b", CreatedAt: t0},
		} {
			must(t, s.Safety().Block(t.Context(), b))
		}
		wantEqual(t, "BlockedBy(a)", blockedBy(t, s, "a"), []string{"b", "c"})
		wantEqual(t, "BlockersOf(b)", blockersOf(t, s, "b"), []string{"a", "d"})
		wantEqual(t, "BlockersOf(c)", blockersOf(t, s, "c"), []string{"a"})
		wantEqual(t, "BlockersOf(a)", blockersOf(t, s, "a"), []string{})
		wantEqual(t, "BlockedBy(b)", blockedBy(t, s, "b"), []string{})
	}},
	{"block is idempotent and keeps the first time", func(t *testing.T, s storage.Store) {
		must(t, s.Safety().Block(t.Context(), storage.Block{BlockerID: "a", BlockedID: "b", CreatedAt: t0}))
		must(t, s.Safety().Block(t.Context(), storage.Block{BlockerID: "a", BlockedID: "b", CreatedAt: at(time.Hour)}))
		bs, err := s.Safety().BlockedBy(t.Context(), "a")
		must(t, err)
		wantEqual(t, "BlockedBy(a)", bs, []storage.Block{{BlockerID: "a", BlockedID: "b", CreatedAt: t0}})
		wantEqual(t, "BlockersOf(b)", blockersOf(t, s, "b"), []string{"a"})
	}},
	{"unblock is idempotent and clears both directions", func(t *testing.T, s storage.Store) {
		must(t, s.Safety().Unblock(t.Context(), "a", "b")) // never blocked
		must(t, s.Safety().Block(t.Context(), storage.Block{BlockerID: "a", BlockedID: "b", CreatedAt: t0}))
		must(t, s.Safety().Block(t.Context(), storage.Block{BlockerID: "b", BlockedID: "a", CreatedAt: t0}))
		must(t, s.Safety().Unblock(t.Context(), "a", "b"))
		must(t, s.Safety().Unblock(t.Context(), "a", "b"))
		wantEqual(t, "BlockedBy(a)", blockedBy(t, s, "a"), []string{})
		wantEqual(t, "BlockersOf(b)", blockersOf(t, s, "b"), []string{})
		// The opposite block is a separate fact.
		wantEqual(t, "BlockedBy(b)", blockedBy(t, s, "b"), []string{"a"})
		wantEqual(t, "BlockersOf(a)", blockersOf(t, s, "a"), []string{"b"})
	}},
	{"reports by a reporter come newest first", func(t *testing.T, s storage.Store) {
		r1, r2, r3 := newReport("r1", "alice", at(2*time.Minute)), newReport("r2", "alice", t0), newReport("r3", "alice", at(5*time.Minute))
		for _, r := range []*storage.Report{r1, r2, newReport("x", "bob", at(time.Minute)), r3} {
			must(t, s.Safety().AddReport(t.Context(), r))
		}
		got, err := s.Safety().ReportsBy(t.Context(), "alice")
		must(t, err)
		wantEqual(t, "ReportsBy(alice)", got, []storage.Report{*r3, *r1, *r2})
		got, err = s.Safety().ReportsBy(t.Context(), "nobody")
		must(t, err)
		wantEqual(t, "ReportsBy(nobody)", len(got), 0)
	}},
	{"a duplicate report id is ErrConflict", func(t *testing.T, s storage.Store) {
		must(t, s.Safety().AddReport(t.Context(), newReport("r1", "alice", t0)))
		wantIs(t, "AddReport", s.Safety().AddReport(t.Context(), newReport("r1", "bob", t0)), storage.ErrConflict)
		got, err := s.Safety().ReportsBy(t.Context(), "bob")
		must(t, err)
		wantEqual(t, "ReportsBy(bob)", len(got), 0)
	}},
	{"empty ids are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for name, err := range map[string]error{
			"Block without blocker":    s.Safety().Block(ctx, storage.Block{BlockedID: "b"}),
			"Block without blocked":    s.Safety().Block(ctx, storage.Block{BlockerID: "a"}),
			"Unblock(\"\", b)":         s.Safety().Unblock(ctx, "", "b"),
			"BlockedBy(\"\")":          func() error { _, err := s.Safety().BlockedBy(ctx, ""); return err }(),
			"BlockersOf(\"\")":         func() error { _, err := s.Safety().BlockersOf(ctx, ""); return err }(),
			"AddReport without id":     s.Safety().AddReport(ctx, newReport("", "alice", t0)),
			"AddReport without author": s.Safety().AddReport(ctx, newReport("r1", "", t0)),
			"ReportsBy(\"\")":          func() error { _, err := s.Safety().ReportsBy(ctx, ""); return err }(),
		} {
			wantErr(t, name, err)
		}
	}},
}
