package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type scores struct {
	storage.Scores
	s *Store
}

// Scores returns the store's scores.
func (s *Store) Scores() storage.Scores { return scores{s: s} }
