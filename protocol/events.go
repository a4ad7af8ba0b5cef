package protocol

// Frame types of the `/ws` dialect.
const (
	TypeError = "error"

	TypeSessionStart     = "session.start"
	TypeSessionConnected = "session.connected"
	TypeSessionBootstrap = "session.bootstrap"
	TypeSessionRefresh   = "session.refresh"

	TypeUserProfileUpdated = "user.profile.updated"
	TypeVibeExpired        = "vibe.expired"

	TypeLocationUpdate  = "presence.location_update"
	TypePresenceUpdated = "presence.updated"
	TypeRadarSetVisible = "radar.set_visible"
	TypeRadarNearby     = "radar.nearby.updated"

	TypeRequestSend    = "connection.request.send"
	TypeRequestAccept  = "connection.request.accept"
	TypeRequestReject  = "connection.request.reject"
	TypeRequestCancel  = "connection.request.cancel"
	TypeRequestMissed  = "connection.request.missed"
	TypeConnClose      = "connection.close"
	TypeConnHistory    = "connection.history.fetch"
	TypeConnectionRing = "connection.ring"

	TypeProximityStart     = "proximity.session.start"
	TypeProximityConfirmed = "proximity.partner.confirmed"
	TypeProximityUpdated   = "proximity.session.updated"
	TypeProximityHeartbeat = "proximity.heartbeat"
	TypeProximityMilestone = "proximity.milestone.reached"
	TypeProximityRotate    = "proximity.token.rotate"
	TypeProximityEnd       = "proximity.session.end"

	TypeChatMessage      = "chat.message.created"
	TypeChatHistory      = "chat.history.fetch"
	TypeChatRead         = "chat.message.read"
	TypeChatTyping       = "chat.typing"
	TypeChatShareStart   = "chat.location.share.start"
	TypeChatShareUpdated = "chat.location.updated"
	TypeChatShareStop    = "chat.location.share.stop"
	TypeGiftHistory      = "gift.history.fetch"
	TypeGiftGranted      = "gift.sponsored.granted"
	TypeGiftUpdated      = "gift.sponsored.updated"
	TypeGiftClaim        = "gift.claim"
	TypeSafetyReport     = "safety.report"
	TypeSafetyBlock      = "safety.block"
	TypeSafetyUnblock    = "safety.unblock"
)

// PeerGiftTypes are the legacy peer-to-peer gift actions; each is answered
// with peer_gifts_disabled.
var PeerGiftTypes = map[string]bool{
	"gift.create":          true,
	"gift.unlock.confirm":  true,
	"gift.unlock.execute":  true,
	"gift.combine.confirm": true,
	"gift.redeem":          true,
}

// DomainOf names the feature area of a client frame type, for error frames.
func DomainOf(typ string) string {
	for i := 0; i < len(typ); i++ {
		if typ[i] == '.' {
			switch typ[:i] {
			case "session", "user", "vibe":
				return DomainSession
			case "presence", "radar":
				return DomainPresence
			case "connection":
				return DomainConnections
			case "proximity":
				return DomainProximity
			case "chat":
				return DomainChat
			case "gift":
				return DomainGifts
			case "safety":
				return DomainSafety
			}
			break
		}
	}
	return DomainSession
}
