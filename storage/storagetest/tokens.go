package storagetest

import (
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

func newToken(id, family, user string) *storage.RefreshToken {
	return &storage.RefreshToken{ID: id, Family: family, UserID: user, IssuedAt: t0, ExpiresAt: at(720 * time.Hour)}
}

func getToken(t *testing.T, s storage.Store, id string) *storage.RefreshToken {
	t.Helper()
	tok, err := s.Tokens().Get(t.Context(), id)
	must(t, err)
	return tok
}

func familyRevoked(t *testing.T, s storage.Store, family string) bool {
	t.Helper()
	ok, err := s.Tokens().FamilyRevoked(t.Context(), family)
	must(t, err)
	return ok
}

var tokenCases = []testCase{
	{"put then get round-trips", func(t *testing.T, s storage.Store) {
		tok := newToken("t1", "f1", "u1")
		must(t, s.Tokens().Put(t.Context(), tok))
		wantEqual(t, "Get", getToken(t, s, "t1"), tok)
		_, err := s.Tokens().Get(t.Context(), "nope")
		wantIs(t, "Get unknown", err, storage.ErrNotFound)
	}},
	{"rotate marks the old token and stores the next", func(t *testing.T, s storage.Store) {
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "u1")))
		next := newToken("t2", "f1", "u1")
		next.IssuedAt = at(time.Minute)
		must(t, s.Tokens().Rotate(t.Context(), "t1", next, at(time.Minute)))

		old := getToken(t, s, "t1")
		if old.RotatedAt == nil || !old.RotatedAt.Equal(at(time.Minute)) || old.RevokedAt != nil {
			t.Fatalf("old token after rotate: %s", show(old))
		}
		wantEqual(t, "next token", getToken(t, s, "t2"), next)
		if familyRevoked(t, s, "f1") {
			t.Fatal("family revoked by a normal rotation")
		}
		// The chain continues from the new token.
		must(t, s.Tokens().Rotate(t.Context(), "t2", newToken("t3", "f1", "u1"), at(2*time.Minute)))
	}},
	{"reusing a rotated token revokes the whole family", func(t *testing.T, s storage.Store) {
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "u1")))
		must(t, s.Tokens().Put(t.Context(), newToken("other", "f2", "u1")))
		must(t, s.Tokens().Rotate(t.Context(), "t1", newToken("t2", "f1", "u1"), at(time.Minute)))

		err := s.Tokens().Rotate(t.Context(), "t1", newToken("t3", "f1", "u1"), at(time.Hour))
		wantIs(t, "Rotate of a rotated token", err, storage.ErrConflict)

		_, err = s.Tokens().Get(t.Context(), "t3")
		wantIs(t, "Get of the token offered on reuse", err, storage.ErrNotFound)
		for _, id := range []string{"t1", "t2"} {
			if tok := getToken(t, s, id); tok.RevokedAt == nil || !tok.RevokedAt.Equal(at(time.Hour)) {
				t.Fatalf("%s after reuse: %s, want revoked at reuse time", id, show(tok))
			}
		}
		if !familyRevoked(t, s, "f1") {
			t.Fatal("FamilyRevoked(f1) = false after reuse")
		}
		if familyRevoked(t, s, "f2") || getToken(t, s, "other").RevokedAt != nil {
			t.Fatal("reuse detection touched another family")
		}
		// The attacker's or victim's newest token is dead too.
		err = s.Tokens().Rotate(t.Context(), "t2", newToken("t4", "f1", "u1"), at(2*time.Hour))
		wantIs(t, "Rotate of a token of a revoked family", err, storage.ErrConflict)
	}},
	{"rotating a revoked token is reuse", func(t *testing.T, s storage.Store) {
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "u1")))
		must(t, s.Tokens().Revoke(t.Context(), "t1", at(time.Minute)))
		err := s.Tokens().Rotate(t.Context(), "t1", newToken("t2", "f1", "u1"), at(time.Hour))
		wantIs(t, "Rotate of a revoked token", err, storage.ErrConflict)
		_, err = s.Tokens().Get(t.Context(), "t2")
		wantIs(t, "Get next after refused rotate", err, storage.ErrNotFound)
		if !familyRevoked(t, s, "f1") {
			t.Fatal("FamilyRevoked(f1) = false")
		}
		if tok := getToken(t, s, "t1"); !tok.RevokedAt.Equal(at(time.Minute)) {
			t.Fatalf("RevokedAt moved from the logout time: %s", show(tok))
		}
	}},
	{"rotate of an unknown token is ErrNotFound", func(t *testing.T, s storage.Store) {
		err := s.Tokens().Rotate(t.Context(), "nope", newToken("t2", "f1", "u1"), t0)
		wantIs(t, "Rotate", err, storage.ErrNotFound)
		_, err = s.Tokens().Get(t.Context(), "t2")
		wantIs(t, "Get next", err, storage.ErrNotFound)
	}},
	{"revoke is idempotent and keeps the first time", func(t *testing.T, s storage.Store) {
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "u1")))
		must(t, s.Tokens().Revoke(t.Context(), "t1", at(time.Minute)))
		must(t, s.Tokens().Revoke(t.Context(), "t1", at(time.Hour)))
		if tok := getToken(t, s, "t1"); tok.RevokedAt == nil || !tok.RevokedAt.Equal(at(time.Minute)) {
			t.Fatalf("after two revokes: %s", show(tok))
		}
		if familyRevoked(t, s, "f1") {
			t.Fatal("logout revoke marked the family as reused")
		}
		wantIs(t, "Revoke unknown", s.Tokens().Revoke(t.Context(), "nope", t0), storage.ErrNotFound)
	}},
	{"revoke user revokes only that user's tokens", func(t *testing.T, s storage.Store) {
		for _, tok := range []*storage.RefreshToken{
			newToken("a1", "fa1", "alice"), newToken("a2", "fa2", "alice"), newToken("b1", "fb1", "bob"),
		} {
			must(t, s.Tokens().Put(t.Context(), tok))
		}
		must(t, s.Tokens().RevokeUser(t.Context(), "alice", at(time.Minute)))
		for id, want := range map[string]bool{"a1": true, "a2": true, "b1": false} {
			if got := getToken(t, s, id).RevokedAt != nil; got != want {
				t.Fatalf("%s revoked = %v, want %v", id, got, want)
			}
		}
		if familyRevoked(t, s, "fa1") {
			t.Fatal("account revocation marked a family as reused")
		}
		must(t, s.Tokens().RevokeUser(t.Context(), "nobody", t0))
	}},
	{"put moves a token between users", func(t *testing.T, s storage.Store) {
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "alice")))
		must(t, s.Tokens().Put(t.Context(), newToken("t1", "f1", "bob")))
		must(t, s.Tokens().RevokeUser(t.Context(), "alice", t0))
		if getToken(t, s, "t1").RevokedAt != nil {
			t.Fatal("RevokeUser(alice) revoked a token now owned by bob")
		}
	}},
	{"family revoked of an unknown family is false", func(t *testing.T, s storage.Store) {
		if familyRevoked(t, s, "nope") {
			t.Fatal("FamilyRevoked(unknown) = true")
		}
	}},
	{"empty ids are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		must(t, s.Tokens().Put(ctx, newToken("t1", "f1", "u1")))
		for name, err := range map[string]error{
			"Put without id":      s.Tokens().Put(ctx, newToken("", "f1", "u1")),
			"Put without family":  s.Tokens().Put(ctx, newToken("t2", "", "u1")),
			"Put without user":    s.Tokens().Put(ctx, newToken("t3", "f1", "")),
			"Get(\"\")":           func() error { _, err := s.Tokens().Get(ctx, ""); return err }(),
			"Rotate(\"\")":        s.Tokens().Rotate(ctx, "", newToken("t4", "f1", "u1"), t0),
			"Rotate to empty id":  s.Tokens().Rotate(ctx, "t1", newToken("", "f1", "u1"), t0),
			"Revoke(\"\")":        s.Tokens().Revoke(ctx, "", t0),
			"RevokeUser(\"\")":    s.Tokens().RevokeUser(ctx, "", t0),
			"FamilyRevoked(\"\")": func() error { _, err := s.Tokens().FamilyRevoked(ctx, ""); return err }(),
		} {
			wantErr(t, name, err)
		}
		if tok := getToken(t, s, "t1"); tok.RotatedAt != nil {
			t.Fatal("rejected Rotate rotated the old token")
		}
	}},
}
