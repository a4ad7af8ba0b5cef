package httpapi

import (
	"errors"
	"testing"

	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// goneError decides what a client is told about its own account at the
// handshake and on the routes that write without the User grain; telling a
// client "deleted" signs its user out, so only a real deletion may say it.
func TestGoneError(t *testing.T) {
	cases := []struct {
		name string
		rep  *grainpb.ExistsReply
		want protocol.Code // "" for no error
	}{
		{"live", &grainpb.ExistsReply{Exists: true}, ""},
		{"deleted", &grainpb.ExistsReply{}, protocol.CodeAccountDeleted},
		{"terminated", &grainpb.ExistsReply{Terminated: true}, protocol.CodeAccountTerminated},
		{"never created", &grainpb.ExistsReply{Unknown: true}, protocol.CodeUnauthorized},
		{"unreadable", &grainpb.ExistsReply{Failure: grainpb.Fail(protocol.CodeUnavailable, protocol.DomainUsers, "x")}, protocol.CodeUnavailable},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := goneError(tc.rep)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("got %v, want nil", err)
				}
				return
			}
			var perr *protocol.Error
			if !errors.As(err, &perr) || perr.Code != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}
