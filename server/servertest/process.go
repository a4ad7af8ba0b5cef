package servertest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/gisbi once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gisbi-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "gisbi")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/gisbi/engine/cmd/gisbi").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatalf("build gisbi: %v", buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// Process is a server running as a child process, for crash tests.
type Process struct {
	Cmd  *exec.Cmd
	URL  string
	Dir  string
	Log  string
	t    testing.TB
	done chan struct{}
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// StartProcess runs `gisbi serve --dev` on dir and waits until it is ready.
// env adds GISBI_ settings.
func StartProcess(t testing.TB, dir string, env ...string) *Process {
	t.Helper()
	bin := Binary(t)
	addr := FreeAddr(t)
	logPath := filepath.Join(dir, "server.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--dev")
	cmd.Env = append(os.Environ(), "GISBI_ADDR="+addr, "GISBI_DATA_DIR="+dir, "GISBI_HTTP_RATE=10000", "GISBI_HTTP_BURST=10000")
	// Always set, so a GISBI_STORE in the test's environment never points
	// the child at the shared database itself.
	cmd.Env = append(cmd.Env, "GISBI_STORE="+StoreURL(t, dir))
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: cmd, URL: "http://" + addr, Dir: dir, Log: logPath, t: t, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); logf.Close(); close(p.done) }()
	t.Cleanup(p.Kill)
	WaitReady(t, p.URL, 15*time.Second)
	return p
}

// Kill sends SIGKILL and waits for the process to end.
func (p *Process) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Terminate sends SIGTERM and returns the exit code once the process ends.
func (p *Process) Terminate(timeout time.Duration) int {
	p.t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.Kill()
		p.t.Fatalf("server still running %v after SIGTERM", timeout)
	}
	return p.Cmd.ProcessState.ExitCode()
}

// ServerLog returns what the process logged.
func (p *Process) ServerLog() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

// Exited is closed once the process ended.
func (p *Process) Exited() <-chan struct{} { return p.done }
