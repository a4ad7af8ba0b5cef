package push

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gisbi/engine/clock"
)

// Throwaway identities; nothing here is a real credential.
const (
	testProject     = "gisbi-test"
	testClientEmail = "push@gisbi-test.iam.gserviceaccount.com"
	testKeyID       = "0123456789abcdef"
	testAPNsKeyID   = "ABC123DEFG"
	testTeamID      = "DEF123GHIJ"
	testTopic       = "com.example.gisbi"
)

// RSA key generation is slow under -race, so the tests share one key.
var testRSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemPKCS8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// serviceAccountJSON is a Google service-account file; edit changes fields
// before it is written.
func serviceAccountJSON(t *testing.T, tokenURI string, edit func(map[string]any)) []byte {
	t.Helper()
	sa := map[string]any{
		"type":           "service_account",
		"project_id":     testProject,
		"private_key_id": testKeyID,
		"private_key":    string(pemPKCS8(t, testRSAKey())),
		"client_email":   testClientEmail,
		"client_id":      "1234567890",
		"auth_uri":       "https://accounts.google.com/o/oauth2/auth",
		"token_uri":      tokenURI,
	}
	if edit != nil {
		edit(sa)
	}
	raw, err := json.Marshal(sa)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func writeServiceAccount(t *testing.T, tokenURI string) string {
	t.Helper()
	return writeFile(t, "service-account.json", serviceAccountJSON(t, tokenURI, nil))
}

// writeP8 writes a fresh P-256 key the way Apple hands out .p8 files.
func writeP8(t *testing.T) (string, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "AuthKey_"+testAPNsKeyID+".p8", pemPKCS8(t, key)), key
}

// newTLSServer is a local HTTPS server speaking HTTP/2; its Client() trusts
// its self-signed certificate.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// fakeClock is the project's manually advanced clock.
type fakeClock = clock.Fake

func newFakeClock() *fakeClock { return clock.NewFake(time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)) }

// decodeJSON decodes r's body as generic JSON for comparisons.
func decodeJSON(t *testing.T, r *http.Request) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.NewDecoder(r.Body).Decode(&v); err != nil {
		t.Errorf("request body is not JSON: %v", err)
	}
	return v
}

// mustJSON turns a literal into the generic form decodeJSON produces.
func mustJSON(t *testing.T, literal string) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(literal), &v); err != nil {
		t.Fatalf("bad test literal %s: %v", literal, err)
	}
	return v
}

func showJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
