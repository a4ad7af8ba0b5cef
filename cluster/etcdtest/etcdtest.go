// Package etcdtest gives tests a throwaway etcd: a real etcd process on
// 127.0.0.1 with a temporary data directory and free ports, killed when
// the test ends. The binary comes from GISBI_TEST_ETCD or PATH; without
// one, tests that need it are skipped with a clear message, unless
// GISBI_CI is set (CI must never skip them).
//
// It speaks to etcd over HTTP only (its /health endpoint): a gRPC client
// started before the cluster's remote would race with remote.Start, which
// replaces gRPC's global logger.
package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env names the variable holding the path of the etcd binary; without it
// the etcd on PATH is used.
const Env = "GISBI_TEST_ETCD"

// readyTimeout bounds how long a fresh etcd may take to answer /health.
const readyTimeout = 15 * time.Second

// Etcd is one running etcd server.
type Etcd struct {
	// Endpoint is the client address, 127.0.0.1:port, as etcd_endpoints
	// takes it.
	Endpoint string
	PID      int
	Cmd      *exec.Cmd

	logPath string
	done    chan struct{} // closed when the process has exited
	stop    sync.Once
}

// Binary returns the etcd binary to run, or skips the test (fails it under
// GISBI_CI) when there is none.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(Env); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("etcdtest: %s=%s: %v", Env, p, err)
		}
		return p
	}
	if p, err := exec.LookPath("etcd"); err == nil {
		return p
	}
	if os.Getenv("GISBI_CI") != "" {
		t.Fatalf("etcdtest: no etcd binary (%s unset, none on PATH), and CI must not skip etcd tests", Env)
	}
	t.Skipf("etcdtest: skipping: set %s to an etcd binary or put etcd on PATH (Debian: apt-get install etcd-server) to run the etcd tests; .ci/run installs it", Env)
	return ""
}

// Endpoint starts an etcd for the test and returns its client address.
func Endpoint(t testing.TB) string {
	t.Helper()
	return Start(t).Endpoint
}

// Start runs an etcd for the test, waits until it answers, and stops it
// when the test ends.
func Start(t testing.TB) *Etcd {
	t.Helper()
	bin := Binary(t)
	var lastErr error
	// Free ports are found by listening and closing: another process may
	// take one before etcd binds it, so a failed start is tried again.
	for range 3 {
		e, err := start(bin, t.TempDir())
		if err == nil {
			t.Cleanup(e.Stop)
			return e
		}
		lastErr = err
	}
	t.Fatalf("etcdtest: %v", lastErr)
	return nil
}

func start(bin, dir string) (*Etcd, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	logPath := filepath.Join(dir, "etcd.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(bin,
		"--name=gisbi-test",
		"--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=gisbi-test="+peer,
		"--initial-cluster-state=new",
		"--log-level=warn",
	)
	cmd.Env = etcdFreeEnviron()
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	e := &Etcd{Endpoint: "127.0.0.1:" + strconv.Itoa(ports[0]), PID: cmd.Process.Pid, Cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(e.done) }()
	if err := e.waitReady(); err != nil {
		e.Stop()
		return nil, fmt.Errorf("%s on %s: %w\n%s", bin, e.Endpoint, err, e.Log())
	}
	return e, nil
}

// etcdFreeEnviron is this process's environment without ETCD_ variables,
// which etcd would read as flags.
func etcdFreeEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCD_") {
			env = append(env, kv)
		}
	}
	return env
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitReady polls /health until etcd reports itself healthy.
func (e *Etcd) waitReady() error {
	deadline := time.Now().Add(readyTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-e.done:
			return errors.New("exited before answering")
		default:
		}
		if last = e.Healthy(time.Second); last == nil {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not healthy after %s: %w", readyTimeout, last)
}

// Healthy asks etcd's /health endpoint, waiting at most timeout.
func (e *Etcd) Healthy(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.Endpoint+"/health", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !bytes.Contains(b, []byte(`"health":"true"`)) {
		return fmt.Errorf("/health answered %s: %s", res.Status, bytes.TrimSpace(b))
	}
	return nil
}

// Pause freezes etcd (SIGSTOP): the kernel still accepts connections, but
// nothing is answered, as with a stalled server.
func (e *Etcd) Pause() error { return e.Cmd.Process.Signal(syscall.SIGSTOP) }

// Resume lets a paused etcd run again (SIGCONT).
func (e *Etcd) Resume() error { return e.Cmd.Process.Signal(syscall.SIGCONT) }

// Stop kills etcd and waits for it to exit. It is safe to call twice,
// also on a paused etcd.
func (e *Etcd) Stop() {
	e.stop.Do(func() {
		_ = e.Cmd.Process.Kill()
		<-e.done
	})
}

// Log is what etcd wrote so far, for failure messages.
func (e *Etcd) Log() string {
	b, err := os.ReadFile(e.logPath)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
