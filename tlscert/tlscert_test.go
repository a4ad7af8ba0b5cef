package tlscert_test

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/tlscert"
	"github.com/gisbi/engine/tlscert/tlscerttest"
)

func TestLoad(t *testing.T) {
	ca := tlscerttest.NewCA(t)
	good := ca.Issue(t, 10, time.Now().Add(time.Hour))
	other := ca.Issue(t, 11, time.Now().Add(time.Hour))
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		tlscerttest.WriteFile(t, path, data)
		return path
	}
	cert, key := write("cert.pem", good.CertPEM), write("key.pem", good.KeyPEM)
	chain := write("fullchain.pem", append(append([]byte{}, good.CertPEM...), ca.Issue(t, 12, time.Now().Add(time.Hour)).CertPEM...))
	tests := []struct {
		name      string
		cert, key string
		wantKey   bool   // the error is about the key file
		want      string // "" means it loads
	}{
		{"pair", cert, key, false, ""},
		{"leaf then more certificates", chain, key, false, ""},
		{"missing certificate", filepath.Join(dir, "nope.pem"), key, false, "no such file or directory"},
		{"missing key", cert, filepath.Join(dir, "nope.pem"), true, "no such file or directory"},
		{"certificate file is a directory", dir, key, false, "is a directory"},
		{"files swapped", key, cert, false, "holds no PEM certificate"},
		{"certificate not PEM", write("junk.pem", []byte("not a certificate")), key, false, "holds no PEM certificate"},
		{"certificate does not parse", write("bad.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")), key, false, "does not parse"},
		{"key of another certificate", cert, write("other.key", other.KeyPEM), true, "is not the private key of the certificate"},
		{"key not PEM", cert, write("junk.key", []byte("not a key")), true, "is not the private key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pair, err := tlscert.Load(tt.cert, tt.key)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if pair.Leaf == nil || pair.Leaf.SerialNumber.Cmp(good.Serial) != 0 {
					t.Fatalf("leaf %v, want serial %v", pair.Leaf, good.Serial)
				}
				return
			}
			var fe *tlscert.FileError
			if !errors.As(err, &fe) || fe.Key != tt.wantKey || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v (%#v), want a FileError (key file: %v) containing %q", err, fe, tt.wantKey, tt.want)
			}
			wantPath := tt.cert
			if tt.wantKey {
				wantPath = tt.key
			}
			if fe.Path != wantPath || !strings.Contains(err.Error(), wantPath) {
				t.Fatalf("error %q names %q, want %q", err, fe.Path, wantPath)
			}
		})
	}
}

// logBuffer collects log lines written from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) count(s string) int { return strings.Count(l.String(), s) }

// fixture is a holder serving real handshakes on loopback.
type fixture struct {
	ca         *tlscerttest.CA
	cert, key  string
	holder     *tlscert.Holder
	log        *logBuffer
	addr       string
	first      tlscerttest.Leaf
	firstAfter time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{ca: tlscerttest.NewCA(t), log: &logBuffer{}}
	f.firstAfter = time.Now().Add(2 * time.Hour).Truncate(time.Second)
	f.first = f.ca.Issue(t, 100, f.firstAfter)
	f.cert, f.key = f.first.Files(t)
	h, err := tlscert.New(f.cert, f.key, slog.New(slog.NewTextHandler(f.log, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.holder = h
	ln, err := tls.Listen("tcp", "127.0.0.1:0", h.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	f.addr = ln.Addr().String()
	// An echo server: what a connection opened before a reload can still do
	// is the proof that reloads leave open connections alone.
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return f
}

// dial completes a handshake that trusts only the test CA.
func (f *fixture) dial(t *testing.T) *tls.Conn {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", f.addr, f.ca.ClientConfig())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// served is the serial a new handshake sees.
func (f *fixture) served(t *testing.T) *big.Int {
	t.Helper()
	return f.dial(t).ConnectionState().PeerCertificates[0].SerialNumber
}

func echo(t *testing.T, c *tls.Conn, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write on an open connection: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo on an open connection: %q, %v", buf, err)
	}
}

func TestReload(t *testing.T) {
	triggers := []struct {
		name   string
		reload func(*tlscert.Holder) error
	}{
		{"Reload", (*tlscert.Holder).Reload},
		{"CheckFiles", (*tlscert.Holder).CheckFiles},
	}
	replacements := []struct {
		name string
		// replace edits the files and returns the serial then expected,
		// 0 meaning the first one is kept.
		replace func(t *testing.T, f *fixture) int64
		wantErr string
	}{
		{"renewed", func(t *testing.T, f *fixture) int64 {
			f.ca.Issue(t, 200, f.firstAfter.Add(24*time.Hour)).Write(t, f.cert, f.key)
			return 200
		}, ""},
		{"key of another certificate", func(t *testing.T, f *fixture) int64 {
			tlscerttest.WriteFile(t, f.cert, f.ca.Issue(t, 201, f.firstAfter.Add(time.Hour)).CertPEM)
			tlscerttest.WriteFile(t, f.key, f.ca.Issue(t, 202, f.firstAfter.Add(time.Hour)).KeyPEM)
			return 0
		}, "is not the private key"},
		{"certificate half written", func(t *testing.T, f *fixture) int64 {
			renewed := f.ca.Issue(t, 203, f.firstAfter.Add(time.Hour))
			tlscerttest.WriteFile(t, f.cert, renewed.CertPEM[:len(renewed.CertPEM)/2])
			return 0
		}, "holds no PEM certificate"},
		{"key removed", func(t *testing.T, f *fixture) int64 {
			if err := os.Remove(f.key); err != nil {
				t.Fatal(err)
			}
			return 0
		}, "no such file or directory"},
	}
	for _, tr := range triggers {
		for _, rp := range replacements {
			t.Run(tr.name+"/"+rp.name, func(t *testing.T) {
				f := newFixture(t)
				before := f.dial(t)
				if got := f.served(t); got.Cmp(f.first.Serial) != 0 {
					t.Fatalf("served serial %v before the reload, want %v", got, f.first.Serial)
				}
				want := rp.replace(t, f)
				err := tr.reload(f.holder)

				if rp.wantErr == "" {
					if err != nil {
						t.Fatalf("reload: %v", err)
					}
					if got := f.served(t); got.Cmp(big.NewInt(want)) != 0 {
						t.Fatalf("new handshake sees serial %v, want %d", got, want)
					}
					if f.log.count("TLS certificate reloaded") != 1 || !strings.Contains(f.log.String(), "notAfter="+f.firstAfter.Add(24*time.Hour).UTC().Format("2006-01-02T15:04:05")) {
						t.Fatalf("want one info line with the new NotAfter, log:\n%s", f.log)
					}
				} else {
					if err == nil || !strings.Contains(err.Error(), rp.wantErr) {
						t.Fatalf("reload error %v, want one containing %q", err, rp.wantErr)
					}
					if got := f.served(t); got.Cmp(f.first.Serial) != 0 {
						t.Fatalf("after a failed reload a new handshake sees serial %v, want the old %v", got, f.first.Serial)
					}
					if f.log.count("level=ERROR msg=\"TLS certificate not reloaded") != 1 {
						t.Fatalf("want one error line, log:\n%s", f.log)
					}
				}
				echo(t, before, "still open")
				if got := before.ConnectionState().PeerCertificates[0].SerialNumber; got.Cmp(f.first.Serial) != 0 {
					t.Fatalf("open connection's certificate changed to serial %v", got)
				}
			})
		}
	}
}

func TestCheckFiles(t *testing.T) {
	f := newFixture(t)
	if err := f.holder.CheckFiles(); err != nil || f.log.count("TLS certificate") != 0 {
		t.Fatalf("untouched files: err %v, log:\n%s", err, f.log)
	}

	// A bad replacement is reported once, not at every check.
	tlscerttest.WriteFile(t, f.key, f.ca.Issue(t, 300, f.firstAfter).KeyPEM)
	for range 3 {
		_ = f.holder.CheckFiles()
	}
	if n := f.log.count("TLS certificate not reloaded"); n != 1 {
		t.Fatalf("%d error lines for one bad replacement, want 1:\n%s", n, f.log)
	}

	// The fix is a change too, even written in place: same file, new size
	// or time. The time is set so that a coarse clock cannot hide it.
	renewed := f.ca.Issue(t, 301, f.firstAfter.Add(time.Hour))
	for _, w := range []struct {
		path string
		data []byte
	}{{f.cert, renewed.CertPEM}, {f.key, renewed.KeyPEM}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(time.Minute)
		if err := os.Chtimes(w.path, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.holder.CheckFiles(); err != nil {
		t.Fatalf("CheckFiles after the fix: %v", err)
	}
	if got := f.served(t); got.Cmp(renewed.Serial) != 0 {
		t.Fatalf("served serial %v, want %v", got, renewed.Serial)
	}
}

func TestWatch(t *testing.T) {
	f := newFixture(t)
	stop := f.holder.Watch(10 * time.Millisecond)
	renewed := f.ca.Issue(t, 400, f.firstAfter.Add(time.Hour))
	renewed.Write(t, f.cert, f.key)
	deadline := time.Now().Add(10 * time.Second)
	for f.served(t).Cmp(renewed.Serial) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not pick up the new files; log:\n%s", f.log)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stop()
	stop() // twice is harmless
}

func TestExpiredCertificateWarns(t *testing.T) {
	ca := tlscerttest.NewCA(t)
	cert, key := ca.Issue(t, 500, time.Now().Add(-time.Minute)).Files(t)
	log := &logBuffer{}
	if _, err := tlscert.New(cert, key, slog.New(slog.NewTextHandler(log, nil))); err != nil {
		t.Fatalf("New: %v", err)
	}
	if !strings.Contains(log.String(), "level=WARN msg=\"TLS certificate has expired") {
		t.Fatalf("no warning for an expired certificate:\n%s", log)
	}
}
