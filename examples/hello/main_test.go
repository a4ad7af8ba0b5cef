package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

// The README's first client must keep working against the real server.
func TestHelloReachesBootstrap(t *testing.T) {
	srv := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, srv.URL, "ada", false, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 2 || !strings.Contains(lines[0], `"type":"session.connected"`) || !strings.Contains(lines[len(lines)-1], `"type":"session.bootstrap"`) {
		t.Fatalf("frames:\n%s", out.String())
	}
}

func TestHelloExplainsARefusedLogin(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.Dev = false })
	err := run(context.Background(), srv.URL, "ada", false, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "--dev") {
		t.Fatalf("err %v, want one that points at --dev", err)
	}
}
