package boltdb

import (
	"context"
	"encoding/binary"
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

// The data stays the bucket's value as it was before versions existed; the
// version lives beside it, so older files need no rewrite (absent = 0).
func snapshotVersion(vb *bolt.Bucket, key []byte) (uint64, error) {
	v := vb.Get(key)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return binary.BigEndian.Uint64(v), nil
	}
	return 0, fmt.Errorf("boltdb: corrupt snapshot version %q (%d bytes)", key, len(v))
}

// Put implements storage.Snapshots.
func (r snapshots) Put(ctx context.Context, snap *storage.Snapshot) error {
	if snap == nil {
		return fmt.Errorf("%w: snapshot is nil", ErrInvalid)
	}
	key, err := snapshotKey(snap.Kind, snap.ID)
	if err != nil {
		return err
	}
	val := append([]byte{}, snap.Data...)
	next := snap.Version + 1
	ver := binary.BigEndian.AppendUint64(nil, next)
	err = r.s.update(ctx, "snapshots.put", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketSnapshots, bucketSnapshotVersions)
		if err != nil {
			return err
		}
		stored, err := snapshotVersion(bs[1], key)
		if err != nil {
			return err
		}
		if err := fence("snapshot "+snap.Kind+"/"+snap.ID, stored, snap.Version); err != nil {
			return err
		}
		if err := bs[1].Put(key, ver); err != nil {
			return err
		}
		return bs[0].Put(key, val)
	})
	if err == nil {
		snap.Version = next
	}
	return err
}

// Get implements storage.Snapshots.
func (r snapshots) Get(ctx context.Context, kind, id string) (*storage.Snapshot, error) {
	key, err := snapshotKey(kind, id)
	if err != nil {
		return nil, err
	}
	out := &storage.Snapshot{Kind: kind, ID: id}
	err = r.s.view(ctx, "snapshots.get", func(tx *bolt.Tx) error {
		bs, err := buckets(tx, bucketSnapshots, bucketSnapshotVersions)
		if err != nil {
			return err
		}
		v := bs[0].Get(key)
		if v == nil {
			return fmt.Errorf("boltdb: snapshot %s/%s: %w", kind, id, storage.ErrNotFound)
		}
		out.Data = append([]byte{}, v...)
		out.Version, err = snapshotVersion(bs[1], key)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
