package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type users struct {
	storage.Users
	s *Store
}

// Users returns the store's users.
func (s *Store) Users() storage.Users { return users{s: s} }
