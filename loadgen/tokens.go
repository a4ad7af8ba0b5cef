package loadgen

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// Credentials are one user's tokens. RefreshToken is optional: without it
// the socket lives as long as the access token.
type Credentials struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken,omitempty"`
}

// ReadTokensFile reads access tokens for servers without dev login: one
// token per line (blank lines and # comments skipped), a line may also be a
// JSON object {"accessToken", "refreshToken"}; or the whole file is a JSON
// array of token strings or of such objects.
func ReadTokensFile(path string) ([]Credentials, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	creds, err := parseTokens(b)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return creds, nil
}

func parseTokens(b []byte) ([]Credentials, error) {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("JSON array: %w", err)
		}
		out := make([]Credentials, 0, len(raw))
		for i, r := range raw {
			c, err := parseTokenItem(r)
			if err != nil {
				return nil, fmt.Errorf("item %d: %w", i, err)
			}
			out = append(out, c)
		}
		return out, nil
	}
	var out []Credentials
	for n, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		c, err := parseTokenItem(json.RawMessage(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no tokens")
	}
	return out, nil
}

// parseTokenItem reads a JSON object, a JSON string or a bare token.
func parseTokenItem(r json.RawMessage) (Credentials, error) {
	var c Credentials
	switch {
	case len(r) > 0 && r[0] == '{':
		if err := json.Unmarshal(r, &c); err != nil {
			return c, err
		}
	case len(r) > 0 && r[0] == '"':
		if err := json.Unmarshal(r, &c.AccessToken); err != nil {
			return c, err
		}
	default:
		c.AccessToken = string(r)
	}
	if c.AccessToken == "" || strings.ContainsAny(c.AccessToken, " \t\"") {
		return c, errors.New("missing or malformed accessToken")
	}
	return c, nil
}

// jwtTimes reads iat and exp of a JWT without verifying it: the generator
// only needs to know when to refresh. ok is false for anything else.
func jwtTimes(token string) (iat, exp time.Time, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return iat, exp, false
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return iat, exp, false
	}
	var c struct {
		Iat int64 `json:"iat"`
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp == 0 {
		return iat, exp, false
	}
	return time.Unix(c.Iat, 0), time.Unix(c.Exp, 0), true
}

// tokenLifetime is how long, in real time, a token just received will
// live, given the server's clock speed; ok is false when it does not say.
func tokenLifetime(token string, speed float64) (time.Duration, bool) {
	iat, exp, ok := jwtTimes(token)
	if !ok || iat.IsZero() || !exp.After(iat) {
		return 0, false
	}
	return time.Duration(float64(exp.Sub(iat)) / speed), true
}
