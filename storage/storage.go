package storage

import (
	"context"
	"errors"
	"time"
)

// Sentinel errors. Implementations wrap them with %w so callers test with errors.Is.
var (
	ErrNotFound = errors.New("storage: not found")
	// ErrConflict: a uniqueness rule was violated (username taken, identity already linked).
	ErrConflict = errors.New("storage: conflict")
	// ErrClosed: the store was closed; writes after Close fail with it.
	ErrClosed = errors.New("storage: closed")
	// ErrStale: a fenced write carried a version other than the stored
	// one, so another activation of the grain has written since this one
	// read its state (a node that froze and came back). Nothing was
	// written; the grain must stop without acknowledging anything.
	ErrStale = errors.New("storage: stale version")
	// ErrUnsupported: the store leaves the operation to the database's own
	// tools (Backup on PostgreSQL, which pg_dump does).
	ErrUnsupported = errors.New("storage: not supported by this store")
	// ErrInvalid: the input cannot be stored (an empty, oversized or
	// malformed id, a record whose fields contradict each other, a
	// non-positive limit). It is a programming error of the caller (HTTP
	// 400 or 500), never not-found or a conflict. boltdb.ErrInvalid and
	// postgres.ErrInvalid are this same value.
	ErrInvalid = errors.New("storage: invalid input")
	// ErrUnavailable: the store cannot take the write now, through no
	// fault of the input (its disk is full, the database refuses for want
	// of space). Nothing was written and the store stays usable: reads go
	// on, and the same write can succeed once the cause is gone. The wire
	// answers `unavailable`, retry.
	ErrUnavailable = errors.New("storage: unavailable")
)

// Fenced records (User, Pair, ScoreDay, Gift, Snapshot) carry a Version:
// the number of writes so far, 0 for a record never stored (and for one
// stored before versions existed). A fenced write succeeds only when the
// record's Version equals the stored one, stores Version+1 and then sets
// the caller's Version to it; otherwise it fails with ErrStale and writes
// nothing. Two activations that both read version n race to write n+1 and
// exactly one wins. In SQL terms it is UPDATE … WHERE id = $1 AND
// version = $2.

// User is the stored account. Optional profile fields are pointers so "unset"
// and "cleared" survive a round trip as null.
type User struct {
	ID            string     `json:"id"`
	Name          string     `json:"name"`
	Username      *string    `json:"username,omitempty"`
	Bio           *string    `json:"bio,omitempty"`
	Age           *int       `json:"age,omitempty"`
	Avatar        *string    `json:"avatar,omitempty"`
	Gender        *string    `json:"gender,omitempty"`
	Vibe          *string    `json:"vibe,omitempty"`
	VibeExpiresAt *time.Time `json:"vibeExpiresAt,omitempty"`
	// HiddenFromRadar is the inverse of isOnRadar so the zero value means visible.
	HiddenFromRadar bool       `json:"hiddenFromRadar,omitempty"`
	Provider        string     `json:"provider"`        // google | apple | dev
	Subject         string     `json:"subject"`         // provider's stable user id (sub)
	Email           string     `json:"email,omitempty"` // from the ID token, when given
	CreatedAt       time.Time  `json:"createdAt"`
	UpdatedAt       time.Time  `json:"updatedAt"`
	DeletedAt       *time.Time `json:"deletedAt,omitempty"`
	DeleteReason    string     `json:"deleteReason,omitempty"`
	// TerminatedAt is set when an operator terminated the account. A
	// terminated account is also deleted (DeletedAt), so everything that
	// skips deleted accounts skips it; unlike a deletion, its identity
	// stays bound to it, so the same login is refused instead of making a
	// fresh account.
	TerminatedAt    *time.Time `json:"terminatedAt,omitempty"`
	TerminateReason string     `json:"terminateReason,omitempty"`
	// Version fences Put (see ErrStale); Create stores version 1.
	Version uint64 `json:"version,omitempty"`
}

// Terminated reports whether an operator terminated the account.
func (u *User) Terminated() bool { return u.TerminatedAt != nil }

// Deleted reports whether the account was soft-deleted.
func (u *User) Deleted() bool { return u.DeletedAt != nil }

// Users stores accounts, the (provider, subject) → user index and the unique
// username index.
type Users interface {
	Get(ctx context.Context, id string) (*User, error)
	// ByIdentity finds the live (not deleted) account linked to a provider identity.
	ByIdentity(ctx context.Context, provider, subject string) (*User, error)
	// Create stores a new user and links its identity; ErrConflict if the
	// identity is already linked to a live account or the username is taken.
	Create(ctx context.Context, u *User) error
	// Put replaces a user, maintaining the username index (ErrConflict when the
	// new username belongs to someone else). It is fenced: ErrStale when
	// u.Version is not the stored version; on success u.Version is the new one. Soft delete is a Put with DeletedAt
	// set: it unlinks the identity and frees the username so a later login
	// with the same identity creates a fresh account.
	Put(ctx context.Context, u *User) error
}

// RefreshToken is one issued refresh token. Tokens issued by rotation share a
// Family; reusing a rotated token revokes the whole family.
type RefreshToken struct {
	ID        string     `json:"id"` // the JWT's jti
	Family    string     `json:"family"`
	UserID    string     `json:"userId"`
	IssuedAt  time.Time  `json:"issuedAt"`
	ExpiresAt time.Time  `json:"expiresAt"`
	RotatedAt *time.Time `json:"rotatedAt,omitempty"` // set when exchanged for a new pair
	RevokedAt *time.Time `json:"revokedAt,omitempty"` // logout, reuse detection, account deletion
}

// Tokens stores refresh tokens and token families.
type Tokens interface {
	Put(ctx context.Context, t *RefreshToken) error
	Get(ctx context.Context, id string) (*RefreshToken, error)
	// Rotate atomically marks old rotated and stores next. If old was already
	// rotated or revoked it stores nothing, revokes old's whole family and
	// returns ErrConflict (reuse detected).
	Rotate(ctx context.Context, oldID string, next *RefreshToken, now time.Time) error
	// Revoke marks one token revoked (logout blacklist).
	Revoke(ctx context.Context, id string, now time.Time) error
	// RevokeUser revokes every token of a user (account deletion).
	RevokeUser(ctx context.Context, userID string, now time.Time) error
	// FamilyRevoked reports whether any token of the family was revoked by reuse detection.
	FamilyRevoked(ctx context.Context, family string) (bool, error)
}

// Device is a push token registered by a user.
type Device struct {
	Token     string    `json:"token"`
	Platform  string    `json:"platform"` // android | ios | web
	UserID    string    `json:"userId"`
	IsActive  bool      `json:"isActive"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Devices stores push tokens. A token belongs to one user at a time:
// registering it for another user moves it.
type Devices interface {
	Register(ctx context.Context, d *Device) error
	// Deactivate marks a token inactive; ErrNotFound if unknown. When userID is
	// not empty the token must belong to that user (else ErrNotFound).
	Deactivate(ctx context.Context, userID, token string, now time.Time) error
	ListByUser(ctx context.Context, userID string) ([]Device, error)
	DeactivateUser(ctx context.Context, userID string, now time.Time) error
}

// Block: BlockerID blocks BlockedID.
type Block struct {
	BlockerID string    `json:"blockerId"`
	BlockedID string    `json:"blockedId"`
	CreatedAt time.Time `json:"createdAt"`
}

// Report is a safety report filed by ReporterID.
type Report struct {
	ID             string    `json:"reportId"`
	ReporterID     string    `json:"reporterId"`
	ReportedUserID string    `json:"reportedUserId"`
	Reason         string    `json:"reason"`
	Status         string    `json:"status"` // open | reviewing | resolved
	CreatedAt      time.Time `json:"createdAt"`
	// Set by operators: what was decided, by whom (the operator's name)
	// and when the report was resolved.
	Resolution *string    `json:"resolution,omitempty"`
	ResolvedBy *string    `json:"resolvedBy,omitempty"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	UpdatedAt  *time.Time `json:"updatedAt,omitempty"`
}

// Report statuses.
const (
	ReportOpen      = "open"
	ReportReviewing = "reviewing"
	ReportResolved  = "resolved"
)

// Safety stores blocks and reports.
type Safety interface {
	// Block is idempotent.
	Block(ctx context.Context, b Block) error
	// Unblock is idempotent.
	Unblock(ctx context.Context, blockerID, blockedID string) error
	// BlockedBy lists the users blockerID has blocked.
	BlockedBy(ctx context.Context, blockerID string) ([]Block, error)
	// BlockersOf lists the users who blocked userID.
	BlockersOf(ctx context.Context, userID string) ([]string, error)
	AddReport(ctx context.Context, r *Report) error
	// ReportsBy lists reports filed by reporterID, newest first.
	ReportsBy(ctx context.Context, reporterID string) ([]Report, error)
}

// Reminder is a durable timer: at DueAt the reminders service wakes the grain
// Kind/Identity with Name. (Kind, Identity, Name) is unique: setting it again
// replaces the due time.
type Reminder struct {
	Kind     string    `json:"kind"`
	Identity string    `json:"identity"`
	Name     string    `json:"name"`
	DueAt    time.Time `json:"dueAt"`
	Payload  []byte    `json:"payload,omitempty"`
	// ClaimedUntil is set while a node holds the reminder (Claim): nobody
	// else claims it before then. Set drops the claim.
	ClaimedUntil *time.Time `json:"claimedUntil,omitempty"`
}

// ReadyAt is when the reminder can next be claimed: its due time, or the
// end of its current claim when that is later.
func (r *Reminder) ReadyAt() time.Time {
	if r.ClaimedUntil != nil && r.ClaimedUntil.After(r.DueAt) {
		return *r.ClaimedUntil
	}
	return r.DueAt
}

// Reminders stores durable timers ordered by due time. Every node sharing
// the store runs a reminders service; claims make each due reminder fire on
// one of them at a time, and at least once: a reminder stays until its
// grain deletes or re-sets it, so one whose firing node died is claimed
// again when the claim lapses. Handlers are therefore idempotent on
// (reminder, DueAt).
type Reminders interface {
	// Set stores r (ClaimedUntil is ignored), replacing the reminder with
	// the same (Kind, Identity, Name) and dropping any claim on it.
	Set(ctx context.Context, r Reminder) error
	Delete(ctx context.Context, kind, identity, name string) error
	// Due lists up to limit reminders with ReadyAt <= until, earliest
	// ReadyAt first. It only reads: nothing is claimed.
	Due(ctx context.Context, until time.Time, limit int) ([]Reminder, error)
	// Claim takes up to limit reminders that are due at now and not
	// claimed (or whose claim ended by now), earliest ReadyAt first, and
	// claims them until until: no Claim on any node returns them again
	// before then. They are returned with ClaimedUntil set. On a shared
	// database this is SELECT … FOR UPDATE SKIP LOCKED.
	Claim(ctx context.Context, now, until time.Time, limit int) ([]Reminder, error)
	// Next is the reminder with the earliest ReadyAt, ErrNotFound when none.
	Next(ctx context.Context) (*Reminder, error)
}

// Store bundles the aggregates over one database.
type Store interface {
	Users() Users
	Tokens() Tokens
	Devices() Devices
	Safety() Safety
	Reminders() Reminders
	Pairs() Pairs
	Messages() Messages
	Snapshots() Snapshots
	Rewards() Rewards
	Scores() Scores
	Moderation() Moderation
	// Backup writes a consistent copy of the database to path while it is
	// in use, or fails with ErrUnsupported where the database's own tools
	// do that (after the ErrClosed and context checks every method makes).
	Backup(ctx context.Context, path string) error
	// Ping checks the store is open and readable (readiness).
	Ping(ctx context.Context) error
	Close() error
}
