package server_test

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gisbi/engine/protocol"
)

// restSeed is one realistic request of a route: the value of its path
// parameter, its query and its body, placeholders included.
type restSeed struct{ arg, query, body string }

// restSeeds are realistic requests by "METHOD /route". Every route is
// also seeded with an empty request, so a new route is fuzzed before
// anyone writes it a seed.
var restSeeds = map[string][]restSeed{
	"POST /auth/social-login": {
		{body: `{"provider":"dev","idToken":"fuzz-login"}`},
		{body: `{"provider":"dev","idToken":"fuzz-login","deviceToken":"fcm-token-123","devicePlatform":"android"}`},
		{body: `{"provider":"google","idToken":"$GOOGLE"}`},
		{body: `{"provider":"apple","idToken":"$APPLE","deviceToken":"apns-1","devicePlatform":"ios"}`},
		{body: `{"provider":"google","idToken":"eyJhbGciOiJSUzI1NiJ9.e30.c2ln"}`},
		{body: `{"provider":"dev","idToken":"a\u0000b"}`},
	},
	"POST /auth/refresh":        {{body: `{"refreshToken":"$REFRESH"}`}, {body: `{"refreshToken":"$ACCESS"}`}},
	"POST /auth/logout":         {{body: `{"refreshToken":"$REFRESH","deviceToken":"fcm-token-123"}`}, {body: `{}`}},
	"POST /auth/delete-account": {{body: `{"reason":"moving on"}`}, {body: `{"reason":""}`}},
	"POST /devices/register":    {{body: `{"token":"fcm-token-123","platform":"android"}`}, {body: `{"token":"apns","platform":"symbian"}`}},
	"PATCH /users/profile": {
		{body: `{"name":"Ada Lovelace","bio":"Engines.","age":36}`},
		{body: `{"vibe":"coffee ☕️","vibeDurationMinutes":90}`},
		{body: `{"username":"ada_l.99","avatar":"https://cdn.example.com/a.png"}`},
		{body: `{"avatar":null,"gender":""}`},
	},
	"GET /users/me":      {{}},
	"GET /connections":   {{query: "page=1&limit=10&status=pending"}, {query: "limit=0"}, {query: "status=accepted&page=2"}},
	"GET /conversations": {{}},
	"GET /conversations/:userId/messages": {
		{arg: "$PEER", query: "limit=5"}, {arg: "$PEER", query: "before=$MSG&limit=1"}, {arg: "$STRANGER"},
	},
	"GET /chats":                                       {{}},
	"GET /chats/:chat/messages":                        {{arg: "$CHAT", query: "limit=5"}, {arg: "$CHAT", query: "before=$MSG"}},
	"POST /chats/:chat/messages":                       {{arg: "$CHAT", body: `{"content":"hello there"}`}, {arg: "$CHAT", body: `{"content":""}`}, {arg: "$CHAT", body: `{"content":"once","clientMessageId":"fuzz-key-1"}`}},
	"POST /connections/:userId":                        {{arg: "$STRANGER"}, {arg: "$PEER"}, {arg: "$ME"}},
	"POST /connections/:userId/accept":                 {{arg: "$PEND"}, {arg: "$STRANGER"}},
	"DELETE /connections/:userId":                      {{arg: "$PEND"}, {arg: "$PEER"}},
	"POST /connections/:connectionId/proximity/token":  {{arg: "$CONN"}},
	"GET /connections/:connectionId/proximity/summary": {{arg: "$CONN"}, {arg: "conn_nope"}},
	"GET /score":                                       {{}},
	"POST /score/actions/:type":                        {{arg: "send-dm-message"}, {arg: "focus-video"}, {arg: "nope"}},
	"GET /sponsor/redemptions/:code":                   {{arg: "$CODE"}, {arg: "ABCD2345"}},
	"POST /sponsor/redemptions/:code/redeem":           {{arg: "$CODE"}},
	"GET /admin/users":                                 {{query: "q=fz"}, {query: "q=$ME"}},
	"GET /admin/users/:userId":                         {{arg: "$ME"}, {arg: "user_nope"}},
	"POST /admin/users/:userId/terminate":              {{arg: "$STRANGER", body: `{"reason":"spam"}`}, {arg: "$STRANGER", body: `{}`}},
	"GET /admin/reports":                               {{query: "status=open&limit=10&sort=worst"}, {query: "cursor=xyz&sort=oldest"}},
	"PATCH /admin/reports/:reportId": {
		{arg: "$REPORT", body: `{"status":"reviewing"}`}, {arg: "$REPORT", body: `{"status":"resolved","resolution":"warned"}`},
	},
	"GET /admin/audit":   {{query: "limit=5"}, {query: "cursor=abc"}},
	"POST /admin/brands": {{body: `{"name":"Fuzz Café","category":"cafe","logo":"https://cdn.example.com/l.png"}`}, {body: `{"name":"Fuzz","slug":"Bad Slug"}`}},
	"POST /admin/campaigns": {{body: `{"brandId":"$BRAND","title":"Two coffees","description":"On the house","terms":"While stock lasts",` +
		`"triggerType":"proximityMilestone","milestoneMinutes":15,"minTotalTogetherMinutes":0,"minDistinctQualifyingDays":0,` +
		`"requireActiveProximityForClaim":false,"stock":10,"rewardTtl":"72h","codeTtl":"30m","startsAt":"2026-01-01T00:00:00Z"}`}},
	"GET /admin/campaigns":               {{}},
	"GET /admin/campaigns/:campaignId":   {{arg: "$CAMPAIGN"}},
	"PATCH /admin/campaigns/:campaignId": {{arg: "$CAMPAIGN", body: `{"status":"paused"}`}, {arg: "$CAMPAIGN", body: `{"status":"active"}`}},
}

// restSkipped are routes left out, with why.
var restSkipped = map[string]string{
	"GET /ws":            "the socket upgrade: FuzzSocketFrames",
	"HEAD /ws":           "the socket upgrade: FuzzSocketFrames",
	"GET /socket":        "the socket upgrade: FuzzSocketFrames",
	"HEAD /socket":       "the socket upgrade: FuzzSocketFrames",
	"GET /admin/backup":  "takes no input and streams the whole store, which grows all run",
	"HEAD /admin/backup": "takes no input and streams the whole store, which grows all run",
}

// FuzzRESTRequests sends each input to a route the server registers (its
// fiber app's route table): the input's arg fills the route's path
// parameter, query its query string and body its body, with the token the
// route needs (the fixtures' user, the operator, the sponsor). An
// unregistered route name picks a registered one by its hash.
//
// Properties: no answer is 500 or `internal`, and the server logs no
// error; every error body is `{detail, code}` with a documented code and
// the HTTP status docs/protocol.md gives it; a JSON success body is valid
// JSON.
func FuzzRESTRequests(f *testing.F) {
	w := newFuzzWorld(f, true)
	var registry []string
	for _, r := range w.srv.API.App.GetRoutes(true) {
		name := r.Method + " " + r.Path
		if _, skip := restSkipped[name]; !skip && !slices.Contains(registry, name) {
			registry = append(registry, name)
		}
	}
	slices.Sort(registry)
	for name := range restSeeds {
		if !slices.Contains(registry, name) {
			f.Errorf("restSeeds has %s, which the server does not serve", name)
		}
	}
	for _, name := range registry {
		f.Add(name, "", "", []byte{})
		for _, s := range restSeeds[name] {
			f.Add(name, s.arg, s.query, []byte(s.body))
		}
	}
	f.Fuzz(func(t *testing.T, route, arg, query string, body []byte) {
		fx := w.next(t)
		route = pick(route, registry)
		method, pattern, _ := strings.Cut(route, " ")
		target := restPath(pattern, fx.fill.Replace(arg)) + restQuery(fx.fill.Replace(query))
		var b []byte
		if len(body) > 0 {
			b = []byte(fx.fill.Replace(string(body)))
		}
		token := fx.me.Access
		switch {
		case strings.HasPrefix(pattern, "/admin/"):
			token = testAdminToken
		case strings.HasPrefix(pattern, "/sponsor/"):
			token = w.sponsorKey
		}
		what := fmt.Sprintf("%s %s %q", method, target, b)
		// Deferred, so an input that fails otherwise is still checked and
		// the next one is not blamed for it.
		defer w.checkQuiet(t, what)
		res, rb, err := w.do(method, target, token, b)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if token == fx.me.Access && (res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden) {
			// The input may have spent the account (deleted, logged out,
			// its refresh family revoked): a new generation then.
			if r, _, err := w.do(http.MethodGet, "/users/me", fx.me.Access, nil); err != nil || r.StatusCode != http.StatusOK {
				fx.spent = true
			}
		}
		w.checkREST(t, what, method, res, rb)
	})
}

// restPath fills every parameter of a route pattern with arg.
func restPath(pattern, arg string) string {
	segs := strings.Split(pattern, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			segs[i] = url.PathEscape(arg)
		}
	}
	return strings.Join(segs, "/")
}

// restQuery escapes each name and value of q, keeping its & and =.
func restQuery(q string) string {
	if q == "" {
		return ""
	}
	parts := strings.Split(q, "&")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		parts[i] = url.QueryEscape(k)
		if ok {
			parts[i] += "=" + url.QueryEscape(v)
		}
	}
	return "?" + strings.Join(parts, "&")
}

func (w *fuzzWorld) checkREST(t *testing.T, what, method string, res *http.Response, body []byte) {
	t.Helper()
	st := res.StatusCode
	ct, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	switch {
	case st < 400:
		if ct == "application/json" && method != http.MethodHead && !json.Valid(body) {
			t.Fatalf("%s: %d with a JSON body that is not JSON: %q", what, st, body)
		}
		return
	case method == http.MethodHead:
		// No body to read the code from.
		if !slices.Contains(mapValues(w.codes), st) || st == http.StatusInternalServerError {
			t.Fatalf("%s: status %d", what, st)
		}
		return
	}
	var e protocol.RESTError
	if ct != "application/json" || json.Unmarshal(body, &e) != nil {
		t.Fatalf("%s: %d with a body that is not an error: %s %q", what, st, ct, body)
	}
	status, ok := w.codes[string(e.Code)]
	if !ok || e.Code == protocol.CodeInternal {
		t.Fatalf("%s: %d with code %q (%s), not a documented client error", what, st, e.Code, e.Detail)
	}
	if status != st {
		t.Fatalf("%s: code %s answered with %d; docs/protocol.md says %d", what, e.Code, st, status)
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
