package storage

import (
	"context"
	"time"
)

// AuditEntry records one operator action: who (the operator's name as the
// console or caller gave it), what, on which target, and when.
type AuditEntry struct {
	ID       string    `json:"id"` // aud_<ULID>: ids sort by time
	At       time.Time `json:"at"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"` // e.g. report.update, user.terminate, campaign.create
	Target   string    `json:"target"` // the id acted on
	Detail   string    `json:"detail,omitempty"`
}

// Moderation is the operators' side of safety: the report queue, the
// audit log and finding users.
type Moderation interface {
	// Reports lists the reports with status ("" for every status), oldest
	// first, strictly after the report id after ("" from the start), at
	// most limit.
	Reports(ctx context.Context, status, after string, limit int) ([]Report, error)
	// GetReport returns a report; ErrNotFound when unknown.
	GetReport(ctx context.Context, id string) (*Report, error)
	// UpdateReport stores a report's new status and resolution and keeps
	// its indexes; ErrNotFound when unknown. Who filed it, about whom,
	// why and when cannot change.
	UpdateReport(ctx context.Context, r *Report) error
	// OpenAgainst counts, for each user, the reports against it that are
	// not resolved.
	OpenAgainst(ctx context.Context, userIDs []string) (map[string]int, error)
	// ResolveAgainst resolves, in one transaction, every report against
	// userID that is not resolved yet, and returns them as stored.
	ResolveAgainst(ctx context.Context, userID, resolution, by string, at time.Time) ([]Report, error)
	// AppendAudit stores an audit entry; ErrConflict if its id exists.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	// Audit lists entries newest first, strictly before the entry id
	// before ("" from the newest), at most limit.
	Audit(ctx context.Context, before string, limit int) ([]AuditEntry, error)
	// SearchUsers finds accounts, deleted and terminated ones included: the
	// one with id q, the one whose username is q, then those whose name or
	// username contains q (case-insensitive), at most limit in all.
	SearchUsers(ctx context.Context, q string, limit int) ([]User, error)
}
