package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type snapshots struct {
	storage.Snapshots
	s *Store
}

// Snapshots returns the store's snapshots.
func (s *Store) Snapshots() storage.Snapshots { return snapshots{s: s} }
