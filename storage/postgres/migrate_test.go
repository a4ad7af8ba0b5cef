package postgres_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/storage/postgres"
	"github.com/gisbi/engine/storage/postgres/pgtest"
	"github.com/jackc/pgx/v5"
)

func schemaRows(t *testing.T, url string) (n, max int) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if err := conn.QueryRow(t.Context(), `SELECT count(*), coalesce(max(version), 0) FROM gisbi_schema`).Scan(&n, &max); err != nil {
		t.Fatal(err)
	}
	return n, max
}

// Nodes of a cluster start together: each migrates under the advisory lock,
// so exactly one applies each step and none fails on a half-made schema.
func TestConcurrentStartsMigrateOnce(t *testing.T) {
	url := pgtest.URL(t)
	const nodes = 6
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() {
			s, err := postgres.Open(t.Context(), url, postgres.Options{MaxConns: 2})
			if err == nil {
				err = s.Ping(t.Context())
				_ = s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	if n, max := schemaRows(t, url); n != postgres.SchemaVersion() || max != postgres.SchemaVersion() {
		t.Fatalf("gisbi_schema has %d rows up to %d, want %d", n, max, postgres.SchemaVersion())
	}
}

func TestMigrateThenOpenWithoutMigrating(t *testing.T) {
	url := pgtest.URL(t)
	// Not migrated yet: a node told not to migrate refuses with a hint.
	if _, err := postgres.Open(t.Context(), url, postgres.Options{SkipMigrate: true}); err == nil || !strings.Contains(err.Error(), "gisbi migrate") {
		t.Fatalf("open of an unmigrated schema without migrating: %v", err)
	}
	from, to, err := postgres.Migrate(t.Context(), url)
	if err != nil || from != 0 || to != postgres.SchemaVersion() {
		t.Fatalf("Migrate = %d, %d, %v; want 0, %d, nil", from, to, err, postgres.SchemaVersion())
	}
	from, to, err = postgres.Migrate(t.Context(), url)
	if err != nil || from != to || to != postgres.SchemaVersion() {
		t.Fatalf("second Migrate = %d, %d, %v; want nothing to do", from, to, err)
	}
	s, err := postgres.Open(t.Context(), url, postgres.Options{SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
}

func TestNewerSchemaIsRefused(t *testing.T) {
	url := pgtest.URL(t)
	if _, _, err := postgres.Migrate(t.Context(), url); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), `INSERT INTO gisbi_schema (version, name) VALUES ($1, 'from the future')`, postgres.SchemaVersion()+1); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close(context.Background())
	for _, skip := range []bool{false, true} {
		if _, err := postgres.Open(t.Context(), url, postgres.Options{SkipMigrate: skip}); !errors.Is(err, postgres.ErrSchemaVersion) {
			t.Fatalf("open (skip migrate %v) of a newer schema: %v, want ErrSchemaVersion", skip, err)
		}
	}
}

// An unreachable database fails Open at once with an error naming the
// server, not a hang or a panic later. Port 1 on loopback refuses.
func TestUnreachableDatabase(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://gisbi:secret@127.0.0.1:1/gisbi?connect_timeout=2", postgres.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot reach gisbi@127.0.0.1:1/gisbi") {
		t.Fatalf("open of an unreachable database: %v", err)
	}
	if strings.Contains(err.Error(), "secret") {
		t.Fatalf("the error shows the password: %v", err)
	}
}
