package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// asOperator calls the operator API as a named operator.
func asOperator(t *testing.T, srv *servertest.Server, name, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	req.Header.Set("X-Operator", name)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, m
}

func fileReport(t *testing.T, m member, about, reason, id string) string {
	t.Helper()
	m.ws.Send("safety.report", map[string]any{"reportedUserId": about, "reason": reason}, id)
	return m.ws.ExpectReply("safety.report", id).Map(t)["reportId"].(string)
}

func reportIDsOf(t *testing.T, list map[string]any) []string {
	t.Helper()
	var out []string
	for _, r := range list["reports"].([]any) {
		out = append(out, r.(map[string]any)["reportId"].(string))
	}
	return out
}

// The report queue: filter by status, the worst accounts first, the
// workflow open → reviewing → resolved with who resolved it, the reporter
// sees the new status, and the audit log records each step.
func TestModerationReportWorkflow(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	alice, bob, carol := joinAs(t, srv, "mod-alice"), joinAs(t, srv, "mod-bob"), joinAs(t, srv, "mod-carol")
	mallory, trent := joinAs(t, srv, "mod-mallory"), joinAs(t, srv, "mod-trent")
	first := fileReport(t, alice, trent.ID, "rude", "r1")
	m1 := fileReport(t, alice, mallory.ID, "spam", "r2")
	m2 := fileReport(t, bob, mallory.ID, "spam again", "r3")
	m3 := fileReport(t, carol, mallory.ID, "threats", "r4")

	st, list := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports?status=open", nil)
	if st != http.StatusOK {
		t.Fatalf("queue: %d %v", st, list)
	}
	if got := reportIDsOf(t, list); len(got) != 4 || got[0] != first {
		t.Fatalf("oldest first: %v", got)
	}
	_, worst := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports?status=open&sort=worst&limit=2", nil)
	if got := reportIDsOf(t, worst); len(got) != 2 || got[0] != m1 || got[1] != m2 || worst["nextCursor"] != "2" {
		t.Fatalf("worst first: %v", worst)
	}
	if r := worst["reports"].([]any)[0].(map[string]any); r["openReportsAgainstUser"] != 3.0 || r["reporterId"] != alice.ID {
		t.Fatalf("report view: %v", r)
	}
	_, rest := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports?status=open&sort=worst&limit=2&cursor=2", nil)
	if got := reportIDsOf(t, rest); len(got) != 2 || got[0] != m3 || got[1] != first || rest["nextCursor"] != nil {
		t.Fatalf("worst, second page: %v", rest)
	}

	st, rev := asOperator(t, srv, "Ada", http.MethodPatch, "/admin/reports/"+first, map[string]any{"status": "reviewing"})
	if st != http.StatusOK || rev["status"] != "reviewing" || rev["resolvedBy"] != nil {
		t.Fatalf("reviewing: %d %v", st, rev)
	}
	st, res := asOperator(t, srv, "Grace", http.MethodPatch, "/admin/reports/"+first, map[string]any{"status": "resolved", "resolution": "warned the user"})
	if st != http.StatusOK || res["status"] != "resolved" || res["resolution"] != "warned the user" || res["resolvedBy"] != "Grace" || res["resolvedAt"] == nil {
		t.Fatalf("resolved: %d %v", st, res)
	}
	_, resolved := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports?status=resolved", nil)
	if got := reportIDsOf(t, resolved); len(got) != 1 || got[0] != first {
		t.Fatalf("resolved queue: %v", got)
	}
	// The reporter sees it resolved in its next bootstrap.
	boot := alice.User.Dial().Start()
	for _, r := range boot["safetyReports"].([]any) {
		if rm := r.(map[string]any); rm["reportId"] == first && rm["status"] != "resolved" {
			t.Fatalf("reporter's bootstrap: %v", rm)
		}
	}

	for _, tc := range []struct {
		path string
		body any
		want int
		code string
	}{
		{"/admin/reports/" + first, map[string]any{"status": "closed"}, http.StatusBadRequest, "invalid_payload"},
		{"/admin/reports/" + first, map[string]any{"status": "resolved", "extra": 1}, http.StatusBadRequest, "invalid_payload"},
		{"/admin/reports/sr_nope", map[string]any{"status": "resolved"}, http.StatusNotFound, "not_found"},
	} {
		if st, body := asOperator(t, srv, "Ada", http.MethodPatch, tc.path, tc.body); st != tc.want || body["code"] != tc.code {
			t.Errorf("PATCH %s %v: %d %v", tc.path, tc.body, st, body)
		}
	}
	for _, q := range []string{"?status=gone", "?cursor=%00", "?sort=random", "?sort=worst&cursor=x", "?limit=0"} {
		if st, body := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports"+q, nil); st != http.StatusBadRequest {
			t.Errorf("GET /admin/reports%s: %d %v", q, st, body)
		}
	}

	_, audit := asOperator(t, srv, "Ada", http.MethodGet, "/admin/audit?limit=10", nil)
	entries := audit["entries"].([]any)
	if len(entries) != 2 {
		t.Fatalf("audit: %v", audit)
	}
	newest, older := entries[0].(map[string]any), entries[1].(map[string]any)
	if newest["operator"] != "Grace" || newest["action"] != "report.update" || newest["target"] != first || older["operator"] != "Ada" {
		t.Fatalf("audit entries: %v", entries)
	}
}

// An operator terminates an account: both of its dialects are told and
// closed, its tokens and its login are refused, its partner's chat and
// connection close with account_terminated, and the reports against it
// are resolved.
func TestModerationTerminateAccount(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	bad, partner := joinBoth(t, srv, "terminated-soon"), joinBoth(t, srv, "their-partner")
	chat, conn := legacyConnected(t, bad, partner)
	reporter := joinAs(t, srv, "the-reporter")
	rep := fileReport(t, reporter, bad.ID, "abuse", "r1")

	st, out := asOperator(t, srv, "Ada", http.MethodPost, "/admin/users/"+bad.ID+"/terminate", map[string]any{"reason": "abuse of others"})
	if st != http.StatusOK || out["resolvedReports"] != 1.0 {
		t.Fatalf("terminate: %d %v", st, out)
	}
	if u := out["user"].(map[string]any); u["id"] != bad.ID || u["terminatedAt"] == nil {
		t.Fatalf("terminated user: %v", u)
	}

	if f := bad.ws.ExpectPush("error", waitEvent); f.ErrorCode() != "account_terminated" {
		t.Fatalf("/ws socket got %s", f.Raw)
	}
	if code := bad.ws.WaitClosed(waitEvent); code != protocol.CloseAccountDeleted {
		t.Fatalf("/ws closed with %d", code)
	}
	if f := bad.old.ExpectPush(protocol.EventAccountTerminated, waitEvent); f.Message() != protocol.TerminatedMessage {
		t.Fatalf("/socket got %s", f.Raw)
	}
	if code := bad.old.WaitClosed(waitEvent); code != protocol.CloseAccountDeleted {
		t.Fatalf("/socket closed with %d", code)
	}

	closed := partner.ws.ExpectPush("connection.close", waitEvent).Map(t)
	if closed["connectionId"] != conn || closed["closureReason"] != "account_terminated" {
		t.Fatalf("partner's connection.close: %v", closed)
	}
	if rm := data(t, partner.old.ExpectPush(protocol.EventChatParticipantRemoved, waitEvent)); rm["chat"] != chat || rm["user"] != bad.ID {
		t.Fatalf("chat-participant-removed: %v", rm)
	}
	partner.old.ExpectPush(protocol.EventChatDeleted, waitEvent)

	// Tokens and logins are refused, and a new socket is told and closed.
	if res := bad.Do(http.MethodGet, "/users/me", nil); res.Status != http.StatusForbidden || res.Code() != "account_terminated" {
		t.Fatalf("me: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": bad.RefreshToken}); res.Status != http.StatusForbidden && res.Status != http.StatusUnauthorized {
		t.Fatalf("refresh: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(http.MethodPost, "/auth/social-login", "", map[string]string{"provider": "dev", "idToken": "terminated-soon"}); res.Status != http.StatusForbidden || res.Code() != "account_terminated" {
		t.Fatalf("login again: %d %s", res.Status, res.Body)
	}
	// A new socket of either dialect is refused before the upgrade.
	for _, path := range []string{"/ws", "/socket"} {
		if res := servertest.DialRefused(t, srv.URL, path, bad.AccessToken); res.Status != http.StatusForbidden || res.Code() != "account_terminated" {
			t.Fatalf("new %s socket: %d %s", path, res.Status, res.Body)
		}
	}

	_, r := asOperator(t, srv, "Ada", http.MethodGet, "/admin/reports?status=resolved", nil)
	if got := reportIDsOf(t, r); len(got) != 1 || got[0] != rep {
		t.Fatalf("resolved reports: %v", r)
	}
	if v := r["reports"].([]any)[0].(map[string]any); v["resolvedBy"] != "Ada" || v["resolution"] != "account terminated: abuse of others" {
		t.Fatalf("resolution: %v", v)
	}
	_, audit := asOperator(t, srv, "Ada", http.MethodGet, "/admin/audit", nil)
	if e := audit["entries"].([]any)[0].(map[string]any); e["action"] != "user.terminate" || e["target"] != bad.ID || e["detail"] != "abuse of others" {
		t.Fatalf("audit: %v", audit)
	}
	// Terminating again is harmless; an unknown account is not found.
	if st, body := asOperator(t, srv, "Ada", http.MethodPost, "/admin/users/"+bad.ID+"/terminate", map[string]any{"reason": "again"}); st != http.StatusOK || body["resolvedReports"] != 0.0 {
		t.Fatalf("terminate twice: %d %v", st, body)
	}
	if st, body := asOperator(t, srv, "Ada", http.MethodPost, "/admin/users/user_nope/terminate", map[string]any{"reason": "x"}); st != http.StatusNotFound {
		t.Fatalf("terminate unknown: %d %v", st, body)
	}
	if st, body := asOperator(t, srv, "Ada", http.MethodPost, "/admin/users/"+partner.ID+"/terminate", map[string]any{"reason": "  "}); st != http.StatusBadRequest {
		t.Fatalf("terminate without a reason: %d %v", st, body)
	}
}

// Operators find users by id, name and username, terminated ones too.
func TestModerationUserSearch(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	ada := srv.Login("ada-lovelace")
	srv.Login("grace-hopper")
	if res := ada.Do(http.MethodPatch, "/users/profile", map[string]any{"username": "countess"}); res.Status != http.StatusOK {
		t.Fatalf("profile: %d %s", res.Status, res.Body)
	}
	find := func(q string) []string {
		t.Helper()
		st, body := asOperator(t, srv, "Ada", http.MethodGet, "/admin/users?q="+url.QueryEscape(q), nil)
		if st != http.StatusOK {
			t.Fatalf("search %q: %d %v", q, st, body)
		}
		var out []string
		for _, u := range body["users"].([]any) {
			out = append(out, u.(map[string]any)["id"].(string))
		}
		return out
	}
	for _, q := range []string{ada.ID, "countess", "LOVELACE"} {
		if got := find(q); len(got) != 1 || got[0] != ada.ID {
			t.Errorf("search %q = %v", q, got)
		}
	}
	if got := find("nobody-here"); len(got) != 0 {
		t.Errorf("search for nobody = %v", got)
	}
	if st, _ := asOperator(t, srv, "Ada", http.MethodGet, "/admin/users?q=", nil); st != http.StatusBadRequest {
		t.Errorf("empty search: %d", st)
	}
}

// The operator API refuses user tokens, and an address that keeps trying
// wrong tokens is locked out, the right token included, for a while.
func TestModerationAdminAuth(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	u := srv.Login("not-an-operator")
	if res := u.Do(http.MethodGet, "/admin/reports", nil); res.Status != http.StatusUnauthorized {
		t.Fatalf("user token: %d %s", res.Status, res.Body)
	}
	// The user token was the first wrong one; nine more use up the ten.
	for i := 2; i <= 10; i++ {
		if res := srv.Do(http.MethodGet, "/admin/reports", "wrong-token", nil); res.Status != http.StatusUnauthorized {
			t.Fatalf("wrong token #%d: %d %s", i, res.Status, res.Body)
		}
	}
	if res := srv.Do(http.MethodGet, "/admin/reports", testAdminToken, nil); res.Status != http.StatusTooManyRequests || res.Code() != "rate_limited" {
		t.Fatalf("after repeated failures: %d %s", res.Status, res.Body)
	}
}
