package postgres_test

import (
	"context"
	"testing"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/storage/postgres/pgtest"
	"github.com/gisbi/engine/storage/storagetest"
)

func open(t *testing.T) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pgtest.URL(t), postgres.Options{MaxConns: 4})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestContract(t *testing.T) {
	pgtest.Admin(t)
	storagetest.RunContract(t, func(t *testing.T) storage.Store { return open(t) })
}
