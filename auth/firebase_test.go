package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/auth"
	"github.com/gisbi/engine/auth/authtest"
	"github.com/golang-jwt/jwt/v5"
)

func TestFirebaseMinter_Mint(t *testing.T) {
	path, key := authtest.WriteServiceAccount(t)
	clock := newFakeClock()
	m, err := auth.LoadFirebaseMinter(path, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	token, err := m.Mint("user_123")
	if err != nil {
		t.Fatal(err)
	}

	// Verifies with the service account's public key, as Firebase does.
	parsed, err := jwt.NewParser(
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithTimeFunc(clock.Now),
		jwt.WithAudience(auth.FirebaseAudience),
		jwt.WithIssuer(authtest.ServiceAccountEmail),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	).Parse(token, func(*jwt.Token) (any, error) { return &key.PublicKey, nil })
	if err != nil {
		t.Fatalf("minted token does not verify: %v", err)
	}
	if kid := parsed.Header["kid"]; kid != authtest.ServiceAccountKeyID {
		t.Errorf("kid = %v, want the private_key_id", kid)
	}
	if alg := parsed.Header["alg"]; alg != "RS256" {
		t.Errorf("alg = %v", alg)
	}

	// Exactly the documented claims.
	_, payload := splitToken(t, token)
	iat := float64(clock.Now().Unix())
	want := map[string]any{
		"iss": authtest.ServiceAccountEmail,
		"sub": authtest.ServiceAccountEmail,
		"aud": auth.FirebaseAudience,
		"iat": iat,
		"exp": iat + 3600,
		"uid": "user_123",
	}
	if len(payload) != len(want) {
		t.Errorf("claims %v, want exactly %v", payload, want)
	}
	for k, v := range want {
		if payload[k] != v {
			t.Errorf("%s = %v, want %v", k, payload[k], v)
		}
	}

	// The token follows the injected clock.
	clock.Advance(time.Hour)
	later, err := m.Mint("user_123")
	if err != nil {
		t.Fatal(err)
	}
	if _, payload := splitToken(t, later); payload["iat"] != iat+3600 {
		t.Errorf("later iat = %v, want %v", payload["iat"], iat+3600)
	}
}

func TestFirebaseMinter_UID(t *testing.T) {
	path, _ := authtest.WriteServiceAccount(t)
	m, err := auth.LoadFirebaseMinter(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		uid string
		ok  bool
	}{
		{"u", true},
		{strings.Repeat("u", 128), true},
		{strings.Repeat("é", 128), true},
		{"", false},
		{strings.Repeat("u", 129), false},
	} {
		_, err := m.Mint(tt.uid)
		if (err == nil) != tt.ok {
			t.Errorf("Mint(%d runes) error = %v, want ok=%v", len([]rune(tt.uid)), err, tt.ok)
		}
	}
}

func TestLoadFirebaseMinter(t *testing.T) {
	path, key := authtest.WriteServiceAccount(t)
	var account map[string]any
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &account); err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPKCS8 := string(pkcs8PEM(t, edKey))

	tests := []struct {
		name string
		edit func(map[string]any)
		ok   bool
	}{
		{"PKCS#8", func(map[string]any) {}, true},
		{"PKCS#1", func(a map[string]any) { a["private_key"] = pkcs1 }, true},
		{"not a service account", func(a map[string]any) { a["type"] = "authorized_user" }, false},
		{"no client_email", func(a map[string]any) { delete(a, "client_email") }, false},
		{"no private_key_id", func(a map[string]any) { delete(a, "private_key_id") }, false},
		{"no private_key", func(a map[string]any) { delete(a, "private_key") }, false},
		{"garbage private_key", func(a map[string]any) {
			a["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
		}, false},
		{"non-RSA private_key", func(a map[string]any) { a["private_key"] = edPKCS8 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := maps.Clone(account)
			tt.edit(a)
			data, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "sa.json")
			if err := os.WriteFile(p, data, 0o600); err != nil {
				t.Fatal(err)
			}
			m, err := auth.LoadFirebaseMinter(p, nil)
			if (err == nil) != tt.ok {
				t.Fatalf("LoadFirebaseMinter error = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				t.Log(err)
				return
			}
			token, err := m.Mint("user_1")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := jwt.Parse(token, func(*jwt.Token) (any, error) { return &key.PublicKey, nil },
				jwt.WithValidMethods([]string{"RS256"})); err != nil {
				t.Fatalf("minted token does not verify: %v", err)
			}
		})
	}

	for _, bad := range []string{filepath.Join(t.TempDir(), "missing.json"), writeFile(t, "not json")} {
		if _, err := auth.LoadFirebaseMinter(bad, nil); err == nil {
			t.Errorf("loaded %s", bad)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
