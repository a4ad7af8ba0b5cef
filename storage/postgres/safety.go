package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type safety struct {
	storage.Safety
	s *Store
}

// Safety returns the store's safety.
func (s *Store) Safety() storage.Safety { return safety{s: s} }
