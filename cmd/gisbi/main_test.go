package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gisbi/engine/cluster"
)

func TestAwaitStop(t *testing.T) {
	tests := []struct {
		name      string
		tls       bool // a hangup channel and a reload exist
		hups      int
		reloadErr error
		end       func(stop chan<- os.Signal, serveErr chan<- error)
		want      int
	}{
		{"SIGTERM", false, 0, nil, func(stop chan<- os.Signal, _ chan<- error) { stop <- syscall.SIGTERM }, 0},
		{"serve loop ended", false, 0, nil, func(_ chan<- os.Signal, serveErr chan<- error) { serveErr <- errors.New("boom") }, 1},
		{"serve loop ended without an error", false, 0, nil, func(_ chan<- os.Signal, serveErr chan<- error) { serveErr <- nil }, 1},
		{"cluster membership lost", false, 0, nil, func(_ chan<- os.Signal, serveErr chan<- error) {
			serveErr <- fmt.Errorf("%w: frozen", cluster.ErrMembershipLost)
		}, 1},
		{"SIGHUPs reload, then SIGINT", true, 2, nil, func(stop chan<- os.Signal, _ chan<- error) { stop <- syscall.SIGINT }, 0},
		{"a failed reload keeps serving", true, 1, errors.New("bad pair"), func(stop chan<- os.Signal, _ chan<- error) { stop <- syscall.SIGTERM }, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stop, serveErr := make(chan os.Signal, 1), make(chan error, 1)
			var hup chan os.Signal
			var reload func() error
			reloads := make(chan struct{})
			if tt.tls {
				hup = make(chan os.Signal, 1)
				reload = func() error { reloads <- struct{}{}; return tt.reloadErr }
			}
			done := make(chan int, 1)
			go func() {
				code := 0
				if awaitStop(slog.New(slog.NewTextHandler(io.Discard, nil)), stop, hup, reload, serveErr) != nil {
					code = 1
				}
				done <- code
			}()

			for range tt.hups {
				hup <- syscall.SIGHUP
				select {
				case <-reloads:
				case <-time.After(5 * time.Second):
					t.Fatal("SIGHUP did not reload")
				}
			}
			select {
			case code := <-done:
				t.Fatalf("returned %d before being asked to stop", code)
			default:
			}
			tt.end(stop, serveErr)
			select {
			case code := <-done:
				if code != tt.want {
					t.Fatalf("exit code %d, want %d", code, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("did not return")
			}
		})
	}
}

// An operator reading the log of a restarted node must see why it exited.
func TestAwaitStopSaysWhyMembershipEnded(t *testing.T) {
	var log strings.Builder
	serveErr := make(chan error, 1)
	serveErr <- fmt.Errorf("%w: etcd has not answered for 3.2s", cluster.ErrMembershipLost)
	err := awaitStop(slog.New(slog.NewTextHandler(&log, nil)), nil, nil, nil, serveErr)
	if !errors.Is(err, cluster.ErrMembershipLost) {
		t.Fatalf("awaitStop returned %v, want the lost membership", err)
	}
	for _, want := range []string{"lost cluster membership; exiting for the supervisor to restart", "etcd has not answered for 3.2s"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log %q does not say %q", log.String(), want)
		}
	}
}
