package cluster_test

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// TestRecoverAnswersAndKeepsState: a panic in one message is answered with
// the failure, and the actor keeps its state for the next message.
func TestRecoverAnswersAndKeepsState(t *testing.T) {
	sys := actor.NewActorSystem()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	count := 0
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		defer cluster.Recover(ctx, logger, "test grain", func() proto.Message {
			return &grainpb.Ack{Failure: grainpb.Fail(protocol.CodeInternal, "", "internal error")}
		})
		switch ctx.Message().(type) {
		case *grainpb.GetLocation:
			count++
			panic("bug")
		case *grainpb.ExistsQuery:
			ctx.Respond(&grainpb.ExistsReply{Exists: count == 1})
		}
	}))
	res, err := sys.Root.RequestFuture(pid, &grainpb.GetLocation{}, time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ack, ok := res.(*grainpb.Ack); !ok || ack.Failure.GetCode() != string(protocol.CodeInternal) {
		t.Fatalf("panic answered %v", res)
	}
	res, err = sys.Root.RequestFuture(pid, &grainpb.ExistsQuery{}, time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if rep, ok := res.(*grainpb.ExistsReply); !ok || !rep.Exists {
		t.Fatalf("state after the panic: %v", res)
	}
}
