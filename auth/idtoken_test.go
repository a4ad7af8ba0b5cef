package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/auth/authtest"
	"github.com/golang-jwt/jwt/v5"
)

const (
	googleClient  = "1234-web.apps.googleusercontent.com"
	googleAndroid = "1234-android.apps.googleusercontent.com"
	appleClient   = "com.gisbi.app"
)

// idFixture is a Google and an Apple look-alike with verifiers on a fake
// clock and no refetch rate limit.
type idFixture struct {
	clock  *fakeClock
	google *authtest.Provider
	apple  *authtest.Provider
	gv     *auth.IDTokenVerifier
	av     *auth.IDTokenVerifier
}

func newIDFixture(t *testing.T, opts ...auth.VerifierOption) *idFixture {
	t.Helper()
	f := &idFixture{
		clock:  newFakeClock(),
		google: authtest.NewProvider(t, authtest.GoogleIssuer),
		apple:  authtest.NewProvider(t, authtest.AppleIssuer),
	}
	f.google.SetClock(f.clock.Now)
	f.apple.SetClock(f.clock.Now)
	opts = append([]auth.VerifierOption{auth.WithClock(f.clock.Now), auth.WithMinRefetchInterval(0)}, opts...)
	f.gv = auth.NewGoogleVerifier([]string{googleClient, googleAndroid}, f.google.JWKSURL(), opts...)
	f.av = auth.NewAppleVerifier([]string{appleClient}, f.apple.JWKSURL(), opts...)
	return f
}

func TestIDTokenVerifier_Accepts(t *testing.T) {
	f := newIDFixture(t)
	now := f.clock.Now()

	googleClaims := func(edit func(jwt.MapClaims)) string {
		c := f.google.Claims("108", googleClient)
		c["name"] = "Ada Lovelace"
		c["picture"] = "https://lh3.googleusercontent.com/ada"
		edit(c)
		return f.google.Sign(c)
	}
	appleClaims := func(edit func(jwt.MapClaims)) string {
		c := f.apple.Claims("001234.abcd.1200", appleClient)
		edit(c)
		return f.apple.Sign(c)
	}
	googleAda := auth.Identity{
		Provider: auth.ProviderGoogle, Subject: "108", Email: "108@example.com", EmailVerified: true,
		Name: "Ada Lovelace", Picture: "https://lh3.googleusercontent.com/ada",
	}
	appleUser := auth.Identity{
		Provider: auth.ProviderApple, Subject: "001234.abcd.1200", Email: "001234.abcd.1200@example.com", EmailVerified: true,
	}

	tests := []struct {
		name     string
		verifier *auth.IDTokenVerifier
		token    string
		want     auth.Identity
	}{
		{"google", f.gv, googleClaims(func(jwt.MapClaims) {}), googleAda},
		{"google, same sub later", f.gv, googleClaims(func(c jwt.MapClaims) {
			c["iat"], c["exp"] = now.Add(-30*time.Minute).Unix(), now.Add(30*time.Minute).Unix()
		}), googleAda},
		{"google, issuer without scheme", f.gv, googleClaims(func(c jwt.MapClaims) { c["iss"] = "accounts.google.com" }), googleAda},
		{"google, second client ID", f.gv, googleClaims(func(c jwt.MapClaims) { c["aud"] = googleAndroid }), googleAda},
		{"google, aud array with our azp", f.gv, googleClaims(func(c jwt.MapClaims) {
			c["aud"], c["azp"] = []string{googleClient, "other"}, googleAndroid
		}), googleAda},
		{"google, single aud with foreign azp", f.gv, googleClaims(func(c jwt.MapClaims) { c["azp"] = "other" }), googleAda},
		{"google, iat within leeway", f.gv, googleClaims(func(c jwt.MapClaims) { c["iat"] = now.Add(50 * time.Second).Unix() }), googleAda},
		{"google, nbf within leeway", f.gv, googleClaims(func(c jwt.MapClaims) { c["nbf"] = now.Add(50 * time.Second).Unix() }), googleAda},
		{"google, email not verified", f.gv, googleClaims(func(c jwt.MapClaims) { c["email_verified"] = false }),
			func() auth.Identity { id := googleAda; id.EmailVerified = false; return id }()},
		{"apple", f.av, appleClaims(func(jwt.MapClaims) {}), appleUser},
		{"apple, aud array", f.av, appleClaims(func(c jwt.MapClaims) { c["aud"] = []string{appleClient} }), appleUser},
		{"apple, email_verified as a string", f.av, appleClaims(func(c jwt.MapClaims) { c["email_verified"] = "true" }), appleUser},
		{"apple, no email", f.av, appleClaims(func(c jwt.MapClaims) { delete(c, "email"); delete(c, "email_verified") }),
			auth.Identity{Provider: auth.ProviderApple, Subject: "001234.abcd.1200"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.verifier.Verify(context.Background(), tt.token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if *got != tt.want {
				t.Errorf("Verify = %+v, want %+v", *got, tt.want)
			}
		})
	}
	if n := f.google.FetchCount(); n != 1 {
		t.Errorf("Google JWKS fetched %d times, want 1 (cached)", n)
	}
}

func TestIDTokenVerifier_Refuses(t *testing.T) {
	f := newIDFixture(t)
	now := f.clock.Now()
	p := f.google
	stranger := authtest.NewRSAKey(t)

	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := p.Claims("108", googleClient)
		edit(c)
		return c
	}
	valid := p.Token("108", googleClient)
	_, payload := splitToken(t, valid)

	// Tokens signed with another algorithm, with the provider's kid.
	signAlg := func(method jwt.SigningMethod, key any) string {
		tok := jwt.NewWithClaims(method, claims(func(jwt.MapClaims) {}))
		tok.Header["kid"] = p.KID()
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pkix, err := x509.MarshalPKIXPublicKey(&p.Key().PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pkix})
	pkcs1 := x509.MarshalPKCS1PublicKey(&p.Key().PublicKey)

	tests := []struct {
		name     string
		verifier *auth.IDTokenVerifier
		token    string
	}{
		{"wrong audience", f.gv, p.Token("108", "someone-else")},
		{"aud array without us", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }))},
		{"aud array with a foreign azp", f.gv, p.Sign(claims(func(c jwt.MapClaims) {
			c["aud"], c["azp"] = []string{googleClient, "other"}, "other"
		}))},
		{"no audience", f.gv, p.Sign(claims(func(c jwt.MapClaims) { delete(c, "aud") }))},
		{"wrong issuer", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }))},
		{"apple issuer at google", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["iss"] = authtest.AppleIssuer }))},
		{"google token at apple", f.av, f.google.Token("108", appleClient)},
		{"expired", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Second).Unix() }))},
		{"expires now", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["exp"] = now.Unix() }))},
		{"no expiry", f.gv, p.Sign(claims(func(c jwt.MapClaims) { delete(c, "exp") }))},
		{"issued in the future", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["iat"] = now.Add(2 * time.Minute).Unix() }))},
		{"no issue time", f.gv, p.Sign(claims(func(c jwt.MapClaims) { delete(c, "iat") }))},
		{"not valid yet", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))},
		{"missing sub", f.gv, p.Sign(claims(func(c jwt.MapClaims) { delete(c, "sub") }))},
		{"empty sub", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["sub"] = "" }))},
		{"email_verified not a boolean", f.gv, p.Sign(claims(func(c jwt.MapClaims) { c["email_verified"] = "maybe" }))},
		{"bad signature", f.gv, p.SignWith(stranger, p.KID(), claims(func(jwt.MapClaims) {}))},
		{"tampered payload", f.gv, withPayload(t, valid, with(payload, "sub", "109"))},
		{"unknown key", f.gv, p.SignWith(stranger, "no-such-kid", claims(func(jwt.MapClaims) {}))},
		{"no kid", f.gv, p.SignWith(p.Key(), "", claims(func(jwt.MapClaims) {}))},
		{"alg none", f.gv, signAlg(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		{"HS256 keyed with the PEM public key", f.gv, signAlg(jwt.SigningMethodHS256, pubPEM)},
		{"HS256 keyed with the PKCS#1 public key", f.gv, signAlg(jwt.SigningMethodHS256, pkcs1)},
		{"RS512 by the right key", f.gv, signAlg(jwt.SigningMethodRS512, p.Key())},
		{"PS256 by the right key", f.gv, signAlg(jwt.SigningMethodPS256, p.Key())},
		{"empty", f.gv, ""},
		{"garbage", f.gv, "a.b.c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := tt.verifier.Verify(context.Background(), tt.token)
			if !errors.Is(err, auth.ErrInvalidIDToken) || errors.Is(err, auth.ErrProviderUnavailable) {
				t.Fatalf("Verify error %v, want only ErrInvalidIDToken", err)
			}
			if id != nil {
				t.Errorf("returned %+v with the error", id)
			}
			t.Log(err)
		})
	}
}

func TestIDTokenVerifier_UnknownKeyRefetches(t *testing.T) {
	f := newIDFixture(t)
	ctx := context.Background()
	stranger := authtest.NewRSAKey(t)

	if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
		t.Fatal(err)
	}
	if n := f.google.FetchCount(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	// A kid that is not in the JWKS, even after the refetch it causes.
	_, err := f.gv.Verify(ctx, f.google.SignWith(stranger, "no-such-kid", f.google.Claims("108", googleClient)))
	if !errors.Is(err, auth.ErrInvalidIDToken) {
		t.Fatalf("unknown kid: %v, want ErrInvalidIDToken", err)
	}
	if n := f.google.FetchCount(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (refetch on unknown kid)", n)
	}
}

func TestIDTokenVerifier_KeyRotation(t *testing.T) {
	f := newIDFixture(t)
	ctx := context.Background()

	old := f.google.Token("108", googleClient)
	if _, err := f.gv.Verify(ctx, old); err != nil {
		t.Fatal(err)
	}
	f.google.Rotate()
	rotated := f.google.Token("108", googleClient)
	if _, err := f.gv.Verify(ctx, rotated); err != nil {
		t.Fatalf("token signed by the new key: %v", err)
	}
	if n := f.google.FetchCount(); n != 2 {
		t.Errorf("fetches = %d, want 2", n)
	}
	// Both keys are now cached.
	for _, tok := range []string{old, rotated, old} {
		if _, err := f.gv.Verify(ctx, tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.google.FetchCount(); n != 2 {
		t.Errorf("fetches = %d, want still 2", n)
	}
}

func TestIDTokenVerifier_RefetchRateLimited(t *testing.T) {
	f := newIDFixture(t, auth.WithMinRefetchInterval(time.Minute))
	ctx := context.Background()

	if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
		t.Fatal(err)
	}
	f.google.Rotate()
	// Within the minute, unknown kids are refused without asking the provider.
	for range 5 {
		_, err := f.gv.Verify(ctx, f.google.Token("108", googleClient))
		if !errors.Is(err, auth.ErrInvalidIDToken) {
			t.Fatalf("new key within the rate limit: %v, want ErrInvalidIDToken", err)
		}
	}
	if n := f.google.FetchCount(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}

	f.clock.Advance(time.Minute)
	if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
		t.Fatalf("new key after the rate limit: %v", err)
	}
	if n := f.google.FetchCount(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

func TestIDTokenVerifier_ConcurrentCallersShareOneFetch(t *testing.T) {
	f := newIDFixture(t)
	token := f.google.Token("108", googleClient)

	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, errs[i] = f.gv.Verify(context.Background(), token) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if got := f.google.FetchCount(); got != 1 {
		t.Errorf("fetches = %d, want 1", got)
	}
}

func TestIDTokenVerifier_CacheTTL(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		opts []auth.VerifierOption
		ttl  time.Duration
	}{
		{"Cache-Control max-age", nil, time.Hour}, // authtest sends max-age=3600
		{"WithCacheTTL", []auth.VerifierOption{auth.WithCacheTTL(10 * time.Minute)}, 10 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newIDFixture(t, tt.opts...)
			verify := func(wantFetches int) {
				t.Helper()
				if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
					t.Fatal(err)
				}
				if n := f.google.FetchCount(); n != wantFetches {
					t.Fatalf("fetches = %d, want %d", n, wantFetches)
				}
			}
			verify(1)
			f.clock.Advance(tt.ttl - time.Second)
			verify(1)
			f.clock.Advance(time.Second)
			verify(2)
		})
	}
}

func TestIDTokenVerifier_ProviderDown(t *testing.T) {
	ctx := context.Background()

	t.Run("no cached keys", func(t *testing.T) {
		f := newIDFixture(t)
		token := f.google.Token("108", googleClient)
		f.google.Close()
		_, err := f.gv.Verify(ctx, token)
		if !errors.Is(err, auth.ErrProviderUnavailable) || errors.Is(err, auth.ErrInvalidIDToken) {
			t.Fatalf("Verify error %v, want only ErrProviderUnavailable", err)
		}
	})

	t.Run("cached keys outlive the outage", func(t *testing.T) {
		f := newIDFixture(t)
		if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
			t.Fatal(err)
		}
		f.google.Close()
		f.clock.Advance(3 * time.Hour) // keys are stale, the refetch fails
		if _, err := f.gv.Verify(ctx, f.google.Token("108", googleClient)); err != nil {
			t.Fatalf("known key during the outage: %v", err)
		}
		// An unknown kid cannot be decided: the provider may have rotated.
		_, err := f.gv.Verify(ctx, f.google.SignWith(authtest.NewRSAKey(t), "new-kid", f.google.Claims("108", googleClient)))
		if !errors.Is(err, auth.ErrProviderUnavailable) {
			t.Fatalf("unknown kid during the outage: %v, want ErrProviderUnavailable", err)
		}
	})

	bad := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"status 500", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "oops", http.StatusInternalServerError) }},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("<html>")) }},
		{"no keys", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"keys":[]}`)) }},
		{"only unusable keys", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[{"kty":"oct","kid":"key-1","k":"c2VjcmV0"},{"kty":"RSA","kid":"key-1","alg":"RS256","n":"AQAB","e":"AQAB"}]}`))
		}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			p := authtest.NewProvider(t, authtest.GoogleIssuer)
			srv := httptest.NewServer(tt.handler)
			t.Cleanup(srv.Close)
			v := auth.NewGoogleVerifier([]string{googleClient}, srv.URL, auth.WithMinRefetchInterval(0))
			_, err := v.Verify(ctx, p.Token("108", googleClient))
			if !errors.Is(err, auth.ErrProviderUnavailable) || errors.Is(err, auth.ErrInvalidIDToken) {
				t.Fatalf("Verify error %v, want only ErrProviderUnavailable", err)
			}
			t.Log(err)
		})
	}

	t.Run("cancelled context", func(t *testing.T) {
		f := newIDFixture(t, auth.WithMinRefetchInterval(time.Hour))
		token := f.google.Token("108", googleClient)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := f.gv.Verify(cctx, token)
		if !errors.Is(err, auth.ErrProviderUnavailable) || !errors.Is(err, context.Canceled) {
			t.Fatalf("Verify error %v, want ErrProviderUnavailable and context.Canceled", err)
		}
		// One caller giving up does not count as a provider failure, nor
		// against the refetch rate limit.
		if _, err := f.gv.Verify(ctx, token); err != nil {
			t.Fatalf("Verify after a cancelled call: %v", err)
		}
	})
}
