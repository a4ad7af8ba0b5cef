// Package tlscert holds the certificate the server presents over TLS. It
// reads a PEM certificate file and key file, hands the current pair to
// every new handshake, and swaps in a new pair when asked (SIGHUP) or when
// it sees the files change, so a renewed certificate is served without a
// restart. Connections already open keep the certificate they shook hands
// with.
package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// FileError is a problem with one of the two files. Key says which one, so
// a caller can name the setting the operator has to fix.
type FileError struct {
	Path   string
	Key    bool // the key file; false means the certificate file
	Reason string
	Err    error
}

func (e *FileError) Error() string { return e.Reason }
func (e *FileError) Unwrap() error { return e.Err }

// Load reads a certificate file (the leaf first, then any intermediates,
// as in a fullchain.pem) and the private key file of the leaf. A failure
// is a *FileError naming the file at fault.
func Load(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, &FileError{Path: certFile, Reason: fmt.Sprintf("cannot read %q: %v", certFile, pathless(err)), Err: err}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, &FileError{Path: keyFile, Key: true, Reason: fmt.Sprintf("cannot read %q: %v", keyFile, pathless(err)), Err: err}
	}
	// The leaf is checked on its own first: tls.X509KeyPair's errors do not
	// always say which of the two inputs was wrong.
	leaf, err := firstCertificate(certPEM)
	if err != nil {
		return nil, &FileError{Path: certFile, Reason: fmt.Sprintf("%q: %v", certFile, err), Err: err}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &FileError{Path: keyFile, Key: true,
			Reason: fmt.Sprintf("%q is not the private key of the certificate in %q: %v", keyFile, certFile, err), Err: err}
	}
	pair.Leaf = leaf
	return &pair, nil
}

func firstCertificate(certPEM []byte) (*x509.Certificate, error) {
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("holds no PEM certificate")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		leaf, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("first certificate does not parse: %w", err)
		}
		return leaf, nil
	}
}

// pathless drops the path from an *fs.PathError, which the caller already
// quotes.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Holder is the certificate being served, read from two files.
type Holder struct {
	certFile, keyFile string
	logger            *slog.Logger
	current           atomic.Pointer[tls.Certificate]

	// mu makes a SIGHUP and the poller reload one at a time, so the files'
	// state recorded is the one the certificate was read after.
	mu    sync.Mutex
	files fileStates // the files as they were when last read, successfully or not
}

// New reads the pair; failing to read it is an error, since there would be
// nothing to serve.
func New(certFile, keyFile string, logger *slog.Logger) (*Holder, error) {
	h := &Holder{certFile: certFile, keyFile: keyFile, logger: logger}
	// The files are looked at before they are read: a change in between
	// then shows at the next check and is read again, never missed.
	h.files = h.stat()
	cert, err := Load(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	h.current.Store(cert)
	h.warnIfExpired(cert.Leaf)
	return h, nil
}

// TLSConfig is the server side config: every handshake asks the holder for
// the certificate current at that moment.
func (h *Holder) TLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return h.current.Load(), nil },
		// The server speaks HTTP/1.1 only (WebSockets upgrade from it);
		// saying so in ALPN stops clients from offering h2 first.
		NextProtos: []string{"http/1.1"},
	}
}

// Leaf is the certificate being served (its first one, for the host).
func (h *Holder) Leaf() *x509.Certificate { return h.current.Load().Leaf }

// Reload reads the files again. A pair that does not load leaves the current
// certificate in place. Either way the outcome is logged, so callers need
// not log the error again.
func (h *Holder) Reload() error { return h.reload("requested") }

// CheckFiles reloads when either file differs from when it was last read:
// another file renamed over it (as certbot's symlinks and deploy tools do),
// or a new size or modification time. It is what the poller runs.
func (h *Holder) CheckFiles() error {
	h.mu.Lock()
	changed := !h.stat().same(h.files)
	h.mu.Unlock()
	if !changed {
		return nil
	}
	return h.reload("files changed")
}

func (h *Holder) reload(trigger string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Recorded even when loading fails, so a bad pair is reported once, not
	// at every poll; the next change to either file is tried again.
	h.files = h.stat()
	cert, err := Load(h.certFile, h.keyFile)
	if err != nil {
		h.logger.Error("TLS certificate not reloaded; still serving the previous one",
			"trigger", trigger, "err", err, "servedNotAfter", h.Leaf().NotAfter)
		return err
	}
	h.current.Store(cert)
	h.logger.Info("TLS certificate reloaded", "trigger", trigger,
		"subject", cert.Leaf.Subject.String(), "serial", cert.Leaf.SerialNumber.String(), "notAfter", cert.Leaf.NotAfter)
	h.warnIfExpired(cert.Leaf)
	return nil
}

// warnIfExpired says so when the files hold an expired certificate: it is
// still served (refusing would serve nothing), but every client will refuse
// it.
func (h *Holder) warnIfExpired(leaf *x509.Certificate) {
	if time.Now().After(leaf.NotAfter) {
		h.logger.Warn("TLS certificate has expired; clients will refuse it", "certFile", h.certFile, "notAfter", leaf.NotAfter)
	}
}

// Watch checks the files every interval in the background. The function
// it returns stops the checks and waits until none is running, so nothing
// reloads after shutdown.
func (h *Holder) Watch(interval time.Duration) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-quit:
				return
			case <-tick.C:
				// CheckFiles logs its own outcome.
				_ = h.CheckFiles()
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() { close(quit) })
		<-done
	}
}

// fileStates is what a check compares: the two files as stat sees them
// through any symlink, nil where stat failed.
type fileStates struct{ cert, key os.FileInfo }

func (h *Holder) stat() fileStates {
	return fileStates{cert: statFile(h.certFile), key: statFile(h.keyFile)}
}

func (a fileStates) same(b fileStates) bool {
	return sameFile(a.cert, b.cert) && sameFile(a.key, b.key)
}

// sameFile is false for another file (inode) at the path, or the same one
// rewritten in place to a new size or modification time.
func sameFile(a, b os.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func statFile(path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}
