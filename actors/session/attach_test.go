package session

import (
	"errors"
	"testing"
	"time"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

func TestSortAttach(t *testing.T) {
	tests := []struct {
		name string
		rep  *grainpb.AttachReply
		err  error
		want attachResult
	}{
		{"attached", &grainpb.AttachReply{GrainAddress: "a", GrainPidId: "p"}, nil, attachOK},
		{"not reached", nil, cluster.ErrUnavailable, attachRetry},
		{"unexpected answer", nil, errors.New("answered *grainpb.Ack"), attachRetry},
		{"stale activation", &grainpb.AttachReply{Failure: grainpb.Stale(protocol.DomainSession)}, nil, attachRetry},
		{"account deleted", &grainpb.AttachReply{Failure: grainpb.Fail(protocol.CodeAccountDeleted, protocol.DomainAuth, "gone")}, nil, attachRefused},
		{"account terminated", &grainpb.AttachReply{Failure: grainpb.Fail(protocol.CodeAccountTerminated, protocol.DomainAuth, "gone")}, nil, attachRefused},
		{"no such user", &grainpb.AttachReply{Failure: grainpb.Fail(protocol.CodeUserNotFound, protocol.DomainUsers, "?")}, nil, attachRefused},
		{"user not loaded", &grainpb.AttachReply{Failure: grainpb.Fail(protocol.CodeInternal, protocol.DomainUsers, "db")}, nil, attachRefused},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sortAttach(tc.rep, tc.err); got != tc.want {
				t.Errorf("sortAttach = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestReattachDelay: a few attempts, further apart each time, then the
// session gives up (and closes the socket).
func TestReattachDelay(t *testing.T) {
	var total time.Duration
	prev := time.Duration(0)
	n := uint8(1)
	for ; ; n++ {
		d, ok := reattachDelay(n)
		if !ok {
			break
		}
		if d <= prev {
			t.Errorf("attempt %d waits %v, not longer than %v", n, d, prev)
		}
		prev, total = d, total+d
	}
	if attempts := n - 1; attempts < 3 || attempts > 8 {
		t.Errorf("%d attempts", attempts)
	}
	// The cluster takes 2–3 s to notice a dead member; the attempts must
	// outlast that, and not keep a deaf socket for long.
	if total < 3*time.Second || total > 15*time.Second {
		t.Errorf("attempts span %v", total)
	}
	if _, ok := reattachDelay(0); ok {
		t.Error("attempt 0 has a delay")
	}
}
