package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// pemTypePrivateKey is the PEM block type of a PKCS#8 private key.
const pemTypePrivateKey = "PRIVATE KEY"

// LoadOrCreateKey returns the Ed25519 signing key stored at path as a PKCS#8
// PEM file.
//
// When the file does not exist, a new key is generated and written with mode
// 0600 (its parent directory is created with mode 0700 if needed). The file is
// published atomically and exclusively: the key is written to a temporary file
// that is then hard-linked to path, which fails if path exists. Two processes
// starting at once therefore cannot both create a key, and neither can read a
// half-written file: the loser of the race loads the winner's key.
//
// A key file readable or writable by group or others, a file that is not a
// PEM-encoded PKCS#8 key, and a key that is not Ed25519 are refused.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	key, err := loadKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	key, err = createKey(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process created the key between our read and our link.
		return loadKey(path)
	}
	return key, err
}

// loadKey reads and checks an existing key file. It returns an error
// satisfying errors.Is(err, fs.ErrNotExist) when there is no file.
func loadKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("auth: open signing key: %w", err)
	}
	defer f.Close()

	// Stat the open file, not the path, so the checked file is the read one.
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("auth: stat signing key: %w", err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("auth: signing key %s is not a regular file", path)
	}
	// Windows does not report Unix permission bits.
	if perm := info.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return nil, fmt.Errorf("auth: signing key %s has mode %#o, accessible by group or others: chmod 600 it", path, perm)
	}

	data, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("auth: read signing key: %w", err)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("auth: signing key %s: %w", path, err)
	}
	return key, nil
}

// parseKey decodes a PEM PKCS#8 Ed25519 private key.
func parseKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != pemTypePrivateKey {
		return nil, fmt.Errorf("PEM block is %q, want %q (PKCS#8)", block.Type, pemTypePrivateKey)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	key, ok := parsed.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want Ed25519", parsed)
	}
	return key, nil
}

// createKey generates a key and publishes it at path. It returns an error
// satisfying errors.Is(err, fs.ErrExist) when path already exists.
func createKey(path string) (ed25519.PrivateKey, error) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("auth: generate signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("auth: encode signing key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemTypePrivateKey, Bytes: der})

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("auth: create signing key directory: %w", err)
	}
	// CreateTemp opens with O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("auth: create signing key: %w", err)
	}
	defer os.Remove(tmp.Name())

	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, fmt.Errorf("auth: write signing key: %w", err)
	}
	// Link fails with EEXIST if path exists: exactly one process wins.
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("auth: publish signing key: %w", err)
	}
	syncDir(dir)
	return key, nil
}

// syncDir makes a new directory entry durable. It is best effort: some
// platforms cannot sync a directory, and the key is already written.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
