package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type rewards struct {
	storage.Rewards
	s *Store
}

// Rewards returns the store's rewards.
func (s *Store) Rewards() storage.Rewards { return rewards{s: s} }
