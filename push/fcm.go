package push

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FCM defaults and protocol constants.
const (
	DefaultFCMEndpoint = "https://fcm.googleapis.com"
	DefaultFCMTokenURL = "https://oauth2.googleapis.com/token"
	// FCMScope is the OAuth scope sending through FCM HTTP v1 needs.
	FCMScope = "https://www.googleapis.com/auth/firebase.messaging"

	jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	// assertionTTL is the lifetime of the signed grant; Google refuses more
	// than one hour.
	assertionTTL = time.Hour
	// tokenRefreshMargin: an access token is replaced this long before it
	// expires, so a send never races its expiry.
	tokenRefreshMargin = 5 * time.Minute
)

// FCMConfig configures an FCM sender.
type FCMConfig struct {
	// CredentialsFile is a Google service-account JSON file; its
	// client_email, private_key, project_id and token_uri are used.
	CredentialsFile string
	// Endpoint is the base URL of the FCM API; default DefaultFCMEndpoint.
	Endpoint string
	// TokenURL is where access tokens are requested; default the
	// credentials' token_uri, else DefaultFCMTokenURL.
	TokenURL string
	// HTTPClient sends both token and message requests; default a client
	// with a 30 s timeout that speaks HTTP/2 when the server offers it.
	HTTPClient *http.Client
	// Now is the clock for assertions and token expiry; default time.Now.
	Now func() time.Time
}

// FCM sends through the Firebase Cloud Messaging HTTP v1 API, authenticated
// with a service account's OAuth access tokens. It is safe for concurrent use.
type FCM struct {
	projectID   string
	clientEmail string
	keyID       string
	key         *rsa.PrivateKey
	sendURL     string
	tokenURL    string
	client      *http.Client
	now         func() time.Time

	// fetching is held by the one goroutine fetching a token, so concurrent
	// sends after expiry cause one fetch, not one each; a channel rather than
	// a mutex so waiting respects the context.
	fetching chan struct{}
	mu       sync.Mutex
	token    string
	renewAt  time.Time // when token stops being used
}

// googleServiceAccount is the part of a service-account JSON file FCM uses.
type googleServiceAccount struct {
	Type         string `json:"type"`
	ProjectID    string `json:"project_id"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// NewFCM reads the service account and returns a sender. It does no network
// I/O: the first access token is fetched by the first Send.
func NewFCM(cfg FCMConfig) (*FCM, error) {
	if cfg.CredentialsFile == "" {
		return nil, errors.New("push: fcm: no credentials file")
	}
	raw, err := os.ReadFile(cfg.CredentialsFile)
	if err != nil {
		return nil, fmt.Errorf("push: fcm: credentials: %w", err)
	}
	var sa googleServiceAccount
	if err := json.Unmarshal(raw, &sa); err != nil {
		return nil, fmt.Errorf("push: fcm: credentials %s: %w", cfg.CredentialsFile, err)
	}
	bad := func(what string) error {
		return fmt.Errorf("push: fcm: credentials %s: %s", cfg.CredentialsFile, what)
	}
	switch {
	case sa.Type != "" && sa.Type != "service_account":
		return nil, bad(fmt.Sprintf("type %q, want \"service_account\"", sa.Type))
	case sa.ProjectID == "":
		return nil, bad("no project_id")
	case sa.ClientEmail == "":
		return nil, bad("no client_email")
	case sa.PrivateKey == "":
		return nil, bad("no private_key")
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(sa.PrivateKey))
	if err != nil {
		return nil, bad("private_key: " + err.Error())
	}

	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultFCMEndpoint
	}
	tokenURL := cfg.TokenURL
	if tokenURL == "" {
		tokenURL = sa.TokenURI
	}
	if tokenURL == "" {
		tokenURL = DefaultFCMTokenURL
	}
	for _, u := range []string{endpoint, tokenURL} {
		if err := checkURL(u); err != nil {
			return nil, fmt.Errorf("push: fcm: %w", err)
		}
	}
	f := &FCM{
		projectID:   sa.ProjectID,
		clientEmail: sa.ClientEmail,
		keyID:       sa.PrivateKeyID,
		key:         key,
		sendURL:     strings.TrimRight(endpoint, "/") + "/v1/projects/" + url.PathEscape(sa.ProjectID) + "/messages:send",
		tokenURL:    tokenURL,
		client:      cfg.HTTPClient,
		now:         cfg.Now,
		fetching:    make(chan struct{}, 1),
	}
	if f.client == nil {
		f.client = defaultHTTPClient(false)
	}
	if f.now == nil {
		f.now = time.Now
	}
	return f, nil
}

// ProjectID is the Firebase project messages are sent through.
func (f *FCM) ProjectID() string { return f.projectID }

// fcmRequest is the body of messages:send.
type fcmRequest struct {
	Message fcmMessage `json:"message"`
}

type fcmMessage struct {
	Token        string            `json:"token"`
	Notification fcmNotification   `json:"notification"`
	Data         map[string]string `json:"data,omitempty"`
	Android      fcmAndroid        `json:"android"`
	APNs         *fcmAPNs          `json:"apns,omitempty"`
}

type fcmNotification struct {
	Title string `json:"title,omitempty"`
	Body  string `json:"body,omitempty"`
}

type fcmAndroid struct {
	CollapseKey string `json:"collapse_key,omitempty"`
	// Priority HIGH: every kind is a user-visible alert, which Android
	// would otherwise delay in Doze.
	Priority string `json:"priority"`
}

// fcmAPNs matters for iOS apps registered through FCM.
type fcmAPNs struct {
	Headers map[string]string `json:"headers"`
}

func fcmBody(token string, n Notification) fcmRequest {
	m := fcmMessage{
		Token:        token,
		Notification: fcmNotification{Title: n.Title, Body: n.Body},
		Data:         n.data(),
		Android:      fcmAndroid{CollapseKey: n.CollapseKey, Priority: "HIGH"},
	}
	if n.CollapseKey != "" {
		m.APNs = &fcmAPNs{Headers: map[string]string{"apns-collapse-id": n.CollapseKey}}
	}
	return fcmRequest{Message: m}
}

// Send delivers n to one FCM registration token.
func (f *FCM) Send(ctx context.Context, token string, n Notification) error {
	access, err := f.accessToken(ctx)
	if err != nil {
		return err
	}
	body, err := json.Marshal(fcmBody(token, n))
	if err != nil {
		return fmt.Errorf("push: fcm: encode message: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.sendURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push: fcm: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+access)
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := f.client.Do(req)
	if err != nil {
		return transportError(ctx, "fcm", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		return nil
	}
	e := fcmError(resp, f.now())
	if resp.StatusCode == http.StatusUnauthorized {
		// The token was revoked or expired early: the retry fetches a new one.
		f.forget(access)
		e.kind = ErrTransient
	}
	return e
}

// googleError is the error body of Google APIs.
type googleError struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Status  string `json:"status"`
		Details []struct {
			Type            string `json:"@type"`
			ErrorCode       string `json:"errorCode"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	} `json:"error"`
}

// fcmError turns a failed messages:send answer into an *Error.
func fcmError(resp *http.Response, now time.Time) *Error {
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var ge googleError
	_ = json.Unmarshal(raw, &ge)
	e := &Error{
		Provider:   "fcm",
		StatusCode: resp.StatusCode,
		Reason:     ge.Error.Status,
		Message:    ge.Error.Message,
		RetryAfter: retryAfter(resp.Header, now),
		kind:       classify(resp.StatusCode),
	}
	tokenField := false
	for _, d := range ge.Error.Details {
		if d.ErrorCode != "" {
			e.Reason = d.ErrorCode // FcmError's code is more precise than status
		}
		for _, v := range d.FieldViolations {
			tokenField = tokenField || v.Field == "message.token"
		}
	}
	switch {
	case e.Reason == "UNREGISTERED" || ge.Error.Status == "UNREGISTERED":
		e.kind = ErrUnregistered
	case resp.StatusCode == http.StatusBadRequest && e.Reason == "INVALID_ARGUMENT" &&
		(tokenField || strings.Contains(strings.ToLower(e.Message), "registration token")):
		// Only a bad token: any other invalid argument is our payload's
		// fault, and deactivating the device would not fix it.
		e.kind = ErrUnregistered
	}
	if e.Message == "" && e.Reason == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	return e
}

// accessToken returns a cached OAuth access token or fetches a new one.
func (f *FCM) accessToken(ctx context.Context) (string, error) {
	if tok := f.cached(); tok != "" {
		return tok, nil
	}
	select {
	case f.fetching <- struct{}{}:
		defer func() { <-f.fetching }()
	case <-ctx.Done():
		return "", fmt.Errorf("push: fcm: waiting for access token: %w", ctx.Err())
	}
	if tok := f.cached(); tok != "" { // fetched while we waited
		return tok, nil
	}
	tok, ttl, err := f.fetchToken(ctx)
	if err != nil {
		return "", err
	}
	margin := tokenRefreshMargin
	if ttl < 2*margin {
		margin = ttl / 2
	}
	f.mu.Lock()
	f.token, f.renewAt = tok, f.now().Add(ttl-margin)
	f.mu.Unlock()
	return tok, nil
}

func (f *FCM) cached() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != "" && f.now().Before(f.renewAt) {
		return f.token
	}
	return ""
}

// forget drops tok from the cache unless it was already replaced.
func (f *FCM) forget(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token == tok {
		f.token = ""
	}
}

// assertion is the signed JWT of the jwt-bearer grant (RFC 7523) as Google
// documents it for service accounts.
func (f *FCM) assertion() (string, error) {
	iat := f.now().Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":   f.clientEmail,
		"scope": FCMScope,
		"aud":   f.tokenURL,
		"iat":   iat.Unix(),
		"exp":   iat.Add(assertionTTL).Unix(),
	})
	if f.keyID != "" {
		t.Header["kid"] = f.keyID
	}
	s, err := t.SignedString(f.key)
	if err != nil {
		return "", fmt.Errorf("push: fcm: sign assertion: %w", err)
	}
	return s, nil
}

// tokenResponse is the OAuth token endpoint's answer, success or error.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	ExpiresIn        int64  `json:"expires_in"`
	TokenType        string `json:"token_type"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

func (f *FCM) fetchToken(ctx context.Context) (string, time.Duration, error) {
	assertion, err := f.assertion()
	if err != nil {
		return "", 0, err
	}
	form := url.Values{"grant_type": {jwtBearerGrant}, "assertion": {assertion}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, fmt.Errorf("push: fcm: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := f.client.Do(req)
	if err != nil {
		return "", 0, transportError(ctx, "fcm", fmt.Errorf("access token: %w", err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err != nil {
		return "", 0, transportError(ctx, "fcm", fmt.Errorf("access token: %w", err))
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(raw, &tr)
	if resp.StatusCode != http.StatusOK {
		msg := "access token"
		if tr.ErrorDescription != "" {
			msg += ": " + tr.ErrorDescription
		}
		return "", 0, &Error{
			Provider: "fcm", StatusCode: resp.StatusCode, Reason: tr.Error, Message: msg,
			RetryAfter: retryAfter(resp.Header, f.now()), kind: classify(resp.StatusCode),
		}
	}
	switch {
	case jsonErr != nil:
		return "", 0, fmt.Errorf("push: fcm: access token answer: %w", jsonErr)
	case tr.AccessToken == "":
		return "", 0, errors.New("push: fcm: access token answer has no access_token")
	case tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer"):
		return "", 0, fmt.Errorf("push: fcm: access token type %q, want Bearer", tr.TokenType)
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = time.Hour // Google's documented lifetime when none is given
	}
	return tr.AccessToken, ttl, nil
}

// checkURL accepts absolute http(s) URLs; the configuration insists on https
// outside dev mode.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", raw)
	}
	return nil
}

// defaultHTTPClient is used when a config gives no client. http2Only is for
// APNs, which speaks nothing else.
func defaultHTTPClient(http2Only bool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	if http2Only {
		var p http.Protocols
		p.SetHTTP2(true)
		p.SetUnencryptedHTTP2(true) // h2c, for a dev-mode http:// mock
		t.Protocols = &p
	}
	return &http.Client{Transport: t, Timeout: defaultHTTPTimeout}
}
