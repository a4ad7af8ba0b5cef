package etcdtest_test

import (
	"testing"
	"time"

	"github.com/gisbi/engine/cluster/etcdtest"
)

func TestPauseResumeStop(t *testing.T) {
	e := etcdtest.Start(t)
	if err := e.Healthy(time.Second); err != nil {
		t.Fatalf("fresh etcd: %v", err)
	}
	if err := e.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := e.Healthy(300 * time.Millisecond); err == nil {
		t.Fatal("a paused etcd answered /health")
	}
	if err := e.Resume(); err != nil {
		t.Fatal(err)
	}
	if err := e.Healthy(5 * time.Second); err != nil {
		t.Fatalf("resumed etcd: %v", err)
	}
	e.Stop()
	e.Stop()
	if err := e.Healthy(time.Second); err == nil {
		t.Fatal("a stopped etcd answered /health")
	}
}
