package rewards

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gisbi/engine/actors/user"
	"github.com/gisbi/engine/cluster"
	"github.com/gisbi/engine/cluster/grainpb"
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
	reminderExpire = "expire" // expire:<campaignId> (one gift per pair per campaign)
	reminderCode   = "code"   // code:<campaignId>
)

// Reminders is the durable timer service, as the other grains use it,
// plus Wake.
type Reminders interface {
	user.Reminders
	// Wake tells the service that reminders were stored behind its back
	// (a gift's expiry, in the grant's transaction).
	Wake()
}

// Triggers records the events that grant or cancel gifts, for the pair's
// Rewards grain to act on.
//
// An accept or a close is recorded before the Pair grain stores it, due
// OutboxDelay later: the Pair grain hands the same reminder to the
// Rewards grain itself once the change is stored (Fire), and the stored
// reminder only fires if that never happened (the node died in between).
// The Rewards grain checks the change against the store either way, so a
// change that was never stored triggers nothing.
type Triggers struct {
	// Reminders stores the triggers; only Set is needed, so a store's
	// reminders do (tests that write a trigger while the server is down).
	Reminders interface {
		Set(ctx context.Context, r storage.Reminder) error
	}
}

// OutboxDelay is how long a recorded accept or close waits for its direct
// delivery before the reminders service delivers it.
const OutboxDelay = 10 * time.Second

// Fire is the message that hands a recorded trigger to its grain.
func Fire(r storage.Reminder) *grainpb.ReminderFired {
	return &grainpb.ReminderFired{Name: r.Name, Payload: r.Payload, DueUnixMs: r.DueAt.UnixMilli()}
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
func (t Triggers) Accepted(ctx context.Context, pairID, connectionID string, now time.Time) (storage.Reminder, error) {
	return t.set(ctx, pairID, reminderGrant+":connectionAccepted:"+connectionID, now.Add(OutboxDelay),
		trigger{Type: "connectionAccepted", ConnectionID: connectionID})
}

// Milestone records that a connection's together-time crossed a
// milestone: the proximityMilestone campaigns of that milestone grant.
func (t Triggers) Milestone(ctx context.Context, pairID, connectionID string, minutes int, now time.Time) error {
	_, err := t.set(ctx, pairID, reminderGrant+":proximityMilestone:"+connectionID+":"+strconv.Itoa(minutes), now,
		trigger{Type: "proximityMilestone", ConnectionID: connectionID, Milestone: minutes})
	return err
}

// Closed records that a connection closed: its live gifts are cancelled.
// Call it before the close is stored.
func (t Triggers) Closed(ctx context.Context, pairID, connectionID, reason string, now time.Time) (storage.Reminder, error) {
	return t.set(ctx, pairID, reminderClose+":"+connectionID, now.Add(OutboxDelay),
		trigger{Type: "close", ConnectionID: connectionID, Reason: reason})
}

func (t Triggers) set(ctx context.Context, pairID, name string, due time.Time, p trigger) (storage.Reminder, error) {
	payload, err := json.Marshal(p)
	if err != nil {
		return storage.Reminder{}, err
	}
	r := storage.Reminder{Kind: cluster.KindRewards, Identity: pairID, Name: name, DueAt: due, Payload: payload}
	if err := t.Reminders.Set(ctx, r); err != nil {
		return storage.Reminder{}, fmt.Errorf("rewards: record %s: %w", name, err)
	}
	return r, nil
}
