// Package pgtest gives tests a throwaway PostgreSQL schema. Tests that need
// one call URL: it skips them with a clear message when GISBI_TEST_POSTGRES
// is unset, unless GISBI_CI is set (CI must never skip them).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Env names the variable holding the URL of a database where tests may
// create and drop schemas, e.g. postgres://postgres@127.0.0.1:55432/postgres.
const Env = "GISBI_TEST_POSTGRES"

// Admin returns the database URL from Env, or skips the test.
func Admin(t testing.TB) string {
	t.Helper()
	u := os.Getenv(Env)
	if u == "" {
		if os.Getenv("GISBI_CI") != "" {
			t.Fatalf("pgtest: %s is not set, and CI must not skip PostgreSQL tests", Env)
		}
		t.Skipf("pgtest: skipping: set %s to a PostgreSQL URL (e.g. postgres://postgres@127.0.0.1:5432/postgres) to run the PostgreSQL tests; .ci/run starts one", Env)
	}
	return u
}

// URL creates a fresh empty schema on the database named by Env and
// returns a URL whose connections use it (search_path), so every store
// opened with it sees only its own tables. The schema is dropped when the
// test ends.
func URL(t testing.TB) string {
	t.Helper()
	return Fresh(t, Admin(t))
}

// Fresh is URL for an explicit admin URL.
func Fresh(t testing.TB, admin string) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	exec(t, admin, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { exec(t, admin, `DROP SCHEMA `+schema+` CASCADE`) })
	return WithSchema(t, admin, schema)
}

// WithSchema returns admin with its connections' search_path set to schema.
func WithSchema(t testing.TB, admin, schema string) string {
	t.Helper()
	if strings.Contains(admin, "://") {
		u, err := url.Parse(admin)
		if err != nil {
			t.Fatalf("pgtest: parse %s: %v", Env, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return admin + " search_path=" + schema
}

// Exec runs one statement on the database at admin, failing the test on error.
func Exec(t testing.TB, admin, sql string) { exec(t, admin, sql) }

func exec(t testing.TB, admin, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", Env, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("pgtest: %s: %v", sql, err)
	}
}
