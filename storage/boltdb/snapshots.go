package boltdb

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

type snapshots struct{ s *Store }

func snapshotKey(kind, id string) ([]byte, error) {
	if err := checkID("snapshot kind", kind); err != nil {
		return nil, err
	}
	if err := checkID("snapshot id", id); err != nil {
		return nil, err
	}
	return join(kind, id), nil
}

// Put implements storage.Snapshots.
func (r snapshots) Put(ctx context.Context, kind, id string, data []byte) error {
	key, err := snapshotKey(kind, id)
	if err != nil {
		return err
	}
	val := append([]byte(nil), data...)
	return r.s.update(ctx, "snapshots.put", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		if b == nil {
			return fmt.Errorf("boltdb: bucket %s missing", bucketSnapshots)
		}
		return b.Put(key, val)
	})
}

// Get implements storage.Snapshots.
func (r snapshots) Get(ctx context.Context, kind, id string) ([]byte, error) {
	key, err := snapshotKey(kind, id)
	if err != nil {
		return nil, err
	}
	var out []byte
	err = r.s.view(ctx, "snapshots.get", func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketSnapshots)
		if b == nil {
			return fmt.Errorf("boltdb: bucket %s missing", bucketSnapshots)
		}
		v := b.Get(key)
		if v == nil {
			return fmt.Errorf("boltdb: snapshot %s/%s: %w", kind, id, storage.ErrNotFound)
		}
		out = append([]byte(nil), v...)
		return nil
	})
	return out, err
}
