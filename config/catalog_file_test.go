//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A score catalog is read whole at start-up: a path to a FIFO (or a
// device such as /dev/zero) would block start-up forever or read until
// memory runs out, so only a regular file of a sane size is read.
func TestScoreCatalogFileMustBeASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	// Valid JSON, the built-in catalog padded past the bound.
	padded := append([]byte(strings.Repeat(" ", maxScoreCatalogBytes)), defaultScoreCatalog...)
	if err := os.WriteFile(big, padded, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ path, want string }{
		{fifo, "not a regular file"},
		{big, "larger than"},
	} {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				_, err := Load(nil, []string{"GISBI_SCORE_CATALOG_FILE=" + tt.path})
				done <- err
			}()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), "GISBI_SCORE_CATALOG_FILE") || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("Load: %v, want a GISBI_SCORE_CATALOG_FILE error saying %q", err, tt.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Load still reading the catalog after 10 s")
			}
		})
	}
}
