package user

import "github.com/asynkron/protoactor-go/actor"

// armPassivation keeps the passivation timer running only while no socket
// is attached. A grain with a socket never passivates, so there a timer
// would only cost an idle connected user its allocation and every message
// a reset. The library's receive timeout fires once and is then off; this
// also arms it again after a timeout that found the grain still busy
// (presence not idle yet), which otherwise left such a grain in memory
// for good.
func (g *grain) armPassivation(ctx actor.Context) {
	switch {
	case g.passivating:
	case len(g.state.Sessions) == 0:
		ctx.SetReceiveTimeout(g.deps.Passivation)
	default:
		ctx.CancelReceiveTimeout()
	}
}
