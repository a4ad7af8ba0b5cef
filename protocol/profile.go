package protocol

import "encoding/json"

// UserProfileUpdated is the user.profile.updated payload, sent to the
// user's sockets when its profile changed (an edit elsewhere, or the vibe
// expiring).
type UserProfileUpdated struct {
	User User `json:"user"`
}

// VibeExpired is the vibe.expired payload.
type VibeExpired struct {
	ExpiredAt string `json:"expiredAt"`
}

// SafetyBlockResult answers safety.block and safety.unblock, and is echoed
// to the user's other sockets so they stay in step.
type SafetyBlockResult struct {
	BlockedUserID string `json:"blockedUserId"`
}

// AdminUser is the operator's view of an account (GET /admin/users/:userId):
// the stored records as their owners keep them, deleted accounts included.
// The parts are encoded by their owners (the User grain, the device store),
// so this package need not know the storage records.
type AdminUser struct {
	Blocks       json.RawMessage `json:"blocks"`
	Devices      json.RawMessage `json:"devices"`
	ReportsFiled json.RawMessage `json:"reportsFiled"`
	User         json.RawMessage `json:"user"`
}
