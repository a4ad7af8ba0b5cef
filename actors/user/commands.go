package user

import (
	"encoding/json"

	"github.com/gisbi/engine/actors/session"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
	"github.com/gisbi/engine/protocol"
)

// Handlers are the socket commands served by the User grain.
func Handlers() map[string]session.Handler {
	return map[string]session.Handler{
		protocol.TypeSafetyReport:    report,
		protocol.TypeSafetyBlock:     func(c *session.Context) error { return block(c, false) },
		protocol.TypeSafetyUnblock:   func(c *session.Context) error { return block(c, true) },
		protocol.TypeLocationUpdate:  locationUpdate,
		protocol.TypeRadarSetVisible: setVisible,
	}
}

// locationUpdate answers presence.updated, then radar.nearby.updated.
func locationUpdate(c *session.Context) error {
	p, perr := protocol.DecodeLocationUpdate(c.Frame.Payload)
	if perr != nil {
		return perr
	}
	// Asynchronous: a User grain busy pushing radars to its watchers must
	// not hold up the socket's next frames (heartbeats, chat); the grain's
	// mailbox still keeps this socket's updates in order.
	session.CallAsync(c, cluster.KindUser, c.UserID, &grainpb.UpdateLocation{
		Lat: *p.Lat, Lng: *p.Lng, AccuracyMeters: p.AccuracyMeters, Heading: p.Heading, Speed: p.Speed,
	}, func(rep *grainpb.PresenceReply) error { return replyPresence(c, rep, nil) })
	return nil
}

// setVisible answers like a location update: the new visibility, then the radar.
func setVisible(c *session.Context) error {
	var p protocol.SetVisible
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	rep, err := cluster.Call[*grainpb.PresenceReply](c.Ctx, c.Node, cluster.KindUser, c.UserID, &grainpb.SetVisible{Visible: *p.IsOnRadar})
	return replyPresence(c, rep, err)
}

func replyPresence(c *session.Context, rep *grainpb.PresenceReply, err error) error {
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	if err := c.ReplyRaw(protocol.TypePresenceUpdated, rep.PresenceJson); err != nil {
		return err
	}
	return c.ReplyRaw(protocol.TypeRadarNearby, rep.NearbyJson)
}

func report(c *session.Context) error {
	var p protocol.SafetyReportRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	rep, err := cluster.Call[*grainpb.ReportReply](c.Ctx, c.Node, cluster.KindUser, c.UserID,
		&grainpb.ReportUser{TargetId: p.ReportedUserID, Reason: p.Reason})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	return c.ReplyRaw(protocol.TypeSafetyReport, rep.ReportJson)
}

func block(c *session.Context, unblock bool) error {
	var p protocol.SafetyBlockRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	rep, err := cluster.Call[*grainpb.BlockReply](c.Ctx, c.Node, cluster.KindUser, c.UserID,
		&grainpb.BlockUser{TargetId: p.BlockedUserID, Unblock: unblock, OriginSessionId: c.SessionID})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	return c.Reply(c.Frame.Type, map[string]string{"blockedUserId": p.BlockedUserID})
}

// Bootstrap fills currentUser, presence visibility, blockedUserIds and safetyReports.
func Bootstrap(c *session.Context, b *protocol.Bootstrap, done func(error)) {
	done(bootstrap(c, b))
}

func bootstrap(c *session.Context, b *protocol.Bootstrap) error {
	rep, err := cluster.Call[*grainpb.BootstrapReply](c.Ctx, c.Node, cluster.KindUser, c.UserID, &grainpb.GetBootstrap{})
	if err != nil {
		return err
	}
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(rep.UserJson, &b.CurrentUser); err != nil {
		return err
	}
	if err := json.Unmarshal(rep.PresenceJson, &b.Presence); err != nil {
		return err
	}
	b.NearbyUsers = rep.NearbyJson
	b.BlockedUserIDs = append(b.BlockedUserIDs, rep.BlockedUserIds...)
	return json.Unmarshal(rep.SafetyReportsJson, &b.SafetyReports)
}
