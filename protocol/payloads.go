package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// DecodePayload unmarshals a payload object into v, answering invalid_payload
// with the offending field on type errors. Unknown fields are ignored: mobile
// clients send extra keys (fromUserId on relays, whole objects on retries).
func DecodePayload(raw json.RawMessage, domain string, v any) *Error {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || string(trimmed) == "null" {
		trimmed = []byte("{}")
	}
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return Errorf(CodeInvalidJSON, domain, "payload is not valid JSON")
		}
		return Errorf(CodeInvalidPayload, domain, "payload must be an object")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return payloadError(domain, err)
	}
	return nil
}

// DecodeStrictIn unmarshals a REST body into v and refuses, naming it, a
// field v does not have: a client's misspelled field must not silently be
// dropped and look like lost data.
func DecodeStrictIn(body []byte, domain string, v any) *Error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		if len(body) > 0 && !json.Valid(body) {
			return Errorf(CodeInvalidJSON, domain, "body is not valid JSON")
		}
		return Errorf(CodeInvalidPayload, domain, "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return Errorf(CodeInvalidPayload, domain, "%s is not a known field", strings.Trim(msg, `"`))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			// A decoder reports a cut-off object so, not as a syntax error.
			return Errorf(CodeInvalidJSON, domain, "body is not valid JSON")
		}
		return payloadError(domain, err)
	}
	if dec.More() {
		return Errorf(CodeInvalidJSON, domain, "body has data after the JSON object")
	}
	return nil
}

func payloadError(domain string, err error) *Error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return Errorf(CodeInvalidJSON, domain, "payload is not valid JSON")
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return Errorf(CodeInvalidPayload, domain, "%s must be %s", te.Field, jsonKind(te.Type.Kind().String()))
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		return Errorf(CodeInvalidPayload, domain, "timestamps must be RFC 3339")
	}
	return Errorf(CodeInvalidPayload, domain, "payload does not match the expected shape")
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "int", "int32", "int64":
		return "an integer"
	default:
		return "a number"
	}
}

// SessionStart is the session.start payload.
type SessionStart struct {
	LastSeenAt *time.Time `json:"lastSeenAt"`
}

// SessionRefresh is the session.refresh payload.
type SessionRefresh struct {
	AccessToken string `json:"accessToken"`
}

// Validate checks the payload.
func (p *SessionRefresh) Validate() *Error {
	if p.AccessToken == "" {
		return Errorf(CodeInvalidPayload, DomainSession, "accessToken is required")
	}
	if len(p.AccessToken) > 4096 {
		return Errorf(CodeInvalidPayload, DomainSession, "accessToken is too long")
	}
	return nil
}

// MaxIDChars bounds every id a client names; ours are far shorter.
const MaxIDChars = 64

// ValidID reports whether s can be an id we issued: bounded printable ASCII.
// It keeps junk out of store keys and logs.
func ValidID(s string) bool {
	if s == "" || len(s) > MaxIDChars {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// SafetyReportRequest is the safety.report payload.
type SafetyReportRequest struct {
	ReportedUserID string `json:"reportedUserId"`
	Reason         string `json:"reason"`
}

// MaxReasonChars bounds report and deletion reasons.
const MaxReasonChars = 500

// Validate checks the payload and normalises the reason.
func (p *SafetyReportRequest) Validate() *Error {
	if p.ReportedUserID == "" {
		return Errorf(CodeInvalidPayload, DomainSafety, "reportedUserId is required")
	}
	if !ValidID(p.ReportedUserID) {
		return Errorf(CodeUserNotFound, DomainSafety, "user not found")
	}
	p.Reason = strings.TrimSpace(p.Reason)
	if p.Reason == "" {
		return Errorf(CodeInvalidPayload, DomainSafety, "reason is required")
	}
	if utf8.RuneCountInString(p.Reason) > MaxReasonChars {
		return Errorf(CodeInvalidPayload, DomainSafety, "reason is longer than %d characters", MaxReasonChars)
	}
	return nil
}

// SafetyBlockRequest is the safety.block and safety.unblock payload.
type SafetyBlockRequest struct {
	BlockedUserID string `json:"blockedUserId"`
}

// Validate checks the payload.
func (p *SafetyBlockRequest) Validate() *Error {
	if p.BlockedUserID == "" {
		return Errorf(CodeInvalidPayload, DomainSafety, "blockedUserId is required")
	}
	if !ValidID(p.BlockedUserID) {
		return Errorf(CodeUserNotFound, DomainSafety, "user not found")
	}
	return nil
}

// Nullable is a PATCH field: absent (Set false), null (Null true) or a value.
type Nullable[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// ProfilePatch is the PATCH /users/profile body after validation. Strings are
// trimmed; "clear" inputs (null, and "" where the spec allows) are Null.
type ProfilePatch struct {
	Name                Nullable[string]
	Avatar              Nullable[string]
	Age                 Nullable[int]
	Gender              Nullable[string]
	Username            Nullable[string]
	Bio                 Nullable[string]
	Vibe                Nullable[string]
	VibeDurationMinutes Nullable[int]
}

// Profile limits.
const (
	MaxNameChars     = 64
	MaxGenderChars   = 32
	MaxBioChars      = 500
	MaxVibeChars     = 140
	MaxAvatarChars   = 2048
	MaxAge           = 150
	DefaultVibeMins  = 60
	MaxVibeMins      = 1440
	minUsernameChars = 3
	maxUsernameChars = 30
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9._]+$`)

// DecodeProfilePatch parses and validates a PATCH /users/profile body.
// Unknown fields are rejected here, unlike socket payloads: silently dropping
// a misspelled profile field would look to the user like lost data.
func DecodeProfilePatch(body []byte) (ProfilePatch, *Error) {
	var p ProfilePatch
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return p, Errorf(CodeInvalidJSON, DomainUsers, "body must be a JSON object")
	}
	// Sorted, so a body with several bad fields always names the same one.
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		raw := fields[key]
		var err *Error
		switch key {
		case "name":
			err = decodeString(key, raw, &p.Name, false)
			if err == nil && p.Name.Set && (p.Name.Null || p.Name.Value == "") {
				err = Errorf(CodeInvalidPayload, DomainUsers, "name cannot be empty")
			}
			if err == nil && utf8.RuneCountInString(p.Name.Value) > MaxNameChars {
				err = Errorf(CodeInvalidPayload, DomainUsers, "name is longer than %d characters", MaxNameChars)
			}
		case "avatar":
			err = decodeString(key, raw, &p.Avatar, true)
			if err == nil && !p.Avatar.Null {
				err = validateURL(p.Avatar.Value)
			}
		case "age":
			err = decodeInt(key, raw, &p.Age)
			if err == nil && !p.Age.Null && (p.Age.Value < 0 || p.Age.Value > MaxAge) {
				err = Errorf(CodeInvalidPayload, DomainUsers, "age must be between 0 and %d", MaxAge)
			}
		case "gender":
			err = decodeBounded(key, raw, &p.Gender, MaxGenderChars)
		case "username":
			err = decodeString(key, raw, &p.Username, true)
			if err == nil && !p.Username.Null {
				n := len(p.Username.Value)
				if n < minUsernameChars || n > maxUsernameChars || !usernamePattern.MatchString(p.Username.Value) {
					err = Errorf(CodeInvalidPayload, DomainUsers, "username must be %d-%d letters, digits, '.' or '_'", minUsernameChars, maxUsernameChars)
				}
			}
		case "bio":
			err = decodeBounded(key, raw, &p.Bio, MaxBioChars)
			if err == nil {
				// A bio may span lines; every other field is one line.
				p.Bio.Value = strings.ReplaceAll(p.Bio.Value, "\r\n", "\n")
			}
		case "vibe":
			err = decodeBounded(key, raw, &p.Vibe, MaxVibeChars)
		case "vibeDurationMinutes":
			err = decodeInt(key, raw, &p.VibeDurationMinutes)
			if err == nil && !p.VibeDurationMinutes.Null && (p.VibeDurationMinutes.Value < 1 || p.VibeDurationMinutes.Value > MaxVibeMins) {
				err = Errorf(CodeInvalidPayload, DomainUsers, "vibeDurationMinutes must be between 1 and %d", MaxVibeMins)
			}
		default:
			err = Errorf(CodeInvalidPayload, DomainUsers, "unknown field %q", truncate(key, 40))
		}
		if err != nil {
			return p, err
		}
	}
	if p.VibeDurationMinutes.Set && !p.VibeDurationMinutes.Null && (!p.Vibe.Set || p.Vibe.Null) {
		return p, Errorf(CodeInvalidPayload, DomainUsers, "vibeDurationMinutes needs a vibe")
	}
	return p, nil
}

func decodeString(key string, raw json.RawMessage, dst *Nullable[string], emptyIsNull bool) *Error {
	dst.Set = true
	if string(raw) == "null" {
		dst.Null = true
		return nil
	}
	if err := json.Unmarshal(raw, &dst.Value); err != nil {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s must be a string or null", key)
	}
	dst.Value = strings.TrimSpace(dst.Value)
	multiline := key == "bio"
	if strings.IndexFunc(dst.Value, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\r'))
	}) >= 0 {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s contains control characters", key)
	}
	if emptyIsNull && dst.Value == "" {
		dst.Null = true
	}
	return nil
}

func decodeBounded(key string, raw json.RawMessage, dst *Nullable[string], max int) *Error {
	if err := decodeString(key, raw, dst, true); err != nil {
		return err
	}
	if utf8.RuneCountInString(dst.Value) > max {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s is longer than %d characters", key, max)
	}
	return nil
}

func decodeInt(key string, raw json.RawMessage, dst *Nullable[int]) *Error {
	dst.Set = true
	if string(raw) == "null" {
		dst.Null = true
		return nil
	}
	var n json.Number
	// json.Number would also take "28" in quotes; a string is not an integer.
	if len(raw) > 0 && raw[0] == '"' {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s must be an integer or null", key)
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s must be an integer or null", key)
	}
	i, err := n.Int64()
	if err != nil || i < -1<<31 || i > 1<<31-1 {
		return Errorf(CodeInvalidPayload, DomainUsers, "%s must be an integer", key)
	}
	dst.Value = int(i)
	return nil
}

func validateURL(s string) *Error {
	if len(s) > MaxAvatarChars {
		return Errorf(CodeInvalidPayload, DomainUsers, "avatar is longer than %d characters", MaxAvatarChars)
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Errorf(CodeInvalidPayload, DomainUsers, "avatar must be an http(s) URL")
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("%s…", s[:n])
}
