package protocol

// BLE proximity shapes: the frames clients send (scans, end), the answers
// and events of the Proximity grain, and the REST token and summary. Every
// timestamp is a FormatTime string, so none can leave with nanoseconds.

// MaxScannedToken bounds what a client may send as a scanned token: real
// tokens are 8 characters, so anything long is refused before a grain sees it.
const MaxScannedToken = 64

// ProximityScan is the payload of proximity.session.start and
// proximity.heartbeat: the partner's token as scanned and its RSSI. RSSI is
// a pointer so a missing value is told from 0.
type ProximityScan struct {
	ConnectionID string `json:"connectionId"`
	Token        string `json:"token"`
	RSSI         *int   `json:"rssi"`
}

// Validate checks the scan in the order clients are told about problems.
// A token too long to be one is invalid_token, as a wrong one would be.
func (p *ProximityScan) Validate() *Error {
	switch {
	case p.ConnectionID == "":
		return Errorf(CodeInvalidPayload, DomainProximity, "connectionId is required")
	case p.Token == "":
		return Errorf(CodeInvalidPayload, DomainProximity, "token is required")
	case p.RSSI == nil:
		return Errorf(CodeInvalidPayload, DomainProximity, "rssi is required")
	case len(p.Token) > MaxScannedToken:
		return Errorf(CodeInvalidToken, DomainProximity, "this is not your partner's current token")
	}
	return nil
}

// ClampedRSSI is the RSSI bounded to ±1000, so a huge number cannot wrap
// into the accepted window once narrowed to the grain message's int32.
func (p *ProximityScan) ClampedRSSI() int32 {
	if p.RSSI == nil {
		return 0
	}
	return int32(max(min(*p.RSSI, 1000), -1000))
}

// ProximityEndRequest is the payload of proximity.session.end.
type ProximityEndRequest struct {
	ConnectionID string `json:"connectionId"`
}

// Validate checks the payload.
func (p *ProximityEndRequest) Validate() *Error {
	if p.ConnectionID == "" {
		return Errorf(CodeInvalidPayload, DomainProximity, "connectionId is required")
	}
	return nil
}

// ProximityToken is an issued BLE token: the answer of POST
// /connections/:connectionId/proximity/token.
type ProximityToken struct {
	Token        string `json:"token"`
	ExpiresAt    string `json:"expiresAt"`
	ConnectionID string `json:"connectionId"`
}

// ProximityStartAck answers proximity.session.start.
type ProximityStartAck struct {
	SessionActive     bool `json:"sessionActive"`
	YourTokenReceived bool `json:"yourTokenReceived"`
	WaitingForPartner bool `json:"waitingForPartner"`
}

// ProximityHeartbeatAck answers proximity.heartbeat.
type ProximityHeartbeatAck struct {
	SessionActive      bool `json:"sessionActive"`
	AccumulatedSeconds int  `json:"accumulatedSeconds"`
}

// ProximityConfirmed is the payload of proximity.partner.confirmed.
type ProximityConfirmed struct {
	ConnectionID string `json:"connectionId"`
}

// ProximityUpdated is the payload of proximity.session.updated. Status and
// GracePeriodSeconds go beyond the spec's example so a client can tell a
// pause (with its remaining grace) from an ended run.
type ProximityUpdated struct {
	ConnectionID          string `json:"connectionId"`
	AccumulatedSeconds    int    `json:"accumulatedSeconds"`
	SessionActive         bool   `json:"sessionActive"`
	Status                string `json:"status"`
	CurrentSessionSeconds int    `json:"currentSessionSeconds"`
	UnlockedMilestones    []int  `json:"unlockedMilestones"`
	NextMilestoneMinutes  *int   `json:"nextMilestoneMinutes"`
	GracePeriodSeconds    *int   `json:"gracePeriodSeconds,omitempty"`
}

// ProximityMilestone is the payload of proximity.milestone.reached.
type ProximityMilestone struct {
	ConnectionID string `json:"connectionId"`
	Milestone    int    `json:"milestone"`
	GiftTier     int    `json:"giftTier"`
	Message      string `json:"message"`
}

// ProximityRotate is the payload of proximity.token.rotate.
type ProximityRotate struct {
	ConnectionID string `json:"connectionId"`
	Token        string `json:"token"`
	ExpiresAt    string `json:"expiresAt"`
}

// ProximitySession is the ProximitySession model (bootstrap's
// proximitySession) for one participant: the token is its own, shown only
// while it lives.
type ProximitySession struct {
	ConnectionID          string  `json:"connectionId"`
	AccumulatedSeconds    int     `json:"accumulatedSeconds"`
	Status                string  `json:"status"`
	CurrentSessionSeconds int     `json:"currentSessionSeconds"`
	UnlockedMilestones    []int   `json:"unlockedMilestones"`
	BLEToken              string  `json:"bleToken,omitempty"`
	BLETokenExpiresAt     *string `json:"bleTokenExpiresAt,omitempty"`
}

// ProximityRun is one entry of the summary's sessions.
type ProximityRun struct {
	StartedAt       string `json:"startedAt"`
	DurationSeconds int    `json:"durationSeconds"`
	Status          string `json:"status"`
}

// ProximitySummary answers GET /connections/:connectionId/proximity/summary.
type ProximitySummary struct {
	ConnectionID       string         `json:"connectionId"`
	AccumulatedSeconds int            `json:"accumulatedSeconds"`
	AccumulatedMinutes int            `json:"accumulatedMinutes"`
	UnlockedMilestones []int          `json:"unlockedMilestones"`
	NextMilestone      *int           `json:"nextMilestone"`
	SecondsUntilNext   *int           `json:"secondsUntilNext"`
	Sessions           []ProximityRun `json:"sessions"`
}
