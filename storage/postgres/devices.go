package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type devices struct {
	storage.Devices
	s *Store
}

// Devices returns the store's devices.
func (s *Store) Devices() storage.Devices { return devices{s: s} }
