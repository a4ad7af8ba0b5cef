package push

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// reply is a canned HTTP answer.
type reply struct {
	status int
	header map[string]string
	body   string
}

func (rp reply) write(w http.ResponseWriter) {
	for k, v := range rp.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(rp.status)
	fmt.Fprint(w, rp.body)
}

// fakeGoogle is the OAuth token endpoint and the FCM v1 API. It checks every
// request the way Google documents them and records what it saw.
type fakeGoogle struct {
	t      *testing.T
	client *http.Client
	url    string
	clock  *fakeClock

	mu          sync.Mutex
	fetches     int    // token requests answered
	issued      string // last access token issued
	tokenReply  *reply // overrides the token answer when set
	sendReplies []reply
	dead        map[string]bool  // tokens answered UNREGISTERED
	auths       []string         // Authorization of each send
	bodies      []map[string]any // body of each send
}

func newFakeGoogle(t *testing.T, clock *fakeClock) *fakeGoogle {
	g := &fakeGoogle{t: t, clock: clock}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", g.token)
	mux.HandleFunc("POST /oauth2/v4/token", g.token)
	mux.HandleFunc("POST /v1/projects/"+testProject+"/messages:send", g.send)
	srv := newTLSServer(t, mux)
	g.client, g.url = srv.Client(), srv.URL
	return g
}

func (g *fakeGoogle) token(w http.ResponseWriter, r *http.Request) {
	t := g.t
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		t.Errorf("token request Content-Type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		t.Errorf("token request form: %v", err)
	}
	if got := r.PostForm.Get("grant_type"); got != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		t.Errorf("grant_type %q", got)
	}
	g.checkAssertion(r.PostForm.Get("assertion"), "https://"+r.Host+r.URL.Path)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.fetches++
	if g.tokenReply != nil {
		g.tokenReply.write(w)
		return
	}
	g.issued = fmt.Sprintf("ya29.test-%d", g.fetches)
	reply{status: 200, body: `{"access_token":"` + g.issued + `","expires_in":3599,"token_type":"Bearer"}`}.write(w)
}

// checkAssertion verifies the grant's JWT with the service account's public
// key and checks the claims Google requires.
func (g *fakeGoogle) checkAssertion(assertion, aud string) {
	t := g.t
	tok, err := jwt.Parse(assertion,
		func(*jwt.Token) (any, error) { return &testRSAKey().PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(testClientEmail),
		jwt.WithAudience(aud),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(g.clock.Now),
	)
	if err != nil {
		t.Errorf("assertion does not verify: %v", err)
		return
	}
	if kid := tok.Header["kid"]; kid != testKeyID {
		t.Errorf("assertion kid %v, want %s", kid, testKeyID)
	}
	claims := tok.Claims.(jwt.MapClaims)
	if scope := claims["scope"]; scope != "https://www.googleapis.com/auth/firebase.messaging" {
		t.Errorf("assertion scope %v", scope)
	}
	iat, _ := claims.GetIssuedAt()
	exp, _ := claims.GetExpirationTime()
	if d := g.clock.Now().Sub(iat.Time); d < 0 || d > time.Minute {
		t.Errorf("assertion iat %v, now %v", iat.Time, g.clock.Now())
	}
	if life := exp.Sub(iat.Time); life <= 0 || life > time.Hour {
		t.Errorf("assertion lives %v, want at most 1h", life)
	}
}

func (g *fakeGoogle) send(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		g.t.Errorf("send Content-Type %q", ct)
	}
	body := decodeJSON(g.t, r)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.auths = append(g.auths, r.Header.Get("Authorization"))
	g.bodies = append(g.bodies, body)
	if r.Header.Get("Authorization") != "Bearer "+g.issued {
		reply{status: 401, body: `{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`}.write(w)
		return
	}
	if msg, _ := body["message"].(map[string]any); msg != nil && g.dead[fmt.Sprint(msg["token"])] {
		reply{status: 404, body: `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND",
			"details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`}.write(w)
		return
	}
	if len(g.sendReplies) > 0 {
		rp := g.sendReplies[0]
		g.sendReplies = g.sendReplies[1:]
		rp.write(w)
		return
	}
	reply{status: 200, body: `{"name":"projects/` + testProject + `/messages/0:1"}`}.write(w)
}

func (g *fakeGoogle) stats() (fetches int, auths []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.fetches, append([]string(nil), g.auths...)
}

// newFCM is an FCM sender against g, its token URL from the credentials.
func (g *fakeGoogle) newFCM(t *testing.T) *FCM {
	t.Helper()
	f, err := NewFCM(FCMConfig{
		CredentialsFile: writeServiceAccount(t, g.url+"/token"),
		Endpoint:        g.url,
		HTTPClient:      g.client,
		Now:             g.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFCMSendsDocumentedRequests(t *testing.T) {
	g := newFakeGoogle(t, newFakeClock())
	f := g.newFCM(t)
	tests := []struct {
		name  string
		token string
		n     Notification
		want  string
	}{
		{"everything", "tok-1", Notification{
			Kind: KindMessage, Title: "Ada", Body: "hi there",
			Data: map[string]string{"conversationId": "c1"}, CollapseKey: "chat-u2",
		}, `{"message":{"token":"tok-1","notification":{"title":"Ada","body":"hi there"},
			"data":{"conversationId":"c1","kind":"message"},
			"android":{"collapse_key":"chat-u2","priority":"HIGH"},
			"apns":{"headers":{"apns-collapse-id":"chat-u2"}}}}`},
		{"no data or collapse key", "tok-2", Notification{Kind: KindRing, Title: "Ring", Body: "Ada rings"},
			`{"message":{"token":"tok-2","notification":{"title":"Ring","body":"Ada rings"},
			"data":{"kind":"ring"},"android":{"priority":"HIGH"}}}`},
		{"caller's kind wins", "tok-3", Notification{Kind: KindRequest, Title: "t", Body: "b", Data: map[string]string{"kind": "custom"}},
			`{"message":{"token":"tok-3","notification":{"title":"t","body":"b"},
			"data":{"kind":"custom"},"android":{"priority":"HIGH"}}}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := f.Send(t.Context(), tt.token, tt.n); err != nil {
				t.Fatalf("Send: %v", err)
			}
			g.mu.Lock()
			got, auth := g.bodies[i], g.auths[i]
			g.mu.Unlock()
			if want := mustJSON(t, tt.want); !reflect.DeepEqual(got, want) {
				t.Errorf("body\n%s\nwant\n%s", showJSON(got), showJSON(want))
			}
			if auth != "Bearer ya29.test-1" {
				t.Errorf("Authorization %q, want the cached access token", auth)
			}
		})
	}
	if fetches, _ := g.stats(); fetches != 1 {
		t.Errorf("%d token fetches for %d sends, want 1", fetches, len(tests))
	}
}

func TestFCMRenewsTokenBeforeExpiry(t *testing.T) {
	clock := newFakeClock()
	g := newFakeGoogle(t, clock)
	f := g.newFCM(t)
	// The fake's tokens last 3599 s; they are replaced 5 minutes early.
	steps := []struct {
		advance     time.Duration
		wantFetches int
		wantAuth    string
	}{
		{0, 1, "Bearer ya29.test-1"},
		{time.Minute, 1, "Bearer ya29.test-1"},
		{53 * time.Minute, 1, "Bearer ya29.test-1"},
		{time.Minute, 2, "Bearer ya29.test-2"},
		{time.Second, 2, "Bearer ya29.test-2"},
		{2 * time.Hour, 3, "Bearer ya29.test-3"},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		if err := f.Send(t.Context(), "tok", Notification{Kind: KindMessage}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		fetches, auths := g.stats()
		if fetches != st.wantFetches || auths[len(auths)-1] != st.wantAuth {
			t.Fatalf("step %d (+%v): %d fetches, sent with %q; want %d, %q",
				i, st.advance, fetches, auths[len(auths)-1], st.wantFetches, st.wantAuth)
		}
	}
}

func TestFCMConcurrentSendsShareOneToken(t *testing.T) {
	g := newFakeGoogle(t, newFakeClock())
	f := g.newFCM(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := f.Send(t.Context(), fmt.Sprintf("tok-%d", i), Notification{Kind: KindMessage}); err != nil {
				t.Errorf("Send: %v", err)
			}
		})
	}
	wg.Wait()
	if fetches, _ := g.stats(); fetches != 1 {
		t.Errorf("%d token fetches, want 1", fetches)
	}
}

func TestFCMTokenURL(t *testing.T) {
	g := newFakeGoogle(t, newFakeClock())
	tests := []struct {
		name     string
		tokenURI string // in the credentials file
		tokenURL string // FCMConfig.TokenURL
		want     string
	}{
		{"from the credentials", g.url + "/oauth2/v4/token", "", g.url + "/oauth2/v4/token"},
		{"configured wins", "https://127.0.0.1:1/unused", g.url + "/token", g.url + "/token"},
		{"default", "", "", DefaultFCMTokenURL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFCM(FCMConfig{
				CredentialsFile: writeFile(t, "sa.json", serviceAccountJSON(t, tt.tokenURI, nil)),
				Endpoint:        g.url, TokenURL: tt.tokenURL, HTTPClient: g.client, Now: g.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			if f.tokenURL != tt.want {
				t.Fatalf("token URL %q, want %q", f.tokenURL, tt.want)
			}
			if tt.want == DefaultFCMTokenURL {
				return // no network in tests
			}
			if err := f.Send(t.Context(), "tok", Notification{Kind: KindMessage}); err != nil {
				t.Fatalf("Send: %v", err)
			}
		})
	}
}

func TestFCMSendErrors(t *testing.T) {
	fcmErr := func(code int, status, message, details string) reply {
		return reply{status: code, body: fmt.Sprintf(`{"error":{"code":%d,"message":%q,"status":%q,"details":[%s]}}`, code, message, status, details)}
	}
	const fcmDetail = `{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":%q}`
	const badRequest = `{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":%q,"description":"invalid"}]}`
	tests := []struct {
		name             string
		reply            reply
		wantUnregistered bool
		wantTransient    bool
		wantReason       string
		wantRetryAfter   time.Duration
	}{
		{"unregistered", fcmErr(404, "NOT_FOUND", "Requested entity was not found.", fmt.Sprintf(fcmDetail, "UNREGISTERED")), true, false, "UNREGISTERED", 0},
		{"unregistered as status", fcmErr(404, "UNREGISTERED", "gone", ""), true, false, "UNREGISTERED", 0},
		{"invalid token", fcmErr(400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token", fmt.Sprintf(fcmDetail, "INVALID_ARGUMENT")), true, false, "INVALID_ARGUMENT", 0},
		{"token field violation", fcmErr(400, "INVALID_ARGUMENT", "Invalid value", fmt.Sprintf(badRequest, "message.token")), true, false, "INVALID_ARGUMENT", 0},
		{"invalid payload", fcmErr(400, "INVALID_ARGUMENT", "Invalid value", fmt.Sprintf(badRequest, "message.data[0].value")), false, false, "INVALID_ARGUMENT", 0},
		{"sender id mismatch", fcmErr(403, "PERMISSION_DENIED", "SenderId mismatch", fmt.Sprintf(fcmDetail, "SENDER_ID_MISMATCH")), false, false, "SENDER_ID_MISMATCH", 0},
		{"unavailable", fcmErr(503, "UNAVAILABLE", "The service is currently unavailable.", fmt.Sprintf(fcmDetail, "UNAVAILABLE")), false, true, "UNAVAILABLE", 0},
		{"internal", fcmErr(500, "INTERNAL", "Internal error", fmt.Sprintf(fcmDetail, "INTERNAL")), false, true, "INTERNAL", 0},
		{"quota with retry-after", reply{status: 429, header: map[string]string{"Retry-After": "7"},
			body: `{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"errorCode":"QUOTA_EXCEEDED"}]}}`}, false, true, "QUOTA_EXCEEDED", 7 * time.Second},
		{"bare 502", reply{status: 502, body: "<html>bad gateway</html>"}, false, true, "", 0},
	}
	g := newFakeGoogle(t, newFakeClock())
	f := g.newFCM(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g.mu.Lock()
			g.sendReplies = []reply{tt.reply}
			g.mu.Unlock()
			err := f.Send(t.Context(), "tok", Notification{Kind: KindMessage})
			var pe *Error
			switch {
			case !errors.As(err, &pe):
				t.Fatalf("error %v, want a *push.Error", err)
			case errors.Is(err, ErrUnregistered) != tt.wantUnregistered:
				t.Errorf("%v: unregistered %v, want %v", err, !tt.wantUnregistered, tt.wantUnregistered)
			case errors.Is(err, ErrTransient) != tt.wantTransient:
				t.Errorf("%v: transient %v, want %v", err, !tt.wantTransient, tt.wantTransient)
			case pe.Provider != "fcm" || pe.StatusCode != tt.reply.status || pe.Reason != tt.wantReason || pe.RetryAfter != tt.wantRetryAfter:
				t.Errorf("error %+v, want status %d, reason %q, retry after %v", pe, tt.reply.status, tt.wantReason, tt.wantRetryAfter)
			}
		})
	}
}

func TestFCMUnauthorizedSendRefetchesToken(t *testing.T) {
	g := newFakeGoogle(t, newFakeClock())
	f := g.newFCM(t)
	if err := f.Send(t.Context(), "tok", Notification{}); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.issued = "revoked-by-google" // the cached token no longer works
	g.mu.Unlock()
	err := f.Send(t.Context(), "tok", Notification{})
	if !errors.Is(err, ErrTransient) || errors.Is(err, ErrUnregistered) {
		t.Fatalf("error %v, want a transient error", err)
	}
	if err := f.Send(t.Context(), "tok", Notification{}); err != nil {
		t.Fatalf("retry after 401: %v", err)
	}
	if fetches, auths := g.stats(); fetches != 2 || auths[2] != "Bearer ya29.test-2" {
		t.Fatalf("%d fetches, auths %q; want a new token after the 401", fetches, auths)
	}
}

func TestFCMTokenEndpointErrors(t *testing.T) {
	tests := []struct {
		name          string
		reply         reply
		wantTransient bool
		wantText      string
	}{
		{"invalid grant", reply{status: 400, body: `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`}, false, "invalid_grant: access token: Invalid JWT Signature."},
		{"unavailable", reply{status: 503, body: `{"error":"temporarily_unavailable"}`}, true, "HTTP 503"},
		{"no access token", reply{status: 200, body: `{"expires_in":3599,"token_type":"Bearer"}`}, false, "no access_token"},
		{"not json", reply{status: 200, body: `<html>`}, false, "access token answer"},
		{"wrong type", reply{status: 200, body: `{"access_token":"x","token_type":"MAC"}`}, false, `type "MAC"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newFakeGoogle(t, newFakeClock())
			g.mu.Lock()
			g.tokenReply = &tt.reply
			g.mu.Unlock()
			err := g.newFCM(t).Send(t.Context(), "tok", Notification{})
			switch {
			case err == nil:
				t.Fatal("Send succeeded")
			case errors.Is(err, ErrTransient) != tt.wantTransient || errors.Is(err, ErrUnregistered):
				t.Errorf("%v: transient %v, want %v (and never unregistered)", err, errors.Is(err, ErrTransient), tt.wantTransient)
			case !strings.Contains(err.Error(), tt.wantText):
				t.Errorf("error %q does not contain %q", err, tt.wantText)
			}
			if _, auths := g.stats(); len(auths) != 0 {
				t.Errorf("sent %d messages without an access token", len(auths))
			}
		})
	}
}

func TestFCMNetworkErrorIsTransient(t *testing.T) {
	srv := newTLSServer(t, http.NotFoundHandler())
	client := srv.Client()
	f, err := NewFCM(FCMConfig{CredentialsFile: writeServiceAccount(t, srv.URL+"/token"), Endpoint: srv.URL, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	if err := f.Send(t.Context(), "tok", Notification{}); !errors.Is(err, ErrTransient) {
		t.Fatalf("error %v, want a transient error", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := f.Send(ctx, "tok", Notification{}); err == nil || errors.Is(err, ErrTransient) {
		t.Fatalf("error %v with a cancelled context, want a non-transient error", err)
	}
}

func TestNewFCMRejectsBadCredentials(t *testing.T) {
	without := func(key string) func(map[string]any) { return func(m map[string]any) { delete(m, key) } }
	set := func(key string, v any) func(map[string]any) { return func(m map[string]any) { m[key] = v } }
	tests := []struct {
		name string
		data []byte // nil: no file
		want string
	}{
		{"missing file", nil, "no such file"},
		{"not json", []byte("nope"), "invalid character"},
		{"user credentials", serviceAccountJSON(t, "", set("type", "authorized_user")), `type "authorized_user"`},
		{"no project", serviceAccountJSON(t, "", without("project_id")), "no project_id"},
		{"no client email", serviceAccountJSON(t, "", without("client_email")), "no client_email"},
		{"no private key", serviceAccountJSON(t, "", without("private_key")), "no private_key"},
		{"garbage private key", serviceAccountJSON(t, "", set("private_key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")), "private_key"},
		{"bad token uri", serviceAccountJSON(t, "/token", nil), "not an absolute http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := t.TempDir() + "/missing.json"
			if tt.data != nil {
				path = writeFile(t, "sa.json", tt.data)
			}
			_, err := NewFCM(FCMConfig{CredentialsFile: path})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := NewFCM(FCMConfig{}); err == nil {
		t.Error("NewFCM without a credentials file succeeded")
	}
}
