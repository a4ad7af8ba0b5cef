package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Providers, as named in Identity.Provider and in POST /auth/social-login.
const (
	ProviderGoogle = "google"
	ProviderApple  = "apple"
)

// Production JWKS URLs of the providers.
const (
	GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"
	AppleJWKSURL  = "https://appleid.apple.com/auth/keys"
)

var (
	// ErrInvalidIDToken is returned for a provider ID token that is refused;
	// the wrapping error says why.
	ErrInvalidIDToken = errors.New("invalid ID token")
	// ErrProviderUnavailable is returned when the provider's keys could not
	// be fetched and no cached key can decide. The HTTP layer answers 503.
	ErrProviderUnavailable = errors.New("identity provider unavailable")
)

// idTokenLeeway is the clock skew tolerated on iat and nbf (never on exp).
const idTokenLeeway = time.Minute

// Identity is the verified content of a provider ID token.
type Identity struct {
	Provider      string // ProviderGoogle or ProviderApple
	Subject       string // the provider's stable user ID (sub)
	Email         string
	EmailVerified bool
	Name          string // Google only: Apple never puts the name in the token
	Picture       string // Google only
}

// IDTokenVerifier verifies the ID tokens of one provider offline, against the
// provider's JWKS. It is safe for concurrent use.
type IDTokenVerifier struct {
	provider  string
	issuers   []string
	clientIDs []string
	now       func() time.Time
	keys      *jwksCache
}

// VerifierOption configures an IDTokenVerifier.
type VerifierOption func(*verifierConfig)

type verifierConfig struct {
	client     *http.Client
	now        func() time.Time
	minRefetch time.Duration
	cacheTTL   time.Duration
}

// WithHTTPClient sets the client fetching the JWKS. The default has a 10 s
// timeout.
func WithHTTPClient(client *http.Client) VerifierOption {
	return func(c *verifierConfig) {
		if client != nil {
			c.client = client
		}
	}
}

// WithClock sets the clock that tokens and the key cache are checked against
// (default time.Now).
func WithClock(now func() time.Time) VerifierOption {
	return func(c *verifierConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithMinRefetchInterval sets the least time between two JWKS fetches
// (default one minute), which rate limits the refetches that tokens with an
// unknown key ID trigger. Tests set 0.
func WithMinRefetchInterval(d time.Duration) VerifierOption {
	return func(c *verifierConfig) { c.minRefetch = max(d, 0) }
}

// WithCacheTTL sets how long fetched keys are used before a refetch. By
// default it is the response's Cache-Control max-age (bounded to
// [1 min, 24 h]), or one hour without one.
func WithCacheTTL(d time.Duration) VerifierOption {
	return func(c *verifierConfig) { c.cacheTTL = max(d, 0) }
}

// NewGoogleVerifier returns a verifier of Google ID tokens issued to one of
// clientIDs, with keys from jwksURL (normally GoogleJWKSURL).
func NewGoogleVerifier(clientIDs []string, jwksURL string, opts ...VerifierOption) *IDTokenVerifier {
	return newIDTokenVerifier(ProviderGoogle,
		[]string{"https://accounts.google.com", "accounts.google.com"},
		clientIDs, jwksURL, opts)
}

// NewAppleVerifier returns a verifier of Sign in with Apple ID tokens issued
// to one of clientIDs (bundle or services IDs), with keys from jwksURL
// (normally AppleJWKSURL).
func NewAppleVerifier(clientIDs []string, jwksURL string, opts ...VerifierOption) *IDTokenVerifier {
	return newIDTokenVerifier(ProviderApple,
		[]string{"https://appleid.apple.com"},
		clientIDs, jwksURL, opts)
}

func newIDTokenVerifier(provider string, issuers, clientIDs []string, jwksURL string, opts []VerifierOption) *IDTokenVerifier {
	cfg := verifierConfig{
		client:     &http.Client{Timeout: 10 * time.Second},
		now:        time.Now,
		minRefetch: time.Minute,
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	return &IDTokenVerifier{
		provider:  provider,
		issuers:   issuers,
		clientIDs: slices.Clone(clientIDs),
		now:       cfg.now,
		keys:      newJWKSCache(jwksURL, cfg),
	}
}

// idClaims is the JSON payload of a Google or Apple ID token.
type idClaims struct {
	jwt.RegisteredClaims
	AuthorizedParty string   `json:"azp"`
	Email           string   `json:"email"`
	EmailVerified   flexBool `json:"email_verified"`
	Name            string   `json:"name"`
	Picture         string   `json:"picture"`
}

// Verify checks raw's RS256 signature against the provider's keys, then its
// issuer, audience, times and subject. Errors wrap ErrInvalidIDToken or
// ErrProviderUnavailable. ctx bounds a JWKS fetch the call may need.
func (v *IDTokenVerifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	var claims idClaims
	var keyErr error
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		// Claims are checked below: exp has no leeway, iat and nbf have one.
		jwt.WithoutClaimsValidation(),
	)
	_, err := parser.ParseWithClaims(raw, &claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if kid == "" {
			keyErr = fmt.Errorf("%w: no key ID in header", ErrInvalidIDToken)
			return nil, keyErr
		}
		key, err := v.keys.key(ctx, kid)
		keyErr = err
		return key, err
	})
	if keyErr != nil {
		// Already classified: unknown key or provider unavailable.
		return nil, keyErr
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
	}
	if err := v.checkClaims(&claims); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidIDToken, err)
	}
	return &Identity{
		Provider:      v.provider,
		Subject:       claims.Subject,
		Email:         claims.Email,
		EmailVerified: bool(claims.EmailVerified),
		Name:          claims.Name,
		Picture:       claims.Picture,
	}, nil
}

// checkClaims checks the claims of a token whose signature is valid.
func (v *IDTokenVerifier) checkClaims(c *idClaims) error {
	now := v.now()
	switch {
	case !slices.Contains(v.issuers, c.Issuer):
		return fmt.Errorf("wrong issuer %q", c.Issuer)
	case !slices.ContainsFunc(c.Audience, v.isClientID):
		return fmt.Errorf("wrong audience %q", []string(c.Audience))
	case len(c.Audience) > 1 && c.AuthorizedParty != "" && !v.isClientID(c.AuthorizedParty):
		return fmt.Errorf("wrong authorized party %q", c.AuthorizedParty)
	case c.Subject == "":
		return errors.New("no subject")
	case c.ExpiresAt == nil:
		return errors.New("no expiry")
	case !now.Before(c.ExpiresAt.Time):
		return fmt.Errorf("expired at %s", c.ExpiresAt.UTC().Format(time.RFC3339))
	case c.IssuedAt == nil:
		return errors.New("no issue time")
	case c.IssuedAt.After(now.Add(idTokenLeeway)):
		return fmt.Errorf("issued in the future, at %s", c.IssuedAt.UTC().Format(time.RFC3339))
	case c.NotBefore != nil && c.NotBefore.After(now.Add(idTokenLeeway)):
		return fmt.Errorf("not valid before %s", c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

func (v *IDTokenVerifier) isClientID(aud string) bool {
	return aud != "" && slices.Contains(v.clientIDs, aud)
}

// flexBool reads a JSON boolean that Apple may send as a string ("true").
type flexBool bool

func (b *flexBool) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case "true", `"true"`:
		*b = true
	case "false", `"false"`, "null":
		*b = false
	default:
		return fmt.Errorf("email_verified: not a boolean: %s", data)
	}
	return nil
}

var _ json.Unmarshaler = (*flexBool)(nil)
