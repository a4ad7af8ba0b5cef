package protocol

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

type payloadFixture struct {
	UserID string     `json:"userId"`
	Count  int        `json:"count"`
	Lat    float64    `json:"lat"`
	Flag   bool       `json:"flag"`
	Tags   []string   `json:"tags"`
	At     *time.Time `json:"at"`
	Nested struct {
		N int `json:"n"`
	} `json:"nested"`
}

func TestDecodePayload(t *testing.T) {
	at := time.Date(2026, 4, 19, 8, 0, 0, 0, time.UTC)
	full := payloadFixture{UserID: "user_1", Count: 3, Lat: 6.5244, Flag: true, Tags: []string{"a"}, At: &at}
	full.Nested.N = 2

	tests := []struct {
		name string
		raw  string
		code Code
		msg  string
		want *payloadFixture // checked on success when set
	}{
		{name: "full object", raw: `{"userId":"user_1","count":3,"lat":6.5244,"flag":true,"tags":["a"],"at":"2026-04-19T08:00:00Z","nested":{"n":2}}`, want: &full},
		{name: "empty raw", raw: ``, want: &payloadFixture{}},
		{name: "null", raw: `null`, want: &payloadFixture{}},
		{name: "whitespace around null", raw: " \n null \t", want: &payloadFixture{}},
		{name: "empty object", raw: `{}`, want: &payloadFixture{}},
		{name: "whitespace around object", raw: "\n {\"userId\":\"u\"} \n", want: &payloadFixture{UserID: "u"}},
		{name: "unknown fields ignored", raw: `{"userId":"u","fromUserId":"x","extra":{"deep":[1]}}`, want: &payloadFixture{UserID: "u"}},

		// Type errors name the field.
		{name: "number for string", raw: `{"userId":5}`, code: CodeInvalidPayload, msg: "userId must be a string"},
		{name: "string for integer", raw: `{"count":"3"}`, code: CodeInvalidPayload, msg: "count must be an integer"},
		{name: "fraction for integer", raw: `{"count":1.5}`, code: CodeInvalidPayload, msg: "count must be an integer"},
		{name: "integer overflow", raw: `{"count":1e40}`, code: CodeInvalidPayload, msg: "count must be an integer"},
		{name: "string for number", raw: `{"lat":"6.5"}`, code: CodeInvalidPayload, msg: "lat must be a number"},
		{name: "number for boolean", raw: `{"flag":1}`, code: CodeInvalidPayload, msg: "flag must be a boolean"},
		{name: "object for array", raw: `{"tags":{}}`, code: CodeInvalidPayload, msg: "tags must be an array"},
		{name: "number in array of strings", raw: `{"tags":["a",2]}`, code: CodeInvalidPayload, msg: "tags must be a string"},
		{name: "array for object", raw: `{"nested":[]}`, code: CodeInvalidPayload, msg: "nested must be an object"},
		{name: "nested field path", raw: `{"nested":{"n":"x"}}`, code: CodeInvalidPayload, msg: "nested.n must be an integer"},
		{name: "bad timestamp", raw: `{"at":"yesterday"}`, code: CodeInvalidPayload, msg: "RFC 3339"},
		{name: "timestamp without zone", raw: `{"at":"2026-04-19T08:00:00"}`, code: CodeInvalidPayload, msg: "RFC 3339"},
		{name: "number for timestamp", raw: `{"at":5}`, code: CodeInvalidPayload},

		// Syntax errors are invalid_json.
		{name: "truncated object", raw: `{"userId":`, code: CodeInvalidJSON},
		{name: "unterminated string", raw: `{"userId":"u`, code: CodeInvalidJSON},
		{name: "trailing garbage", raw: `{"userId":"u"} x`, code: CodeInvalidJSON},
		{name: "single quotes", raw: `{'userId':'u'}`, code: CodeInvalidJSON},
		{name: "broken array", raw: `[1,`, code: CodeInvalidJSON},
		{name: "bare word", raw: `nul`, code: CodeInvalidJSON},

		// Valid JSON that is not an object is invalid_payload.
		{name: "array", raw: `[1,2]`, code: CodeInvalidPayload, msg: "object"},
		{name: "empty array", raw: `[]`, code: CodeInvalidPayload, msg: "object"},
		{name: "string", raw: `"userId"`, code: CodeInvalidPayload, msg: "object"},
		{name: "number", raw: `5`, code: CodeInvalidPayload, msg: "object"},
		{name: "boolean", raw: `true`, code: CodeInvalidPayload, msg: "object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got payloadFixture
			err := DecodePayload(json.RawMessage(tc.raw), DomainChat, &got)
			if !checkErr(t, err, tc.code, tc.msg) {
				return
			}
			if err != nil && err.Domain != DomainChat {
				t.Errorf("domain = %q, want %q", err.Domain, DomainChat)
			}
			if err == nil && tc.want != nil && !reflect.DeepEqual(got, *tc.want) {
				t.Errorf("decoded %+v, want %+v", got, *tc.want)
			}
		})
	}
}

func TestDecodePayloadSessionStart(t *testing.T) {
	want := time.Date(2026, 4, 19, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		raw  string
		code Code
		want *time.Time
	}{
		{name: "lastSeenAt", raw: `{"lastSeenAt":"2026-04-19T08:00:00Z"}`, want: &want},
		{name: "lastSeenAt with offset", raw: `{"lastSeenAt":"2026-04-19T09:00:00+01:00"}`, want: &want},
		{name: "no lastSeenAt", raw: `{}`},
		{name: "null lastSeenAt", raw: `{"lastSeenAt":null}`},
		{name: "bad lastSeenAt", raw: `{"lastSeenAt":"19/04/2026"}`, code: CodeInvalidPayload},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p SessionStart
			err := DecodePayload(json.RawMessage(tc.raw), DomainSession, &p)
			if !checkErr(t, err, tc.code, "") || err != nil {
				return
			}
			switch {
			case tc.want == nil && p.LastSeenAt != nil:
				t.Errorf("lastSeenAt = %v, want nil", p.LastSeenAt)
			case tc.want != nil && (p.LastSeenAt == nil || !p.LastSeenAt.Equal(*tc.want)):
				t.Errorf("lastSeenAt = %v, want %v", p.LastSeenAt, tc.want)
			}
		})
	}
}

func TestSessionRefreshValidate(t *testing.T) {
	tests := []struct {
		name  string
		token string
		code  Code
		msg   string
	}{
		{"token", "eyJhbGciOiJFUzI1NiJ9.e30.sig", "", ""},
		{"4096 bytes", strings.Repeat("a", 4096), "", ""},
		{"empty", "", CodeInvalidPayload, "accessToken is required"},
		{"4097 bytes", strings.Repeat("a", 4097), CodeInvalidPayload, "too long"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := SessionRefresh{AccessToken: tc.token}
			err := p.Validate()
			if checkErr(t, err, tc.code, tc.msg) && err != nil && err.Domain != DomainSession {
				t.Errorf("domain = %q", err.Domain)
			}
		})
	}
}

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"user_01HV3K", true},
		{"a", true},
		{strings.Repeat("x", MaxIDChars), true},
		{"~!#$%&'()*+,-./:;<=>?@[]^`{|}", true},
		{"", false},
		{strings.Repeat("x", MaxIDChars+1), false},
		{"user 1", false},
		{"user\t1", false},
		{"user\n", false},
		{"usér", false},
		{"user\x7f", false},
		{"user\x00", false},
	}
	for _, tc := range tests {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

func TestSafetyReportRequestValidate(t *testing.T) {
	tests := []struct {
		name       string
		in         SafetyReportRequest
		code       Code
		msg        string
		wantReason string
	}{
		{name: "valid", in: SafetyReportRequest{ReportedUserID: "user_2", Reason: "spam"}, wantReason: "spam"},
		{name: "reason trimmed", in: SafetyReportRequest{ReportedUserID: "user_2", Reason: "  harassment \n"}, wantReason: "harassment"},
		{name: "reason of 500 multi-byte runes", in: SafetyReportRequest{ReportedUserID: "u", Reason: strings.Repeat("ß", 500)}, wantReason: strings.Repeat("ß", 500)},
		{name: "reason of 500 emoji", in: SafetyReportRequest{ReportedUserID: "u", Reason: strings.Repeat("😡", 500)}, wantReason: strings.Repeat("😡", 500)},
		{name: "reason of 500 runes after trimming", in: SafetyReportRequest{ReportedUserID: "u", Reason: "  " + strings.Repeat("r", 500) + "  "}, wantReason: strings.Repeat("r", 500)},
		{name: "missing reportedUserId", in: SafetyReportRequest{Reason: "spam"}, code: CodeInvalidPayload, msg: "reportedUserId is required"},
		{name: "junk reportedUserId", in: SafetyReportRequest{ReportedUserID: "user 2", Reason: "spam"}, code: CodeUserNotFound},
		{name: "overlong reportedUserId", in: SafetyReportRequest{ReportedUserID: strings.Repeat("u", MaxIDChars+1), Reason: "spam"}, code: CodeUserNotFound},
		{name: "missing reason", in: SafetyReportRequest{ReportedUserID: "user_2"}, code: CodeInvalidPayload, msg: "reason is required"},
		{name: "blank reason", in: SafetyReportRequest{ReportedUserID: "user_2", Reason: " \t\n "}, code: CodeInvalidPayload, msg: "reason is required"},
		{name: "reason of 501 runes", in: SafetyReportRequest{ReportedUserID: "user_2", Reason: strings.Repeat("ß", 501)}, code: CodeInvalidPayload, msg: "longer than 500"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.in
			err := p.Validate()
			if !checkErr(t, err, tc.code, tc.msg) {
				return
			}
			if err != nil {
				if err.Domain != DomainSafety {
					t.Errorf("domain = %q, want %q", err.Domain, DomainSafety)
				}
				return
			}
			if p.Reason != tc.wantReason {
				t.Errorf("reason = %q, want %q", p.Reason, tc.wantReason)
			}
		})
	}
}

func TestSafetyBlockRequestValidate(t *testing.T) {
	tests := []struct {
		name string
		id   string
		code Code
		msg  string
	}{
		{"valid", "user_2", "", ""},
		{"64 chars", strings.Repeat("u", MaxIDChars), "", ""},
		{"missing", "", CodeInvalidPayload, "blockedUserId is required"},
		{"65 chars", strings.Repeat("u", MaxIDChars+1), CodeUserNotFound, ""},
		{"space", "user 2", CodeUserNotFound, ""},
		{"non-ASCII", "üser", CodeUserNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := SafetyBlockRequest{BlockedUserID: tc.id}
			err := p.Validate()
			if checkErr(t, err, tc.code, tc.msg) && err != nil && err.Domain != DomainSafety {
				t.Errorf("domain = %q, want %q", err.Domain, DomainSafety)
			}
		})
	}
}

func TestSafetyRequestsDecode(t *testing.T) {
	var r SafetyReportRequest
	if err := DecodePayload(json.RawMessage(`{"reportedUserId":12,"reason":"x"}`), DomainSafety, &r); !checkErr(t, err, CodeInvalidPayload, "reportedUserId must be a string") {
		return
	}
	var b SafetyBlockRequest
	if err := DecodePayload(json.RawMessage(`{"blockedUserId":"user_9","fromUserId":"me"}`), DomainSafety, &b); err != nil || b.BlockedUserID != "user_9" {
		t.Errorf("decoded %+v, %v", b, err)
	}
}

// Nullable helpers for expected patches.
func setStr(v string) Nullable[string] { return Nullable[string]{Set: true, Value: v} }
func nullStr() Nullable[string]        { return Nullable[string]{Set: true, Null: true} }
func setInt(v int) Nullable[int]       { return Nullable[int]{Set: true, Value: v} }
func nullInt() Nullable[int]           { return Nullable[int]{Set: true, Null: true} }

func TestDecodeProfilePatch(t *testing.T) {
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	rep := strings.Repeat
	avatarOfLen := func(n int) string {
		const prefix = "https://cdn.example.com/"
		return prefix + rep("a", n-len(prefix))
	}

	tests := []struct {
		name string
		body string
		code Code
		msg  string
		want ProfilePatch // checked on success
	}{
		// Whole body.
		{name: "empty object", body: `{}`},
		{name: "whitespace around object", body: " {\"age\":1} \n", want: ProfilePatch{Age: setInt(1)}},
		{name: "every field", body: `{"name":"Ada","avatar":"https://cdn.example.com/a.png","age":36,"gender":"female","username":"ada.l","bio":"Engines","vibe":"coffee #latte","vibeDurationMinutes":90}`,
			want: ProfilePatch{Name: setStr("Ada"), Avatar: setStr("https://cdn.example.com/a.png"), Age: setInt(36), Gender: setStr("female"),
				Username: setStr("ada.l"), Bio: setStr("Engines"), Vibe: setStr("coffee #latte"), VibeDurationMinutes: setInt(90)}},
		{name: "every nullable field cleared", body: `{"avatar":null,"age":null,"gender":null,"username":null,"bio":null,"vibe":null,"vibeDurationMinutes":null}`,
			want: ProfilePatch{Avatar: nullStr(), Age: nullInt(), Gender: nullStr(), Username: nullStr(), Bio: nullStr(), Vibe: nullStr(), VibeDurationMinutes: nullInt()}},
		{name: "not JSON", body: `name=Ada`, code: CodeInvalidJSON},
		{name: "truncated", body: `{"name":"Ada"`, code: CodeInvalidJSON},
		{name: "empty body", body: ``, code: CodeInvalidJSON},
		{name: "null body", body: `null`, code: CodeInvalidJSON},
		{name: "array body", body: `[{"name":"Ada"}]`, code: CodeInvalidJSON},
		{name: "string body", body: `"Ada"`, code: CodeInvalidJSON},
		{name: "unknown field", body: `{"email":"a@example.com"}`, code: CodeInvalidPayload, msg: `unknown field "email"`},
		{name: "field names are case-sensitive", body: `{"Name":"Ada"}`, code: CodeInvalidPayload, msg: `unknown field "Name"`},
		{name: "spec-only field vibeExpiresAt refused", body: `{"vibeExpiresAt":"2026-04-19T08:00:00Z"}`, code: CodeInvalidPayload, msg: "unknown field"},
		{name: "long unknown field truncated in message", body: `{"` + rep("k", 100) + `":1}`, code: CodeInvalidPayload, msg: rep("k", 40) + "…"},
		{name: "unknown field next to valid ones", body: `{"name":"Ada","nmae":"Ada"}`, code: CodeInvalidPayload, msg: "nmae"},

		// name: required non-empty, 64 runes.
		{name: "name", body: `{"name":"Ada Lovelace"}`, want: ProfilePatch{Name: setStr("Ada Lovelace")}},
		{name: "name trimmed", body: `{"name":"  Ada \t"}`, want: ProfilePatch{Name: setStr("Ada")}},
		{name: "name of 64 runes", body: `{"name":` + q(rep("é", 64)) + `}`, want: ProfilePatch{Name: setStr(rep("é", 64))}},
		{name: "name of 64 emoji", body: `{"name":` + q(rep("🙂", 64)) + `}`, want: ProfilePatch{Name: setStr(rep("🙂", 64))}},
		{name: "name of 65 runes", body: `{"name":` + q(rep("é", 65)) + `}`, code: CodeInvalidPayload, msg: "name is longer than 64"},
		{name: "name of 65 ASCII", body: `{"name":` + q(rep("a", 65)) + `}`, code: CodeInvalidPayload, msg: "name is longer than 64"},
		{name: "name empty", body: `{"name":""}`, code: CodeInvalidPayload, msg: "name cannot be empty"},
		{name: "name blank", body: `{"name":"   "}`, code: CodeInvalidPayload, msg: "name cannot be empty"},
		{name: "name null", body: `{"name":null}`, code: CodeInvalidPayload, msg: "name cannot be empty"},
		{name: "name number", body: `{"name":42}`, code: CodeInvalidPayload, msg: "name must be a string"},
		{name: "name object", body: `{"name":{"first":"Ada"}}`, code: CodeInvalidPayload, msg: "name must be a string"},
		{name: "name with tab inside", body: `{"name":"Ada\tL"}`, code: CodeInvalidPayload, msg: "name contains control characters"},
		{name: "name with NUL", body: `{"name":"Ada\u0000"}`, code: CodeInvalidPayload, msg: "control characters"},
		{name: "name with DEL", body: `{"name":"Ada\u007f"}`, code: CodeInvalidPayload, msg: "control characters"},
		{name: "name with C1 control", body: `{"name":"A\u0085da"}`, code: CodeInvalidPayload, msg: "control characters"},
		{name: "name with escape", body: `{"name":"A\u001b[31mda"}`, code: CodeInvalidPayload, msg: "control characters"},

		// avatar: http(s) URL with a host; "" and null clear.
		{name: "avatar https", body: `{"avatar":"https://cdn.example.com/u/1.png?s=128"}`, want: ProfilePatch{Avatar: setStr("https://cdn.example.com/u/1.png?s=128")}},
		{name: "avatar http", body: `{"avatar":"http://example.com/a.jpg"}`, want: ProfilePatch{Avatar: setStr("http://example.com/a.jpg")}},
		{name: "avatar trimmed", body: `{"avatar":"  https://example.com/a.jpg  "}`, want: ProfilePatch{Avatar: setStr("https://example.com/a.jpg")}},
		{name: "avatar empty clears", body: `{"avatar":""}`, want: ProfilePatch{Avatar: nullStr()}},
		{name: "avatar blank clears", body: `{"avatar":"  "}`, want: ProfilePatch{Avatar: nullStr()}},
		{name: "avatar null clears", body: `{"avatar":null}`, want: ProfilePatch{Avatar: nullStr()}},
		{name: "avatar of 2048 bytes", body: `{"avatar":` + q(avatarOfLen(MaxAvatarChars)) + `}`, want: ProfilePatch{Avatar: setStr(avatarOfLen(MaxAvatarChars))}},
		{name: "avatar of 2049 bytes", body: `{"avatar":` + q(avatarOfLen(MaxAvatarChars+1)) + `}`, code: CodeInvalidPayload, msg: "avatar is longer than 2048"},
		{name: "avatar ftp", body: `{"avatar":"ftp://example.com/a.png"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar javascript", body: `{"avatar":"javascript:alert(1)"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar data URL", body: `{"avatar":"data:image/png;base64,AAAA"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar without scheme", body: `{"avatar":"cdn.example.com/a.png"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar scheme-relative", body: `{"avatar":"//cdn.example.com/a.png"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar without host", body: `{"avatar":"https://"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar with empty host", body: `{"avatar":"https:///a.png"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar opaque", body: `{"avatar":"https:cdn.example.com"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar unparsable", body: `{"avatar":"https://exa mple.com/a.png"}`, code: CodeInvalidPayload, msg: "http(s) URL"},
		{name: "avatar with newline", body: `{"avatar":"https://example.com/a\n.png"}`, code: CodeInvalidPayload},
		{name: "avatar number", body: `{"avatar":1}`, code: CodeInvalidPayload, msg: "avatar must be a string or null"},

		// age: integer 0..150 or null.
		{name: "age 0", body: `{"age":0}`, want: ProfilePatch{Age: setInt(0)}},
		{name: "age 28", body: `{"age":28}`, want: ProfilePatch{Age: setInt(28)}},
		{name: "age 150", body: `{"age":150}`, want: ProfilePatch{Age: setInt(150)}},
		{name: "age null clears", body: `{"age":null}`, want: ProfilePatch{Age: nullInt()}},
		{name: "age -1", body: `{"age":-1}`, code: CodeInvalidPayload, msg: "age must be between 0 and 150"},
		{name: "age 151", body: `{"age":151}`, code: CodeInvalidPayload, msg: "age must be between 0 and 150"},
		{name: "age 28.5", body: `{"age":28.5}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age 28.0", body: `{"age":28.0}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age exponent", body: `{"age":2.8e1}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age beyond int64", body: `{"age":99999999999999999999}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age beyond int32", body: `{"age":4294967296}`, code: CodeInvalidPayload, msg: "age"},
		{name: "age boolean", body: `{"age":true}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age empty string", body: `{"age":""}`, code: CodeInvalidPayload, msg: "age must be an integer"},
		{name: "age string", body: `{"age":"28"}`, code: CodeInvalidPayload, msg: "age must be an integer"},

		// gender: 32 runes; "" and null clear.
		{name: "gender", body: `{"gender":"non-binary"}`, want: ProfilePatch{Gender: setStr("non-binary")}},
		{name: "gender trimmed", body: `{"gender":" female "}`, want: ProfilePatch{Gender: setStr("female")}},
		{name: "gender of 32 runes", body: `{"gender":` + q(rep("ü", 32)) + `}`, want: ProfilePatch{Gender: setStr(rep("ü", 32))}},
		{name: "gender of 33 runes", body: `{"gender":` + q(rep("ü", 33)) + `}`, code: CodeInvalidPayload, msg: "gender is longer than 32"},
		{name: "gender empty clears", body: `{"gender":""}`, want: ProfilePatch{Gender: nullStr()}},
		{name: "gender null clears", body: `{"gender":null}`, want: ProfilePatch{Gender: nullStr()}},
		{name: "gender number", body: `{"gender":1}`, code: CodeInvalidPayload, msg: "gender must be a string or null"},
		{name: "gender control", body: `{"gender":"f\u0007"}`, code: CodeInvalidPayload, msg: "gender contains control characters"},

		// username: 3-30 of [A-Za-z0-9._]; "" and null clear.
		{name: "username", body: `{"username":"Ada_L.99"}`, want: ProfilePatch{Username: setStr("Ada_L.99")}},
		{name: "username trimmed", body: `{"username":"  ada  "}`, want: ProfilePatch{Username: setStr("ada")}},
		{name: "username of 3", body: `{"username":"abc"}`, want: ProfilePatch{Username: setStr("abc")}},
		{name: "username of 30", body: `{"username":` + q(rep("a", 30)) + `}`, want: ProfilePatch{Username: setStr(rep("a", 30))}},
		{name: "username of 2", body: `{"username":"ab"}`, code: CodeInvalidPayload, msg: "username must be 3-30"},
		{name: "username of 31", body: `{"username":` + q(rep("a", 31)) + `}`, code: CodeInvalidPayload, msg: "username must be 3-30"},
		{name: "username with space", body: `{"username":"ada l"}`, code: CodeInvalidPayload, msg: "username"},
		{name: "username with dash", body: `{"username":"ada-l"}`, code: CodeInvalidPayload, msg: "username"},
		{name: "username with at", body: `{"username":"@ada"}`, code: CodeInvalidPayload, msg: "username"},
		{name: "username non-ASCII", body: `{"username":"adà"}`, code: CodeInvalidPayload, msg: "username"},
		{name: "username empty clears", body: `{"username":""}`, want: ProfilePatch{Username: nullStr()}},
		{name: "username null clears", body: `{"username":null}`, want: ProfilePatch{Username: nullStr()}},
		{name: "username number", body: `{"username":123}`, code: CodeInvalidPayload, msg: "username must be a string or null"},

		// bio: 500 runes, newlines allowed; "" and null clear.
		{name: "bio", body: `{"bio":"Engines.\nPoetry."}`, want: ProfilePatch{Bio: setStr("Engines.\nPoetry.")}},
		{name: "bio trimmed", body: `{"bio":"\n  Engines  \n"}`, want: ProfilePatch{Bio: setStr("Engines")}},
		{name: "bio CRLF becomes LF", body: `{"bio":"Engines.\r\nPoetry."}`, want: ProfilePatch{Bio: setStr("Engines.\nPoetry.")}},
		{name: "name with newline", body: `{"name":"Ada\nLovelace"}`, code: CodeInvalidPayload},
		{name: "bio of 500 runes", body: `{"bio":` + q(rep("я", 500)) + `}`, want: ProfilePatch{Bio: setStr(rep("я", 500))}},
		{name: "bio of 501 runes", body: `{"bio":` + q(rep("я", 501)) + `}`, code: CodeInvalidPayload, msg: "bio is longer than 500"},
		{name: "bio empty clears", body: `{"bio":""}`, want: ProfilePatch{Bio: nullStr()}},
		{name: "bio null clears", body: `{"bio":null}`, want: ProfilePatch{Bio: nullStr()}},
		{name: "bio with tab", body: `{"bio":"a\tb"}`, code: CodeInvalidPayload, msg: "bio contains control characters"},
		{name: "bio array", body: `{"bio":["a"]}`, code: CodeInvalidPayload, msg: "bio must be a string or null"},

		// vibe: 140 runes; "" and null clear.
		{name: "vibe", body: `{"vibe":"coffee #latte"}`, want: ProfilePatch{Vibe: setStr("coffee #latte")}},
		{name: "vibe trimmed", body: `{"vibe":"  coffee  "}`, want: ProfilePatch{Vibe: setStr("coffee")}},
		{name: "vibe of 140 ASCII", body: `{"vibe":` + q(rep("v", 140)) + `}`, want: ProfilePatch{Vibe: setStr(rep("v", 140))}},
		{name: "vibe of 141 ASCII", body: `{"vibe":` + q(rep("v", 141)) + `}`, code: CodeInvalidPayload, msg: "vibe is longer than 140"},
		{name: "vibe of 70 emoji with variation selectors (140 runes, 420 bytes)", body: `{"vibe":` + q(rep("☕️", 70)) + `}`, want: ProfilePatch{Vibe: setStr(rep("☕️", 70))}},
		{name: "vibe of 140 four-byte runes", body: `{"vibe":` + q(rep("🎉", 140)) + `}`, want: ProfilePatch{Vibe: setStr(rep("🎉", 140))}},
		{name: "vibe of 141 four-byte runes", body: `{"vibe":` + q(rep("🎉", 141)) + `}`, code: CodeInvalidPayload, msg: "vibe is longer than 140"},
		{name: "vibe of 140 runes via escapes", body: `{"vibe":"` + rep(`\u00e9`, 140) + `"}`, want: ProfilePatch{Vibe: setStr(rep("é", 140))}},
		{name: "vibe empty clears", body: `{"vibe":""}`, want: ProfilePatch{Vibe: nullStr()}},
		{name: "vibe null clears", body: `{"vibe":null}`, want: ProfilePatch{Vibe: nullStr()}},
		{name: "vibe number", body: `{"vibe":7}`, code: CodeInvalidPayload, msg: "vibe must be a string or null"},
		{name: "vibe control", body: `{"vibe":"a\rb"}`, code: CodeInvalidPayload, msg: "vibe contains control characters"},

		// vibeDurationMinutes: 1..1440 and only with a vibe.
		{name: "duration 1", body: `{"vibe":"v","vibeDurationMinutes":1}`, want: ProfilePatch{Vibe: setStr("v"), VibeDurationMinutes: setInt(1)}},
		{name: "duration 1440", body: `{"vibe":"v","vibeDurationMinutes":1440}`, want: ProfilePatch{Vibe: setStr("v"), VibeDurationMinutes: setInt(1440)}},
		{name: "duration before vibe in body", body: `{"vibeDurationMinutes":30,"vibe":"v"}`, want: ProfilePatch{Vibe: setStr("v"), VibeDurationMinutes: setInt(30)}},
		{name: "duration null without vibe", body: `{"vibeDurationMinutes":null}`, want: ProfilePatch{VibeDurationMinutes: nullInt()}},
		{name: "duration null with vibe", body: `{"vibe":"v","vibeDurationMinutes":null}`, want: ProfilePatch{Vibe: setStr("v"), VibeDurationMinutes: nullInt()}},
		{name: "duration 0", body: `{"vibe":"v","vibeDurationMinutes":0}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes must be between 1 and 1440"},
		{name: "duration -5", body: `{"vibe":"v","vibeDurationMinutes":-5}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes must be between 1 and 1440"},
		{name: "duration 1441", body: `{"vibe":"v","vibeDurationMinutes":1441}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes must be between 1 and 1440"},
		{name: "duration fraction", body: `{"vibe":"v","vibeDurationMinutes":30.5}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes must be an integer"},
		{name: "duration string", body: `{"vibe":"v","vibeDurationMinutes":"60"}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes must be an integer"},
		{name: "duration without vibe", body: `{"vibeDurationMinutes":30}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes needs a vibe"},
		{name: "duration with null vibe", body: `{"vibe":null,"vibeDurationMinutes":30}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes needs a vibe"},
		{name: "duration with empty vibe", body: `{"vibe":"","vibeDurationMinutes":30}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes needs a vibe"},
		{name: "duration with blank vibe", body: `{"vibe":"   ","vibeDurationMinutes":30}`, code: CodeInvalidPayload, msg: "vibeDurationMinutes needs a vibe"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeProfilePatch([]byte(tc.body))
			var fails []string
			switch {
			case tc.code == "" && err != nil:
				fails = append(fails, fmt.Sprintf("unexpected error %v", err))
			case tc.code != "" && err == nil:
				fails = append(fails, fmt.Sprintf("got patch %+v, want error %s", got, tc.code))
			case tc.code != "" && err.Code != tc.code:
				fails = append(fails, fmt.Sprintf("code = %s (%q), want %s", err.Code, err.Message, tc.code))
			case tc.code != "" && !strings.Contains(err.Message, tc.msg):
				fails = append(fails, fmt.Sprintf("message = %q, want it to contain %q", err.Message, tc.msg))
			case tc.code == "" && !reflect.DeepEqual(got, tc.want):
				fails = append(fails, fmt.Sprintf("patch = %+v\nwant    %+v", got, tc.want))
			}
			if err != nil && err.Domain != DomainUsers {
				fails = append(fails, fmt.Sprintf("domain = %q, want %q", err.Domain, DomainUsers))
			}
			reportFailures(t, fails)
		})
	}
}
