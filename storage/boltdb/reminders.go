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

// Set replaces an existing reminder's due time and payload; the stale due
// entry is removed in the same transaction so the timer never fires twice.
func (r reminders) Set(ctx context.Context, rem storage.Reminder) error {
	key, err := reminderKey(rem.Kind, rem.Identity, rem.Name)
	if err != nil {
		return err
	}
	raw, err := marshal(&rem)
	if err != nil {
		return err
	}
	return r.s.update(ctx, "reminders.set", func(tx *bolt.Tx) error {
		return putReminder(tx, key, raw, rem.DueAt)
	})
}

// putReminder writes an encoded reminder inside tx (Set, and the
// transactions that store a timer with the record it belongs to).
func putReminder(tx *bolt.Tx, key, raw []byte, dueAt time.Time) error {
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
		if err := due.Delete(dueKey(old.DueAt, key)); err != nil {
			return err
		}
	}
	if err := due.Put(dueKey(dueAt, key), []byte{}); err != nil {
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
		if err := due.Delete(dueKey(old.DueAt, key)); err != nil {
			return err
		}
		return rb.Delete(key)
	})
}

// Due is a range scan of the due index from its start; limit must be
// positive so one call can never load an unbounded backlog.
func (r reminders) Due(ctx context.Context, until time.Time, limit int) ([]storage.Reminder, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("%w: reminders due limit %d, must be positive", ErrInvalid, limit)
	}
	end := timeKey(until)
	var out []storage.Reminder
	err := r.s.view(ctx, "reminders.due", func(tx *bolt.Tx) error {
		out = []storage.Reminder{}
		rb, due, err := reminderBuckets(tx)
		if err != nil {
			return err
		}
		c := due.Cursor()
		for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
			if len(k) <= 8 || bytes.Compare(k[:8], end) > 0 {
				break
			}
			rem, err := loadReminder(rb, k[8:])
			if err != nil {
				return err
			}
			// Keys clamp times outside 1678–2262; the record is exact.
			if rem.DueAt.After(until) {
				break
			}
			out = append(out, rem)
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
