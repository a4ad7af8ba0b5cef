package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gisbi/engine/actors/rewards"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// The authorization test walks what the server really serves (the
// sessions' dispatch table of both dialects, and the fiber app's routes
// and middleware mounts) and tries every entry as a stranger. Each entry
// needs a row in authzRows: how a stranger forges an attempt on another
// user's object and what it must be answered, or why no attempt applies.
// A handler added without a row fails the test, and so does a row left
// behind for an entry no longer served.

// authzEnv is the world the strangers attack: owners a and b, connected,
// with a conversation, an active proximity run, two sponsored gifts (one
// claimed, so it has a redemption code), a device and refresh tokens; d
// with a request from a pending (and its expiry reminder); and the
// strangers c (no relation to anyone) and x (blocked by a).
type authzEnv struct {
	srv                    *servertest.Server
	a, b, d                member
	aOld, bOld             *servertest.WS
	c, x                   stranger
	connAB, chatAB, reqAD  string
	msgAB, msgBA           string // a's message to b and b's to a, both unread
	giftGranted, giftCode  string // a granted gift, and the claimed one's id
	code                   string // the claimed gift's redemption code
	bleA, bleB             string // a's and b's current BLE tokens
	brandKey, otherKey     string // the pair's brand's sponsor key, and another brand's
	campaignID, reportID   string
	deviceA                string
	refreshAJTI            string
	refreshBJTI            string
	baseline               map[string]string
	barriers, sourceOctets atomic.Int64
}

// stranger is a user trying what is not theirs, with both dialects open.
type stranger struct {
	name string
	member
	old *servertest.WS
}

// authzAttempt is one forged attempt and what it must be answered:
// "<code>" or "ok" on a socket (the legacy dialect's error event names
// the code), "<status> <code>" or "<status>" over REST.
type authzAttempt struct {
	name string
	try  func(t *testing.T, e *authzEnv, s stranger) string
	want string
	// once: the attempt does not depend on who the stranger is (another
	// brand's sponsor key); c makes it.
	once bool
	// onlyBlocked: only x makes it (c may do this by design).
	onlyBlocked bool
}

// authzRow is one served entry's rule: attempts, or an exemption saying
// why a stranger has nothing to try (it may still carry attempts that
// pin the harmless outcome).
type authzRow struct {
	exempt   string
	attempts []authzAttempt
}

const (
	ownData       = "acts only on the caller's own data"
	public        = "public: names no user's object"
	byDesign      = "the caller's own request: anyone may ask anyone, the target decides"
	refusedForAll = "refused for everyone (peer_gifts_disabled)"
)

// authzRows is the table every served entry must appear in: "ws <type>",
// "socket <event>", "<METHOD> <route>" and "USE <prefix>".
func authzRows() map[string]authzRow {
	rows := map[string]authzRow{
		// /ws frames.
		"ws session.start":            {exempt: ownData},
		"ws session.refresh":          {attempts: []authzAttempt{{name: "a's access token", try: wsTry(protocol.TypeSessionRefresh, func(e *authzEnv) any { return map[string]any{"accessToken": e.a.AccessToken} }), want: "forbidden"}}},
		"ws presence.location_update": {exempt: ownData},
		"ws radar.set_visible":        {exempt: ownData},
		"ws connection.request.send": {exempt: byDesign, attempts: []authzAttempt{
			{name: "to a, who blocked x", try: wsTry(protocol.TypeRequestSend, func(e *authzEnv) any { return map[string]any{"userId": e.a.ID} }), want: "blocked", onlyBlocked: true},
		}},
		"ws connection.request.accept": {attempts: []authzAttempt{{name: "a's request to d", try: wsTry(protocol.TypeRequestAccept, func(e *authzEnv) any { return map[string]any{"requestId": e.reqAD} }), want: "forbidden"}}},
		"ws connection.request.reject": {attempts: []authzAttempt{{name: "a's request to d", try: wsTry(protocol.TypeRequestReject, func(e *authzEnv) any { return map[string]any{"requestId": e.reqAD} }), want: "forbidden"}}},
		"ws connection.request.cancel": {attempts: []authzAttempt{{name: "a's request to d", try: wsTry(protocol.TypeRequestCancel, func(e *authzEnv) any { return map[string]any{"requestId": e.reqAD} }), want: "forbidden"}}},
		"ws connection.close":          {attempts: []authzAttempt{{name: "a and b's connection", try: wsTry(protocol.TypeConnClose, func(e *authzEnv) any { return map[string]any{"connectionId": e.connAB} }), want: "forbidden"}}},
		"ws connection.history.fetch":  {exempt: ownData},
		"ws connection.ring":           {attempts: []authzAttempt{{name: "a", try: wsTry(protocol.TypeConnectionRing, func(e *authzEnv) any { return map[string]any{"userId": e.a.ID} }), want: "active_connection_required"}}},
		"ws chat.message.created":      {attempts: []authzAttempt{{name: "to a", try: wsTry(protocol.TypeChatMessage, func(e *authzEnv) any { return map[string]any{"recipientId": e.a.ID, "content": "hi"} }), want: "active_connection_required"}}},
		"ws chat.message.read": {attempts: []authzAttempt{
			{name: "a's message to b", try: wsTry(protocol.TypeChatRead, func(e *authzEnv) any { return map[string]any{"messageId": e.msgAB} }), want: "forbidden"},
			{name: "b's message to a", try: wsTry(protocol.TypeChatRead, func(e *authzEnv) any { return map[string]any{"messageId": e.msgBA} }), want: "forbidden"},
		}},
		"ws chat.history.fetch":        {exempt: ownData},
		"ws chat.typing":               {attempts: []authzAttempt{relayTry(protocol.TypeChatTyping, map[string]any{"isTyping": true})}},
		"ws chat.location.share.start": {attempts: []authzAttempt{relayTry(protocol.TypeChatShareStart, map[string]any{"location": map[string]any{"lat": 52.52, "lng": 13.4}})}},
		"ws chat.location.updated":     {attempts: []authzAttempt{relayTry(protocol.TypeChatShareUpdated, map[string]any{"location": map[string]any{"lat": 52.52, "lng": 13.4}})}},
		"ws chat.location.share.stop":  {attempts: []authzAttempt{relayTry(protocol.TypeChatShareStop, nil)}},
		"ws proximity.session.start": {attempts: []authzAttempt{
			{name: "a and b's connection with a's token", try: wsTry(protocol.TypeProximityStart, func(e *authzEnv) any { return map[string]any{"connectionId": e.connAB, "token": e.bleA, "rssi": -60} }), want: "forbidden"},
		}},
		"ws proximity.heartbeat": {attempts: []authzAttempt{
			{name: "a and b's connection with b's token", try: wsTry(protocol.TypeProximityHeartbeat, func(e *authzEnv) any { return map[string]any{"connectionId": e.connAB, "token": e.bleB, "rssi": -60} }), want: "forbidden"},
		}},
		"ws proximity.session.end": {attempts: []authzAttempt{{name: "a and b's run", try: wsTry(protocol.TypeProximityEnd, func(e *authzEnv) any { return map[string]any{"connectionId": e.connAB} }), want: "forbidden"}}},
		"ws safety.report":         {exempt: "files the caller's own report for the operators; anyone may report anyone, and the reported user is told nothing"},
		"ws safety.block":          {exempt: "edits the caller's own block list; the blocked user is told nothing"},
		"ws safety.unblock":        {exempt: "edits the caller's own block list; the unblocked user is told nothing"},
		"ws gift.history.fetch": {exempt: ownData, attempts: []authzAttempt{
			// A cursor only says where to go on in the caller's own list.
			{name: "a cursor past a and b's gift", want: "ok gifts=0", try: func(t *testing.T, e *authzEnv, s stranger) string {
				rid := fmt.Sprintf("authz-%d", e.barriers.Add(1))
				s.ws.Send(protocol.TypeGiftHistory, map[string]any{"cursor": rewards.EncodeCursor(e.giftCode)}, rid)
				f := s.ws.Take(func(f *servertest.Frame) bool { return f.RequestID == rid }, 10*time.Second)
				switch {
				case f == nil:
					return "no answer"
				case f.Type == protocol.TypeError:
					return f.ErrorCode()
				}
				return fmt.Sprintf("ok gifts=%d", len(f.Map(t)["sponsoredGifts"].([]any)))
			}},
		}},
		"ws gift.claim": {attempts: []authzAttempt{
			{name: "a and b's granted gift", try: wsTry(protocol.TypeGiftClaim, func(e *authzEnv) any { return map[string]any{"giftId": e.giftGranted} }), want: "forbidden"},
			// A claimed gift answers its code to the pair: never to anyone else.
			{name: "a and b's claimed gift", try: wsTry(protocol.TypeGiftClaim, func(e *authzEnv) any { return map[string]any{"giftId": e.giftCode} }), want: "forbidden"},
		}},

		// /socket events: a chat names a pair.
		"socket typing-started": {attempts: []authzAttempt{legacyTry(protocol.EventTypingStarted)}},
		"socket typing-stopped": {attempts: []authzAttempt{legacyTry(protocol.EventTypingStopped)}},
		"socket messages-read":  {attempts: []authzAttempt{legacyTry(protocol.EventMessagesRead)}},

		// REST.
		"USE /":                   {exempt: "middleware for every route (request ids, the rate limit, the 404/405 fallback); serves nothing of its own"},
		"GET /healthz":            {exempt: public},
		"GET /readyz":             {exempt: public},
		"GET /metrics":            {exempt: public + " (node-wide counters)"},
		"GET /ws":                 {exempt: "the upgrade names no object; every frame served on the socket has a row of its own"},
		"GET /socket":             {exempt: "the upgrade names no object; every event served on the socket has a row of its own"},
		"POST /auth/social-login": {exempt: public + " (the ID token is the credential)"},
		"POST /auth/refresh":      {exempt: "the refresh token is the credential: whoever holds it is its user"},
		"POST /auth/logout": {attempts: []authzAttempt{
			{name: "a's refresh token", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/auth/logout" }, func(e *authzEnv) any { return map[string]any{"refreshToken": e.a.RefreshToken} }), want: "403 forbidden"},
			// Someone else's push token reads as unknown: a's device stays active (the baseline checks it).
			{name: "a's device token", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/auth/logout" }, func(e *authzEnv) any { return map[string]any{"deviceToken": e.deviceA} }), want: "200"},
		}},
		"POST /auth/delete-account": {exempt: ownData},
		"POST /devices/register":    {exempt: "a push token identifies an app install: registering it moves the install to the caller, as when another account signs in on that phone"},
		"PATCH /users/profile":      {exempt: ownData},
		"GET /users/me":             {exempt: ownData},
		"GET /conversations":        {exempt: ownData},
		"GET /conversations/:userId/messages": {attempts: []authzAttempt{
			// The conversation is always the caller's with :userId: a's
			// messages with b never show.
			{name: "with a", try: pageTry(func(e *authzEnv) string { return "/conversations/" + e.a.ID + "/messages" }), want: "200 messages=0"},
			{name: "with a, before a's message to b", try: pageTry(func(e *authzEnv) string { return "/conversations/" + e.a.ID + "/messages?before=" + e.msgAB }), want: "400 invalid_payload"},
		}},
		"GET /chats": {exempt: ownData},
		"GET /chats/:chat/messages": {attempts: []authzAttempt{
			{name: "a and b's chat", try: pageTry(func(e *authzEnv) string { return "/chats/" + e.chatAB + "/messages" }), want: "403 forbidden"},
		}},
		"POST /chats/:chat/messages": {attempts: []authzAttempt{
			{name: "a and b's chat", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/chats/" + e.chatAB + "/messages" }, func(*authzEnv) any { return map[string]any{"content": "hi"} }), want: "403 forbidden"},
		}},
		"GET /connections": {exempt: ownData},
		"POST /connections/:userId": {exempt: byDesign, attempts: []authzAttempt{
			{name: "to a, who blocked x", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/connections/" + e.a.ID }, nil), want: "403 blocked", onlyBlocked: true},
		}},
		"POST /connections/:userId/accept": {attempts: []authzAttempt{
			// Only a request :userId sent the caller is named: a's request to d is not.
			{name: "a (who asked d)", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/connections/" + e.a.ID + "/accept" }, nil), want: "404 request_not_found"},
		}},
		"DELETE /connections/:userId": {attempts: []authzAttempt{
			{name: "a (who asked d)", try: restTry(http.MethodDelete, func(e *authzEnv) string { return "/connections/" + e.a.ID }, nil), want: "404 request_not_found"},
		}},
		"POST /connections/:connectionId/proximity/token": {attempts: []authzAttempt{
			{name: "a and b's connection", try: restTry(http.MethodPost, func(e *authzEnv) string { return "/connections/" + e.connAB + "/proximity/token" }, nil), want: "403 forbidden"},
		}},
		"GET /connections/:connectionId/proximity/summary": {attempts: []authzAttempt{
			{name: "a and b's connection", try: restTry(http.MethodGet, func(e *authzEnv) string { return "/connections/" + e.connAB + "/proximity/summary" }, nil), want: "403 forbidden"},
		}},
		"GET /score":                {exempt: ownData},
		"POST /score/actions/:type": {exempt: ownData},

		// The sponsor API: a user's token is no sponsor key, and a brand
		// reaches its own codes only.
		"USE /sponsor": {attempts: []authzAttempt{
			{name: "a user token", try: restTry(http.MethodGet, func(e *authzEnv) string { return "/sponsor/anything" }, nil), want: "401 unauthorized"},
		}},
		"GET /sponsor/redemptions/:code":         {attempts: sponsorTries(http.MethodGet, "")},
		"POST /sponsor/redemptions/:code/redeem": {attempts: sponsorTries(http.MethodPost, "/redeem")},

		"USE /console":       {exempt: public + " (the operator console's static files; its data comes from the operator API)"},
		"GET /console":       {exempt: public + " (the operator console's page)"},
		"GET /console/:file": {exempt: public + " (the operator console's files)"},
		"GET /demo":          {exempt: public + " (the dev-mode demo page; it signs in like any client)"},
		"GET /demo/:file":    {exempt: public + " (the demo's scripts and stylesheet)"},
		"GET /docs":          {exempt: public + " (the API reference, rendered from the embedded documents)"},
		"GET /docs/:file":    {exempt: public + " (the two API documents and the reference's stylesheet)"},

		// Go's profiler is mounted under the operator group.
		"USE /admin": {attempts: operatorOnly(http.MethodGet, func(*authzEnv) string { return "/admin/debug/pprof/" }, nil)},
	}
	// The legacy peer-to-peer gift actions are refused for everyone.
	for typ := range protocol.PeerGiftTypes {
		rows["ws "+typ] = authzRow{exempt: refusedForAll, attempts: []authzAttempt{
			{name: "a and b's gift", try: wsTry(typ, func(e *authzEnv) any { return map[string]any{"giftId": e.giftCode} }), want: string(protocol.CodePeerGiftsDisabled)},
		}}
	}
	// The operator API: a user's token or a sponsor key is refused on
	// every route, each path filled with real ids and a body that would
	// act if it were let through.
	for route, ex := range map[string]struct {
		path func(*authzEnv) string
		body func(*authzEnv) any
	}{
		"GET /admin/users":                    {path: func(e *authzEnv) string { return "/admin/users?q=" + e.a.ID }},
		"GET /admin/users/:userId":            {path: func(e *authzEnv) string { return "/admin/users/" + e.a.ID }},
		"POST /admin/users/:userId/terminate": {path: func(e *authzEnv) string { return "/admin/users/" + e.a.ID + "/terminate" }, body: func(*authzEnv) any { return map[string]any{"reason": "stranger"} }},
		"GET /admin/reports":                  {path: func(*authzEnv) string { return "/admin/reports" }},
		"PATCH /admin/reports/:reportId":      {path: func(e *authzEnv) string { return "/admin/reports/" + e.reportID }, body: func(*authzEnv) any { return map[string]any{"status": "resolved"} }},
		"GET /admin/audit":                    {path: func(*authzEnv) string { return "/admin/audit" }},
		"GET /admin/backup":                   {path: func(*authzEnv) string { return "/admin/backup" }},
		"POST /admin/brands":                  {path: func(*authzEnv) string { return "/admin/brands" }, body: func(*authzEnv) any { return map[string]any{"name": "Stranger's brand"} }},
		"POST /admin/campaigns":               {path: func(*authzEnv) string { return "/admin/campaigns" }, body: func(*authzEnv) any { return map[string]any{"title": "x"} }},
		"GET /admin/campaigns":                {path: func(*authzEnv) string { return "/admin/campaigns" }},
		"GET /admin/campaigns/:campaignId":    {path: func(e *authzEnv) string { return "/admin/campaigns/" + e.campaignID }},
		"PATCH /admin/campaigns/:campaignId":  {path: func(e *authzEnv) string { return "/admin/campaigns/" + e.campaignID }, body: func(*authzEnv) any { return map[string]any{"status": "ended"} }},
	} {
		method, _, _ := strings.Cut(route, " ")
		rows[route] = authzRow{attempts: operatorOnly(method, ex.path, ex.body)}
	}
	return rows
}

// wsTry sends a /ws frame and answers the error code of its answer, or ok.
func wsTry(typ string, payload func(*authzEnv) any) func(*testing.T, *authzEnv, stranger) string {
	return func(t *testing.T, e *authzEnv, s stranger) string {
		rid := fmt.Sprintf("authz-%d", e.barriers.Add(1))
		s.ws.Send(typ, payload(e), rid)
		f := s.ws.Take(func(f *servertest.Frame) bool { return f.RequestID == rid }, 10*time.Second)
		switch {
		case f == nil:
			return "no answer"
		case f.Type == protocol.TypeError:
			return f.ErrorCode()
		}
		return "ok"
	}
}

// relayTry relays a chat frame to a, with whom the stranger has no connection.
func relayTry(typ string, extra map[string]any) authzAttempt {
	return authzAttempt{name: "to a", want: "active_connection_required", try: wsTry(typ, func(e *authzEnv) any {
		p := map[string]any{"recipientId": e.a.ID}
		maps.Copy(p, extra)
		return p
	})}
}

// legacyTry emits a legacy event on a and b's chat. A legacy event is
// answered only when it fails, and maybe later than frames sent after it
// (a Pair grain's refusal comes back asynchronously), so the attempt
// waits for its error event; every row here expects one.
func legacyTry(event string) authzAttempt {
	return authzAttempt{name: "a and b's chat", want: protocol.EventPermissionDenied, try: func(t *testing.T, e *authzEnv, s stranger) string {
		s.old.Emit(event, map[string]any{"chat": e.chatAB})
		f := s.old.Take(func(f *servertest.Frame) bool { return legacyErrors[f.Type] }, 10*time.Second)
		if f == nil {
			return "no error event within 10s"
		}
		return f.Type
	}}
}

// legacyErrors are the legacy dialect's error events.
var legacyErrors = map[string]bool{
	protocol.EventValidationFailed: true, protocol.EventNotFound: true, protocol.EventPermissionDenied: true,
	protocol.EventVerificationRequired: true, protocol.EventAuthorizationFailed: true,
	protocol.EventAccountTerminated: true, protocol.EventServerError: true,
}

// restTry sends a REST request with the stranger's access token and
// answers "<status> <code>".
func restTry(method string, path func(*authzEnv) string, body func(*authzEnv) any) func(*testing.T, *authzEnv, stranger) string {
	return func(t *testing.T, e *authzEnv, s stranger) string {
		var b any
		if body != nil {
			b = body(e)
		}
		return statusCode(s.Do(method, path(e), b))
	}
}

// pageTry reads a page of messages and answers how many it held.
func pageTry(path func(*authzEnv) string) func(*testing.T, *authzEnv, stranger) string {
	return func(t *testing.T, e *authzEnv, s stranger) string {
		res := s.Do(http.MethodGet, path(e), nil)
		if res.Status != http.StatusOK {
			return statusCode(res)
		}
		var page struct {
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(res.Body, &page); err != nil {
			return fmt.Sprintf("200 unreadable page: %s", res.Body)
		}
		return fmt.Sprintf("200 messages=%d", len(page.Messages))
	}
}

func statusCode(res *servertest.Response) string {
	if c := res.Code(); c != "" {
		return fmt.Sprintf("%d %s", res.Status, c)
	}
	return fmt.Sprint(res.Status)
}

// sponsorTries: a user's token is no sponsor key, and another brand's key
// does not reach the pair's code (not_found, as a code that never existed).
func sponsorTries(method, suffix string) []authzAttempt {
	path := func(e *authzEnv) string { return "/sponsor/redemptions/" + e.code + suffix }
	return []authzAttempt{
		{name: "a user token", try: restTry(method, path, nil), want: "401 unauthorized"},
		{name: "another brand's key", once: true, want: "404 not_found", try: func(t *testing.T, e *authzEnv, s stranger) string {
			return statusCode(servertest.Do(t, e.srv.URL, method, path(e), e.otherKey, nil))
		}},
	}
}

// operatorOnly: a user's token and a sponsor key are both refused. Each
// try comes from its own loopback address, so the lockout of addresses
// that keep presenting wrong operator tokens (429 after ten) never
// answers in place of the check itself.
func operatorOnly(method string, path func(*authzEnv) string, body func(*authzEnv) any) []authzAttempt {
	try := func(token func(*authzEnv, stranger) string) func(*testing.T, *authzEnv, stranger) string {
		return func(t *testing.T, e *authzEnv, s stranger) string {
			var b any
			if body != nil {
				b = body(e)
			}
			return statusCode(e.fromFreshAddress(t, method, path(e), token(e, s), b))
		}
	}
	return []authzAttempt{
		{name: "a user token", want: "401 unauthorized", try: try(func(_ *authzEnv, s stranger) string { return s.AccessToken })},
		{name: "a sponsor key", want: "401 unauthorized", once: true, try: try(func(e *authzEnv, _ stranger) string { return e.brandKey })},
	}
}

// fromFreshAddress sends a REST request from a loopback address no
// earlier request used.
func (e *authzEnv) fromFreshAddress(t *testing.T, method, path, token string, body any) *servertest.Response {
	t.Helper()
	n := e.sourceOctets.Add(1)
	local := &net.TCPAddr{IP: net.IPv4(127, 0, byte(1+n/250), byte(1+n%250))}
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: local, Timeout: 5 * time.Second}).DialContext}
	defer tr.CloseIdleConnections()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(raw))
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, path, local.IP, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return &servertest.Response{Status: res.StatusCode, Body: raw}
}

// servedEntries lists what the server serves: the frame types of both
// dialects from the sessions' dispatch table, the app's routes (a HEAD
// route fiber added beside a GET one is the GET's handlers), and the
// prefixes middleware is mounted on.
func servedEntries(srv *servertest.Server) []string {
	var out []string
	for _, typ := range srv.FrameTypes(protocol.DialectWS) {
		out = append(out, "ws "+typ)
	}
	for _, ev := range srv.FrameTypes(protocol.DialectLegacy) {
		out = append(out, "socket "+ev)
	}
	routes := map[string]bool{}
	for _, r := range srv.API.App.GetRoutes(true) {
		routes[r.Method+" "+r.Path] = true
	}
	for k := range routes {
		if m, p, _ := strings.Cut(k, " "); m == http.MethodHead && routes[http.MethodGet+" "+p] {
			continue
		}
		out = append(out, k)
	}
	mounts := map[string]bool{}
	for _, r := range srv.API.App.GetRoutes(false) {
		if !routes[r.Method+" "+r.Path] {
			mounts["USE "+r.Path] = true
		}
	}
	out = append(out, slices.Collect(maps.Keys(mounts))...)
	slices.Sort(out)
	return slices.Compact(out)
}

// TestStrangersAreRefusedEverywhere: every served entry has a row, every
// row names a served entry, and every attempt a row describes is answered
// as it says while a and b see nothing of it and keep their state.
func TestStrangersAreRefusedEverywhere(t *testing.T) {
	e := newAuthzEnv(t)
	rows := authzRows()
	served := servedEntries(e.srv)
	for _, entry := range served {
		if _, ok := rows[entry]; !ok {
			t.Errorf("%q is served but has no row in authzRows (server/authz_test.go): make its handler refuse a user acting on another user's object "+
				"(forbidden, not_found, request_not_found… as docs/protocol.md says), then add a row saying how a stranger tries it and what it is answered, "+
				"or an exemption with its reason", entry)
		}
	}
	for _, entry := range slices.Sorted(maps.Keys(rows)) {
		if !slices.Contains(served, entry) {
			t.Errorf("authzRows has a row for %q, which is no longer served: remove the row", entry)
		}
	}

	tried := 0
	for _, entry := range served {
		row, ok := rows[entry]
		if !ok {
			continue
		}
		if row.exempt == "" && len(row.attempts) == 0 {
			t.Errorf("%s: a row needs attempts or an exemption with its reason", entry)
		}
		t.Run(entry, func(t *testing.T) {
			if row.exempt != "" {
				t.Logf("exempt: %s", row.exempt)
			}
			for _, at := range row.attempts {
				for _, s := range []stranger{e.c, e.x} {
					if (at.once && s.name != e.c.name) || (at.onlyBlocked && s.name != e.x.name) {
						continue
					}
					got := at.try(t, e, s)
					tried++
					if got != at.want {
						t.Errorf("%s by %s (%s): answered %q, want %q", entry, s.name, at.name, got, at.want)
					}
					e.intact(t, fmt.Sprintf("%s by %s (%s)", entry, s.name, at.name))
				}
			}
		})
	}
	t.Logf("%d entries served, %d attempts by strangers", len(served), tried)
}

func newAuthzEnv(t *testing.T) *authzEnv {
	srv := servertest.Start(t, withAdmin, func(c *config.Config) {
		// Nothing pushes on its own while the strangers try: the run stays
		// active without heartbeats, tokens do not rotate, and the periodic
		// proximity update is far off. Any frame a and b receive is then
		// one a stranger caused.
		c.HeartbeatTimeout, c.ProximityGrace = time.Hour, time.Hour
		c.BLETokenTTL, c.BLETokenRotateBefore = 2*time.Hour, time.Minute
		c.ProximityUpdateInterval = time.Hour
		c.WSRate, c.WSBurst = 1000, 1000
		// Noon: no midnight score reset falls inside the test.
		c.ClockStart = time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour).Format(time.RFC3339)
	})
	e := &authzEnv{srv: srv}
	brandID, key := brand(t, srv, "Skyline Lounge")
	_, e.otherKey = brand(t, srv, "Northline Coffee")
	e.brandKey = key
	e.campaignID = campaign(t, srv, brandID, nil)
	campaign(t, srv, brandID, map[string]any{"title": "Second round"})

	e.a, e.b, e.d = joinAs(t, srv, "authz-a"), joinAs(t, srv, "authz-b"), joinAs(t, srv, "authz-d")
	e.c = stranger{name: "c (a stranger)", member: joinAs(t, srv, "authz-c")}
	e.x = stranger{name: "x (blocked by a)", member: joinAs(t, srv, "authz-x")}
	e.a.ws.Send(protocol.TypeSafetyBlock, map[string]any{"blockedUserId": e.x.ID}, "blk")
	e.a.ws.ExpectReply(protocol.TypeSafetyBlock, "blk")

	// a and b: connected, with two gifts, one of them claimed.
	e.connAB = pairUp(t, e.a, e.b)
	var gifts []string
	for range 2 {
		g := e.a.ws.ExpectPush(protocol.TypeGiftGranted, 5*time.Second).Map(t)
		e.b.ws.ExpectPush(protocol.TypeGiftGranted, 5*time.Second)
		gifts = append(gifts, g["giftId"].(string))
	}
	e.giftCode, e.giftGranted = gifts[0], gifts[1]
	e.a.ws.Send(protocol.TypeGiftClaim, map[string]any{"giftId": e.giftCode}, "claim")
	e.code = e.a.ws.ExpectReply(protocol.TypeGiftClaim, "claim").Map(t)["redemptionCode"].(string)
	e.b.ws.ExpectPush(protocol.TypeGiftUpdated, 5*time.Second)

	// Messages both ways, unread.
	e.msgAB = say(t, e.a, e.b, "hello b", "m1")["messageId"].(string)
	e.b.ws.ExpectPush(protocol.TypeChatMessage, 5*time.Second)
	e.msgBA = say(t, e.b, e.a, "hello a", "m2")["messageId"].(string)
	e.a.ws.ExpectPush(protocol.TypeChatMessage, 5*time.Second)

	// An active proximity run.
	pa, pb := newPhone(t, e.a, e.connAB), newPhone(t, e.b, e.connAB)
	handshake(t, pa, pb)
	e.bleA, e.bleB = pa.token, pb.token

	// a's pending request to d.
	e.reqAD = send(t, e.a, e.d)

	// a's device, a report for the operator routes, and the chat id.
	e.deviceA = "authz-device-of-a"
	if res := e.a.Do(http.MethodPost, "/devices/register", map[string]string{"token": e.deviceA, "platform": "android"}); res.Status != http.StatusOK {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	e.reportID = fileReport(t, e.b, e.x.ID, "spam", "rep")
	chats := chatsOf(t, e.a)
	if len(chats) != 1 {
		t.Fatalf("a's chats: %v", chats)
	}
	e.chatAB = chats[0]["_id"].(string)
	e.refreshAJTI, e.refreshBJTI = jti(t, e.a.RefreshToken), jti(t, e.b.RefreshToken)

	// Score counts the setup observed gather for up to 2 s; reading the
	// score stores them now, so no score-updated reaches the legacy
	// sockets opened next.
	for _, m := range []member{e.a, e.b} {
		if res := m.Do(http.MethodGet, "/score", nil); res.Status != http.StatusOK {
			t.Fatalf("score: %d %s", res.Status, res.Body)
		}
	}
	e.aOld, e.bOld = e.a.DialLegacy(), e.b.DialLegacy()
	e.c.old, e.x.old = e.c.DialLegacy(), e.x.DialLegacy()
	for _, w := range []*servertest.WS{e.a.ws, e.b.ws} {
		e.userBarrier(t, w)
	}
	for _, w := range []*servertest.WS{e.aOld, e.bOld} {
		legacyBarrier(t, e, w)
	}
	e.baseline = e.state(t)
	t.Logf("baseline: %d facts about a and b: %s", len(e.baseline), strings.Join(slices.Sorted(maps.Keys(e.baseline)), "; "))
	return e
}

// userBarrier asks the user's User grain a harmless question on socket w
// (radar.set_visible with the visibility it has) and returns every frame
// that came before the answer. Events from other grains reach a socket
// through its User grain, so whatever a stranger's attempt made a grain
// deliver to this user is in w's queue before the answer: the User grain
// took it before the question.
func (e *authzEnv) userBarrier(t *testing.T, w *servertest.WS) []*servertest.Frame {
	t.Helper()
	rid := fmt.Sprintf("authz-barrier-%d", e.barriers.Add(1))
	w.Send(protocol.TypeRadarSetVisible, map[string]any{"isOnRadar": true}, rid)
	var before []*servertest.Frame
	for {
		f := w.Take(func(*servertest.Frame) bool { return true }, 10*time.Second)
		switch {
		case f == nil:
			t.Fatalf("barrier %s not answered", rid)
		case f.RequestID != rid:
			before = append(before, f)
		case f.Type == protocol.TypeRadarNearby:
			return before
		case f.Type != protocol.TypePresenceUpdated:
			t.Fatalf("barrier %s answered %s", rid, f.Raw)
		}
	}
}

// jti reads a JWT's id without verifying it (the test only looks it up).
func jti(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		ID string `json:"jti"`
	}
	if err := json.Unmarshal(raw, &c); err != nil || c.ID == "" {
		t.Fatalf("token claims %s: %v", raw, err)
	}
	return c.ID
}

// intact checks that a stranger's attempt reached neither a nor b: no
// frame on any of their sockets, and their state as it was.
func (e *authzEnv) intact(t *testing.T, what string) {
	t.Helper()
	// The /ws barriers first: once they are answered, the User grains
	// have handed their sockets everything, the legacy ones included.
	for name, w := range map[string]*servertest.WS{"a's /ws": e.a.ws, "b's /ws": e.b.ws} {
		for _, f := range e.userBarrier(t, w) {
			t.Errorf("after %s: %s received %s", what, name, f.Raw)
		}
	}
	for name, w := range map[string]*servertest.WS{"a's /socket": e.aOld, "b's /socket": e.bOld} {
		for _, f := range legacyBarrier(t, e, w) {
			t.Errorf("after %s: %s received %s", what, name, f.Raw)
		}
	}
	now := e.state(t)
	keys := append(slices.Collect(maps.Keys(e.baseline)), slices.Collect(maps.Keys(now))...)
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		if now[k] != e.baseline[k] {
			t.Errorf("after %s: %s changed:\n was %s\n now %s", what, k, e.baseline[k], now[k])
		}
	}
	// Later attempts report only what they change themselves.
	e.baseline = now
}

// legacyBarrier emits an unknown event and returns every frame that came
// before its validation-failed answer.
func legacyBarrier(t *testing.T, e *authzEnv, w *servertest.WS) []*servertest.Frame {
	t.Helper()
	name := fmt.Sprintf("authz-barrier-%d", e.barriers.Add(1))
	w.Emit(name, nil)
	var before []*servertest.Frame
	for {
		f := w.Take(func(*servertest.Frame) bool { return true }, 10*time.Second)
		if f == nil {
			t.Fatalf("legacy barrier %s not answered", name)
		}
		if f.Type == protocol.EventValidationFailed && strings.Contains(f.Message(), name) {
			return before
		}
		before = append(before, f)
	}
}

// state is what a and b own, as they (and the store) see it.
func (e *authzEnv) state(t *testing.T) map[string]string {
	t.Helper()
	st := map[string]string{}
	rest := func(key string, m member, path string) {
		res := m.Do(http.MethodGet, path, nil)
		st[key] = fmt.Sprintf("%d %s", res.Status, res.Body)
	}
	rest("a: /users/me", e.a, "/users/me")
	rest("b: /users/me", e.b, "/users/me")
	rest("a: /conversations", e.a, "/conversations")
	rest("b: /conversations", e.b, "/conversations")
	rest("a: messages with b", e.a, "/conversations/"+e.b.ID+"/messages")
	rest("a: /connections", e.a, "/connections")
	rest("b: /connections", e.b, "/connections")
	rest("d: /connections", e.d, "/connections")
	rest("a: /chats", e.a, "/chats")
	// The run's together-time grows while it is active; its runs and
	// their states do not.
	res := e.a.Do(http.MethodGet, "/connections/"+e.connAB+"/proximity/summary", nil)
	var sum struct {
		Sessions []struct {
			StartedAt string `json:"startedAt"`
			Status    string `json:"status"`
		} `json:"sessions"`
		Milestones []int `json:"unlockedMilestones"`
	}
	_ = json.Unmarshal(res.Body, &sum)
	st["a and b: proximity runs"] = fmt.Sprintf("%d %+v", res.Status, sum)

	rid := fmt.Sprintf("authz-gifts-%d", e.barriers.Add(1))
	e.a.ws.Send(protocol.TypeGiftHistory, map[string]any{}, rid)
	var h struct {
		Gifts []struct {
			GiftID, ClaimStage, Status string
			Code                       *string `json:"redemptionCode"`
			ClaimedAt                  *string
			RedeemedAt                 *string
		} `json:"sponsoredGifts"`
	}
	if err := json.Unmarshal(e.a.ws.ExpectReply(protocol.TypeGiftHistory, rid).Payload, &h); err != nil {
		t.Fatal(err)
	}
	for _, g := range h.Gifts {
		code := ""
		if g.Code != nil {
			code = *g.Code
		}
		st["gift "+g.GiftID] = fmt.Sprintf("%s %s code=%s claimed=%v redeemed=%v", g.ClaimStage, g.Status, code, g.ClaimedAt != nil, g.RedeemedAt != nil)
	}

	ctx := context.Background()
	devs, err := e.srv.Store.Devices().ListByUser(ctx, e.a.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range devs {
		st["a's device "+d.Token] = fmt.Sprintf("active=%v", d.IsActive)
	}
	// Durable timers: the pending request's expiry, the gifts' and the
	// code's, the score's midnight.
	rs, err := e.srv.Store.Reminders().Due(ctx, time.Now().AddDate(10, 0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		st["reminder "+r.Kind+" "+r.Identity+" "+r.Name] = r.DueAt.UTC().Format(time.RFC3339Nano)
	}
	for who, id := range map[string]string{"a": e.refreshAJTI, "b": e.refreshBJTI} {
		tok, err := e.srv.Store.Tokens().Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		st[who+"'s refresh token"] = fmt.Sprintf("rotated=%v revoked=%v", tok.RotatedAt != nil, tok.RevokedAt != nil)
	}
	return st
}
