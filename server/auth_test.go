package server_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/auth/authtest"
	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

const (
	googleClient = "test-client.apps.googleusercontent.com"
	appleClient  = "com.example.gisbi"
)

func startWithProviders(t *testing.T) (*servertest.Server, *authtest.Provider, *authtest.Provider) {
	google := authtest.NewProvider(t, authtest.GoogleIssuer)
	apple := authtest.NewProvider(t, authtest.AppleIssuer)
	srv := servertest.Start(t, func(c *config.Config) {
		c.GoogleClientIDs = []string{googleClient}
		c.GoogleJWKSURL = google.JWKSURL()
		c.AppleClientIDs = []string{appleClient}
		c.AppleJWKSURL = apple.JWKSURL()
		c.JWKSRefetch = 0
	})
	return srv, google, apple
}

func login(srv *servertest.Server, provider, token string) *servertest.Response {
	return srv.Do(http.MethodPost, "/auth/social-login", "", map[string]string{"provider": provider, "idToken": token})
}

func TestSocialLoginVerifiesProviderTokens(t *testing.T) {
	srv, google, apple := startWithProviders(t)

	// Valid tokens log in; the same sub is the same user, another sub another.
	first := login(srv, "google", google.Token("g-sub-1", googleClient))
	if first.Status != http.StatusOK {
		t.Fatalf("valid google login: %d %s", first.Status, first.Body)
	}
	again := login(srv, "google", google.Token("g-sub-1", googleClient))
	other := login(srv, "google", google.Token("g-sub-2", googleClient))
	id := func(r *servertest.Response) string { return r.JSON(t)["user"].(map[string]any)["id"].(string) }
	if id(first) != id(again) {
		t.Fatalf("same sub logged in as %s and %s", id(first), id(again))
	}
	if id(first) == id(other) {
		t.Fatal("different subs share a user")
	}
	if fb, ok := first.JSON(t)["firebaseToken"]; !ok || fb != nil {
		t.Fatalf("firebaseToken = %v (present %v), want null without credentials", fb, ok)
	}
	ap := login(srv, "apple", apple.Token("a-sub-1", appleClient))
	if ap.Status != http.StatusOK {
		t.Fatalf("valid apple login: %d %s", ap.Status, ap.Body)
	}
	// The same sub at another provider is another identity.
	if id(ap) == id(login(srv, "google", google.Token("a-sub-1", googleClient))) {
		t.Fatal("apple and google identities with one sub share a user")
	}

	stranger := authtest.NewRSAKey(t)
	past := time.Now().Add(-2 * time.Hour)
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := google.Claims("g-sub-1", googleClient)
		edit(c)
		return c
	}
	noneToken := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT","kid":"` + google.KID() + `"}`))
		p := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://accounts.google.com","aud":"` + googleClient + `","sub":"g-sub-1","exp":` + strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10) + `,"iat":` + strconv.FormatInt(time.Now().Unix(), 10) + `}`))
		return h + "." + p + "."
	}
	refused := []struct {
		name, provider, token string
	}{
		{"wrong audience", "google", google.Token("g-sub-1", "someone-else.apps.googleusercontent.com")},
		{"wrong issuer", "google", google.Sign(claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example.com" }))},
		{"google token at apple", "apple", google.Token("g-sub-1", appleClient)},
		{"apple wrong audience", "apple", apple.Token("a-sub-1", "com.example.other")},
		{"apple token at google", "google", apple.Token("a-sub-1", googleClient)},
		{"apple expired", "apple", apple.Sign(func() jwt.MapClaims {
			c := apple.Claims("a-sub-1", appleClient)
			c["iat"], c["exp"] = past.Unix(), past.Add(time.Hour).Unix()
			return c
		}())},
		{"expired", "google", google.Sign(claims(func(c jwt.MapClaims) { c["iat"] = past.Unix(); c["exp"] = past.Add(time.Hour).Unix() }))},
		{"bad signature", "google", google.SignWith(stranger, google.KID(), claims(func(jwt.MapClaims) {}))},
		{"unknown key", "google", google.SignWith(stranger, "kid-nobody-knows", claims(func(jwt.MapClaims) {}))},
		{"alg none", "google", noneToken()},
		{"tampered payload", "google", tamper(google.Token("g-sub-1", googleClient))},
		{"garbage", "google", "not-a-jwt"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			res := login(srv, tc.provider, tc.token)
			if res.Status != http.StatusUnauthorized || res.Code() != "unauthorized" {
				t.Fatalf("got %d %s, want 401 unauthorized", res.Status, res.Body)
			}
		})
	}

	// A key the provider rotates in is fetched on first sight of its kid.
	google.Rotate()
	if res := login(srv, "google", google.Token("g-sub-1", googleClient)); res.Status != http.StatusOK || id(res) != id(first) {
		t.Fatalf("login after provider key rotation: %d %s", res.Status, res.Body)
	}
}

// tamper flips the subject inside a signed token without re-signing it.
func tamper(tok string) string {
	parts := strings.Split(tok, ".")
	p, _ := base64.RawURLEncoding.DecodeString(parts[1])
	p = []byte(strings.Replace(string(p), `"sub":"g-sub-1"`, `"sub":"g-sub-9"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(p)
	return strings.Join(parts, ".")
}

func TestLoginInputAndProviders(t *testing.T) {
	srv := servertest.Start(t)
	cases := []struct {
		name   string
		body   any
		status int
		code   string
	}{
		{"google off", map[string]string{"provider": "google", "idToken": "x.y.z"}, 403, "provider_disabled"},
		{"apple off", map[string]string{"provider": "apple", "idToken": "x.y.z"}, 403, "provider_disabled"},
		{"unknown provider", map[string]string{"provider": "myspace", "idToken": "x"}, 400, "invalid_payload"},
		{"missing token", map[string]string{"provider": "dev"}, 400, "invalid_payload"},
		{"dev handle too long", map[string]string{"provider": "dev", "idToken": strings.Repeat("a", 65)}, 400, "invalid_payload"},
		{"dev handle with a NUL", map[string]string{"provider": "dev", "idToken": "ad\x00a"}, 400, "invalid_payload"},
		{"dev handle with a control character", map[string]string{"provider": "dev", "idToken": "ad\x1ba"}, 400, "invalid_payload"},
		{"not json", []byte("{nope"), 400, "invalid_json"},
		{"wrong type", []byte(`{"provider":7,"idToken":"a"}`), 400, "invalid_payload"},
		{"bad device platform", map[string]string{"provider": "dev", "idToken": "a", "deviceToken": "t", "devicePlatform": "fridge"}, 400, "invalid_payload"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := srv.Do(http.MethodPost, "/auth/social-login", "", tc.body)
			if res.Status != tc.status || res.Code() != tc.code {
				t.Fatalf("got %d %s, want %d %s", res.Status, res.Body, tc.status, tc.code)
			}
			if _, ok := res.JSON(t)["detail"].(string); !ok {
				t.Fatalf("error body lacks detail: %s", res.Body)
			}
		})
	}
	// Outside dev mode the dev provider does not exist.
	srv.Stop()
	prod := servertest.Start(t, func(c *config.Config) { c.Dev = false })
	if res := prod.Do(http.MethodPost, "/auth/social-login", "", map[string]string{"provider": "dev", "idToken": "ada"}); res.Status != 403 {
		t.Fatalf("dev login outside dev mode: %d %s", res.Status, res.Body)
	}
}

func TestAccessTokenAttacksAreRefused(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("mallory")
	key, err := auth.LoadOrCreateKey(filepath.Join(srv.Dir, "jwt.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	pastIssuer := auth.NewIssuer(key, "gisbi", 15*time.Minute, time.Hour, func() time.Time { return time.Now().Add(-time.Hour) })
	expired, _, _ := pastIssuer.IssueAccess(u.ID)
	forged, _, _ := auth.NewIssuer(otherKey, "gisbi", 15*time.Minute, time.Hour, time.Now).IssueAccess(u.ID)
	wrongIssuer, _, _ := auth.NewIssuer(key, "not-gisbi", 15*time.Minute, time.Hour, time.Now).IssueAccess(u.ID)
	// Signed with the server's own key, for a subject that was never created.
	ghost, _, _ := auth.NewIssuer(key, "gisbi", 15*time.Minute, time.Hour, time.Now).IssueAccess("user_01GHOST")
	none := func() string {
		parts := strings.Split(u.AccessToken, ".")
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + parts[1] + "."
	}()
	hs256 := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"iss": "gisbi", "sub": u.ID, "aud": "gisbi-access", "typ": "access",
			"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(), "jti": "x",
		})
		s, _ := tok.SignedString([]byte(key.Public().(ed25519.PublicKey)))
		return s
	}()
	cases := []struct {
		name, token, code string
	}{
		{"alg none", none, "unauthorized"},
		{"HS256 keyed with our public key", hs256, "unauthorized"},
		{"signed by another key", forged, "unauthorized"},
		{"another issuer", wrongIssuer, "unauthorized"},
		{"expired", expired, "token_expired"},
		{"refresh token as access token", u.RefreshToken, "unauthorized"},
		{"garbage", "abc.def.ghi", "unauthorized"},
		{"a user that never existed", ghost, "unauthorized"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := servertest.Do(t, srv.URL, http.MethodGet, "/users/me", tc.token, nil)
			if res.Status != http.StatusUnauthorized || res.Code() != tc.code {
				t.Fatalf("GET /users/me: %d %s, want 401 %s", res.Status, res.Body, tc.code)
			}
			for _, path := range []string{"/ws", "/socket"} {
				if res := servertest.DialRefused(t, srv.URL, path, tc.token); res.Status != http.StatusUnauthorized || res.Code() != tc.code {
					t.Fatalf("%s handshake: %d %s, want 401 %s", path, res.Status, res.Body, tc.code)
				}
			}
		})
	}
	if res := u.Do(http.MethodGet, "/users/me", nil); res.Status != http.StatusOK {
		t.Fatalf("the real token stopped working: %d %s", res.Status, res.Body)
	}
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	srv := servertest.Start(t)
	u := srv.Login("rotor")
	refresh := func(tok string) *servertest.Response {
		return srv.Do(http.MethodPost, "/auth/refresh", "", map[string]string{"refreshToken": tok})
	}
	r1 := refresh(u.RefreshToken)
	if r1.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", r1.Status, r1.Body)
	}
	next := r1.JSON(t)
	if next["refreshToken"] == u.RefreshToken || next["accessToken"] == "" {
		t.Fatalf("refresh did not rotate: %s", r1.Body)
	}
	if res := servertest.Do(t, srv.URL, http.MethodGet, "/users/me", next["accessToken"].(string), nil); res.Status != 200 {
		t.Fatalf("new access token refused: %d", res.Status)
	}
	// Reusing the rotated token is theft: refused, and the family is revoked,
	// so the thief's (or victim's) newer token dies too.
	if res := refresh(u.RefreshToken); res.Status != http.StatusUnauthorized {
		t.Fatalf("reused refresh token: %d %s", res.Status, res.Body)
	}
	if res := refresh(next["refreshToken"].(string)); res.Status != http.StatusUnauthorized {
		t.Fatalf("token of a revoked family still refreshes: %d %s", res.Status, res.Body)
	}
	// An access token is not a refresh token.
	if res := refresh(u.AccessToken); res.Status != http.StatusUnauthorized {
		t.Fatalf("access token used to refresh: %d %s", res.Status, res.Body)
	}

	// Logout blacklists the refresh token it is given.
	v := srv.Login("leaver")
	if res := v.Do(http.MethodPost, "/auth/logout", map[string]string{"refreshToken": v.RefreshToken}); res.Status != 200 {
		t.Fatalf("logout: %d %s", res.Status, res.Body)
	}
	if res := refresh(v.RefreshToken); res.Status != http.StatusUnauthorized {
		t.Fatalf("blacklisted refresh token: %d %s", res.Status, res.Body)
	}
	// Logging out another user's refresh token is refused.
	w := srv.Login("other")
	if res := v.Do(http.MethodPost, "/auth/logout", map[string]string{"refreshToken": w.RefreshToken}); res.Status != http.StatusForbidden {
		t.Fatalf("logout of someone else's token: %d %s", res.Status, res.Body)
	}
	if res := srv.Do(http.MethodPost, "/auth/logout", "", map[string]string{}); res.Status != http.StatusUnauthorized {
		t.Fatalf("anonymous logout: %d %s", res.Status, res.Body)
	}
}
