package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type pairs struct {
	storage.Pairs
	s *Store
}

// Pairs returns the store's pairs.
func (s *Store) Pairs() storage.Pairs { return pairs{s: s} }
