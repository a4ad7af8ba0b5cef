package user

import (
	"encoding/json"
	"fmt"

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
	loc := &grainpb.UpdateLocation{
		Lat: *p.Lat, Lng: *p.Lng, AccuracyMeters: p.AccuracyMeters, Heading: p.Heading, Speed: p.Speed,
	}
	// The location lives in the grain's memory only: should the grain
	// move to another node, the session gives the new one the last fix.
	c.KeepForReattach(loc)
	session.CallAsync(c, cluster.KindUser, c.UserID, loc, func(rep *grainpb.PresenceReply) error { return replyPresence(c, rep) })
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
	// Not kept for a new activation, unlike the location: the store keeps
	// the flag, and an old choice sent again could undo a newer one made
	// on another device.
	session.CallAsync(c, cluster.KindUser, c.UserID, &grainpb.SetVisible{Visible: *p.IsOnRadar},
		func(rep *grainpb.PresenceReply) error { return replyPresence(c, rep) })
	return nil
}

func replyPresence(c *session.Context, rep *grainpb.PresenceReply) error {
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	if err := c.ReplyRaw(protocol.TypePresenceUpdated, rep.PresenceJson); err != nil {
		return err
	}
	return c.ReplyFrame(protocol.TypeRadarNearby, rep.NearbyFrame)
}

func report(c *session.Context) error {
	var p protocol.SafetyReportRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	session.CallAsync(c, cluster.KindUser, c.UserID, &grainpb.ReportUser{TargetId: p.ReportedUserID, Reason: p.Reason},
		func(rep *grainpb.ReportReply) error {
			if err := rep.Failure.Err(); err != nil {
				return err
			}
			return c.ReplyRaw(protocol.TypeSafetyReport, rep.ReportJson)
		})
	return nil
}

func block(c *session.Context, unblock bool) error {
	var p protocol.SafetyBlockRequest
	if err := c.Decode(&p); err != nil {
		return err
	}
	if err := p.Validate(); err != nil {
		return err
	}
	session.CallAsync(c, cluster.KindUser, c.UserID, &grainpb.BlockUser{TargetId: p.BlockedUserID, Unblock: unblock, OriginSessionId: c.SessionID},
		func(rep *grainpb.BlockReply) error {
			if err := rep.Failure.Err(); err != nil {
				return err
			}
			return c.Reply(c.Frame.Type, protocol.SafetyBlockResult(p))
		})
	return nil
}

// Bootstrap fills currentUser, presence, nearbyUsers, blockedUserIds and
// safetyReports from the User grain's answer. When the grain cannot be
// reached, CallAsync answers the error itself and done is not called, which
// ends the bootstrap as done(err) would.
func Bootstrap(c *session.Context, b *protocol.Bootstrap, done func(error)) {
	session.CallAsync(c, cluster.KindUser, c.UserID, &grainpb.GetBootstrap{}, func(rep *grainpb.BootstrapReply) error {
		done(fillBootstrap(b, rep))
		return nil
	})
}

func fillBootstrap(b *protocol.Bootstrap, rep *grainpb.BootstrapReply) error {
	if err := rep.Failure.Err(); err != nil {
		return err
	}
	if err := json.Unmarshal(rep.UserJson, &b.CurrentUser); err != nil {
		return fmt.Errorf("bootstrap user: %w", err)
	}
	if err := json.Unmarshal(rep.PresenceJson, &b.Presence); err != nil {
		return fmt.Errorf("bootstrap presence: %w", err)
	}
	b.NearbyUsers = rep.NearbyJson
	b.BlockedUserIDs = append(b.BlockedUserIDs, rep.BlockedUserIds...)
	if err := json.Unmarshal(rep.SafetyReportsJson, &b.SafetyReports); err != nil {
		return fmt.Errorf("bootstrap safety reports: %w", err)
	}
	return nil
}
