package push

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
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

// APNs defaults and protocol constants.
const (
	DefaultAPNsEndpoint = "https://api.push.apple.com"
	// providerTokenRefresh: Apple refuses provider tokens older than an hour
	// and refreshes more often than every 20 minutes, so one is reused for
	// 50 minutes.
	providerTokenRefresh = 50 * time.Minute
)

// APNsConfig configures an APNs sender using token-based authentication.
type APNsConfig struct {
	// KeyFile is the .p8 auth key from the Apple developer account: a PEM
	// PKCS#8 EC P-256 private key.
	KeyFile string
	KeyID   string // the key's 10-character ID (JWT kid)
	TeamID  string // the developer team ID (JWT iss)
	Topic   string // the app's bundle ID
	// Endpoint is the base URL of APNs; default DefaultAPNsEndpoint.
	Endpoint string
	// HTTPClient must speak HTTP/2; default a client with a 30 s timeout that
	// speaks nothing else.
	HTTPClient *http.Client
	// Now is the clock for provider tokens; default time.Now.
	Now func() time.Time
}

// APNs sends alerts through the Apple Push Notification service. It is safe
// for concurrent use.
type APNs struct {
	keyID, teamID, topic string
	key                  *ecdsa.PrivateKey
	deviceURL            string // endpoint + "/3/device/"
	client               *http.Client
	now                  func() time.Time

	mu       sync.Mutex
	jwt      string
	issuedAt time.Time
}

// NewAPNs reads the auth key and returns a sender. It does no network I/O.
func NewAPNs(cfg APNsConfig) (*APNs, error) {
	switch {
	case cfg.KeyFile == "":
		return nil, errors.New("push: apns: no key file")
	case cfg.KeyID == "":
		return nil, errors.New("push: apns: no key id")
	case cfg.TeamID == "":
		return nil, errors.New("push: apns: no team id")
	case cfg.Topic == "":
		return nil, errors.New("push: apns: no topic")
	}
	raw, err := os.ReadFile(cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("push: apns: key: %w", err)
	}
	key, err := parseP8(raw)
	if err != nil {
		return nil, fmt.Errorf("push: apns: key %s: %w", cfg.KeyFile, err)
	}
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = DefaultAPNsEndpoint
	}
	if err := checkURL(endpoint); err != nil {
		return nil, fmt.Errorf("push: apns: %w", err)
	}
	a := &APNs{
		keyID:     cfg.KeyID,
		teamID:    cfg.TeamID,
		topic:     cfg.Topic,
		key:       key,
		deviceURL: strings.TrimRight(endpoint, "/") + "/3/device/",
		client:    cfg.HTTPClient,
		now:       cfg.Now,
	}
	if a.client == nil {
		a.client = defaultHTTPClient(true)
	}
	if a.now == nil {
		a.now = time.Now
	}
	return a, nil
}

// parseP8 decodes an APNs auth key.
func parseP8(raw []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	if block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("PEM block %q, want \"PRIVATE KEY\" (PKCS#8)", block.Type)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse PKCS#8: %w", err)
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("key is %T, want an EC P-256 key", parsed)
	}
	if key.Curve.Params().Name != "P-256" {
		return nil, fmt.Errorf("key is on curve %s, want P-256", key.Curve.Params().Name)
	}
	return key, nil
}

// providerToken returns the cached provider JWT, signing a new one when it
// is missing, 50 minutes old, or from the future (the clock went back).
func (a *APNs) providerToken() (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if a.jwt != "" && !now.Before(a.issuedAt) && now.Sub(a.issuedAt) < providerTokenRefresh {
		return a.jwt, nil
	}
	iat := now.Truncate(time.Second)
	t := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": a.teamID,
		"iat": iat.Unix(),
	})
	t.Header["kid"] = a.keyID
	s, err := t.SignedString(a.key)
	if err != nil {
		return "", fmt.Errorf("push: apns: sign provider token: %w", err)
	}
	a.jwt, a.issuedAt = s, iat
	return s, nil
}

// forget drops tok unless it was already replaced.
func (a *APNs) forget(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.jwt == tok {
		a.jwt = ""
	}
}

// apnsPayload is the JSON body: aps plus the app's data at the top level.
func apnsPayload(n Notification) map[string]any {
	p := map[string]any{
		"aps": map[string]any{
			"alert": map[string]string{"title": n.Title, "body": n.Body},
			"sound": "default",
		},
	}
	for k, v := range n.data() {
		if k != "aps" {
			p[k] = v
		}
	}
	return p
}

// Send delivers n to one APNs device token.
func (a *APNs) Send(ctx context.Context, token string, n Notification) error {
	bearer, err := a.providerToken()
	if err != nil {
		return err
	}
	body, err := json.Marshal(apnsPayload(n))
	if err != nil {
		return fmt.Errorf("push: apns: encode payload: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.deviceURL+url.PathEscape(token), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("push: apns: %w", err)
	}
	req.Header.Set("authorization", "bearer "+bearer)
	req.Header.Set("apns-topic", a.topic)
	req.Header.Set("apns-push-type", "alert")
	req.Header.Set("apns-priority", "10")
	req.Header.Set("content-type", "application/json")
	if n.CollapseKey != "" {
		req.Header.Set("apns-collapse-id", n.CollapseKey)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return transportError(ctx, "apns", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	var ae struct {
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(raw, &ae)
	e := &Error{
		Provider:   "apns",
		StatusCode: resp.StatusCode,
		Reason:     ae.Reason,
		RetryAfter: retryAfter(resp.Header, a.now()),
		kind:       classify(resp.StatusCode),
	}
	if ae.Reason == "" {
		e.Message = strings.TrimSpace(string(raw))
	}
	switch {
	case resp.StatusCode == http.StatusGone:
		e.kind = ErrUnregistered
	case resp.StatusCode == http.StatusBadRequest &&
		(ae.Reason == "BadDeviceToken" || ae.Reason == "Unregistered" || ae.Reason == "DeviceTokenNotForTopic"):
		e.kind = ErrUnregistered
	case resp.StatusCode == http.StatusForbidden && ae.Reason == "ExpiredProviderToken":
		// Our clock and Apple's disagree: sign a fresh token and retry.
		a.forget(bearer)
		e.kind = ErrTransient
	}
	return e
}
