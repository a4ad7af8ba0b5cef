package rewards

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/storage"
)

// Reminder names of a Rewards grain. The grant and close reminders are an
// outbox: the Pair and Proximity grains store them before (or with) the
// change that triggers them, so a node that dies between an accept and
// its grants still grants once it is back, and a trigger delivered twice
// finds the gift already granted (the store allows one per pair per
// campaign).
const (
	reminderGrant  = "grant"  // grant:<trigger>:<connectionId>[:<milestone>]
	reminderClose  = "close"  // close:<connectionId>
	reminderExpire = "expire" // expire:<giftId>
	reminderCode   = "code"   // code:<giftId>
)

// Reminders is the durable timer service.
type Reminders interface {
	Set(ctx context.Context, r storage.Reminder) error
	Delete(ctx context.Context, kind, identity, name string) error
}

// Triggers records the events that grant or cancel gifts, for the pair's
// Rewards grain to act on.
type Triggers struct {
	Reminders Reminders
}

// trigger is the payload of a grant or close reminder.
type trigger struct {
	Type         string `json:"type"` // connectionAccepted | proximityMilestone | close
	ConnectionID string `json:"connectionId"`
	Milestone    int    `json:"milestone,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// Accepted records that a connection was accepted: the connectionAccepted
// campaigns grant the pair. Call it before the accept is stored.
func (t Triggers) Accepted(ctx context.Context, pairID, connectionID string, now time.Time) error {
	return t.set(ctx, pairID, reminderGrant+":connectionAccepted:"+connectionID, now,
		trigger{Type: "connectionAccepted", ConnectionID: connectionID})
}

// Milestone records that a connection's together-time crossed a
// milestone: the proximityMilestone campaigns of that milestone grant.
func (t Triggers) Milestone(ctx context.Context, pairID, connectionID string, minutes int, now time.Time) error {
	return t.set(ctx, pairID, reminderGrant+":proximityMilestone:"+connectionID+":"+strconv.Itoa(minutes), now,
		trigger{Type: "proximityMilestone", ConnectionID: connectionID, Milestone: minutes})
}

// Closed records that a connection closed: its live gifts are cancelled.
// Call it before the close is stored.
func (t Triggers) Closed(ctx context.Context, pairID, connectionID, reason string, now time.Time) error {
	return t.set(ctx, pairID, reminderClose+":"+connectionID, now,
		trigger{Type: "close", ConnectionID: connectionID, Reason: reason})
}

func (t Triggers) set(ctx context.Context, pairID, name string, now time.Time, p trigger) error {
	payload, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if err := t.Reminders.Set(ctx, storage.Reminder{Kind: cluster.KindRewards, Identity: pairID, Name: name, DueAt: now, Payload: payload}); err != nil {
		return fmt.Errorf("rewards: record %s: %w", name, err)
	}
	return nil
}
