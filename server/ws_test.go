package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

func TestHandshakeNeedsAValidToken(t *testing.T) {
	srv := servertest.Start(t)
	cases := []struct {
		name   string
		header http.Header
		path   string
		status int
	}{
		{"no token", http.Header{}, "/ws", 401},
		{"bad bearer", http.Header{"Authorization": {"Bearer nope"}}, "/ws", 401},
		{"bad query token", http.Header{}, "/ws?access_token=nope", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, res, err := servertest.DialWS(t, srv.URL, tc.path, tc.header)
			if err == nil || res == nil || res.StatusCode != tc.status {
				t.Fatalf("dial: err %v, response %+v, want status %d", err, res, tc.status)
			}
		})
	}
}

func TestOriginAllowList(t *testing.T) {
	// Dev mode accepts any origin, so the user logs in on a dev server and the
	// allow-list is exercised on a production server over the same data (and key).
	dir := t.TempDir()
	dev := servertest.StartIn(t, dir)
	u := dev.Login("browser")
	dev.Stop()
	prod := servertest.StartIn(t, dir, func(c *config.Config) { c.Dev = false; c.AllowedOrigins = []string{"https://app.example.com"} })
	dial := func(origin string) (*http.Response, error) {
		h := http.Header{}
		if origin != "" {
			h.Set("Origin", origin)
		}
		_, res, err := servertest.DialWS(t, prod.URL, "/ws?access_token="+u.AccessToken, h)
		return res, err
	}
	if _, err := dial("https://app.example.com"); err != nil {
		t.Fatalf("allowed origin refused: %v", err)
	}
	if _, err := dial(""); err != nil {
		t.Fatalf("native client without Origin refused: %v", err)
	}
	if res, err := dial("https://evil.example.com"); err == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v", err, res)
	}
}

func TestSessionStartBootstrapsEveryKey(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("ada")
	ws := u.Dial()
	ws.SendRaw([]byte(`{"type":"session.start","payload":{},"requestId":"req_1","correlationId":"corr_1"}`))
	conn := ws.Expect("session.connected")
	boot := ws.Expect("session.bootstrap")
	for _, f := range []*servertest.Frame{conn, boot} {
		if f.RequestID != "req_1" || f.CorrelationID != "corr_1" {
			t.Fatalf("%s did not echo ids: %s", f.Type, f.Raw)
		}
		if _, err := time.Parse(time.RFC3339, f.Timestamp); err != nil {
			t.Fatalf("%s timestamp %q: %v", f.Type, f.Timestamp, err)
		}
	}
	b := boot.Map(t)
	for _, k := range protocol.BootstrapKeys {
		if _, ok := b[k]; !ok {
			t.Errorf("bootstrap lacks %q", k)
		}
	}
	if len(b) != len(protocol.BootstrapKeys) {
		t.Errorf("bootstrap has %d keys, want %d: %s", len(b), len(protocol.BootstrapKeys), boot.Payload)
	}
	cu := b["currentUser"].(map[string]any)
	if cu["id"] != u.ID || cu["name"] != "ada" {
		t.Fatalf("currentUser = %v", cu)
	}
	for _, k := range []string{"age", "avatar", "gender", "vibe", "vibeExpiresAt"} {
		if v, ok := cu[k]; !ok || v != nil {
			t.Errorf("currentUser.%s = %v (present %v), want null", k, v, ok)
		}
	}
	if p := b["presence"].(map[string]any); p["isOnRadar"] != true || p["isLive"] != false {
		t.Errorf("presence = %v", p)
	}
	if b["proximitySession"] != nil || b["sponsoredGiftsNextCursor"] != nil {
		t.Errorf("absent objects must be null: %s", boot.Payload)
	}
	if g, ok := b["gifts"].([]any); !ok || len(g) != 0 {
		t.Errorf("gifts = %v, want []", b["gifts"])
	}
}

func TestBadFramesAreAnsweredAndTheSocketStaysOpen(t *testing.T) {
	srv := servertest.Start(t)
	ws := srv.Login("fuzzy").Dial()
	cases := []struct {
		name  string
		frame string
		code  string
		reqID string
	}{
		{"not json", `{"type":`, "invalid_json", ""},
		{"not an object", `[1,2]`, "invalid_json", ""},
		{"unknown type", `{"type":"teleport.now","payload":{},"requestId":"r1"}`, "unknown_type", "r1"},
		{"missing type", `{"payload":{},"requestId":"r2"}`, "invalid_payload", "r2"},
		{"payload of wrong shape", `{"type":"safety.block","payload":{"blockedUserId":42},"requestId":"r3"}`, "invalid_payload", "r3"},
		{"payload not an object", `{"type":"safety.report","payload":"hi","requestId":"r4"}`, "invalid_payload", "r4"},
		{"missing field", `{"type":"safety.block","payload":{},"requestId":"r5"}`, "invalid_payload", "r5"},
		{"bad lastSeenAt", `{"type":"session.start","payload":{"lastSeenAt":"yesterday"},"requestId":"r6"}`, "invalid_payload", "r6"},
		{"peer gift", `{"type":"gift.create","payload":{},"requestId":"r7"}`, "peer_gifts_disabled", "r7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws.SendRaw([]byte(tc.frame))
			f := ws.ExpectError(tc.code)
			if f.RequestID != tc.reqID {
				t.Fatalf("requestId = %q, want %q", f.RequestID, tc.reqID)
			}
			p := f.Map(t)
			if p["domain"] == "" || p["message"] == "" || p["requestId"] != nilIfEmpty(tc.reqID) {
				t.Fatalf("error payload incomplete: %s", f.Payload)
			}
		})
	}
	// Still usable after all of that.
	ws.Start()
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.MaxFrameBytes = 4096 })
	ws := srv.Login("big").Dial()
	ws.Start()
	big := `{"type":"safety.report","payload":{"reason":"` + strings.Repeat("x", 5000) + `"}}`
	ws.SendRaw([]byte(big))
	if code := ws.WaitClosed(5 * time.Second); code != websocket.CloseMessageTooBig {
		t.Fatalf("close code = %d, want 1009", code)
	}
}

func TestFloodIsRateLimited(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.WSRate = 5; c.WSBurst = 5 })
	ws := srv.Login("flood").Dial()
	for i := 0; i < 20; i++ {
		ws.Send("teleport", map[string]any{}, "")
	}
	ws.ExpectErrorCode("rate_limited")
	// Within the limit again after a pause.
	time.Sleep(1200 * time.Millisecond)
	ws.Start()
}

func TestPersistentFloodIsDisconnected(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.WSRate = 1; c.WSBurst = 2 })
	ws := srv.Login("abuser").Dial()
	for i := 0; i < 40; i++ {
		ws.Conn.WriteMessage(websocket.TextMessage, []byte(`{"type":"x"}`))
	}
	if code := ws.WaitClosed(5 * time.Second); code != protocol.CloseAbuse {
		t.Fatalf("close code = %d, want %d", code, protocol.CloseAbuse)
	}
}

func TestProfileUpdateReachesEverySocket(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("twin")
	a, b := u.Dial(), u.Dial()
	a.Start()
	b.Start()
	res := u.Do(http.MethodPatch, "/users/profile", map[string]any{"name": "Twin Peaks", "age": 31, "avatar": "https://cdn.example.com/t.png", "gender": "female", "username": "twin.peaks", "bio": "hi"})
	if res.Status != 200 {
		t.Fatalf("patch: %d %s", res.Status, res.Body)
	}
	rest := res.JSON(t)
	if rest["name"] != "Twin Peaks" || rest["age"] != 31.0 || rest["username"] != "twin.peaks" {
		t.Fatalf("patch answer = %s", res.Body)
	}
	for _, ws := range []*servertest.WS{a, b} {
		f := ws.Expect("user.profile.updated")
		got := f.Map(t)["user"].(map[string]any)
		if got["name"] != "Twin Peaks" || got["gender"] != "female" {
			t.Fatalf("user.profile.updated = %s", f.Payload)
		}
	}
	me := u.Do(http.MethodGet, "/users/me", nil).JSON(t)
	if me["name"] != "Twin Peaks" || me["bio"] != "hi" {
		t.Fatalf("GET /users/me = %v", me)
	}
	// Clearing with null and "".
	res = u.Do(http.MethodPatch, "/users/profile", map[string]any{"age": nil, "avatar": ""})
	if m := res.JSON(t); m["age"] != nil || m["avatar"] != nil {
		t.Fatalf("clear: %s", res.Body)
	}
	// Invalid input is refused and changes nothing.
	for _, body := range []string{`{"age":-1}`, `{"name":""}`, `{"avatar":"ftp://x"}`, `{"nmae":"typo"}`, `{"vibe":"` + strings.Repeat("v", 141) + `"}`, `not json`} {
		res := u.Do(http.MethodPatch, "/users/profile", []byte(body))
		if res.Status != 400 {
			t.Errorf("PATCH %s: %d %s, want 400", body, res.Status, res.Body)
		}
	}
	// Usernames are unique, case-insensitively.
	other := srv.Login("other")
	if res := other.Do(http.MethodPatch, "/users/profile", map[string]any{"username": "TWIN.PEAKS"}); res.Status != 409 || res.Code() != "username_taken" {
		t.Fatalf("duplicate username: %d %s", res.Status, res.Body)
	}
}

func TestVibeExpires(t *testing.T) {
	// 120x: a one-minute vibe lasts half a second of real time.
	srv := servertest.Start(t, func(c *config.Config) { c.ClockSpeed = 120 })
	u := srv.Login("viber")
	ws := u.Dial()
	ws.Start()
	res := u.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "coffee #jazz", "vibeDurationMinutes": 1})
	if m := res.JSON(t); m["vibe"] != "coffee #jazz" || m["vibeExpiresAt"] == nil {
		t.Fatalf("set vibe: %s", res.Body)
	}
	ws.Expect("user.profile.updated")
	exp := ws.ExpectWithin("vibe.expired", 10*time.Second)
	if _, err := time.Parse(time.RFC3339, exp.Map(t)["expiredAt"].(string)); err != nil {
		t.Fatalf("vibe.expired = %s", exp.Payload)
	}
	upd := ws.Expect("user.profile.updated")
	if v := upd.Map(t)["user"].(map[string]any)["vibe"]; v != nil {
		t.Fatalf("vibe after expiry = %v", v)
	}
	if m := u.Do(http.MethodGet, "/users/me", nil).JSON(t); m["vibe"] != nil {
		t.Fatalf("stored vibe after expiry = %v", m["vibe"])
	}
}

func TestVibeExpiresAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	fast := func(c *config.Config) { c.ClockSpeed = 20 } // one minute = 3 s
	srv := servertest.StartIn(t, dir, fast)
	u := srv.Login("sleeper")
	if res := u.Do(http.MethodPatch, "/users/profile", map[string]any{"vibe": "napping", "vibeDurationMinutes": 1}); res.Status != 200 {
		t.Fatalf("set vibe: %d %s", res.Status, res.Body)
	}
	srv.Stop()
	srv = servertest.StartIn(t, dir, fast)
	ws := servertest.LoginAt(t, srv.URL, "dev", "sleeper").Dial()
	boot := ws.Start()
	if v := boot["currentUser"].(map[string]any)["vibe"]; v != "napping" {
		t.Fatalf("vibe lost across restart: %v", v)
	}
	ws.ExpectWithin("vibe.expired", 15*time.Second)
}

func TestSafetyReportBlockUnblock(t *testing.T) {
	srv := servertest.Start(t)
	a, b := srv.Login("alice"), srv.Login("bob")
	ws, ws2 := a.Dial(), a.Dial()
	ws.Start()
	ws2.Start()

	ws.Send("safety.report", map[string]any{"reportedUserId": b.ID, "reason": "  Harassment "}, "rep")
	rep := ws.Expect("safety.report")
	p := rep.Map(t)
	if rep.RequestID != "rep" || p["reportedUserId"] != b.ID || p["reason"] != "Harassment" || p["status"] != "open" || !strings.HasPrefix(p["reportId"].(string), "sr_") {
		t.Fatalf("safety.report = %s", rep.Raw)
	}
	ws.Send("safety.block", map[string]any{"blockedUserId": b.ID}, "blk")
	if f := ws.Expect("safety.block"); f.RequestID != "blk" || f.Map(t)["blockedUserId"] != b.ID {
		t.Fatalf("safety.block = %s", f.Raw)
	}
	// The user's other device hears about it too.
	if f := ws2.Expect("safety.block"); f.Map(t)["blockedUserId"] != b.ID {
		t.Fatalf("second socket: %s", f.Raw)
	}
	boot := a.Dial().Start()
	if ids := boot["blockedUserIds"].([]any); len(ids) != 1 || ids[0] != b.ID {
		t.Fatalf("blockedUserIds = %v", ids)
	}
	if reps := boot["safetyReports"].([]any); len(reps) != 1 || reps[0].(map[string]any)["reportedUserId"] != b.ID {
		t.Fatalf("safetyReports = %v", reps)
	}
	ws.Send("safety.unblock", map[string]any{"blockedUserId": b.ID}, "unb")
	ws.Expect("safety.unblock")
	if ids := a.Dial().Start()["blockedUserIds"].([]any); len(ids) != 0 {
		t.Fatalf("blockedUserIds after unblock = %v", ids)
	}

	errs := []struct {
		typ     string
		payload map[string]any
		code    string
	}{
		{"safety.block", map[string]any{"blockedUserId": a.ID}, "invalid_payload"},
		{"safety.block", map[string]any{"blockedUserId": "user_nobody"}, "user_not_found"},
		{"safety.report", map[string]any{"reportedUserId": "user_nobody", "reason": "x"}, "user_not_found"},
		{"safety.report", map[string]any{"reportedUserId": b.ID, "reason": "   "}, "invalid_payload"},
		{"safety.report", map[string]any{"reportedUserId": b.ID, "reason": strings.Repeat("r", 501)}, "invalid_payload"},
		{"safety.report", map[string]any{"reportedUserId": a.ID, "reason": "me"}, "invalid_payload"},
	}
	for _, e := range errs {
		ws.Send(e.typ, e.payload, "e")
		if f := ws.ExpectError(e.code); f.Map(t)["domain"] != "safety" {
			t.Fatalf("domain: %s", f.Payload)
		}
	}
}

func TestSessionRefreshAndTokenExpiry(t *testing.T) {
	// Access tokens last 4 minutes of clock time; at 60x that is 4 s.
	srv := servertest.Start(t, func(c *config.Config) { c.ClockSpeed = 60; c.AccessTTL = 4 * time.Minute })
	u := srv.Login("expiring")
	kept, dropped := u.Dial(), u.Dial()
	kept.Start()
	dropped.Start()
	// Someone else's token cannot extend this socket.
	kept.Send("session.refresh", map[string]any{"accessToken": srv.Login("intruder").AccessToken}, "x")
	kept.ExpectError("forbidden")
	// A token issued 2 s later lives 2 minutes of clock (2 s) longer.
	time.Sleep(2 * time.Second)
	fresh := srv.Do(http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": u.RefreshToken}).JSON(t)
	kept.Send("session.refresh", map[string]any{"accessToken": fresh["accessToken"]}, "ref")
	if f := kept.Expect("session.refresh"); f.RequestID != "ref" || f.Map(t)["expiresAt"] == nil {
		t.Fatalf("session.refresh = %s", f.Raw)
	}
	if f := dropped.ExpectWithin("error", 8*time.Second); f.ErrorCode() != "token_expired" {
		t.Fatalf("dropped socket got %s", f.Raw)
	}
	if code := dropped.WaitClosed(5 * time.Second); code != protocol.CloseTokenExpired {
		t.Fatalf("close code = %d, want 4001", code)
	}
	kept.NoFrame("error", 300*time.Millisecond)
	kept.Send("session.start", map[string]any{}, "alive")
	kept.Expect("session.bootstrap")
}

func TestDeleteAccountClosesSocketsAndFreesTheIdentity(t *testing.T) {
	srv, google, _ := startWithProviders(t)
	first := login(srv, "google", google.Token("g-leaver", googleClient)).JSON(t)
	token := first["accessToken"].(string)
	oldID := first["user"].(map[string]any)["id"].(string)
	h := http.Header{"Authorization": {"Bearer " + token}}
	ws1, _, err := servertest.DialWS(t, srv.URL, "/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	ws2, _, err := servertest.DialWS(t, srv.URL, "/ws", h)
	if err != nil {
		t.Fatal(err)
	}
	ws1.Start()
	ws2.Start()
	if res := servertest.Do(t, srv.URL, http.MethodPost, "/auth/delete-account", token, map[string]string{}); res.Status != 400 {
		t.Fatalf("delete without reason: %d %s", res.Status, res.Body)
	}
	if res := servertest.Do(t, srv.URL, http.MethodPost, "/auth/delete-account", token, map[string]string{"reason": "moving on"}); res.Status != 200 {
		t.Fatalf("delete: %d %s", res.Status, res.Body)
	}
	for _, ws := range []*servertest.WS{ws1, ws2} {
		if code := ws.WaitClosed(5 * time.Second); code != protocol.CloseAccountDeleted {
			t.Fatalf("close code = %d, want 4003", code)
		}
	}
	// The old credentials are dead.
	if res := servertest.Do(t, srv.URL, http.MethodGet, "/users/me", token, nil); res.Status != 401 || res.Code() != "account_deleted" {
		t.Fatalf("me after delete: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": first["refreshToken"].(string)}); res.Status != 401 {
		t.Fatalf("refresh after delete: %d %s", res.Status, res.Body)
	}
	// A new socket is refused before the upgrade, as REST is.
	for _, path := range []string{"/ws", "/socket"} {
		if res := servertest.DialRefused(t, srv.URL, path, token); res.Status != http.StatusUnauthorized || res.Code() != "account_deleted" {
			t.Fatalf("new %s socket of a deleted account: %d %s", path, res.Status, res.Body)
		}
	}
	// Same Google sub, fresh account.
	again := login(srv, "google", google.Token("g-leaver", googleClient)).JSON(t)
	newUser := again["user"].(map[string]any)
	if newUser["id"] == oldID {
		t.Fatal("login after delete returned the deleted account")
	}
	b, _ := json.Marshal(newUser)
	if newUser["vibe"] != nil || newUser["age"] != nil {
		t.Fatalf("fresh account carries old data: %s", b)
	}
}

func TestSessionLimitClosesTheOldestSocket(t *testing.T) {
	srv := servertest.Start(t, func(c *config.Config) { c.MaxSocketsPerUser = 2 })
	u := srv.Login("many")
	first := u.Dial()
	first.Start()
	second := u.Dial()
	second.Start()
	third := u.Dial()
	third.Start()
	if code := first.WaitClosed(5 * time.Second); code != protocol.CloseSessionLimit {
		t.Fatalf("oldest socket closed with %d, want %d", code, protocol.CloseSessionLimit)
	}
	second.Send("session.start", map[string]any{}, "still")
	second.Expect("session.bootstrap")
}

func TestDevicesRegister(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("phone")
	res := u.Do(http.MethodPost, "/devices/register", map[string]string{"token": "fcm_abc", "platform": "android"})
	if res.Status != 200 {
		t.Fatalf("register: %d %s", res.Status, res.Body)
	}
	d := res.JSON(t)["device"].(map[string]any)
	if d["token"] != "fcm_abc" || d["platform"] != "android" || d["isActive"] != true {
		t.Fatalf("device = %v", d)
	}
	if res := u.Do(http.MethodPost, "/devices/register", map[string]string{"token": "x", "platform": "toaster"}); res.Status != 400 {
		t.Fatalf("bad platform: %d", res.Status)
	}
	if res := srv.Do(http.MethodPost, "/devices/register", "", map[string]string{"token": "x", "platform": "ios"}); res.Status != 401 {
		t.Fatalf("anonymous register: %d", res.Status)
	}
}

// An upgrade the WebSocket library refuses is the client's mistake: it is
// answered 400 with the JSON error body, not 500 (which it was, logged as
// a server failure, while the library's own answer was overwritten).
func TestMalformedUpgradeIsRefusedAsBadRequest(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("malformed-upgrade")
	for _, path := range []string{"/ws", "/socket"} {
		for _, tc := range []struct {
			name    string
			version string
			key     string
		}{
			{"version 12", "12", "dGhlIHNhbXBsZSBub25jZQ=="},
			{"no key", "13", ""},
		} {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				req, err := http.NewRequest("GET", srv.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("Authorization", "Bearer "+u.AccessToken)
				req.Header.Set("Connection", "Upgrade")
				req.Header.Set("Upgrade", "websocket")
				req.Header.Set("Sec-WebSocket-Version", tc.version)
				if tc.key != "" {
					req.Header.Set("Sec-WebSocket-Key", tc.key)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				var body protocol.RESTError
				if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
					t.Fatalf("status %d, body is not the JSON error body: %v", res.StatusCode, err)
				}
				if res.StatusCode != http.StatusBadRequest || body.Code != protocol.CodeInvalidPayload {
					t.Fatalf("got %d %q (%s), want 400 %q", res.StatusCode, body.Code, body.Detail, protocol.CodeInvalidPayload)
				}
			})
		}
	}
}
