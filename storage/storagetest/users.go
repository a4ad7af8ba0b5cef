package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
)

// newUser is a live user with identity dev/<id> and no optional fields.
func newUser(id string) *storage.User {
	return &storage.User{
		ID: id, Name: "name of " + id,
		Provider: "dev", Subject: "sub-" + id,
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func withUsername(u *storage.User, name string) *storage.User {
	u.Username = ptr(name)
	return u
}

var userCases = []testCase{
	{"create then get round-trips every field", func(t *testing.T, s storage.Store) {
		full := &storage.User{
			ID: "u1", Name: "Ada", Username: ptr("ada"), Bio: ptr("hi"), Age: ptr(36),
			Avatar: ptr("https://a/1.png"), Gender: ptr("f"), Vibe: ptr("#coffee"),
			VibeExpiresAt: ptr(at(time.Hour)), HiddenFromRadar: true,
			Provider: "google", Subject: "g-1", Email: "ada@example.com",
			CreatedAt: t0, UpdatedAt: at(time.Second),
		}
		minimal := newUser("u2")
		for _, u := range []*storage.User{full, minimal} {
			must(t, s.Users().Create(t.Context(), u))
			got, err := s.Users().Get(t.Context(), u.ID)
			must(t, err)
			wantEqual(t, "Get "+u.ID, got, u)
		}
		got, _ := s.Users().Get(t.Context(), "u2")
		if got.Username != nil || got.Bio != nil || got.Age != nil || got.VibeExpiresAt != nil || got.DeletedAt != nil {
			t.Fatalf("unset optional fields came back set: %s", show(got))
		}
	}},
	{"get unknown user is ErrNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.Users().Get(t.Context(), "nobody")
		wantIs(t, "Get", err, storage.ErrNotFound)
	}},
	{"create with an existing id is ErrConflict", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), newUser("u1")))
		dup := newUser("u1")
		dup.Subject = "other"
		wantIs(t, "Create", s.Users().Create(t.Context(), dup), storage.ErrConflict)
		_, err := s.Users().ByIdentity(t.Context(), "dev", "other")
		wantIs(t, "ByIdentity of the rejected user", err, storage.ErrNotFound)
	}},
	{"create with an identity linked to a live user is ErrConflict", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), newUser("u1")))
		dup := newUser("u2")
		dup.Subject = "sub-u1"
		wantIs(t, "Create", s.Users().Create(t.Context(), dup), storage.ErrConflict)
		_, err := s.Users().Get(t.Context(), "u2")
		wantIs(t, "Get of the rejected user", err, storage.ErrNotFound)
	}},
	{"same subject under another provider is another identity", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), newUser("u1")))
		other := newUser("u2")
		other.Provider, other.Subject = "google", "sub-u1"
		must(t, s.Users().Create(t.Context(), other))
		got, err := s.Users().ByIdentity(t.Context(), "google", "sub-u1")
		must(t, err)
		wantEqual(t, "ByIdentity(google)", got.ID, "u2")
		got, err = s.Users().ByIdentity(t.Context(), "dev", "sub-u1")
		must(t, err)
		wantEqual(t, "ByIdentity(dev)", got.ID, "u1")
	}},
	{"by identity of an unknown identity is ErrNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.Users().ByIdentity(t.Context(), "dev", "nobody")
		wantIs(t, "ByIdentity", err, storage.ErrNotFound)
	}},
	{"usernames are unique case-insensitively", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u1"), "Alice")))
		wantIs(t, "Create with ALICE", s.Users().Create(t.Context(), withUsername(newUser("u2"), "alice")), storage.ErrConflict)
		must(t, s.Users().Create(t.Context(), newUser("u2")))
		wantIs(t, "Put with aLiCe", s.Users().Put(t.Context(), current(t, s, withUsername(newUser("u2"), "aLiCe"))), storage.ErrConflict)
		got, err := s.Users().Get(t.Context(), "u2")
		must(t, err)
		if got.Username != nil {
			t.Fatalf("rejected Put changed username to %q", *got.Username)
		}
		// Changing the case of one's own username is not a conflict.
		must(t, s.Users().Put(t.Context(), current(t, s, withUsername(newUser("u1"), "ALICE"))))
		got, err = s.Users().Get(t.Context(), "u1")
		must(t, err)
		wantEqual(t, "username", *got.Username, "ALICE")
	}},
	{"changing or clearing a username frees it", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u1"), "alice")))
		must(t, s.Users().Put(t.Context(), current(t, s, withUsername(newUser("u1"), "al"))))
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u2"), "alice")))
		must(t, s.Users().Put(t.Context(), current(t, s, newUser("u1")))) // Username nil: cleared
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u3"), "al")))
		// An empty username is no username: it never conflicts.
		must(t, s.Users().Put(t.Context(), current(t, s, withUsername(newUser("u1"), ""))))
		must(t, s.Users().Put(t.Context(), current(t, s, withUsername(newUser("u3"), ""))))
	}},
	{"put replaces the record", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u1"), "ada")))
		u := newUser("u1")
		u.Name, u.Bio, u.Vibe, u.UpdatedAt = "Ada L.", ptr("new bio"), ptr("#tea"), at(time.Minute)
		must(t, s.Users().Put(t.Context(), current(t, s, u)))
		got, err := s.Users().Get(t.Context(), "u1")
		must(t, err)
		wantEqual(t, "Get after Put", got, u)
	}},
	{"put of an unknown user is ErrNotFound", func(t *testing.T, s storage.Store) {
		wantIs(t, "Put", s.Users().Put(t.Context(), newUser("ghost")), storage.ErrNotFound)
		_, err := s.Users().ByIdentity(t.Context(), "dev", "sub-ghost")
		wantIs(t, "ByIdentity after rejected Put", err, storage.ErrNotFound)
	}},
	{"soft delete unlinks the identity and frees the username", func(t *testing.T, s storage.Store) {
		must(t, s.Users().Create(t.Context(), withUsername(newUser("u1"), "ada")))
		del := withUsername(newUser("u1"), "ada")
		del.DeletedAt, del.DeleteReason = ptr(at(time.Hour)), "user request"
		must(t, s.Users().Put(t.Context(), current(t, s, del)))

		got, err := s.Users().Get(t.Context(), "u1")
		must(t, err)
		wantEqual(t, "Get of deleted user", got, del)
		if !got.Deleted() {
			t.Fatal("Get: user not marked deleted")
		}
		_, err = s.Users().ByIdentity(t.Context(), "dev", "sub-u1")
		wantIs(t, "ByIdentity of deleted user", err, storage.ErrNotFound)

		// Fresh login with the same identity and the freed username.
		fresh := withUsername(newUser("u2"), "ADA")
		fresh.Subject = "sub-u1"
		must(t, s.Users().Create(t.Context(), fresh))
		got, err = s.Users().ByIdentity(t.Context(), "dev", "sub-u1")
		must(t, err)
		wantEqual(t, "ByIdentity after fresh login", got.ID, "u2")

		// Updating the deleted record must not steal the links back.
		del.DeleteReason = "edited"
		must(t, s.Users().Put(t.Context(), del))
		got, err = s.Users().ByIdentity(t.Context(), "dev", "sub-u1")
		must(t, err)
		wantEqual(t, "ByIdentity after editing the deleted user", got.ID, "u2")
		wantIs(t, "new user taking the username", s.Users().Create(t.Context(), withUsername(newUser("u3"), "ada")), storage.ErrConflict)
	}},
	{"returned users do not alias stored ones", func(t *testing.T, s storage.Store) {
		in := withUsername(newUser("u1"), "ada")
		must(t, s.Users().Create(t.Context(), in))
		in.Name, *in.Username = "changed", "changed"
		got, err := s.Users().Get(t.Context(), "u1")
		must(t, err)
		got.Name, *got.Username = "mutated", "mutated"
		again, err := s.Users().Get(t.Context(), "u1")
		must(t, err)
		want := withUsername(newUser("u1"), "ada")
		want.Version = 1
		wantEqual(t, "Get after mutating inputs and outputs", again, want)
	}},
	{"concurrent creates of one username: exactly one wins", func(t *testing.T, s storage.Store) {
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				errs[i] = s.Users().Create(t.Context(), withUsername(newUser(fmt.Sprintf("u%d", i)), "taken"))
			})
		}
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case !errors.Is(err, storage.ErrConflict):
				t.Fatalf("Create: %v, want nil or ErrConflict", err)
			}
		}
		if wins != 1 {
			t.Fatalf("%d creates won, want 1", wins)
		}
	}},
	{"empty ids are rejected", func(t *testing.T, s storage.Store) {
		ctx := t.Context()
		noID := newUser("")
		noProvider := newUser("u1")
		noProvider.Provider = ""
		noSubject := newUser("u2")
		noSubject.Subject = ""
		must(t, s.Users().Create(ctx, newUser("u3")))
		putNoID := newUser("u3")
		putNoID.ID = ""
		for name, err := range map[string]error{
			"Get(\"\")":               func() error { _, err := s.Users().Get(ctx, ""); return err }(),
			"ByIdentity(\"\", \"\")":  func() error { _, err := s.Users().ByIdentity(ctx, "", ""); return err }(),
			"ByIdentity(dev, \"\")":   func() error { _, err := s.Users().ByIdentity(ctx, "dev", ""); return err }(),
			"Create without id":       s.Users().Create(ctx, noID),
			"Create without provider": s.Users().Create(ctx, noProvider),
			"Create without subject":  s.Users().Create(ctx, noSubject),
			"Put without id":          s.Users().Put(ctx, putNoID),
		} {
			wantErr(t, name, err)
		}
	}},
}

// current sets u's Version to the stored one, for cases that write a
// freshly built record over a stored one (fencing has its own cases).
func current(t *testing.T, s storage.Store, u *storage.User) *storage.User {
	t.Helper()
	got, err := s.Users().Get(t.Context(), u.ID)
	must(t, err)
	u.Version = got.Version
	return u
}
