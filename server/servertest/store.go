package servertest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"sync"
	"testing"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server"
	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/postgres/pgtest"
)

// StoreEnv names the variable that moves every test server onto
// PostgreSQL: when it holds a postgres:// URL, each data directory gets a
// schema of its own on that database (so a restart on the same directory
// finds its data), dropped when the test that made it ends. CI runs the
// server suite once this way.
const StoreEnv = "GISBI_STORE"

var (
	schemasMu sync.Mutex
	schemas   = map[string]bool{}
)

// StoreURL is the store setting a test server on dir uses: "" (bbolt in
// dir) unless StoreEnv names a PostgreSQL database.
func StoreURL(t testing.TB, dir string) string {
	t.Helper()
	if !OnPostgres() {
		return ""
	}
	base := os.Getenv(StoreEnv)
	sum := sha256.Sum256([]byte(dir))
	schema := "srv_" + hex.EncodeToString(sum[:8])
	schemasMu.Lock()
	defer schemasMu.Unlock()
	if !schemas[schema] {
		pgtest.Exec(t, base, "CREATE SCHEMA IF NOT EXISTS "+schema)
		schemas[schema] = true
		t.Cleanup(func() {
			schemasMu.Lock()
			delete(schemas, schema)
			schemasMu.Unlock()
			pgtest.Exec(t, base, "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
		})
	}
	return pgtest.WithSchema(t, base, schema)
}

// OnPostgres reports whether test servers store their data in PostgreSQL.
func OnPostgres() bool { return config.IsPostgresURL(os.Getenv(StoreEnv)) }

// OpenStore opens the store of a stopped (or killed) test server on dir,
// whichever kind it is, and closes it when the test ends.
func OpenStore(t testing.TB, dir string) storage.Store {
	t.Helper()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Store = StoreURL(t, dir)
	st, err := server.OpenStore(context.Background(), &cfg, nil)
	if err != nil {
		t.Fatalf("servertest: open the store of %s: %v", dir, err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}
