package auth

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// FirebaseAudience is the aud of a Firebase custom token.
const FirebaseAudience = "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit"

// firebaseTokenTTL is the lifetime of a custom token: Firebase refuses more
// than one hour.
const firebaseTokenTTL = time.Hour

// maxFirebaseUIDLen is Firebase's limit on the uid claim, in characters.
const maxFirebaseUIDLen = 128

// FirebaseMinter mints Firebase custom tokens, which a client exchanges with
// Firebase Auth (signInWithCustomToken) to act as our user there. A nil
// *FirebaseMinter means Firebase is disabled: callers check for nil and
// answer firebaseToken: null. It is safe for concurrent use.
type FirebaseMinter struct {
	clientEmail string
	keyID       string
	key         *rsa.PrivateKey
	now         func() time.Time
}

// serviceAccount holds the fields of a Google service-account JSON file that
// minting needs.
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
}

// LoadFirebaseMinter reads a Google service-account JSON file and returns a
// minter signing with its key. now defaults to time.Now.
func LoadFirebaseMinter(credentialsFile string, now func() time.Time) (*FirebaseMinter, error) {
	data, err := os.ReadFile(credentialsFile)
	if err != nil {
		return nil, fmt.Errorf("auth: firebase credentials: %w", err)
	}
	var sa serviceAccount
	if err := json.Unmarshal(data, &sa); err != nil {
		return nil, fmt.Errorf("auth: firebase credentials %s: %w", credentialsFile, err)
	}
	switch {
	case sa.Type != "service_account":
		return nil, fmt.Errorf("auth: firebase credentials %s: type %q, want \"service_account\"", credentialsFile, sa.Type)
	case sa.ClientEmail == "":
		return nil, fmt.Errorf("auth: firebase credentials %s: no client_email", credentialsFile)
	case sa.PrivateKeyID == "":
		return nil, fmt.Errorf("auth: firebase credentials %s: no private_key_id", credentialsFile)
	}
	key, err := parseRSAPrivateKey([]byte(sa.PrivateKey))
	if err != nil {
		return nil, fmt.Errorf("auth: firebase credentials %s: private_key: %w", credentialsFile, err)
	}
	if now == nil {
		now = time.Now
	}
	return &FirebaseMinter{
		clientEmail: sa.ClientEmail,
		keyID:       sa.PrivateKeyID,
		key:         key,
		now:         now,
	}, nil
}

// parseRSAPrivateKey decodes a PEM RSA private key, PKCS#8 or PKCS#1.
func parseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block found")
	}
	switch block.Type {
	case "PRIVATE KEY":
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#8: %w", err)
		}
		key, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("key is %T, want RSA", parsed)
		}
		return key, nil
	case "RSA PRIVATE KEY":
		key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse PKCS#1: %w", err)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
	}
}

// Mint returns a Firebase custom token for uid (1 to 128 characters), valid
// for one hour, as documented at
// https://firebase.google.com/docs/auth/admin/create-custom-tokens#create_custom_tokens_using_a_third-party_jwt_library
func (m *FirebaseMinter) Mint(uid string) (string, error) {
	if n := utf8.RuneCountInString(uid); n == 0 || n > maxFirebaseUIDLen {
		return "", fmt.Errorf("auth: firebase uid must have 1 to %d characters, has %d", maxFirebaseUIDLen, n)
	}
	iat := m.now().Truncate(time.Second)
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": m.clientEmail,
		"sub": m.clientEmail,
		"aud": FirebaseAudience,
		"iat": iat.Unix(),
		"exp": iat.Add(firebaseTokenTTL).Unix(),
		"uid": uid,
	})
	token.Header["kid"] = m.keyID
	signed, err := token.SignedString(m.key)
	if err != nil {
		return "", fmt.Errorf("auth: sign firebase token: %w", err)
	}
	return signed, nil
}
