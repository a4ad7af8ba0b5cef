package postgres

import "github.com/gisbi/engine/storage"

// PLACEHOLDER: replaced by the real implementation before this package is used.
type messages struct {
	storage.Messages
	s *Store
}

// Messages returns the store's messages.
func (s *Store) Messages() storage.Messages { return messages{s: s} }

type appender struct{}

func newAppender(*Store) *appender { return &appender{} }
func (*appender) close()           {}
