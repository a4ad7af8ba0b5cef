package boltdb

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type scores struct{ s *Store }

// Get implements storage.Scores.
func (r scores) Get(ctx context.Context, userID string) (*storage.ScoreDay, error) {
	if err := checkID("user id", userID); err != nil {
		return nil, err
	}
	var d storage.ScoreDay
	err := r.s.view(ctx, "scores.get", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketScores)
		if err != nil {
			return err
		}
		found, err := getJSON(bs[0], []byte(userID), &d)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("boltdb: score of %s: %w", userID, storage.ErrNotFound)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Put implements storage.Scores.
func (r scores) Put(ctx context.Context, d *storage.ScoreDay) error {
	if err := checkID("user id", d.UserID); err != nil {
		return err
	}
	next := *d
	next.Version++
	raw, err := marshal(&next)
	if err != nil {
		return err
	}
	key := []byte(d.UserID)
	err = r.s.update(ctx, "scores.put", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketScores)
		if err != nil {
			return err
		}
		stored, err := storedVersion(bs[0], key)
		if err != nil {
			return err
		}
		if err := fence("score of "+d.UserID, stored, d.Version); err != nil {
			return err
		}
		return bs[0].Put(key, raw)
	})
	if err == nil {
		d.Version = next.Version
	}
	return err
}
