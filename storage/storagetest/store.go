package storagetest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// op is one call of every storage.Store method, so the closed-store and
// cancelled-context checks cannot forget one.
type op struct {
	name string
	call func(ctx context.Context, s storage.Store) error
}

func allOps(t *testing.T) []op {
	backup := filepath.Join(t.TempDir(), "backup.db")
	return []op{
		{"Ping", func(ctx context.Context, s storage.Store) error { return s.Ping(ctx) }},
		{"Backup", func(ctx context.Context, s storage.Store) error {
			if err := s.Backup(ctx, backup); !errors.Is(err, storage.ErrUnsupported) {
				return err
			}
			return nil
		}},
		{"Users.Get", func(ctx context.Context, s storage.Store) error { _, err := s.Users().Get(ctx, "u1"); return err }},
		{"Users.ByIdentity", func(ctx context.Context, s storage.Store) error {
			_, err := s.Users().ByIdentity(ctx, "dev", "sub-u1")
			return err
		}},
		{"Users.Create", func(ctx context.Context, s storage.Store) error { return s.Users().Create(ctx, newUser("u2")) }},
		{"Users.Put", func(ctx context.Context, s storage.Store) error {
			u := newUser("u1")
			u.Version = 1 // as seed stored it
			return s.Users().Put(ctx, u)
		}},
		{"Tokens.Put", func(ctx context.Context, s storage.Store) error {
			return s.Tokens().Put(ctx, newToken("t2", "f", "u1"))
		}},
		{"Tokens.Get", func(ctx context.Context, s storage.Store) error { _, err := s.Tokens().Get(ctx, "t1"); return err }},
		{"Tokens.Rotate", func(ctx context.Context, s storage.Store) error {
			return s.Tokens().Rotate(ctx, "t1", newToken("t3", "f", "u1"), t0)
		}},
		{"Tokens.Revoke", func(ctx context.Context, s storage.Store) error { return s.Tokens().Revoke(ctx, "t1", t0) }},
		{"Tokens.RevokeUser", func(ctx context.Context, s storage.Store) error { return s.Tokens().RevokeUser(ctx, "u1", t0) }},
		{"Tokens.FamilyRevoked", func(ctx context.Context, s storage.Store) error {
			_, err := s.Tokens().FamilyRevoked(ctx, "f")
			return err
		}},
		{"Devices.Register", func(ctx context.Context, s storage.Store) error {
			return s.Devices().Register(ctx, newDevice("tok2", "u1"))
		}},
		{"Devices.Deactivate", func(ctx context.Context, s storage.Store) error {
			return s.Devices().Deactivate(ctx, "u1", "tok", t0)
		}},
		{"Devices.ListByUser", func(ctx context.Context, s storage.Store) error {
			_, err := s.Devices().ListByUser(ctx, "u1")
			return err
		}},
		{"Devices.DeactivateUser", func(ctx context.Context, s storage.Store) error {
			return s.Devices().DeactivateUser(ctx, "u1", t0)
		}},
		{"Safety.Block", func(ctx context.Context, s storage.Store) error {
			return s.Safety().Block(ctx, storage.Block{BlockerID: "u1", BlockedID: "u3", CreatedAt: t0})
		}},
		{"Safety.Unblock", func(ctx context.Context, s storage.Store) error { return s.Safety().Unblock(ctx, "u1", "u2") }},
		{"Safety.BlockedBy", func(ctx context.Context, s storage.Store) error {
			_, err := s.Safety().BlockedBy(ctx, "u1")
			return err
		}},
		{"Safety.BlockersOf", func(ctx context.Context, s storage.Store) error {
			_, err := s.Safety().BlockersOf(ctx, "u2")
			return err
		}},
		{"Safety.AddReport", func(ctx context.Context, s storage.Store) error {
			return s.Safety().AddReport(ctx, newReport("r2", "u1", t0))
		}},
		{"Safety.ReportsBy", func(ctx context.Context, s storage.Store) error {
			_, err := s.Safety().ReportsBy(ctx, "u1")
			return err
		}},
		{"Reminders.Set", func(ctx context.Context, s storage.Store) error { return s.Reminders().Set(ctx, rem("b", "x", 0)) }},
		{"Reminders.Delete", func(ctx context.Context, s storage.Store) error {
			return s.Reminders().Delete(ctx, "request", "a", "x")
		}},
		{"Reminders.Due", func(ctx context.Context, s storage.Store) error {
			_, err := s.Reminders().Due(ctx, t0, 10)
			return err
		}},
		{"Reminders.Claim", func(ctx context.Context, s storage.Store) error {
			_, err := s.Reminders().Claim(ctx, t0, t0.Add(time.Minute), 10)
			return err
		}},
		{"Reminders.Next", func(ctx context.Context, s storage.Store) error { _, err := s.Reminders().Next(ctx); return err }},
		{"Pairs.Get", func(ctx context.Context, s storage.Store) error {
			_, err := s.Pairs().Get(ctx, storage.PairID("u1", "u2"))
			return err
		}},
		{"Pairs.Save", func(ctx context.Context, s storage.Store) error {
			p := seedPair()
			p.Requests = append(p.Requests, pendingRequest("req_2", "u2", "u1", t0))
			p.Version = 1 // as seed stored it
			return s.Pairs().Save(ctx, p)
		}},
		{"Pairs.Of", func(ctx context.Context, s storage.Store) error { _, err := s.Pairs().Of(ctx, "u1"); return err }},
		{"Pairs.ByRequest", func(ctx context.Context, s storage.Store) error {
			_, err := s.Pairs().ByRequest(ctx, "req_1")
			return err
		}},
		{"Pairs.ByConnection", func(ctx context.Context, s storage.Store) error {
			_, err := s.Pairs().ByConnection(ctx, "conn_1")
			return err
		}},
		{"Messages.Append", func(ctx context.Context, s storage.Store) error {
			return s.Messages().Append(ctx, chatMsg("u2", "u1", 2, time.Minute))
		}},
		{"Messages.Get", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().Get(ctx, chatMsg("u1", "u2", 1, 0).ID)
			return err
		}},
		{"Messages.MarkRead", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().MarkRead(ctx, storage.PairID("u1", "u2"), "u2", 1, t0)
			return err
		}},
		{"Messages.Page", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().Page(ctx, storage.PairID("u1", "u2"), 0, 10)
			return err
		}},
		{"Messages.Conversations", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().Conversations(ctx, "u1", 0)
			return err
		}},
		{"Messages.Since", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().Since(ctx, "u2", t0.Add(-time.Hour), 10)
			return err
		}},
		{"Messages.LastSeq", func(ctx context.Context, s storage.Store) error {
			_, err := s.Messages().LastSeq(ctx, storage.PairID("u1", "u2"))
			return err
		}},
	}
}

// seed gives every op in allOps something to find, so a successful call is
// not mistaken for a refusal and vice versa.
func seed(t *testing.T, s storage.Store) {
	t.Helper()
	ctx := t.Context()
	must(t, s.Users().Create(ctx, newUser("u1")))
	must(t, s.Tokens().Put(ctx, newToken("t1", "f", "u1")))
	must(t, s.Devices().Register(ctx, newDevice("tok", "u1")))
	must(t, s.Safety().Block(ctx, storage.Block{BlockerID: "u1", BlockedID: "u2", CreatedAt: t0}))
	must(t, s.Safety().AddReport(ctx, newReport("r1", "u1", t0)))
	must(t, s.Reminders().Set(ctx, rem("a", "x", 0)))
	must(t, s.Pairs().Save(ctx, seedPair()))
	must(t, s.Messages().Append(ctx, chatMsg("u1", "u2", 1, 0)))
}

var storeCases = []testCase{
	{"every operation succeeds on a seeded store", func(t *testing.T, s storage.Store) {
		seed(t, s)
		for _, o := range allOps(t) {
			must(t, o.call(t.Context(), s))
		}
	}},
	{"close is idempotent and later calls are ErrClosed", func(t *testing.T, s storage.Store) {
		seed(t, s)
		must(t, s.Close())
		must(t, s.Close())
		for _, o := range allOps(t) {
			wantIs(t, o.name+" after Close", o.call(t.Context(), s), storage.ErrClosed)
		}
	}},
	{"a cancelled context is refused", func(t *testing.T, s storage.Store) {
		seed(t, s)
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		for _, o := range allOps(t) {
			wantIs(t, o.name+" with a cancelled context", o.call(ctx, s), context.Canceled)
		}
		// Nothing was written: the token is still fresh.
		tok := getToken(t, s, "t1")
		if tok.RevokedAt != nil || tok.RotatedAt != nil {
			t.Fatalf("a refused call changed the token: %s", show(tok))
		}
	}},
	{"backup writes a non-empty file", func(t *testing.T, s storage.Store) {
		seed(t, s)
		path := filepath.Join(t.TempDir(), "sub", "backup.db")
		if err := s.Backup(t.Context(), path); errors.Is(err, storage.ErrUnsupported) {
			// The store's own tools back it up; it must not leave a file
			// that looks like a backup.
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("unsupported backup left %s: %v", path, err)
			}
			return
		}
		must(t, s.Backup(t.Context(), path))
		fi, err := os.Stat(path)
		must(t, err)
		if fi.Size() == 0 {
			t.Fatal("backup file is empty")
		}
		// A second backup replaces the first.
		must(t, s.Backup(t.Context(), path))
	}},
}
