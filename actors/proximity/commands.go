package proximity

import (
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// ValidConnectionID keeps garbage ids from activating grains; callers
// answer not_found without asking.
func ValidConnectionID(id string) bool {
	return strings.HasPrefix(id, "conn_") && protocol.ValidID(id)
}

// errNotFound answers an id no connection can have.
func errNotFound() error {
	return protocol.Errorf(protocol.CodeNotFound, protocol.DomainProximity, "connection not found")
}

// Handlers are the socket commands served by Proximity grains. Each asks
// the grain asynchronously, like chat: a scan waiting for its grain must
// not hold up the socket's other frames. The grain's mailbox keeps one
// connection's commands in order.
func Handlers() map[string]session.Handler {
	return map[string]session.Handler{
		protocol.TypeProximityStart:     func(c *session.Context) error { return scan(c, true) },
		protocol.TypeProximityHeartbeat: func(c *session.Context) error { return scan(c, false) },
		protocol.TypeProximityEnd:       end,
	}
}

func scan(c *session.Context, start bool) error {
	var p protocol.ProximityScan
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if !ValidConnectionID(p.ConnectionID) {
		return errNotFound()
	}
	var req proto.Message = &grainpb.ProximityHeartbeat{ActorId: c.UserID, Token: p.Token, Rssi: p.ClampedRSSI()}
	if start {
		req = &grainpb.ProximityStart{ActorId: c.UserID, Token: p.Token, Rssi: p.ClampedRSSI()}
	}
	session.CallAsync(c, cluster.KindProximity, p.ConnectionID, req, func(rep *grainpb.ProximityReply) error {
		if err := rep.Failure.Err(); err != nil {
			return err
		}
		return c.ReplyRaw(c.Frame.Type, rep.PayloadJson)
	})
	return nil
}

// end answers with proximity.session.updated, as the spec shows.
func end(c *session.Context) error {
	var p protocol.ProximityEndRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	if !ValidConnectionID(p.ConnectionID) {
		return errNotFound()
	}
	req := &grainpb.ProximityEnd{ActorId: c.UserID, OriginSessionId: c.SessionID}
	session.CallAsync(c, cluster.KindProximity, p.ConnectionID, req, func(rep *grainpb.ProximityReply) error {
		if err := rep.Failure.Err(); err != nil {
			return err
		}
		return c.ReplyRaw(protocol.TypeProximityUpdated, rep.PayloadJson)
	})
	return nil
}
