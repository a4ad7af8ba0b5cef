package protocol

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"math"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// payloadCase is how one frame type or REST route reads its payload: the
// decoding (lenient on sockets, strict on REST) and the validation its
// handler runs before anything reaches a grain or the store.
type payloadCase struct {
	// domain is what every refusal names; codes are the codes it may carry.
	domain string
	codes  []Code
	decode func(raw []byte) (any, *Error)
	// check is what an accepted value must hold; "" when it does.
	check func(v any) string
}

// socketCase decodes as Context.Decode does (DecodePayload in the frame
// type's domain), then validates.
func socketCase[T any](typ string, validate func(*T) *Error, check func(*T) string, codes ...Code) payloadCase {
	return lenientCase(DomainOf(typ), validate, check, codes...)
}

// lenientCase decodes with DecodePayload (unknown fields ignored), as
// sockets and the auth routes do, then validates.
func lenientCase[T any](domain string, validate func(*T) *Error, check func(*T) string, codes ...Code) payloadCase {
	return payloadCase{
		domain: domain,
		codes:  append([]Code{CodeInvalidJSON, CodeInvalidPayload}, codes...),
		decode: func(raw []byte) (any, *Error) {
			var p T
			if err := DecodePayload(raw, domain, &p); err != nil {
				return nil, err
			}
			if validate != nil {
				if err := validate(&p); err != nil {
					return nil, err
				}
			}
			return &p, nil
		},
		check: typedCheck(check),
	}
}

// restCase decodes as the operator and chats routes do (DecodeStrictIn:
// unknown fields refused), then validates.
func restCase[T any](domain string, validate func(*T) *Error, check func(*T) string, codes ...Code) payloadCase {
	return payloadCase{
		domain: domain,
		codes:  append([]Code{CodeInvalidJSON, CodeInvalidPayload}, codes...),
		decode: func(raw []byte) (any, *Error) {
			var p T
			if err := DecodeStrictIn(raw, domain, &p); err != nil {
				return nil, err
			}
			if validate != nil {
				if err := validate(&p); err != nil {
					return nil, err
				}
			}
			return &p, nil
		},
		check: typedCheck(check),
	}
}

func typedCheck[T any](check func(*T) string) func(any) string {
	return func(v any) string {
		if check == nil {
			return ""
		}
		return check(v.(*T))
	}
}

// relayCase is the chat relays: their handler turns a location's shape
// error into invalid_location, and what is accepted is what is forwarded.
func relayCase(typ string) payloadCase {
	return payloadCase{
		domain: DomainChat,
		codes:  []Code{CodeInvalidJSON, CodeInvalidPayload, CodeInvalidLocation, CodeMissingRecipientID, CodeUserNotFound},
		decode: func(raw []byte) (any, *Error) {
			var p ChatRelay
			if err := DecodePayload(raw, DomainChat, &p); err != nil {
				if err.Code == CodeInvalidPayload && (typ == TypeChatShareStart || typ == TypeChatShareUpdated) {
					err.Code = CodeInvalidLocation
				}
				return nil, err
			}
			return p.ValidateRelay(typ)
		},
		check: func(v any) string {
			r := v.(*ChatRelayed)
			switch {
			case !ValidID(r.RecipientID):
				return "recipientId " + r.RecipientID
			case typ == TypeChatTyping && r.IsTyping == nil:
				return "typing without isTyping"
			case (typ == TypeChatShareStart || typ == TypeChatShareUpdated) && (r.Location == nil || !validLatLng(r.Location.Lat, r.Location.Lng)):
				return "share without a valid location"
			case typ == TypeChatShareStop && (r.Location != nil || r.IsTyping != nil):
				return "stop forwards more than the recipient"
			}
			return ""
		},
	}
}

func validLatLng(lat, lng *float64) bool {
	return lat != nil && lng != nil && !math.IsNaN(*lat) && !math.IsNaN(*lng) && math.Abs(*lat) <= 90 && math.Abs(*lng) <= 180
}

func boundedText(name, s string, max int, trimmed bool) string {
	switch {
	case !utf8.ValidString(s):
		return name + " is not UTF-8"
	case utf8.RuneCountInString(s) > max:
		return name + " is too long"
	case trimmed && strings.TrimSpace(s) != s:
		return name + " is not trimmed"
	}
	return ""
}

// payloadCases are every payload the server decodes itself, by the frame
// type or route that reads it. The `/ws` envelope, the legacy envelope and
// PATCH /users/profile have targets of their own; FuzzSocketFrames and
// FuzzRESTRequests (server) reach all of these through the real handlers.
var payloadCases = map[string]payloadCase{
	TypeSessionStart: socketCase[SessionStart](TypeSessionStart, nil, nil),
	TypeSessionRefresh: socketCase(TypeSessionRefresh, (*SessionRefresh).Validate, func(p *SessionRefresh) string {
		if p.AccessToken == "" || len(p.AccessToken) > 4096 {
			return "accessToken out of bounds"
		}
		return ""
	}),
	TypeLocationUpdate: {
		domain: DomainPresence,
		codes:  []Code{CodeInvalidJSON, CodeInvalidLocation},
		decode: func(raw []byte) (any, *Error) {
			p, err := DecodeLocationUpdate(raw)
			if err != nil {
				return nil, err
			}
			return &p, nil
		},
		check: typedCheck(func(p *LocationUpdate) string {
			if !validLatLng(p.Lat, p.Lng) {
				return "lat/lng out of range"
			}
			for _, f := range []*float64{p.AccuracyMeters, p.Speed} {
				if f != nil && (*f < 0 || math.IsInf(*f, 0) || math.IsNaN(*f)) {
					return "negative or infinite accuracy or speed"
				}
			}
			if p.Heading != nil && (*p.Heading < 0 || *p.Heading > 360) {
				return "heading out of range"
			}
			return ""
		}),
	},
	TypeRadarSetVisible: socketCase(TypeRadarSetVisible, (*SetVisible).Validate, func(p *SetVisible) string {
		if p.IsOnRadar == nil {
			return "isOnRadar missing"
		}
		return ""
	}),
	TypeRequestSend:   socketCase[UserIDPayload](TypeRequestSend, nil, nil),
	TypeRequestAccept: socketCase[RequestIDPayload](TypeRequestAccept, nil, nil),
	TypeConnClose:     socketCase[ConnectionClose](TypeConnClose, nil, nil),
	TypeChatMessage: socketCase(TypeChatMessage, (*ChatSend).Validate, func(p *ChatSend) string {
		if !ValidID(p.RecipientID) {
			return "recipientId " + p.RecipientID
		}
		if p.ClientMessageID != nil && !ValidID(*p.ClientMessageID) {
			return "clientMessageId " + *p.ClientMessageID
		}
		if p.Content == "" {
			return "empty content"
		}
		return boundedText("content", p.Content, MaxMessageChars, true)
	}, CodeMissingRecipientID, CodeUserNotFound),
	TypeChatRead:         socketCase[ChatRead](TypeChatRead, nil, nil),
	TypeChatTyping:       relayCase(TypeChatTyping),
	TypeChatShareStart:   relayCase(TypeChatShareStart),
	TypeChatShareUpdated: relayCase(TypeChatShareUpdated),
	TypeChatShareStop:    relayCase(TypeChatShareStop),
	TypeProximityStart: socketCase(TypeProximityStart, (*ProximityScan).Validate, func(p *ProximityScan) string {
		if p.ConnectionID == "" || p.Token == "" || len(p.Token) > MaxScannedToken || p.RSSI == nil {
			return "scan out of bounds"
		}
		if r := p.ClampedRSSI(); r < -1000 || r > 1000 || (*p.RSSI >= -1000 && *p.RSSI <= 1000 && int(r) != *p.RSSI) {
			return "rssi clamped wrong"
		}
		return ""
	}, CodeInvalidToken),
	TypeProximityEnd: socketCase(TypeProximityEnd, (*ProximityEndRequest).Validate, func(p *ProximityEndRequest) string {
		if p.ConnectionID == "" {
			return "connectionId missing"
		}
		return ""
	}),
	TypeSafetyReport: socketCase(TypeSafetyReport, (*SafetyReportRequest).Validate, func(p *SafetyReportRequest) string {
		if !ValidID(p.ReportedUserID) || p.Reason == "" {
			return "report without a valid user or a reason"
		}
		return boundedText("reason", p.Reason, MaxReasonChars, true)
	}, CodeUserNotFound),
	TypeSafetyBlock: socketCase(TypeSafetyBlock, (*SafetyBlockRequest).Validate, func(p *SafetyBlockRequest) string {
		if !ValidID(p.BlockedUserID) {
			return "blockedUserId " + p.BlockedUserID
		}
		return ""
	}, CodeUserNotFound),
	TypeGiftHistory: socketCase(TypeGiftHistory, (*GiftHistoryRequest).Validate, func(p *GiftHistoryRequest) string {
		if p.Limit == nil || *p.Limit < 1 || *p.Limit > GiftHistoryMaxLimit {
			return "limit out of range"
		}
		if p.Cursor != nil && len(*p.Cursor) > 2*MaxIDChars {
			return "cursor too long"
		}
		return ""
	}),
	TypeGiftClaim: socketCase(TypeGiftClaim, (*GiftClaimRequest).Validate, func(p *GiftClaimRequest) string {
		if !ValidID(p.GiftID) {
			return "giftId " + p.GiftID
		}
		return ""
	}, CodeNotFound),
	// The legacy dialect's typing-started, typing-stopped and messages-read.
	"socket:" + EventTypingStarted: socketCase(TypeChatTyping, (*LegacyChat).Validate, func(p *LegacyChat) string {
		if !ValidID(p.Chat) {
			return "chat " + p.Chat
		}
		return ""
	}, CodeNotFound),

	"POST /auth/social-login":   lenientCase[SocialLoginRequest](DomainAuth, nil, nil),
	"POST /auth/refresh":        lenientCase[RefreshRequest](DomainAuth, nil, nil),
	"POST /auth/logout":         lenientCase[LogoutRequest](DomainAuth, nil, nil),
	"POST /auth/delete-account": lenientCase[DeleteAccountRequest](DomainAuth, nil, nil),
	"POST /chats/:chat/messages": restCase(DomainChat, (*LegacyChatPost).Validate, func(p *LegacyChatPost) string {
		if p.ClientMessageID != nil && !ValidID(*p.ClientMessageID) {
			return "clientMessageId " + *p.ClientMessageID
		}
		if p.Content == "" {
			return "empty content"
		}
		return boundedText("content", p.Content, MaxMessageChars, true)
	}),
	"PATCH /admin/reports/:reportId": restCase(DomainSafety, (*AdminReportPatch).Validate, func(p *AdminReportPatch) string {
		if !slices.Contains([]string{"open", "reviewing", "resolved"}, p.Status) {
			return "status " + p.Status
		}
		if p.Resolution != nil {
			return boundedText("resolution", *p.Resolution, MaxResolutionChars, false)
		}
		return ""
	}),
	"POST /admin/users/:userId/terminate": restCase(DomainSafety, (*TerminateRequest).Validate, func(p *TerminateRequest) string {
		if p.Reason == "" {
			return "empty reason"
		}
		return boundedText("reason", p.Reason, MaxResolutionChars, true)
	}),
	"POST /admin/brands": restCase(DomainGifts, (*BrandCreate).Validate, func(p *BrandCreate) string {
		if p.Name == "" || p.Slug == nil || !slugRe.MatchString(*p.Slug) || len(*p.Slug) > MaxSlugChars {
			return "brand without a name or a valid slug"
		}
		if p.Category != nil && *p.Category == "" {
			return "blank category kept"
		}
		return boundedText("name", p.Name, MaxBrandNameChars, true)
	}),
	"POST /admin/campaigns": restCase(DomainGifts, func(p *CampaignCreate) *Error { return p.Validate([]int{5, 15, 30, 60, 120, 240}) }, func(p *CampaignCreate) string {
		switch {
		case !ValidID(p.BrandID) || p.Title == "" || p.Description == "" || p.Terms == nil:
			return "campaign without its required fields"
		case p.TriggerType != TriggerConnectionAccepted && p.TriggerType != TriggerProximityMilestone:
			return "trigger " + p.TriggerType
		case (p.TriggerType == TriggerProximityMilestone) != (p.MilestoneMinutes != nil):
			return "milestoneMinutes and triggerType disagree"
		case p.RewardTTLValue < time.Minute || p.RewardTTLValue > MaxRewardTTL || p.CodeTTLValue < MinCodeTTL || p.CodeTTLValue > MaxCodeTTL:
			return "ttl out of range"
		case p.StartsAt != nil && p.EndsAt != nil && !p.EndsAt.After(*p.StartsAt):
			return "ends before it starts"
		case p.Stock != nil && *p.Stock < 1:
			return "stock below 1"
		}
		return boundedText("title", p.Title, MaxTitleChars, true) + boundedText("description", p.Description, MaxDescriptionChars, true)
	}, CodeNotFound),
	"PATCH /admin/campaigns/:campaignId": restCase(DomainGifts, (*CampaignPatch).Validate, func(p *CampaignPatch) string {
		if !slices.Contains([]string{"active", "paused", "ended"}, p.Status) {
			return "status " + p.Status
		}
		return ""
	}),
}

// payloadSeeds are realistic payloads by case.
var payloadSeeds = map[string][]string{
	TypeSessionStart:                      {`{"lastSeenAt":"2026-04-19T08:00:00Z"}`, `{"lastSeenAt":"2026-04-19T08:00:00+01:00"}`, `{"lastSeenAt":"yesterday"}`},
	TypeSessionRefresh:                    {`{"accessToken":"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyXzEifQ.c2ln"}`},
	TypeLocationUpdate:                    {`{"lat":6.5244,"lng":3.3792,"accuracyMeters":6.2,"heading":120.0,"speed":1.7}`, `{"lat":-90,"lng":180,"heading":360}`, `{"lat":1e309,"lng":0}`},
	TypeRadarSetVisible:                   {`{"isOnRadar":false}`},
	TypeRequestSend:                       {`{"userId":"user_01jd5x0000000000000000000"}`},
	TypeRequestAccept:                     {`{"requestId":"req_01jd5x0000000000000000000"}`},
	TypeConnClose:                         {`{"connectionId":"conn_01jd5x0000000000000000000","closureReason":"moved away"}`},
	TypeChatMessage:                       {`{"recipientId":"user_2","content":"hi","clientMessageId":"0b5f7c1e-6d0a-4f4e-9a55-2f1f7f3f9d10"}`, `{"recipientId":"user_2","content":"hi","clientMessageId":""}`, `{"recipientId":"user_2","content":"  hi 👋 <b>&amp;</b>\u2028 "}`, `{"recipientId":"user_2","content":"` + strings.Repeat("é", 4000) + `"}`, `{"recipientId":"user_\u0000"}`},
	TypeChatRead:                          {`{"messageId":"msg_01jd5x0000000000000000000"}`},
	TypeChatTyping:                        {`{"recipientId":"user_2","isTyping":true,"fromUserId":"user_9"}`},
	TypeChatShareStart:                    {`{"recipientId":"user_2","location":{"lat":6.5244,"lng":3.3792,"accuracyMeters":5,"updatedAt":"2026-04-19T08:00:00Z"}}`, `{"recipientId":"user_2","location":[1,2]}`},
	TypeChatShareUpdated:                  {`{"recipientId":"user_2","location":{"lat":6.5245,"lng":3.3793,"heading":90,"speed":1.2}}`},
	TypeChatShareStop:                     {`{"recipientId":"user_2"}`},
	TypeProximityStart:                    {`{"connectionId":"conn_1","token":"a3f9c2e1","rssi":-61}`, `{"connectionId":"conn_1","token":"a3f9c2e1","rssi":-9999999999}`},
	TypeProximityEnd:                      {`{"connectionId":"conn_1"}`},
	TypeSafetyReport:                      {`{"reportedUserId":"user_5","reason":"  spam  "}`},
	TypeSafetyBlock:                       {`{"blockedUserId":"user_5"}`},
	TypeGiftHistory:                       {`{"limit":10}`, `{"cursor":"ZzE6c2dnXzAx","limit":100}`, `{"limit":0}`},
	TypeGiftClaim:                         {`{"giftId":"sgg_01jd5x0000000000000000000"}`},
	"socket:" + EventTypingStarted:        {`{"chat":"chat_01jd5x0000000000000000000"}`},
	"POST /auth/social-login":             {`{"provider":"dev","idToken":"ada","deviceToken":"fcm-1","devicePlatform":"android"}`},
	"POST /auth/refresh":                  {`{"refreshToken":"eyJ.eyJ.sig"}`},
	"POST /auth/logout":                   {`{"refreshToken":"eyJ.eyJ.sig","deviceToken":"fcm-1"}`},
	"POST /auth/delete-account":           {`{"reason":"moving on"}`},
	"POST /chats/:chat/messages":          {`{"content":"hi","clientMessageId":"01JD5X0000000000000000000"}`, `{"content":"hi","clientMessageId":null}`, `{"content":" hello "}`, `{"content":"hi","extra":1}`},
	"PATCH /admin/reports/:reportId":      {`{"status":"resolved","resolution":"warned"}`, `{"status":"closed"}`},
	"POST /admin/users/:userId/terminate": {`{"reason":" repeated harassment "}`},
	"POST /admin/brands":                  {`{"name":"  Skyline Lounge! ","category":" lounge ","logo":"https://cdn.example.com/l.png"}`, `{"name":"Café","slug":"cafe-2","logo":"/media/l.png"}`},
	"POST /admin/campaigns": {`{"brandId":"brand_1","title":"Date Night","description":"Free appetizer","terms":"While stock lasts",` +
		`"triggerType":"proximityMilestone","milestoneMinutes":15,"minTotalTogetherMinutes":0,"minDistinctQualifyingDays":0,` +
		`"requireActiveProximityForClaim":false,"stock":10,"rewardTtl":"72h","codeTtl":"30m","startsAt":"2026-01-01T00:00:00+02:00","endsAt":"2026-12-31T00:00:00Z"}`},
	"PATCH /admin/campaigns/:campaignId": {`{"status":"paused"}`},
}

// FuzzPayloads runs each input through one payload's decoding and
// validation (the input's name picks the case; an unknown name picks one
// by its hash). Properties: a refusal carries one of the case's codes, in
// its domain, with a UTF-8 message; an accepted value holds the limits
// its validation promises, and encoded again it is accepted again and
// encodes to the same bytes (validation is idempotent, so what a handler
// stores or forwards reads back as itself).
func FuzzPayloads(f *testing.F) {
	names := make([]string, 0, len(payloadCases))
	for name := range payloadCases {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, s := range append([]string{`{}`, `null`, `[]`, `{"a":`}, payloadSeeds[name]...) {
			f.Add(name, []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, name string, raw []byte) {
		if _, ok := payloadCases[name]; !ok {
			h := fnv.New32a()
			h.Write([]byte(name))
			name = names[h.Sum32()%uint32(len(names))]
		}
		c := payloadCases[name]
		v, perr := c.decode(raw)
		if perr != nil {
			if !slices.Contains(c.codes, perr.Code) {
				t.Fatalf("%s %q: code %s (%s), want one of %v", name, raw, perr.Code, perr.Message, c.codes)
			}
			if perr.Domain != c.domain || perr.Message == "" || !utf8.ValidString(perr.Message) {
				t.Fatalf("%s %q: bad error %+v (want domain %s)", name, raw, perr, c.domain)
			}
			return
		}
		if msg := c.check(v); msg != "" {
			t.Fatalf("%s %q accepted: %s: %+v", name, raw, msg, v)
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s %q: re-encode %+v: %v", name, raw, v, err)
		}
		again, perr := c.decode(enc)
		if perr != nil {
			t.Fatalf("%s: %q accepted, but its encoding %s is refused: %v", name, raw, enc, perr)
		}
		enc2, err := json.Marshal(again)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("%s: not stable:\n%s\n%s (%v)", name, enc, enc2, err)
		}
	})
}
