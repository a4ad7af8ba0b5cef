package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type reminders struct {
	storage.Reminders
	s *Store
}

// Reminders returns the store's reminders.
func (s *Store) Reminders() storage.Reminders { return reminders{s: s} }
