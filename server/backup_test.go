package server_test

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/server/servertest"
	"github.com/gisbi/engine/storage/boltdb"
)

func TestBackupCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	p := servertest.StartProcess(t, dir, "GISBI_ADMIN_TOKEN="+adminToken)
	if servertest.OnPostgres() {
		backupRefusedOnPostgres(t, p, dir)
		return
	}
	u := servertest.LoginAt(t, p.URL, "dev", "backed-up")
	bin := servertest.Binary(t)
	out := t.TempDir()

	check := func(path string) {
		t.Helper()
		st, err := boltdb.Open(path, boltdb.Options{})
		if err != nil {
			t.Fatalf("backup %s does not open: %v", path, err)
		}
		defer st.Close()
		got, err := st.Users().Get(context.Background(), u.ID)
		if err != nil || got.Name != "backed-up" {
			t.Fatalf("backup %s lacks the user: %v %v", path, got, err)
		}
	}

	// Hot: the running server holds the file lock, so the copy comes over the operator API.
	hot := filepath.Join(out, "hot.db")
	cmd := exec.Command(bin, "backup", "--server", p.URL, hot)
	cmd.Env = []string{"GISBI_ADMIN_TOKEN=" + adminToken}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("hot backup: %v\n%s", err, b)
	}
	check(hot)

	// Without --server, a running server's database is refused with a hint.
	cmd = exec.Command(bin, "backup", "--data-dir", dir, filepath.Join(out, "refused.db"))
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "--server") {
		t.Fatalf("local backup of a live database: %v\n%s", err, b)
	}

	// A wrong token is refused.
	cmd = exec.Command(bin, "backup", "--server", p.URL, filepath.Join(out, "x.db"))
	cmd.Env = []string{"GISBI_ADMIN_TOKEN=wrong-token-wrong-token"}
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("backup with a wrong token succeeded:\n%s", b)
	}

	// Cold: a stopped server's data directory is copied directly.
	p.Terminate(15 * time.Second)
	cold := filepath.Join(out, "cold.db")
	if b, err := exec.Command(bin, "backup", "--data-dir", dir, cold).CombinedOutput(); err != nil {
		t.Fatalf("cold backup: %v\n%s", err, b)
	}
	check(cold)
}

// backupRefusedOnPostgres: a PostgreSQL store is backed up with pg_dump, and
// both ways of asking gisbi for a copy say so instead of writing a file.
func backupRefusedOnPostgres(t *testing.T, p *servertest.Process, dir string) {
	bin := servertest.Binary(t)
	target := filepath.Join(t.TempDir(), "x.db")
	cmd := exec.Command(bin, "backup", "--data-dir", dir, target)
	cmd.Env = []string{"GISBI_STORE=" + servertest.StoreURL(t, dir)}
	b, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "pg_dump") {
		t.Fatalf("gisbi backup on PostgreSQL: %v\n%s", err, b)
	}
	cmd = exec.Command(bin, "backup", "--server", p.URL, target)
	cmd.Env = []string{"GISBI_ADMIN_TOKEN=" + adminToken}
	if b, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(b), "pg_dump") {
		t.Fatalf("gisbi backup --server on PostgreSQL: %v\n%s", err, b)
	}
}
