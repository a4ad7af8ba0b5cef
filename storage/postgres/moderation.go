package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type moderation struct {
	storage.Moderation
	s *Store
}

// Moderation returns the store's moderation.
func (s *Store) Moderation() storage.Moderation { return moderation{s: s} }
