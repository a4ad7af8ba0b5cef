package cluster

import (
	"fmt"
	"log/slog"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/proto"
)

// Recover is deferred first thing in a grain's Receive. A bug in one
// message must not cost the grain its state (the library would restart the
// actor without its identity, sessions or pending writes), so the panic is
// logged with its stack and, when a caller waits for an answer, answered
// with failure() so the caller does not sit out its timeout.
func Recover(ctx actor.Context, logger *slog.Logger, grain string, failure func() proto.Message) {
	r := recover()
	if r == nil {
		return
	}
	logger.Error(grain+": panic", "pid", ctx.Self().GetId(), "message", fmt.Sprintf("%T", ctx.Message()),
		"panic", r, "stack", string(debug.Stack()))
	if ctx.Sender() != nil && failure != nil {
		ctx.Respond(failure())
	}
}
