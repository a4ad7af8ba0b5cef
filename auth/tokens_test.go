package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/auth"
	"github.com/golang-jwt/jwt/v5"
	"github.com/oklog/ulid/v2"
)

const (
	testIssuer = "https://gisbi.test"
	accessTTL  = 15 * time.Minute
	refreshTTL = 30 * 24 * time.Hour
)

func newTestIssuer(t *testing.T) (*auth.Issuer, ed25519.PrivateKey, *fakeClock) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	clock := newFakeClock()
	return auth.NewIssuer(key, testIssuer, accessTTL, refreshTTL, clock.Now), key, clock
}

func TestIssuer_RoundTrip(t *testing.T) {
	iss, _, clock := newTestIssuer(t)
	clock.Advance(1500 * time.Millisecond) // sub-second part is dropped
	now := clock.Now().Truncate(time.Second)

	access, ac, err := iss.IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}
	refresh, rc, err := iss.IssueRefresh("user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	rotated, rc2, err := iss.IssueRefresh("user_1", rc.Family)
	if err != nil {
		t.Fatal(err)
	}

	want := []struct {
		name   string
		claims auth.Claims
		typ    string
		ttl    time.Duration
	}{
		{"access", ac, auth.TypeAccess, accessTTL},
		{"refresh", rc, auth.TypeRefresh, refreshTTL},
		{"rotated refresh", rc2, auth.TypeRefresh, refreshTTL},
	}
	for _, w := range want {
		c := w.claims
		if c.UserID != "user_1" || c.Type != w.typ || !c.IssuedAt.Equal(now) || !c.ExpiresAt.Equal(now.Add(w.ttl)) {
			t.Errorf("%s claims = %+v", w.name, c)
		}
		if _, err := ulid.ParseStrict(c.TokenID); err != nil {
			t.Errorf("%s jti %q is not a ULID: %v", w.name, c.TokenID, err)
		}
	}
	if ac.Family != "" {
		t.Errorf("access token has family %q", ac.Family)
	}
	if _, err := ulid.ParseStrict(rc.Family); err != nil {
		t.Errorf("new family %q is not a ULID: %v", rc.Family, err)
	}
	if rc2.Family != rc.Family {
		t.Errorf("rotated token family %q, want %q", rc2.Family, rc.Family)
	}
	if ac.TokenID == rc.TokenID || rc.TokenID == rc2.TokenID {
		t.Error("token IDs repeat")
	}

	for _, tc := range []struct {
		name   string
		verify func(string) (*auth.Claims, error)
		token  string
		want   auth.Claims
	}{
		{"access", iss.VerifyAccess, access, ac},
		{"refresh", iss.VerifyRefresh, refresh, rc},
		{"rotated refresh", iss.VerifyRefresh, rotated, rc2},
	} {
		got, err := tc.verify(tc.token)
		if err != nil {
			t.Errorf("verify %s: %v", tc.name, err)
			continue
		}
		if *got != tc.want {
			t.Errorf("verify %s = %+v, want %+v", tc.name, *got, tc.want)
		}
	}

	// The token says what the package documents.
	header, payload := splitToken(t, access)
	if header["alg"] != "EdDSA" {
		t.Errorf("alg = %v", header["alg"])
	}
	for claim, want := range map[string]any{"iss": testIssuer, "sub": "user_1", "typ": "access"} {
		if payload[claim] != want {
			t.Errorf("access %s = %v, want %v", claim, payload[claim], want)
		}
	}
	if aud, _ := payload["aud"].([]any); len(aud) != 1 || aud[0] != auth.AudienceAccess {
		t.Errorf("access aud = %v", payload["aud"])
	}
	if _, payload := splitToken(t, refresh); payload["fam"] != rc.Family {
		t.Errorf("refresh fam = %v", payload["fam"])
	}
}

func TestIssuer_Expiry(t *testing.T) {
	iss, _, clock := newTestIssuer(t)
	access, _, err := iss.IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}
	refresh, _, err := iss.IssueRefresh("user_1", "")
	if err != nil {
		t.Fatal(err)
	}

	clock.Advance(accessTTL - time.Second)
	if _, err := iss.VerifyAccess(access); err != nil {
		t.Fatalf("access token refused a second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	assertExpired(t, "access at exp", func() error { _, err := iss.VerifyAccess(access); return err })
	if _, err := iss.VerifyRefresh(refresh); err != nil {
		t.Fatalf("refresh token refused before its expiry: %v", err)
	}

	clock.Advance(refreshTTL)
	assertExpired(t, "refresh after exp", func() error { _, err := iss.VerifyRefresh(refresh); return err })

	// An expired token of the wrong type is invalid, not merely expired:
	// token_expired would send the client to refresh with it.
	assertInvalid(t, "expired refresh as access", func() error { _, err := iss.VerifyAccess(refresh); return err })
	assertInvalid(t, "expired access as refresh", func() error { _, err := iss.VerifyRefresh(access); return err })
}

func TestIssuer_Refuses(t *testing.T) {
	iss, key, clock := newTestIssuer(t)
	pub := key.Public().(ed25519.PublicKey)
	access, _, err := iss.IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}
	refresh, _, err := iss.IssueRefresh("user_1", "")
	if err != nil {
		t.Fatal(err)
	}
	_, payload := splitToken(t, access)

	_, otherKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer := auth.NewIssuer(otherKey, testIssuer, accessTTL, refreshTTL, clock.Now)
	fromOtherKey, _, err := otherIssuer.IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}
	otherName := auth.NewIssuer(key, "https://elsewhere.test", accessTTL, refreshTTL, clock.Now)
	fromOtherName, _, err := otherName.IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}
	ahead := newFakeClock()
	ahead.Advance(10 * time.Minute)
	future, _, err := auth.NewIssuer(key, testIssuer, accessTTL, refreshTTL, ahead.Now).IssueAccess("user_1")
	if err != nil {
		t.Fatal(err)
	}

	pkix, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})

	// sign signs claims derived from a valid access token's with our own key.
	sign := func(edit func(jwt.MapClaims)) string {
		claims := jwt.MapClaims(maps.Clone(payload))
		edit(claims)
		s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	signWith := func(method jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(method, jwt.MapClaims(payload)).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	tests := []struct {
		name   string
		token  string
		verify func(string) (*auth.Claims, error)
	}{
		{"refresh as access", refresh, iss.VerifyAccess},
		{"access as refresh", access, iss.VerifyRefresh},
		{"alg none", signWith(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType), iss.VerifyAccess},
		{"HS256 keyed with the raw public key", signWith(jwt.SigningMethodHS256, []byte(pub)), iss.VerifyAccess},
		{"HS256 keyed with the PEM public key", signWith(jwt.SigningMethodHS256, pubPEM), iss.VerifyAccess},
		{"another Ed25519 key", fromOtherKey, iss.VerifyAccess},
		{"another issuer", fromOtherName, iss.VerifyAccess},
		{"not yet valid", future, iss.VerifyAccess},
		{"tampered payload", withPayload(t, access, with(payload, "sub", "user_2")), iss.VerifyAccess},
		{"tampered signature", access[:len(access)-4] + flip(access[len(access)-4:]), iss.VerifyAccess},
		{"access audience, refresh type", sign(func(c jwt.MapClaims) { c["typ"] = auth.TypeRefresh; c["fam"] = "f" }), iss.VerifyAccess},
		{"access with a family", sign(func(c jwt.MapClaims) { c["fam"] = "f" }), iss.VerifyAccess},
		{"no type", sign(func(c jwt.MapClaims) { delete(c, "typ") }), iss.VerifyAccess},
		{"no subject", sign(func(c jwt.MapClaims) { delete(c, "sub") }), iss.VerifyAccess},
		{"no token ID", sign(func(c jwt.MapClaims) { delete(c, "jti") }), iss.VerifyAccess},
		{"no expiry", sign(func(c jwt.MapClaims) { delete(c, "exp") }), iss.VerifyAccess},
		{"no audience", sign(func(c jwt.MapClaims) { delete(c, "aud") }), iss.VerifyAccess},
		{"both audiences", sign(func(c jwt.MapClaims) { c["aud"] = []string{auth.AudienceRefresh, auth.AudienceAccess} }), iss.VerifyRefresh},
		{"empty", "", iss.VerifyAccess},
		{"garbage", "not.a.token", iss.VerifyAccess},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assertInvalid(t, tt.name, func() error {
				c, err := tt.verify(tt.token)
				if c != nil {
					t.Errorf("returned claims %+v with the error", c)
				}
				return err
			})
		})
	}
}

func TestNewIssuer_PanicsOnBadKey(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	auth.NewIssuer(ed25519.PrivateKey("short"), testIssuer, accessTTL, refreshTTL, nil)
}

func assertExpired(t *testing.T, name string, f func() error) {
	t.Helper()
	err := f()
	if !errors.Is(err, auth.ErrTokenExpired) || errors.Is(err, auth.ErrInvalidToken) {
		t.Errorf("%s: error %v, want only ErrTokenExpired", name, err)
	}
}

func assertInvalid(t *testing.T, name string, f func() error) {
	t.Helper()
	err := f()
	if !errors.Is(err, auth.ErrInvalidToken) || errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("%s: error %v, want only ErrInvalidToken", name, err)
	}
	t.Logf("%s: %v", name, err)
}

// with returns a copy of m with key set to value.
func with(m map[string]any, key string, value any) map[string]any {
	c := maps.Clone(m)
	c[key] = value
	return c
}

// flip changes every character of a base64url string.
func flip(s string) string {
	return strings.Map(func(r rune) rune {
		if r == 'A' {
			return 'B'
		}
		return 'A'
	}, s)
}
