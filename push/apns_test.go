package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// apnsRequest is what the fake APNs saw.
type apnsRequest struct {
	proto  int
	path   string
	header http.Header
	body   map[string]any
	jwt    string
}

// fakeAPNs checks each request's provider token against the key's public
// half and answers with the queued replies, then 200.
type fakeAPNs struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	clock  *fakeClock
	client *http.Client
	url    string

	mu       sync.Mutex
	requests []apnsRequest
	replies  []reply
	dead     map[string]bool // device tokens answered 410
}

func newFakeAPNs(t *testing.T, key *ecdsa.PrivateKey, clock *fakeClock) *fakeAPNs {
	a := &fakeAPNs{t: t, key: key, clock: clock}
	srv := newTLSServer(t, http.HandlerFunc(a.serve))
	a.client, a.url = srv.Client(), srv.URL
	return a
}

func (a *fakeAPNs) serve(w http.ResponseWriter, r *http.Request) {
	t := a.t
	if r.Method != http.MethodPost {
		t.Errorf("method %s", r.Method)
	}
	bearer, ok := strings.CutPrefix(r.Header.Get("authorization"), "bearer ")
	if !ok {
		t.Errorf("authorization %q is not a bearer token", r.Header.Get("authorization"))
	}
	a.checkJWT(bearer)
	req := apnsRequest{proto: r.ProtoMajor, path: r.URL.EscapedPath(), header: r.Header.Clone(), body: decodeJSON(t, r), jwt: bearer}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.requests = append(a.requests, req)
	if a.dead[strings.TrimPrefix(req.path, "/3/device/")] {
		reply{status: 410, body: `{"reason":"Unregistered","timestamp":1700000000000}`}.write(w)
		return
	}
	if len(a.replies) > 0 {
		rp := a.replies[0]
		a.replies = a.replies[1:]
		rp.write(w)
		return
	}
	w.Header().Set("apns-id", "EC1BF194-B3B2-424A-89A9-5A918A6E6B5B")
	w.WriteHeader(http.StatusOK)
}

// checkJWT verifies the provider token as APNs does: ES256 with the key
// named by kid, issued by the team, recently.
func (a *fakeAPNs) checkJWT(s string) {
	t := a.t
	tok, err := jwt.Parse(s,
		func(*jwt.Token) (any, error) { return &a.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"ES256"}),
		jwt.WithIssuer(testTeamID),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(a.clock.Now),
	)
	if err != nil {
		t.Errorf("provider token does not verify: %v", err)
		return
	}
	if kid := tok.Header["kid"]; kid != testAPNsKeyID {
		t.Errorf("provider token kid %v, want %s", kid, testAPNsKeyID)
	}
	iat, err := tok.Claims.GetIssuedAt()
	if err != nil || iat == nil {
		t.Errorf("provider token has no iat: %v", err)
		return
	}
	if age := a.clock.Now().Sub(iat.Time); age < 0 || age >= time.Hour {
		t.Errorf("provider token is %v old, APNs wants less than an hour", age)
	}
}

func (a *fakeAPNs) seen() []apnsRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]apnsRequest(nil), a.requests...)
}

func (a *fakeAPNs) newAPNs(t *testing.T, keyFile string) *APNs {
	t.Helper()
	s, err := NewAPNs(APNsConfig{
		KeyFile: keyFile, KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic,
		Endpoint: a.url, HTTPClient: a.client, Now: a.clock.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPNsSendsDocumentedRequests(t *testing.T) {
	keyFile, key := writeP8(t)
	fake := newFakeAPNs(t, key, newFakeClock())
	s := fake.newAPNs(t, keyFile)
	const device = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	tests := []struct {
		name         string
		n            Notification
		wantCollapse string
		wantBody     string
	}{
		{"everything", Notification{
			Kind: KindMessage, Title: "Ada", Body: "hi there",
			Data: map[string]string{"conversationId": "c1", "aps": "ignored"}, CollapseKey: "chat-u2",
		}, "chat-u2", `{"aps":{"alert":{"title":"Ada","body":"hi there"},"sound":"default"},"conversationId":"c1","kind":"message"}`},
		{"no collapse key", Notification{Kind: KindAccepted, Title: "Connected", Body: "Ada accepted"},
			"", `{"aps":{"alert":{"title":"Connected","body":"Ada accepted"},"sound":"default"},"kind":"accepted"}`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Send(t.Context(), device, tt.n); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := fake.seen()[i]
			if r.proto != 2 {
				t.Errorf("request over HTTP/%d, APNs needs HTTP/2", r.proto)
			}
			if r.path != "/3/device/"+device {
				t.Errorf("path %q", r.path)
			}
			for h, want := range map[string]string{
				"apns-topic":       testTopic,
				"apns-push-type":   "alert",
				"apns-collapse-id": tt.wantCollapse,
			} {
				if got := r.header.Get(h); got != want {
					t.Errorf("header %s = %q, want %q", h, got, want)
				}
			}
			if want := mustJSON(t, tt.wantBody); !reflect.DeepEqual(r.body, want) {
				t.Errorf("body\n%s\nwant\n%s", showJSON(r.body), showJSON(want))
			}
		})
	}
}

func TestAPNsProviderTokenLifetime(t *testing.T) {
	keyFile, key := writeP8(t)
	clock := newFakeClock()
	fake := newFakeAPNs(t, key, clock)
	s := fake.newAPNs(t, keyFile)
	steps := []struct {
		advance time.Duration
		wantNew bool
	}{
		{0, true},
		{time.Second, false},
		{49 * time.Minute, false},
		{time.Minute, true}, // 50 minutes old: replaced
		{30 * time.Minute, false},
		{-time.Hour, true}, // the clock went back: iat would be in the future
	}
	prev := ""
	for i, st := range steps {
		clock.Advance(st.advance)
		if err := s.Send(t.Context(), "tok", Notification{}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		reqs := fake.seen()
		cur := reqs[len(reqs)-1].jwt
		if (cur != prev) != st.wantNew {
			t.Fatalf("step %d (+%v): new token %v, want %v", i, st.advance, cur != prev, st.wantNew)
		}
		prev = cur
	}
}

func TestAPNsErrors(t *testing.T) {
	apnsErr := func(status int, reason string) reply {
		return reply{status: status, body: `{"reason":"` + reason + `"}`}
	}
	tests := []struct {
		name             string
		reply            reply
		wantUnregistered bool
		wantTransient    bool
		wantReason       string
	}{
		{"gone", reply{status: 410, body: `{"reason":"Unregistered","timestamp":1700000000000}`}, true, false, "Unregistered"},
		{"bad device token", apnsErr(400, "BadDeviceToken"), true, false, "BadDeviceToken"},
		{"unregistered as 400", apnsErr(400, "Unregistered"), true, false, "Unregistered"},
		{"token for another app", apnsErr(400, "DeviceTokenNotForTopic"), true, false, "DeviceTokenNotForTopic"},
		{"bad collapse id", apnsErr(400, "BadCollapseId"), false, false, "BadCollapseId"},
		{"topic disallowed", apnsErr(400, "TopicDisallowed"), false, false, "TopicDisallowed"},
		{"invalid provider token", apnsErr(403, "InvalidProviderToken"), false, false, "InvalidProviderToken"},
		{"expired provider token", apnsErr(403, "ExpiredProviderToken"), false, true, "ExpiredProviderToken"},
		{"too many requests", apnsErr(429, "TooManyRequests"), false, true, "TooManyRequests"},
		{"internal", apnsErr(500, "InternalServerError"), false, true, "InternalServerError"},
		{"unavailable", apnsErr(503, "ServiceUnavailable"), false, true, "ServiceUnavailable"},
		{"shutdown", apnsErr(503, "Shutdown"), false, true, "Shutdown"},
	}
	keyFile, key := writeP8(t)
	fake := newFakeAPNs(t, key, newFakeClock())
	s := fake.newAPNs(t, keyFile)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake.mu.Lock()
			fake.replies = []reply{tt.reply}
			fake.mu.Unlock()
			err := s.Send(t.Context(), "tok", Notification{})
			var pe *Error
			switch {
			case !errors.As(err, &pe):
				t.Fatalf("error %v, want a *push.Error", err)
			case errors.Is(err, ErrUnregistered) != tt.wantUnregistered:
				t.Errorf("%v: unregistered %v, want %v", err, !tt.wantUnregistered, tt.wantUnregistered)
			case errors.Is(err, ErrTransient) != tt.wantTransient:
				t.Errorf("%v: transient %v, want %v", err, !tt.wantTransient, tt.wantTransient)
			case pe.Provider != "apns" || pe.StatusCode != tt.reply.status || pe.Reason != tt.wantReason:
				t.Errorf("error %+v, want status %d, reason %q", pe, tt.reply.status, tt.wantReason)
			}
		})
	}
}

func TestAPNsExpiredProviderTokenIsReplaced(t *testing.T) {
	keyFile, key := writeP8(t)
	fake := newFakeAPNs(t, key, newFakeClock())
	fake.replies = []reply{{status: 403, body: `{"reason":"ExpiredProviderToken"}`}}
	s := fake.newAPNs(t, keyFile)
	if err := s.Send(t.Context(), "tok", Notification{}); !errors.Is(err, ErrTransient) {
		t.Fatalf("error %v, want transient", err)
	}
	if err := s.Send(t.Context(), "tok", Notification{}); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if reqs := fake.seen(); reqs[0].jwt == reqs[1].jwt {
		t.Fatal("the retry reused the rejected provider token")
	}
}

func TestNewAPNsRejectsBadKeys(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1 := func() []byte {
		// A key in SEC 1 form ("EC PRIVATE KEY") is not what Apple ships.
		block, _ := pem.Decode(pemPKCS8(t, p256))
		block.Type = "EC PRIVATE KEY"
		return pem.EncodeToMemory(block)
	}
	good, _ := writeP8(t)
	tests := []struct {
		name string
		cfg  APNsConfig
		key  []byte // written to the key file when not nil
		want string
	}{
		{"no key file", APNsConfig{KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, nil, "no key file"},
		{"no key id", APNsConfig{KeyFile: good, TeamID: testTeamID, Topic: testTopic}, nil, "no key id"},
		{"no team id", APNsConfig{KeyFile: good, KeyID: testAPNsKeyID, Topic: testTopic}, nil, "no team id"},
		{"no topic", APNsConfig{KeyFile: good, KeyID: testAPNsKeyID, TeamID: testTeamID}, nil, "no topic"},
		{"missing file", APNsConfig{KeyFile: good + ".missing", KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, nil, "no such file"},
		{"not pem", APNsConfig{KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, []byte("MIGTAgEA"), "no PEM block"},
		{"sec1", APNsConfig{KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, sec1(), `"EC PRIVATE KEY"`},
		{"rsa", APNsConfig{KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, pemPKCS8(t, testRSAKey()), "want an EC P-256 key"},
		{"p384", APNsConfig{KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic}, pemPKCS8(t, p384), "want P-256"},
		{"bad endpoint", APNsConfig{KeyFile: good, KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic, Endpoint: "api.push.apple.com"}, nil, "not an absolute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.key != nil {
				tt.cfg.KeyFile = writeFile(t, "key.p8", tt.key)
			}
			_, err := NewAPNs(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAPNsDefaultClientSpeaksOnlyHTTP2(t *testing.T) {
	keyFile, _ := writeP8(t)
	s, err := NewAPNs(APNsConfig{KeyFile: keyFile, KeyID: testAPNsKeyID, TeamID: testTeamID, Topic: testTopic})
	if err != nil {
		t.Fatal(err)
	}
	if s.deviceURL != DefaultAPNsEndpoint+"/3/device/" {
		t.Errorf("device URL %q", s.deviceURL)
	}
	p := s.client.Transport.(*http.Transport).Protocols
	if p == nil || !p.HTTP2() || p.HTTP1() {
		t.Errorf("default transport protocols %v, want HTTP/2 only", p)
	}
}
