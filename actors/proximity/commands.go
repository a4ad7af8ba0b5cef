package proximity

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/storage"
)

// maxScannedToken bounds what a client may send as a token; real tokens are
// 8 characters, so anything long is answered without asking the grain.
const maxScannedToken = 64

// maxBootstrapConnections bounds the connections bootstrap asks to pick the
// proximitySession from (the most recently accepted first).
const maxBootstrapConnections = 32

// Ask runs a command on a connection's Proximity grain and returns the
// answer payload, or the grain's failure as a *protocol.Error.
func Ask(ctx context.Context, node *cluster.Node, connectionID string, cmd *grainpb.ProximityCommand) ([]byte, error) {
	if !validConnectionID(connectionID) {
		return nil, protocol.Errorf(protocol.CodeNotFound, protocol.DomainProximity, "connection not found")
	}
	rep, err := cluster.Call[*grainpb.ProximityReply](ctx, node, cluster.KindProximity, connectionID, cmd)
	if err != nil {
		return nil, err
	}
	if err := rep.Failure.Err(); err != nil {
		return nil, err
	}
	return rep.PayloadJson, nil
}

// validConnectionID keeps garbage ids from activating grains.
func validConnectionID(id string) bool {
	return strings.HasPrefix(id, "conn_") && protocol.ValidID(id)
}

// Handlers are the socket commands served by Proximity grains.
func Handlers() map[string]session.Handler {
	return map[string]session.Handler{
		protocol.TypeProximityStart:     func(c *session.Context) error { return scan(c, "start") },
		protocol.TypeProximityHeartbeat: func(c *session.Context) error { return scan(c, "heartbeat") },
		protocol.TypeProximityEnd:       end,
	}
}

func scan(c *session.Context, op string) error {
	var p struct {
		ConnectionID string `json:"connectionId"`
		Token        string `json:"token"`
		RSSI         *int   `json:"rssi"`
	}
	if err := c.Decode(&p); err != nil {
		return err
	}
	switch {
	case p.ConnectionID == "":
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainProximity, "connectionId is required")
	case p.Token == "":
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainProximity, "token is required")
	case p.RSSI == nil:
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainProximity, "rssi is required")
	case len(p.Token) > maxScannedToken:
		return protocol.Errorf(protocol.CodeInvalidToken, protocol.DomainProximity, "this is not your partner's current token")
	}
	if !validConnectionID(p.ConnectionID) {
		return protocol.Errorf(protocol.CodeNotFound, protocol.DomainProximity, "connection not found")
	}
	// Clamp so a huge number cannot wrap into the accepted window.
	rssi := int32(max(min(*p.RSSI, 1000), -1000))
	// Asynchronous, like chat: a scan waiting for its grain must not hold up
	// the socket's other frames. The grain's mailbox keeps scans in order.
	cmd := &grainpb.ProximityCommand{Op: op, ActorId: c.UserID, Token: p.Token, Rssi: rssi}
	session.CallAsync(c, cluster.KindProximity, p.ConnectionID, cmd, func(rep *grainpb.ProximityReply) error {
		if err := rep.Failure.Err(); err != nil {
			return err
		}
		return c.ReplyRaw(c.Frame.Type, rep.PayloadJson)
	})
	return nil
}

// end answers with proximity.session.updated, as the spec shows.
func end(c *session.Context) error {
	var p struct {
		ConnectionID string `json:"connectionId"`
	}
	if err := c.Decode(&p); err != nil {
		return err
	}
	if p.ConnectionID == "" {
		return protocol.Errorf(protocol.CodeInvalidPayload, protocol.DomainProximity, "connectionId is required")
	}
	b, err := Ask(c.Ctx, c.Node, p.ConnectionID, &grainpb.ProximityCommand{Op: "end", ActorId: c.UserID, OriginSessionId: c.SessionID})
	if err != nil {
		return err
	}
	return c.ReplyRaw(protocol.TypeProximityUpdated, b)
}

// Views renders proximity inside other features' answers: the bootstrap's
// proximitySession and the together-time of Connection views. Connections
// whose grain is not running are read from their snapshot, so listing a
// hundred connections does not wake a hundred grains.
type Views struct {
	Node   *cluster.Node
	Store  storage.Store
	Grains *Grains
	Config Config
	Logger *slog.Logger
}

// stored reads a connection's snapshot; nil when it never had one or it
// cannot be read (logged).
func (v *Views) stored(ctx context.Context, id string) *State {
	s, err := stored(ctx, v.Store, id, v.Config)
	if err != nil && !errors.Is(err, storage.ErrNotFound) {
		v.Logger.Warn("proximity: read snapshot", "connection", id, "err", err)
	}
	return s
}

// Bootstrap fills proximitySession: the session of the user's active
// connection with the liveliest run (active, then paused, then the most
// recently accepted), with a BLE token issued for the user so the phone can
// advertise at once. It stays null without an active connection. It must
// run after the connections source (pair.Bootstrap), which lists them.
func (v *Views) Bootstrap() session.BootstrapSource {
	return func(c *session.Context, b *protocol.Bootstrap, done func(error)) {
		done(v.bootstrap(c, b))
	}
}

func (v *Views) bootstrap(c *session.Context, b *protocol.Bootstrap) error {
	{
		conns := b.ActiveConnectionIDs
		if len(conns) == 0 {
			return nil
		}
		chosen, best := conns[0], 0
		for _, id := range conns[:min(len(conns), maxBootstrapConnections)] {
			if !v.Grains.Live(id) {
				continue // no grain, no run: idle
			}
			raw, err := Ask(c.Ctx, v.Node, id, &grainpb.ProximityCommand{Op: "session", ActorId: c.UserID})
			if err != nil {
				v.Logger.Warn("proximity: bootstrap session", "connection", id, "err", err)
				continue
			}
			var sv SessionView
			if json.Unmarshal(raw, &sv) == nil && rank(sv.Status) > best {
				best, chosen = rank(sv.Status), id
			}
		}
		raw, err := Ask(c.Ctx, v.Node, chosen, &grainpb.ProximityCommand{Op: "session", ActorId: c.UserID, IssueToken: true})
		if err != nil {
			// Together-time is not worth failing the whole bootstrap over.
			v.Logger.Warn("proximity: bootstrap session", "connection", chosen, "err", err)
			return nil
		}
		b.ProximitySession = raw
		return nil
	}
}

// rank orders sessions for bootstrap; ties keep the most recent connection.
func rank(status string) int {
	switch status {
	case StatusActive:
		return 2
	case StatusPaused:
		return 1
	}
	return 0
}

// Progress returns a connection's together-time for viewer: accumulated
// minutes and the next milestone (nil once all are reached, or when the
// connection is closed). Failures degrade to zero: a connection list is
// worth more than its counters.
func (v *Views) Progress(ctx context.Context, c *storage.Connection, viewer string) (int, *int) {
	closed := c.Status == "closed"
	if closed || !v.Grains.Live(c.ID) {
		s := v.stored(ctx, c.ID)
		if s == nil {
			s = New(c.ID, "", "", v.Config, nil)
		}
		sum := s.Summary(time.Time{})
		if closed {
			sum.NextMilestone = nil
		}
		return sum.AccumulatedMinutes, sum.NextMilestone
	}
	var sum Summary
	raw, err := Ask(ctx, v.Node, c.ID, &grainpb.ProximityCommand{Op: "progress", ActorId: viewer})
	if err == nil {
		err = json.Unmarshal(raw, &sum)
	}
	if err != nil {
		v.Logger.Warn("proximity: progress", "connection", c.ID, "err", err)
		return 0, nil
	}
	return sum.AccumulatedMinutes, sum.NextMilestone
}
