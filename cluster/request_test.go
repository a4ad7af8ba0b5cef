package cluster

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster/grainpb"
)

// outcome is what a Request's continuation saw, and whether it ran inside
// the call.
type outcome struct {
	rep    *grainpb.Ack
	err    error
	inside bool
}

type asker struct {
	kind, id string
	req      proto.Message
	timeout  time.Duration
	out      chan outcome
}

func (a *asker) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); !ok {
		return
	}
	inside := true
	Request(ctx, a.kind, a.id, a.req, a.timeout, func(rep *grainpb.Ack, err error) {
		a.out <- outcome{rep, err, inside}
	})
	inside = false
}

func TestRequest(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	echo := pcluster.NewKind("Echo", actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *grainpb.Ack:
			ctx.Respond(m)
		case *grainpb.ExistsQuery:
			ctx.Respond(&grainpb.ExistsReply{})
		}
		// Anything else is never answered.
	}))
	n, err := Start(Options{Kinds: []*pcluster.Kind{echo}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	tests := []struct {
		name    string
		kind    string
		req     proto.Message
		wantErr string
		unavail bool
	}{
		{"answer", "Echo", &grainpb.Ack{}, "", false},
		{"answer of another type", "Echo", &grainpb.ExistsQuery{}, "answered *grainpb.ExistsReply", false},
		{"no answer in time", "Echo", &grainpb.GetUser{}, "future: timeout", true},
		{"no member hosts the kind", "Nowhere", &grainpb.Ack{}, "no activation", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := make(chan outcome, 1)
			n.System.Root.Spawn(actor.PropsFromProducer(func() actor.Actor {
				return &asker{kind: tt.kind, id: "x", req: tt.req, timeout: 200 * time.Millisecond, out: out}
			}))
			var o outcome
			select {
			case o = <-out:
			case <-time.After(5 * time.Second):
				t.Fatal("the continuation never ran")
			}
			if o.inside {
				t.Error("the continuation ran inside the call")
			}
			if tt.wantErr == "" {
				if o.err != nil || o.rep == nil {
					t.Fatalf("got %v, %v; want the reply", o.rep, o.err)
				}
				return
			}
			if o.err == nil || !strings.Contains(o.err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want one with %q", o.err, tt.wantErr)
			}
			if errors.Is(o.err, ErrUnavailable) != tt.unavail {
				t.Errorf("errors.Is(err, ErrUnavailable) = %v, want %v", !tt.unavail, tt.unavail)
			}
		})
	}
}
