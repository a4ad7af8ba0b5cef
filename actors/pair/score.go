package pair

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/gisbi/engine/actors/score"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// The daily social score (actors/score) counts three things a pair does:
// a request sent (for its sender), a request accepted (a friend added, for
// both users) and chat messages stored (for their sender). The Pair grain
// tells the users' Score grains once the change is stored, without
// waiting. A crash between the store and the Score grain hearing of it
// loses that observation: the score is advisory, and an outbox like the
// rewards' would cost a write for every chat message.

// scoreEvents observes the requests sent and accepted among evs, which
// apply has stored.
func (g *grain) scoreEvents(ctx actor.Context, evs []Event) {
	if !g.deps.Score {
		return
	}
	for _, ev := range evs {
		switch {
		case ev.Type == protocol.TypeRequestSend && ev.Request != nil:
			observe(ctx, ev.Request.FromUserID, score.ActionMeetMe, 1)
		case ev.Type == protocol.TypeRequestAccept && ev.Connection != nil:
			observe(ctx, g.state.UserA, score.ActionNewFriend, 1)
			observe(ctx, g.state.UserB, score.ActionNewFriend, 1)
		}
	}
}

// scoreMessages observes a stored batch of messages: one observation per
// sender, however many messages it sent, so a burst costs its Score grain
// one write.
func (g *grain) scoreMessages(ctx actor.Context, batch []queued) {
	if !g.deps.Score {
		return
	}
	sent := map[string]int32{}
	for _, q := range batch {
		sent[q.msg.SenderID]++
	}
	for userID, n := range sent {
		observe(ctx, userID, score.ActionSendDM, n)
	}
}

func observe(ctx actor.Context, userID, action string, n int32) {
	cluster.SendIn(ctx, cluster.KindScore, userID, &grainpb.ScoreObserve{ActionType: action, Count: n})
}
