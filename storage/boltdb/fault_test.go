package boltdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gisbi/engine/storage"
)

// TestMapErrDiskFull: a commit that failed for want of space is
// storage.ErrUnavailable, whichever way bbolt reports it; other I/O errors
// are not (a failed fsync may have lost what it was asked to keep).
func TestMapErrDiskFull(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"write of the pages", &fs.PathError{Op: "write", Path: "gisbi.db", Err: syscall.ENOSPC}, true},
		{"quota", &fs.PathError{Op: "write", Path: "gisbi.db", Err: syscall.EDQUOT}, true},
		// bbolt's grow formats the truncate error with %s.
		{"file resize", fmt.Errorf("file resize error: %s", &fs.PathError{Op: "truncate", Path: "gisbi.db", Err: syscall.ENOSPC}), true},
		{"input/output error", &fs.PathError{Op: "sync", Path: "gisbi.db", Err: syscall.EIO}, false},
		{"anything else", errors.New("boom"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := mapErr("users.create", tt.err)
			if got := errors.Is(err, storage.ErrUnavailable); got != tt.want {
				t.Fatalf("errors.Is(mapErr(%v), ErrUnavailable) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(err, tt.err) && tt.want {
				t.Fatalf("mapErr(%v) = %v lost its cause", tt.err, err)
			}
		})
	}
}

// TestCheckFindsDamage: Check passes a sound file and reports one whose
// keys are out of order.
func TestCheckFindsDamage(t *testing.T) {
	path := tempPath(t)
	s := openT(t, path, Options{})
	for i := range 10 {
		must(t, s.Users().Create(t.Context(), user(fmt.Sprint("u", i))))
	}
	must(t, s.Check(t.Context()))
	must(t, s.Close())

	// Swap the first two keys of the users bucket's leaf ("u0" and "u1",
	// the same length): the page stays well formed, its keys out of order.
	db := rawDB(t, path)
	var root uint64
	must(t, db.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket(bucketUsers).Root())
		return nil
	}))
	pageSize := int64(db.Info().PageSize)
	must(t, db.Close())
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	page := make([]byte, pageSize)
	_, err = f.ReadAt(page, int64(root)*pageSize)
	must(t, err)
	// A page header is 16 bytes (id, flags 0x02 for a leaf, count,
	// overflow); each leaf element is 16 more (flags, pos, ksize, vsize),
	// pos counted from the element.
	if flags := binary.LittleEndian.Uint16(page[8:]); flags != 0x02 {
		t.Fatalf("the users bucket's root page %d has flags %#x, want a leaf", root, flags)
	}
	key := func(i int) []byte {
		e := 16 + 16*i
		pos, ksize := binary.LittleEndian.Uint32(page[e+4:]), binary.LittleEndian.Uint32(page[e+8:])
		return page[e+int(pos) : e+int(pos)+int(ksize)]
	}
	k0, k1 := key(0), key(1)
	if string(k0) != "u0" || string(k1) != "u1" {
		t.Fatalf("first keys %q, %q", k0, k1)
	}
	copy(k0, "u1")
	copy(k1, "u0")
	_, err = f.WriteAt(page, int64(root)*pageSize)
	must(t, err)
	must(t, f.Close())

	s = openT(t, path, Options{})
	if err := s.Check(t.Context()); err == nil {
		t.Fatal("Check passed a file whose keys are out of order")
	} else {
		t.Logf("Check: %v", err)
	}
}

// TestHoldCommitsStallsWritesNotReads: while commits are held, a write
// waits and a read does not; released, the write commits.
func TestHoldCommitsStallsWritesNotReads(t *testing.T) {
	s := openT(t, tempPath(t), Options{})
	must(t, s.Users().Create(t.Context(), user("before")))
	release := s.HoldCommits()
	done := make(chan error, 1)
	go func() { done <- s.Users().Create(t.Context(), user("during")) }()
	select {
	case err := <-done:
		t.Fatalf("a write returned while commits were held: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := s.Users().Get(t.Context(), "before"); err != nil {
		t.Fatalf("read while commits are held: %v", err)
	}
	release()
	release() // harmless
	must(t, <-done)
	if _, err := s.Users().Get(t.Context(), "during"); err != nil {
		t.Fatalf("the held write was not stored: %v", err)
	}
}
