package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gisbi/engine/storage"
)

type snapshots struct{ s *Store }

// Snapshots returns the store's grain snapshots.
func (s *Store) Snapshots() storage.Snapshots { return snapshots{s: s} }

func (r snapshots) Get(ctx context.Context, kind, id string) (*storage.Snapshot, error) {
	if err := checkIDs("snapshot kind", kind, "snapshot id", id); err != nil {
		return nil, err
	}
	snap := storage.Snapshot{Kind: kind, ID: id}
	err := r.s.read(ctx, "snapshots.get", func(q querier) error {
		var version int64
		err := q.QueryRow(ctx, `SELECT data, version FROM snapshots WHERE kind = $1 AND id = $2`, kind, id).
			Scan(&snap.Data, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: snapshot %s/%s: %w", kind, id, storage.ErrNotFound)
		}
		snap.Version = uint64(version)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &snap, nil
}

// Put is fenced by s.Version: the grain is the only writer of its
// snapshot, and a stale activation of it must not overwrite the current
// one's state.
func (r snapshots) Put(ctx context.Context, snap *storage.Snapshot) error {
	if snap == nil {
		return fmt.Errorf("%w: snapshot is nil", ErrInvalid)
	}
	if err := checkIDs("snapshot kind", snap.Kind, "snapshot id", snap.ID); err != nil {
		return err
	}
	data := snap.Data
	if data == nil {
		data = []byte{} // the column is NOT NULL: no data is an empty snapshot
	}
	err := r.s.write(ctx, "snapshots.put", func(tx pgx.Tx) error {
		var tag pgconn.CommandTag
		var err error
		if snap.Version == 0 {
			tag, err = tx.Exec(ctx, `INSERT INTO snapshots (kind, id, data, version) VALUES ($1, $2, $3, 1)
				ON CONFLICT (kind, id) DO NOTHING`, snap.Kind, snap.ID, data)
		} else {
			tag, err = tx.Exec(ctx, `UPDATE snapshots SET data = $4, version = version + 1
				WHERE kind = $1 AND id = $2 AND version = $3`, snap.Kind, snap.ID, int64(snap.Version), data)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: snapshot %s/%s: version %d is not the stored one: %w", snap.Kind, snap.ID, snap.Version, storage.ErrStale)
		}
		return nil
	})
	if err != nil {
		return err
	}
	snap.Version++
	return nil
}
