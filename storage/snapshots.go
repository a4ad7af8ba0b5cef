package storage

import "context"

// Snapshot is the persisted state of one grain whose state is not a domain
// record of its own.
type Snapshot struct {
	Kind    string `json:"kind"`
	ID      string `json:"id"`
	Data    []byte `json:"data"`
	Version uint64 `json:"version"` // fences Put (see ErrStale)
}

// Snapshots stores the latest persisted state of grains whose state is not
// a domain record of its own, such as a proximity session's accumulation
// (kind "proximity", id = connection id). A grain is the only writer of its
// snapshot; Put is fenced by Snapshot.Version.
type Snapshots interface {
	// Put replaces the snapshot durably (acknowledged writes); ErrStale
	// when s.Version is not the stored version (0: none may exist yet),
	// else s.Version is the new one.
	Put(ctx context.Context, s *Snapshot) error
	// Get returns the snapshot; ErrNotFound when none was stored.
	Get(ctx context.Context, kind, id string) (*Snapshot, error)
}
