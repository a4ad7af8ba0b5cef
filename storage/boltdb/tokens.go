package boltdb

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type tokens struct{ s *Store }

func checkToken(t *storage.RefreshToken) error { return storage.CheckToken(t, checkID) }

// tokenBuckets are the primary record and its two indexes, in that order.
func tokenBuckets(tx *bolt.Tx) (tb, byUser, byFamily *bolt.Bucket, err error) {
	bs, err := buckets(tx, bucketTokens, bucketTokensByUser, bucketTokensByFamily)
	if err != nil {
		return nil, nil, nil, err
	}
	return bs[0], bs[1], bs[2], nil
}

// putToken writes t and its index entries, dropping entries of a previous
// version of t whose user or family differed.
func putToken(tb, byUser, byFamily *bolt.Bucket, t *storage.RefreshToken, raw []byte) error {
	var old storage.RefreshToken
	found, err := getJSON(tb, []byte(t.ID), &old)
	if err != nil {
		return err
	}
	if found && old.UserID != t.UserID {
		if err := byUser.Delete(join(old.UserID, old.ID)); err != nil {
			return err
		}
	}
	if found && old.Family != t.Family {
		if err := byFamily.Delete(join(old.Family, old.ID)); err != nil {
			return err
		}
	}
	if err := byUser.Put(join(t.UserID, t.ID), []byte{}); err != nil {
		return err
	}
	if err := byFamily.Put(join(t.Family, t.ID), []byte{}); err != nil {
		return err
	}
	return tb.Put([]byte(t.ID), raw)
}

func (r tokens) Put(ctx context.Context, t *storage.RefreshToken) error {
	if err := checkToken(t); err != nil {
		return err
	}
	raw, err := marshal(t)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "tokens.put", func(tx *bolt.Tx) error {
		tb, byUser, byFamily, err := tokenBuckets(tx)
		if err != nil {
			return err
		}
		return putToken(tb, byUser, byFamily, t, raw)
	})
}

func (r tokens) Get(ctx context.Context, id string) (*storage.RefreshToken, error) {
	if err := checkID("token id", id); err != nil {
		return nil, err
	}
	var t storage.RefreshToken
	err := r.s.view(ctx, "tokens.get", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketTokens)
		if err != nil {
			return err
		}
		found, err := getJSON(bs[0], []byte(id), &t)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: refresh token %q: %w", id, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

func (r tokens) Rotate(ctx context.Context, oldID string, next *storage.RefreshToken, now time.Time) error {
	if err := storage.CheckRotation(oldID, next, checkID); err != nil {
		return err
	}
	raw, err := marshal(next)
	if err != nil {
		return err
	}
	// Reuse detection must commit the family revocation and still fail the
	// call, so it is reported through this variable rather than an error
	// (an error would roll the revocation back). Batch may run the function
	// again, hence the reset at its top.
	var reused bool
	var family string
	err = r.s.update(ctx, "tokens.rotate", func(tx *bolt.Tx) error {
		reused, family = false, ""
		tb, byUser, byFamily, err := tokenBuckets(tx)
		if err != nil {
			return err
		}
		var old storage.RefreshToken
		found, err := getJSON(tb, []byte(oldID), &old)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: refresh token %q: %w", oldID, storage.ErrNotFound)
		}
		if old.RotatedAt != nil || old.RevokedAt != nil {
			reused, family = true, old.Family
			return revokeFamily(tx, tb, byFamily, old.Family, now)
		}
		if next.Family != old.Family || next.UserID != old.UserID {
			return fmt.Errorf("%w: next token must keep family %q and user %q of %q (got %q, %q)",
				ErrInvalid, old.Family, old.UserID, oldID, next.Family, next.UserID)
		}
		if tb.Get([]byte(next.ID)) != nil {
			return fmt.Errorf("boltdb: refresh token %q already exists: %w", next.ID, storage.ErrConflict)
		}
		old.RotatedAt = &now
		oldRaw, err := marshal(&old)
		if err != nil {
			return err
		}
		if err := tb.Put([]byte(oldID), oldRaw); err != nil {
			return err
		}
		return putToken(tb, byUser, byFamily, next, raw)
	})
	if err != nil {
		return err
	}
	if reused {
		return fmt.Errorf("boltdb: refresh token %q reused after rotation or revocation; family %q revoked: %w",
			oldID, family, storage.ErrConflict)
	}
	return nil
}

// revokeFamily revokes every token of family and records the family, keeping
// the first revocation time of tokens and family alike.
func revokeFamily(tx *bolt.Tx, tb, byFamily *bolt.Bucket, family string, now time.Time) error {
	rf, err := buckets(tx, bucketRevokedFamilies)
	if err != nil {
		return err
	}
	ids, err := suffixes(byFamily, prefix(family))
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := revokeOne(tb, id, now); err != nil {
			return err
		}
	}
	if rf[0].Get([]byte(family)) != nil {
		return nil
	}
	return rf[0].Put([]byte(family), []byte(now.UTC().Format(time.RFC3339Nano)))
}

// revokeOne sets RevokedAt unless already set, so the first revocation time
// survives logout followed by reuse detection.
func revokeOne(tb *bolt.Bucket, id string, now time.Time) error {
	var t storage.RefreshToken
	found, err := getJSON(tb, []byte(id), &t)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("boltdb: refresh token %q: %w", id, storage.ErrNotFound)
	}
	if t.RevokedAt != nil {
		return nil
	}
	t.RevokedAt = &now
	raw, err := marshal(&t)
	if err != nil {
		return err
	}
	return tb.Put([]byte(id), raw)
}

func (r tokens) Revoke(ctx context.Context, id string, now time.Time) error {
	if err := checkID("token id", id); err != nil {
		return err
	}
	return r.s.update(ctx, "tokens.revoke", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketTokens)
		if err != nil {
			return err
		}
		return revokeOne(bs[0], id, now)
	})
}

func (r tokens) RevokeUser(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user id", userID); err != nil {
		return err
	}
	return r.s.update(ctx, "tokens.revoke_user", func(tx *bolt.Tx) error {
		tb, byUser, _, err := tokenBuckets(tx)
		if err != nil {
			return err
		}
		ids, err := suffixes(byUser, prefix(userID))
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := revokeOne(tb, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

func (r tokens) FamilyRevoked(ctx context.Context, family string) (bool, error) {
	if err := checkID("token family", family); err != nil {
		return false, err
	}
	var revoked bool
	err := r.s.view(ctx, "tokens.family_revoked", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketRevokedFamilies)
		if err != nil {
			return err
		}
		revoked = bs[0].Get([]byte(family)) != nil
		return nil
	})
	return revoked, err
}
