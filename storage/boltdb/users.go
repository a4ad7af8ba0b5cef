package boltdb

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type users struct{ s *Store }

// usernameKey folds case so "Alice" and "alice" collide. strings.ToLower is
// simple Unicode lower-casing, not full case folding; handles are expected to
// be validated to a small alphabet before they reach storage.
func usernameKey(u *storage.User) []byte {
	if u.Deleted() || u.Username == nil || *u.Username == "" {
		return nil
	}
	return []byte(strings.ToLower(*u.Username))
}

// identityKey is nil for a deleted user: deleted accounts own no identity, so
// the next login with it creates a fresh account. A terminated account
// keeps its identity, so that login is refused instead.
func identityKey(u *storage.User) []byte {
	if u.Deleted() && !u.Terminated() {
		return nil
	}
	return join(u.Provider, u.Subject)
}

func checkUser(u *storage.User) error { return storage.CheckUser(u, checkID) }

// liveOwner reports whether id names an existing, not deleted user. Index
// entries pointing elsewhere are stale and may be taken over.
func liveOwner(ub *bolt.Bucket, id []byte) (bool, error) {
	var owner storage.User
	found, err := getJSON(ub, id, &owner)
	if err != nil || !found {
		return false, err
	}
	return !owner.Deleted(), nil
}

func (r users) Get(ctx context.Context, id string) (*storage.User, error) {
	if err := checkID("user id", id); err != nil {
		return nil, err
	}
	var u storage.User
	err := r.s.view(ctx, "users.get", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketUsers)
		if err != nil {
			return err
		}
		found, err := getJSON(bs[0], []byte(id), &u)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: user %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (r users) ByIdentity(ctx context.Context, provider, subject string) (*storage.User, error) {
	if err := checkIDs("provider", provider, "subject", subject); err != nil {
		return nil, err
	}
	var u storage.User
	err := r.s.view(ctx, "users.by_identity", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketUsers, bucketIdentities)
		if err != nil {
			return err
		}
		notFound := fmt.Errorf("boltdb: no live user for identity %s/%q: %w", provider, subject, storage.ErrNotFound)
		id := bs[1].Get(join(provider, subject))
		if id == nil {
			return notFound
		}
		found, err := getJSON(bs[0], id, &u)
		if err != nil {
			return err
		}
		// A terminated account keeps its identity: the login that finds it
		// is refused, where a deleted one's identity is free again.
		if !found || (u.Deleted() && !u.Terminated()) {
			return notFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

func (r users) Create(ctx context.Context, u *storage.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	id := []byte(u.ID)
	ident, uname := identityKey(u), usernameKey(u)
	next := *u
	next.Version = 1
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	err = r.s.update(ctx, "users.create", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketUsers, bucketIdentities, bucketUsernames)
		if err != nil {
			return err
		}
		ub, ib, nb := bs[0], bs[1], bs[2]
		if ub.Get(id) != nil {
			return fmt.Errorf("boltdb: user id %q already exists: %w", u.ID, storage.ErrConflict)
		}
		if ident != nil {
			if owner := ib.Get(ident); owner != nil {
				live, err := liveOwner(ub, owner)
				if err != nil {
					return err
				}
				if live {
					return fmt.Errorf("boltdb: identity %s/%q is already linked to user %q: %w",
						u.Provider, u.Subject, owner, storage.ErrConflict)
				}
			}
			if err := ib.Put(ident, id); err != nil {
				return err
			}
		}
		if uname != nil {
			if err := claimUsername(ub, nb, uname, id); err != nil {
				return err
			}
		}
		return ub.Put(id, raw)
	})
	if err == nil {
		u.Version = next.Version
	}
	return err
}

// claimUsername points the username index at id unless a live user other
// than id holds it.
func claimUsername(ub, nb *bolt.Bucket, uname, id []byte) error {
	if owner := nb.Get(uname); owner != nil && !bytes.Equal(owner, id) {
		live, err := liveOwner(ub, owner)
		if err != nil {
			return err
		}
		if live {
			return fmt.Errorf("boltdb: username %q is taken: %w", uname, storage.ErrConflict)
		}
	}
	return nb.Put(uname, id)
}

func (r users) Put(ctx context.Context, u *storage.User) error {
	if err := checkUser(u); err != nil {
		return err
	}
	id := []byte(u.ID)
	newIdent, newName := identityKey(u), usernameKey(u)
	next := *u
	next.Version++
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	err = r.s.update(ctx, "users.put", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketUsers, bucketIdentities, bucketUsernames)
		if err != nil {
			return err
		}
		ub, ib, nb := bs[0], bs[1], bs[2]
		var old storage.User
		found, err := getJSON(ub, id, &old)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: user %q: %w", u.ID, storage.ErrNotFound)
		}
		if err := fence("user "+u.ID, old.Version, u.Version); err != nil {
			return err
		}

		// Check both indexes before writing either, so a conflict leaves
		// nothing half-done even if the batch machinery did not roll back.
		if newIdent != nil {
			if owner := ib.Get(newIdent); owner != nil && !bytes.Equal(owner, id) {
				live, err := liveOwner(ub, owner)
				if err != nil {
					return err
				}
				if live {
					return fmt.Errorf("boltdb: identity %s/%q is already linked to user %q: %w",
						u.Provider, u.Subject, owner, storage.ErrConflict)
				}
			}
		}
		if newName != nil {
			if owner := nb.Get(newName); owner != nil && !bytes.Equal(owner, id) {
				live, err := liveOwner(ub, owner)
				if err != nil {
					return err
				}
				if live {
					return fmt.Errorf("boltdb: username %q is taken: %w", newName, storage.ErrConflict)
				}
			}
		}

		if err := relink(ib, identityKey(&old), newIdent, id); err != nil {
			return err
		}
		if err := relink(nb, usernameKey(&old), newName, id); err != nil {
			return err
		}
		return ub.Put(id, raw)
	})
	if err == nil {
		u.Version = next.Version
	}
	return err
}

// relink moves a unique-index entry of id from oldKey to newKey (either may
// be nil). The old entry is only removed while it still points at id.
func relink(b *bolt.Bucket, oldKey, newKey, id []byte) error {
	if oldKey != nil && !bytes.Equal(oldKey, newKey) && bytes.Equal(b.Get(oldKey), id) {
		if err := b.Delete(oldKey); err != nil {
			return err
		}
	}
	if newKey != nil {
		return b.Put(newKey, id)
	}
	return nil
}
