package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"
)

// Token types, carried in the typ claim and, through the audience, bound to
// the signature check: a refresh token can never pass as an access token.
const (
	TypeAccess  = "access"
	TypeRefresh = "refresh"
)

// Audiences of our tokens.
const (
	AudienceAccess  = "gisbi-access"
	AudienceRefresh = "gisbi-refresh"
)

var (
	// ErrTokenExpired is returned for a token of ours that is valid in every
	// respect but its expiry. The wire maps it to the code token_expired.
	ErrTokenExpired = errors.New("token expired")
	// ErrInvalidToken is returned for every other rejected token. The wire maps
	// it to the code unauthorized.
	ErrInvalidToken = errors.New("invalid token")
)

// signingMethod is the only algorithm we issue and accept.
var signingMethod = jwt.SigningMethodEdDSA

// Issuer signs and verifies the engine's own access and refresh tokens.
// It is safe for concurrent use.
type Issuer struct {
	key        ed25519.PrivateKey
	pub        ed25519.PublicKey
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	now        func() time.Time
}

// Claims is the verified content of one of our tokens.
type Claims struct {
	UserID    string    // sub
	TokenID   string    // jti, a ULID
	Family    string    // refresh tokens only: the rotation family, a ULID
	Type      string    // TypeAccess or TypeRefresh
	IssuedAt  time.Time // UTC, whole seconds
	ExpiresAt time.Time // UTC, whole seconds
}

// jwtClaims is the JSON form of Claims.
type jwtClaims struct {
	jwt.RegisteredClaims
	Type   string `json:"typ"`
	Family string `json:"fam,omitempty"`
}

// NewIssuer returns an Issuer signing with key, naming issuer in the iss
// claim, and reading the time from now (time.Now when nil), which is also the
// clock that exp, nbf and iat are checked against. It panics on an invalid
// key or a non-positive TTL, which are programming errors.
func NewIssuer(key ed25519.PrivateKey, issuer string, accessTTL, refreshTTL time.Duration, now func() time.Time) *Issuer {
	if len(key) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("auth: NewIssuer: Ed25519 private key has %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	if accessTTL <= 0 || refreshTTL <= 0 {
		panic("auth: NewIssuer: token TTLs must be positive")
	}
	if now == nil {
		now = time.Now
	}
	return &Issuer{
		key:        key,
		pub:        key.Public().(ed25519.PublicKey),
		issuer:     issuer,
		accessTTL:  accessTTL,
		refreshTTL: refreshTTL,
		now:        now,
	}
}

// IssueAccess returns a signed access token for userID and its claims.
func (i *Issuer) IssueAccess(userID string) (token string, c Claims, err error) {
	return i.issue(userID, TypeAccess, "")
}

// IssueRefresh returns a signed refresh token for userID in the rotation
// family family, or in a new family (a new ULID) when family is "".
func (i *Issuer) IssueRefresh(userID, family string) (token string, c Claims, err error) {
	if family == "" {
		id, err := ulid.New(ulid.Timestamp(i.now()), rand.Reader)
		if err != nil {
			return "", Claims{}, fmt.Errorf("auth: new token family: %w", err)
		}
		family = id.String()
	}
	return i.issue(userID, TypeRefresh, family)
}

func (i *Issuer) issue(userID, typ, family string) (string, Claims, error) {
	if userID == "" {
		return "", Claims{}, errors.New("auth: issue token: empty user ID")
	}
	// JWT times have a one-second precision: truncate first so that the
	// returned claims equal the ones a verifier will read back.
	now := i.now().UTC().Truncate(time.Second)
	ttl, aud := i.accessTTL, AudienceAccess
	if typ == TypeRefresh {
		ttl, aud = i.refreshTTL, AudienceRefresh
	}
	jti, err := ulid.New(ulid.Timestamp(now), rand.Reader)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: new token ID: %w", err)
	}
	c := Claims{
		UserID:    userID,
		TokenID:   jti.String(),
		Family:    family,
		Type:      typ,
		IssuedAt:  now,
		ExpiresAt: now.Add(ttl),
	}
	jc := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    i.issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{aud},
			ExpiresAt: jwt.NewNumericDate(c.ExpiresAt),
			NotBefore: jwt.NewNumericDate(c.IssuedAt),
			IssuedAt:  jwt.NewNumericDate(c.IssuedAt),
			ID:        c.TokenID,
		},
		Type:   typ,
		Family: family,
	}
	token, err := jwt.NewWithClaims(signingMethod, jc).SignedString(i.key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("auth: sign %s token: %w", typ, err)
	}
	return token, c, nil
}

// VerifyAccess verifies an access token. Errors wrap ErrTokenExpired or
// ErrInvalidToken.
func (i *Issuer) VerifyAccess(token string) (*Claims, error) {
	return i.verify(token, TypeAccess, AudienceAccess)
}

// VerifyRefresh verifies a refresh token. Errors wrap ErrTokenExpired or
// ErrInvalidToken. Whether the token was already rotated or revoked is the
// caller's business.
func (i *Issuer) VerifyRefresh(token string) (*Claims, error) {
	return i.verify(token, TypeRefresh, AudienceRefresh)
}

func (i *Issuer) verify(token, typ, aud string) (*Claims, error) {
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{signingMethod.Alg()}),
		jwt.WithIssuer(i.issuer),
		jwt.WithAudience(aud),
		jwt.WithTimeFunc(i.now),
		jwt.WithIssuedAt(),
		jwt.WithExpirationRequired(),
	)
	var jc jwtClaims
	_, err := parser.ParseWithClaims(token, &jc, func(*jwt.Token) (any, error) {
		return i.pub, nil
	})
	switch {
	case err == nil:
	case onlyExpired(err) && jc.Type == typ:
		// Signed by us, of the right type and audience: the client should
		// refresh. Anything else wrong with the token makes it invalid.
		return nil, fmt.Errorf("%w: %w", ErrTokenExpired, err)
	default:
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}

	switch {
	case jc.Type != typ:
		return nil, fmt.Errorf("%w: type %q, want %q", ErrInvalidToken, jc.Type, typ)
	case jc.Subject == "":
		return nil, fmt.Errorf("%w: no subject", ErrInvalidToken)
	case jc.ID == "":
		return nil, fmt.Errorf("%w: no token ID", ErrInvalidToken)
	case jc.IssuedAt == nil:
		return nil, fmt.Errorf("%w: no issue time", ErrInvalidToken)
	case typ == TypeRefresh && jc.Family == "":
		return nil, fmt.Errorf("%w: refresh token without family", ErrInvalidToken)
	case typ == TypeAccess && jc.Family != "":
		return nil, fmt.Errorf("%w: access token with a family", ErrInvalidToken)
	}
	return &Claims{
		UserID:    jc.Subject,
		TokenID:   jc.ID,
		Family:    jc.Family,
		Type:      jc.Type,
		IssuedAt:  jc.IssuedAt.UTC(),
		ExpiresAt: jc.ExpiresAt.UTC(),
	}, nil
}

// onlyExpired reports whether err is a claims validation failure whose only
// cause is the expiry. jwt checks the signature before the claims, so such an
// error also means the signature is ours.
func onlyExpired(err error) bool {
	if !errors.Is(err, jwt.ErrTokenInvalidClaims) || !errors.Is(err, jwt.ErrTokenExpired) {
		return false
	}
	for _, other := range []error{
		jwt.ErrTokenInvalidAudience,
		jwt.ErrTokenInvalidIssuer,
		jwt.ErrTokenNotValidYet,
		jwt.ErrTokenUsedBeforeIssued,
		jwt.ErrTokenRequiredClaimMissing,
		jwt.ErrTokenInvalidSubject,
		jwt.ErrTokenInvalidId,
	} {
		if errors.Is(err, other) {
			return false
		}
	}
	return true
}
