package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	pcluster "github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
)

// errNoActivation stands for a grain no member can host right now.
var errNoActivation = errors.New("no activation")

// Request asks a grain from inside an actor without waiting: it is how an
// actor talks to a grain it needs an answer from. then runs later, exactly
// once, on the actor's own goroutine (ReenterAfter), never inside the call,
// so the caller may be in the middle of a state change. It gets the reply
// of type R, or an error: ErrUnavailable wrapping the cause (no
// activation, a timeout, a dead letter) when the grain did not answer in
// time, or an error naming the reply's type when it is not R.
//
// A panic in then escapes the actor's Receive (and its Recover): a caller
// whose continuation can fail defers its own Recover there.
func Request[R proto.Message](ctx actor.Context, kind, identity string, req proto.Message, timeout time.Duration, then func(R, error)) {
	request(ctx, kind, identity, req, timeout, then, true)
}

// request is Request; retry says whether a dead letter (the cached
// activation stopped) is asked again once, of a fresh activation.
func request[R proto.Message](ctx actor.Context, kind, identity string, req proto.Message, timeout time.Duration, then func(R, error), retry bool) {
	var fut *actor.Future
	c := pcluster.GetCluster(ctx.ActorSystem())
	pid := lookup(c, kind, identity)
	if pid != nil {
		fut = ctx.RequestFuture(pid, req, timeout)
	} else {
		// Answered through a future all the same, so then never runs
		// inside the call.
		fut = actor.NewFuture(ctx.ActorSystem(), timeout)
		ctx.Send(fut.PID(), errNoActivation)
	}
	ctx.ReenterAfter(fut, func(res any, err error) {
		var zero R
		if e, ok := res.(error); ok && err == nil {
			err = e
		}
		if isDeadLetter(err) && pid != nil {
			evict(c, kind, identity, pid)
			if retry {
				request(ctx, kind, identity, req, timeout, then, false)
				return
			}
		}
		if err != nil {
			then(zero, fmt.Errorf("%w: %s/%s: %w", ErrUnavailable, kind, identity, err))
			return
		}
		r, ok := res.(R)
		if !ok {
			then(zero, fmt.Errorf("cluster: %s/%s answered %T, want %T", kind, identity, res, zero))
			return
		}
		then(r, nil)
	})
}
