package storage

import "context"

// Snapshots stores the latest persisted state of grains whose state is not
// a domain record of its own, such as a proximity session's accumulation
// (kind "proximity", id = connection id). A grain is the only writer of its
// snapshot, so Put simply replaces it.
type Snapshots interface {
	// Put replaces the snapshot durably (acknowledged writes).
	Put(ctx context.Context, kind, id string, data []byte) error
	// Get returns the snapshot; ErrNotFound when none was stored.
	Get(ctx context.Context, kind, id string) ([]byte, error)
}
