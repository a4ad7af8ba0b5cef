package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type tokens struct {
	storage.Tokens
	s *Store
}

// Tokens returns the store's tokens.
func (s *Store) Tokens() storage.Tokens { return tokens{s: s} }
