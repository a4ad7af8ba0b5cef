package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// report files a report with an id that sorts by n, as ULIDs do.
func report(t *testing.T, s storage.Store, n int, reporter, reported string) *storage.Report {
	t.Helper()
	r := &storage.Report{
		ID: fmt.Sprintf("sr_%04d", n), ReporterID: reporter, ReportedUserID: reported,
		Reason: "spam", Status: storage.ReportOpen, CreatedAt: at(time.Duration(n) * time.Second),
	}
	must(t, s.Safety().AddReport(t.Context(), r))
	return r
}

func reportIDs(rs []storage.Report) []string {
	out := make([]string, len(rs))
	for i := range rs {
		out[i] = rs[i].ID
	}
	return out
}

var moderationCases = []testCase{
	{"the report queue pages by status in filing order", func(t *testing.T, s storage.Store) {
		ctx, m := t.Context(), s.Moderation()
		for i := 1; i <= 5; i++ {
			report(t, s, i, "alice", fmt.Sprint("bad", i%2))
		}
		all, err := m.Reports(ctx, "", "", 10)
		must(t, err)
		wantEqual(t, "every report", reportIDs(all), []string{"sr_0001", "sr_0002", "sr_0003", "sr_0004", "sr_0005"})
		page, err := m.Reports(ctx, storage.ReportOpen, "sr_0002", 2)
		must(t, err)
		wantEqual(t, "open after sr_0002", reportIDs(page), []string{"sr_0003", "sr_0004"})

		r := &storage.Report{ID: "sr_0003", Status: storage.ReportReviewing, UpdatedAt: ptr(at(time.Minute))}
		must(t, m.UpdateReport(ctx, r))
		if r.ReporterID != "alice" || r.Reason != "spam" || r.ReportedUserID != "bad1" {
			t.Fatalf("an update changed what the reporter filed: %+v", r)
		}
		open, err := m.Reports(ctx, storage.ReportOpen, "", 10)
		must(t, err)
		wantEqual(t, "open after review", reportIDs(open), []string{"sr_0001", "sr_0002", "sr_0004", "sr_0005"})
		rev, err := m.Reports(ctx, storage.ReportReviewing, "", 10)
		must(t, err)
		wantEqual(t, "reviewing", reportIDs(rev), []string{"sr_0003"})
		got, err := m.GetReport(ctx, "sr_0003")
		must(t, err)
		wantEqual(t, "stored status", got.Status, storage.ReportReviewing)
		// The reporter's own list shows the new status.
		mine, err := s.Safety().ReportsBy(ctx, "alice")
		must(t, err)
		if mine[2].ID != "sr_0003" || mine[2].Status != storage.ReportReviewing {
			t.Fatalf("reporter's list = %+v", mine)
		}
		_, err = m.GetReport(ctx, "sr_9999")
		wantIs(t, "unknown report", err, storage.ErrNotFound)
		wantIs(t, "update of an unknown report", m.UpdateReport(ctx, &storage.Report{ID: "sr_9999", Status: storage.ReportResolved}), storage.ErrNotFound)
	}},
	{"open reports are counted per user and resolved together", func(t *testing.T, s storage.Store) {
		ctx, m := t.Context(), s.Moderation()
		report(t, s, 1, "alice", "mallory")
		report(t, s, 2, "bob", "mallory")
		report(t, s, 3, "carol", "mallory")
		report(t, s, 4, "alice", "trent")
		must(t, m.UpdateReport(ctx, &storage.Report{ID: "sr_0002", Status: storage.ReportResolved, Resolution: ptr("warned")}))
		counts, err := m.OpenAgainst(ctx, []string{"mallory", "trent", "nobody"})
		must(t, err)
		wantEqual(t, "open counts", counts, map[string]int{"mallory": 2, "trent": 1, "nobody": 0})

		done, err := m.ResolveAgainst(ctx, "mallory", "account terminated", "ops", at(time.Hour))
		must(t, err)
		wantEqual(t, "resolved now", reportIDs(done), []string{"sr_0001", "sr_0003"})
		for _, r := range done {
			if r.Status != storage.ReportResolved || *r.Resolution != "account terminated" || *r.ResolvedBy != "ops" || !r.ResolvedAt.Equal(at(time.Hour)) || r.ReporterID == "" {
				t.Fatalf("resolved report = %+v", r)
			}
		}
		// The one resolved before keeps its own resolution.
		kept, err := m.GetReport(ctx, "sr_0002")
		must(t, err)
		wantEqual(t, "earlier resolution", *kept.Resolution, "warned")
		counts, err = m.OpenAgainst(ctx, []string{"mallory"})
		must(t, err)
		wantEqual(t, "open after resolving", counts["mallory"], 0)
		again, err := m.ResolveAgainst(ctx, "mallory", "again", "ops", at(2*time.Hour))
		must(t, err)
		wantEqual(t, "nothing left to resolve", len(again), 0)
	}},
	{"the audit log pages newest first", func(t *testing.T, s storage.Store) {
		ctx, m := t.Context(), s.Moderation()
		for i := 1; i <= 4; i++ {
			must(t, m.AppendAudit(ctx, &storage.AuditEntry{ID: fmt.Sprintf("aud_%04d", i), At: at(time.Duration(i) * time.Second), Operator: "ops", Action: "report.update", Target: "sr_1"}))
		}
		wantIs(t, "a repeated id", m.AppendAudit(ctx, &storage.AuditEntry{ID: "aud_0001", At: at(0)}), storage.ErrConflict)
		first, err := m.Audit(ctx, "", 3)
		must(t, err)
		ids := func(es []storage.AuditEntry) []string {
			out := make([]string, len(es))
			for i := range es {
				out[i] = es[i].ID
			}
			return out
		}
		wantEqual(t, "newest first", ids(first), []string{"aud_0004", "aud_0003", "aud_0002"})
		rest, err := m.Audit(ctx, "aud_0002", 3)
		must(t, err)
		wantEqual(t, "before aud_0002", ids(rest), []string{"aud_0001"})
		wantEqual(t, "entry fields", first[0].Operator+" "+first[0].Action+" "+first[0].Target, "ops report.update sr_1")
	}},
	{"a terminated account keeps its identity, a deleted one frees it", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		for _, id := range []string{"gone", "banned"} {
			must(t, s.Users().Create(ctx, &storage.User{ID: id, Name: id, Provider: "dev", Subject: id, CreatedAt: at(0), UpdatedAt: at(0)}))
		}
		gone, err := s.Users().Get(ctx, "gone")
		must(t, err)
		gone.DeletedAt = ptr(at(time.Hour))
		must(t, s.Users().Put(ctx, gone))
		banned, err := s.Users().Get(ctx, "banned")
		must(t, err)
		banned.DeletedAt, banned.TerminatedAt, banned.TerminateReason = ptr(at(time.Hour)), ptr(at(time.Hour)), "abuse"
		must(t, s.Users().Put(ctx, banned))
		_, err = s.Users().ByIdentity(ctx, "dev", "gone")
		wantIs(t, "a deleted account's identity", err, storage.ErrNotFound)
		got, err := s.Users().ByIdentity(ctx, "dev", "banned")
		must(t, err)
		if got.ID != "banned" || !got.Terminated() || got.TerminateReason != "abuse" {
			t.Fatalf("terminated account by identity = %+v", got)
		}
	}},
	{"users are found by id, username and part of a name", func(t *testing.T, s storage.Store) {
		ctx, m := t.Context(), s.Moderation()
		mk := func(id, name, username string) {
			u := &storage.User{ID: id, Name: name, Provider: "dev", Subject: id, CreatedAt: at(0), UpdatedAt: at(0)}
			if username != "" {
				u.Username = ptr(username)
			}
			must(t, s.Users().Create(ctx, u))
		}
		mk("u1", "Ada Lovelace", "ada")
		mk("u2", "Grace Hopper", "amazing_grace")
		mk("u3", "Adam Smith", "")
		find := func(q string, limit int) []string {
			us, err := m.SearchUsers(ctx, q, limit)
			must(t, err)
			out := []string{}
			for _, u := range us {
				out = append(out, u.ID)
			}
			return out
		}
		wantEqual(t, "by id", find("u2", 10), []string{"u2"})
		wantEqual(t, "by username, any case", find("ADA", 10), []string{"u1", "u3"})
		wantEqual(t, "by part of a name", find("grace", 10), []string{"u2"})
		wantEqual(t, "limited", len(find("a", 2)), 2)
		wantEqual(t, "nothing", find("zzz", 10), []string{})
		wantEqual(t, "blank", find("  ", 10), []string{})
	}},
}
