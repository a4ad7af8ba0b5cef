// Package authtest helps tests play the identity providers that the auth
// package talks to: a Google or Apple look-alike serving a JWKS on 127.0.0.1
// and signing ID tokens, and a throwaway Firebase service account.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuers of the real providers, for NewProvider.
const (
	GoogleIssuer = "https://accounts.google.com"
	AppleIssuer  = "https://appleid.apple.com"
)

// Provider is a fake identity provider: an HTTP server on 127.0.0.1 serving a
// JWKS of RSA keys, and a signer of ID tokens. It is safe for concurrent use.
type Provider struct {
	t      testing.TB
	issuer string
	srv    *httptest.Server

	mu      sync.Mutex
	keys    []providerKey // all served; the last one is current
	fetches int
	now     func() time.Time
}

type providerKey struct {
	kid string
	key *rsa.PrivateKey
}

// NewProvider starts a provider whose tokens name issuer (e.g. GoogleIssuer)
// and whose JWKS holds one key. The server stops when the test ends.
func NewProvider(t testing.TB, issuer string) *Provider {
	t.Helper()
	p := &Provider{t: t, issuer: issuer, now: time.Now}
	p.keys = []providerKey{{kid: "key-1", key: NewRSAKey(t)}}

	srv := httptest.NewUnstartedServer(http.HandlerFunc(p.serveJWKS))
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("authtest: listen: %v", err)
	}
	srv.Listener = ln
	srv.Start()
	p.srv = srv
	t.Cleanup(srv.Close)
	return p
}

func (p *Provider) serveJWKS(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/jwks" {
		http.NotFound(w, r)
		return
	}
	p.mu.Lock()
	p.fetches++
	set := jwks{Keys: make([]jwk, 0, len(p.keys))}
	for _, k := range p.keys {
		set.Keys = append(set.Keys, publicJWK(k.kid, &k.key.PublicKey))
	}
	p.mu.Unlock()

	// What Google sends.
	w.Header().Set("Cache-Control", "public, max-age=3600, must-revalidate, no-transform")
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	_ = json.NewEncoder(w).Encode(set)
}

type jwks struct {
	Keys []jwk `json:"keys"`
}

type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func publicJWK(kid string, pub *rsa.PublicKey) jwk {
	return jwk{
		Kty: "RSA",
		Use: "sig",
		Alg: "RS256",
		Kid: kid,
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}
}

// JWKSURL returns the URL of the provider's JWKS.
func (p *Provider) JWKSURL() string { return p.srv.URL + "/jwks" }

// Issuer returns the issuer the provider puts in its tokens.
func (p *Provider) Issuer() string { return p.issuer }

// KID returns the key ID of the current key.
func (p *Provider) KID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].kid
}

// Key returns the current signing key.
func (p *Provider) Key() *rsa.PrivateKey {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keys[len(p.keys)-1].key
}

// FetchCount returns how many times the JWKS was fetched.
func (p *Provider) FetchCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// SetClock sets the clock Token reads (default time.Now), for tests running
// on an injected clock.
func (p *Provider) SetClock(now func() time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = now
}

// Rotate adds a new key to the JWKS and makes it the current signing key.
// The previous keys stay served.
func (p *Provider) Rotate() {
	key := NewRSAKey(p.t)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, providerKey{kid: fmt.Sprintf("key-%d", len(p.keys)+1), key: key})
}

// Close stops the server, as a provider outage.
func (p *Provider) Close() { p.srv.Close() }

// Sign returns claims signed with RS256 by the current key, whose kid is in
// the header.
func (p *Provider) Sign(claims jwt.MapClaims) string {
	p.mu.Lock()
	current := p.keys[len(p.keys)-1]
	p.mu.Unlock()
	return p.SignWith(current.key, current.kid, claims)
}

// SignWith returns claims signed with RS256 by key, with kid in the header
// (none when kid is "").
func (p *Provider) SignWith(key *rsa.PrivateKey, kid string, claims jwt.MapClaims) string {
	p.t.Helper()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if kid != "" {
		token.Header["kid"] = kid
	}
	signed, err := token.SignedString(key)
	if err != nil {
		p.t.Fatalf("authtest: sign: %v", err)
	}
	return signed
}

// Claims returns the claims of a valid ID token for sub and aud: issued now,
// expiring in one hour, with a verified e-mail address. Tests alter them to
// make invalid tokens.
func (p *Provider) Claims(sub, aud string) jwt.MapClaims {
	p.mu.Lock()
	now := p.now()
	p.mu.Unlock()
	return jwt.MapClaims{
		"iss":            p.issuer,
		"sub":            sub,
		"aud":            aud,
		"iat":            now.Unix(),
		"exp":            now.Add(time.Hour).Unix(),
		"email":          sub + "@example.com",
		"email_verified": true,
	}
}

// Token returns a valid ID token for sub and aud, signed by the current key.
func (p *Provider) Token(sub, aud string) string {
	return p.Sign(p.Claims(sub, aud))
}

// NewRSAKey returns a new 2048-bit RSA key.
func NewRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("authtest: generate RSA key: %v", err)
	}
	return key
}

// ServiceAccountEmail is the client_email of WriteServiceAccount's accounts.
const ServiceAccountEmail = "firebase-adminsdk-test@gisbi-test.iam.gserviceaccount.com"

// ServiceAccountKeyID is the private_key_id of WriteServiceAccount's accounts.
const ServiceAccountKeyID = "0123456789abcdef0123456789abcdef01234567"

// WriteServiceAccount writes a Google service-account JSON file with a new
// RSA key (PKCS#8) in a temporary directory, and returns its path and key.
func WriteServiceAccount(t testing.TB) (path string, key *rsa.PrivateKey) {
	t.Helper()
	key = NewRSAKey(t)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("authtest: encode key: %v", err)
	}
	account := map[string]string{
		"type":                        "service_account",
		"project_id":                  "gisbi-test",
		"private_key_id":              ServiceAccountKeyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                ServiceAccountEmail,
		"client_id":                   "100000000000000000000",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   "https://oauth2.googleapis.com/token",
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"universe_domain":             "googleapis.com",
	}
	data, err := json.MarshalIndent(account, "", "  ")
	if err != nil {
		t.Fatalf("authtest: encode service account: %v", err)
	}
	path = filepath.Join(t.TempDir(), "service-account.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatalf("authtest: write service account: %v", err)
	}
	return path, key
}
