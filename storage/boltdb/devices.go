package boltdb

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type devices struct{ s *Store }

func deviceBuckets(tx *bolt.Tx) (db, byUser *bolt.Bucket, err error) {
	bs, err := buckets(tx, bucketDevices, bucketDevicesByUser)
	if err != nil {
		return nil, nil, err
	}
	return bs[0], bs[1], nil
}

// Register stores d as active whatever d.IsActive says: registering is the
// client telling us the token works.
func (r devices) Register(ctx context.Context, d *storage.Device) error {
	if d == nil {
		return fmt.Errorf("%w: device is nil", ErrInvalid)
	}
	if err := checkIDs("device token", d.Token, "user id", d.UserID); err != nil {
		return err
	}
	n := *d
	n.IsActive = true
	raw, err := marshal(&n)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "devices.register", func(tx *bolt.Tx) error {
		db, byUser, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		var old storage.Device
		found, err := getJSON(db, []byte(n.Token), &old)
		if err != nil {
			return err
		}
		// A push token identifies an app install, so when another account
		// logs in on that install the token leaves the previous account.
		if found && old.UserID != n.UserID {
			if err := byUser.Delete(join(old.UserID, n.Token)); err != nil {
				return err
			}
		}
		if err := byUser.Put(join(n.UserID, n.Token), []byte{}); err != nil {
			return err
		}
		return db.Put([]byte(n.Token), raw)
	})
}

func (r devices) Deactivate(ctx context.Context, userID, token string, now time.Time) error {
	if err := checkID("device token", token); err != nil {
		return err
	}
	if userID != "" {
		if err := checkID("user id", userID); err != nil {
			return err
		}
	}
	return r.s.update(ctx, "devices.deactivate", func(tx *bolt.Tx) error {
		db, _, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		var d storage.Device
		found, err := getJSON(db, []byte(token), &d)
		if err != nil {
			return err
		}
		// Someone else's token reads as unknown, so a caller cannot probe
		// which tokens exist.
		if !found || (userID != "" && d.UserID != userID) {
			return fmt.Errorf("boltdb: device %q of user %q: %w", token, userID, storage.ErrNotFound)
		}
		return deactivate(db, &d, now)
	})
}

func deactivate(db *bolt.Bucket, d *storage.Device, now time.Time) error {
	d.IsActive = false
	d.UpdatedAt = now
	raw, err := marshal(d)
	if err != nil {
		return err
	}
	return db.Put([]byte(d.Token), raw)
}

func (r devices) ListByUser(ctx context.Context, userID string) ([]storage.Device, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var out []storage.Device
	err := r.s.view(ctx, "devices.list_by_user", func(tx *bolt.Tx) error {
		out = []storage.Device{}
		db, byUser, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		return scanPrefix(byUser, prefix(userID), func(token, _ []byte) error {
			var d storage.Device
			found, err := getJSON(db, token, &d)
			if err != nil {
				return err
			}
			if !found {
				return fmt.Errorf("boltdb: device index of user %q names missing token %q", userID, token)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r devices) DeactivateUser(ctx context.Context, userID string, now time.Time) error {
	if err := checkID("user id", userID); err != nil {
		return err
	}
	return r.s.update(ctx, "devices.deactivate_user", func(tx *bolt.Tx) error {
		db, byUser, err := deviceBuckets(tx)
		if err != nil {
			return err
		}
		tokens, err := suffixes(byUser, prefix(userID))
		if err != nil {
			return err
		}
		for _, token := range tokens {
			var d storage.Device
			found, err := getJSON(db, []byte(token), &d)
			if err != nil {
				return err
			}
			if !found || !d.IsActive {
				continue
			}
			if err := deactivate(db, &d, now); err != nil {
				return err
			}
		}
		return nil
	})
}
