package boltdb

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type reminders struct{ s *Store }

func reminderKey(kind, identity, name string) ([]byte, error) {
	if err := checkIDs("reminder kind", kind, "reminder identity", identity, "reminder name", name); err != nil {
		return nil, err
	}
	return join(kind, identity, name), nil
}

func dueKey(due time.Time, key []byte) []byte {
	return append(timeKey(due), key...)
}

func reminderBuckets(tx *bolt.Tx) (rb, due *bolt.Bucket, err error) {
	bs, err := buckets(tx, bucketReminders, bucketRemindersDue)
	if err != nil {
		return nil, nil, err
	}
	return bs[0], bs[1], nil
}

// Set replaces an existing reminder's due time and payload and drops its
// claim; the stale index entry is removed in the same transaction so the
// timer never fires twice.
func (r reminders) Set(ctx context.Context, rem storage.Reminder) error {
	key, err := reminderKey(rem.Kind, rem.Identity, rem.Name)
	if err != nil {
		return err
	}
	rem.ClaimedUntil = nil
	raw, err := marshal(&rem)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "reminders.set", func(tx *bolt.Tx) error {
		return putReminder(tx, key, raw, rem.DueAt)
	})
}

// putReminder writes an encoded reminder inside tx (Set, Claim, and the
// transactions that store a timer with the record it belongs to). The index
// is keyed by readyAt, the reminder's ReadyAt, so Due, Claim and Next are
// all scans from its start.
func putReminder(tx *bolt.Tx, key, raw []byte, readyAt time.Time) error {
	rb, due, err := reminderBuckets(tx)
	if err != nil {
		return err
	}
	var old storage.Reminder
	found, err := getJSON(rb, key, &old)
	if err != nil {
		return err
	}
	if found {
		if err := due.Delete(dueKey(old.ReadyAt(), key)); err != nil {
			return err
		}
	}
	if err := due.Put(dueKey(readyAt, key), []byte{}); err != nil {
		return err
	}
	return rb.Put(key, raw)
}

// Delete is idempotent: the reminders service deletes after firing and may
// race a user action that deleted first.
func (r reminders) Delete(ctx context.Context, kind, identity, name string) error {
	key, err := reminderKey(kind, identity, name)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "reminders.delete", func(tx *bolt.Tx) error {
		rb, due, err := reminderBuckets(tx)
		if err != nil {
			return err
		}
		var old storage.Reminder
		found, err := getJSON(rb, key, &old)
		if err != nil || !found {
			return err
		}
		if err := due.Delete(dueKey(old.ReadyAt(), key)); err != nil {
			return err
		}
		return rb.Delete(key)
	})
}

// Due is a range scan of the ready index from its start; limit must be
// positive so one call can never load an unbounded backlog.
func (r reminders) Due(ctx context.Context, until time.Time, limit int) ([]storage.Reminder, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: reminders due limit %d, must be positive", ErrInvalid, limit)
	}
	var out []storage.Reminder
	err := r.s.view(ctx, "reminders.due", func(tx *bolt.Tx) error {
		var err error
		out, err = readyBy(tx, until, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readyBy lists up to limit reminders with ReadyAt <= until, earliest first.
func readyBy(tx *bolt.Tx, until time.Time, limit int) ([]storage.Reminder, error) {
	out := []storage.Reminder{}
	rb, due, err := reminderBuckets(tx)
	if err != nil {
		return nil, err
	}
	end := timeKey(until)
	c := due.Cursor()
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		if len(k) <= 8 || bytes.Compare(k[:8], end) > 0 {
			break
		}
		rem, err := loadReminder(rb, k[8:])
		if err != nil {
			return nil, err
		}
		// Keys clamp times outside 1678–2262; the record is exact.
		if rem.ReadyAt().After(until) {
			break
		}
		out = append(out, rem)
	}
	return out, nil
}

// Claim moves each claimed reminder's index entry to the claim's end, so
// the next Claim's scan starts past it.
func (r reminders) Claim(ctx context.Context, now, until time.Time, limit int) ([]storage.Reminder, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: reminders claim limit %d, must be positive", ErrInvalid, limit)
	}
	if !until.After(now) {
		return nil, fmt.Errorf("%w: reminders claim ends at %s, not after now (%s)", ErrInvalid, until, now)
	}
	var out []storage.Reminder
	err := r.s.update(ctx, "reminders.claim", func(tx *bolt.Tx) error {
		var err error
		if out, err = readyBy(tx, now, limit); err != nil {
			return err
		}
		for i := range out {
			rem := &out[i]
			rem.ClaimedUntil = &until
			key := join(rem.Kind, rem.Identity, rem.Name)
			raw, err := marshal(rem)
			if err != nil {
				return err
			}
			if err := putReminder(tx, key, raw, rem.ReadyAt()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (r reminders) Next(ctx context.Context) (*storage.Reminder, error) {
	var rem storage.Reminder
	err := r.s.view(ctx, "reminders.next", func(tx *bolt.Tx) error {
		rb, due, err := reminderBuckets(tx)
		if err != nil {
			return err
		}
		k, _ := due.Cursor().First()
		if k == nil {
			return fmt.Errorf("boltdb: no reminders: %w", storage.ErrNotFound)
		}
		if len(k) <= 8 {
			return fmt.Errorf("boltdb: malformed reminder due key %q", k)
		}
		rem, err = loadReminder(rb, k[8:])
		return err
	})
	if err != nil {
		return nil, err
	}
	return &rem, nil
}

func loadReminder(rb *bolt.Bucket, key []byte) (storage.Reminder, error) {
	var rem storage.Reminder
	found, err := getJSON(rb, key, &rem)
	if err != nil {
		return rem, err
	}
	if !found {
		return rem, fmt.Errorf("boltdb: reminder due index names missing reminder %q", key)
	}
	return rem, nil
}
