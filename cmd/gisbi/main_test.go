package main

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"
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
			go func() { done <- awaitStop(slog.New(slog.NewTextHandler(io.Discard, nil)), stop, hup, reload, serveErr) }()

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
