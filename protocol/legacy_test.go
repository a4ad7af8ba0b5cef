package protocol

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDecodeLegacyFrame(t *testing.T) {
	cases := []struct {
		name, in  string
		event     string
		payload   string
		code      Code
		typeEmpty bool
	}{
		{name: "event and data", in: `{"event":"typing-started","data":{"chat":"c"}}`, event: "typing-started", payload: `{"chat":"c"}`},
		{name: "no data", in: ` {"event":"messages-read"} `, event: "messages-read", payload: `{}`},
		{name: "null data", in: `{"event":"messages-read","data":null}`, event: "messages-read", payload: `{}`},
		{name: "extra keys ignored", in: `{"event":"x","data":{},"requestId":"r"}`, event: "x", payload: `{}`},
		{name: "not json", in: `{"event":`, code: CodeInvalidJSON},
		{name: "empty", in: ``, code: CodeInvalidJSON},
		{name: "array", in: `[]`, code: CodeInvalidJSON},
		{name: "no event", in: `{"data":{}}`, code: CodeInvalidPayload},
		{name: "null event", in: `{"event":null}`, code: CodeInvalidPayload},
		{name: "event not a string", in: `{"event":1}`, code: CodeInvalidPayload},
		{name: "empty event", in: `{"event":""}`, code: CodeInvalidPayload},
		{name: "long event", in: `{"event":"` + strings.Repeat("e", MaxEventLength+1) + `"}`, code: CodeUnknownType, typeEmpty: true},
		{name: "a /ws frame", in: `{"type":"chat.typing","payload":{}}`, code: CodeInvalidPayload},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, perr := DecodeLegacyFrame([]byte(c.in))
			if c.code != "" {
				if perr == nil || perr.Code != c.code {
					t.Fatalf("error = %v, want %s", perr, c.code)
				}
				if c.typeEmpty && f.Type != "" {
					t.Fatalf("oversized event kept: %q", f.Type)
				}
				return
			}
			if perr != nil || f.Type != c.event || string(f.Payload) != c.payload {
				t.Fatalf("got %q %s %v, want %q %s", f.Type, f.Payload, perr, c.event, c.payload)
			}
		})
	}
}

func TestEncodeLegacyFrame(t *testing.T) {
	b, err := EncodeLegacyFrame(EventChatCreated, LegacyChat{Chat: "chat_a~b"})
	if err != nil || string(b) != `{"event":"chat-created","data":{"chat":"chat_a~b"}}` {
		t.Fatalf("EncodeLegacyFrame = %s, %v", b, err)
	}
	if b, _ := EncodeLegacyFrame(EventScoreUpdated, nil); string(b) != `{"event":"score-updated","data":{}}` {
		t.Fatalf("nil data = %s", b)
	}
	if b := EncodeLegacyRawFrame(`we"ird`, nil); !json.Valid(b) {
		t.Fatalf("raw frame is not JSON: %s", b)
	}
	e := EncodeLegacyError(Errorf(CodeForbidden, DomainChat, "not \"yours\""))
	var got struct {
		Event string            `json:"event"`
		Data  map[string]string `json:"data"`
	}
	if err := json.Unmarshal(e, &got); err != nil || got.Event != EventPermissionDenied || got.Data["message"] != `not "yours"` || len(got.Data) != 1 {
		t.Fatalf("EncodeLegacyError = %s", e)
	}
}

// legacyErrorOf is the legacy error event of every code: adding a code
// means deciding how an old app hears of it.
var legacyErrorOf = map[Code]string{
	CodeInvalidJSON: EventValidationFailed, CodeUnknownType: EventValidationFailed, CodeInvalidPayload: EventValidationFailed,
	CodeRateLimited: EventValidationFailed, CodeUnauthorized: EventAuthorizationFailed, CodeTokenExpired: EventAuthorizationFailed,
	CodeNotFound: EventNotFound, CodeForbidden: EventPermissionDenied, CodeInternal: EventServerError,
	CodeAccountDeleted: EventAccountTerminated, CodeProviderDisabled: EventValidationFailed, CodeProviderUnavailable: EventValidationFailed,
	CodePayloadTooLarge: EventValidationFailed, CodeHeadersTooLarge: EventValidationFailed, CodeUsernameTaken: EventValidationFailed, CodeUserNotFound: EventNotFound,
	CodeMissingUserID: EventValidationFailed, CodeMissingRecipientID: EventValidationFailed,
	CodeActiveConnectionRequired: EventPermissionDenied, CodeInvalidLocation: EventValidationFailed,
	CodeRequestExpired: EventValidationFailed, CodePeerGiftsDisabled: EventValidationFailed, CodeUnavailable: EventServerError,
	CodeSelfRequest: EventValidationFailed, CodeBlocked: EventPermissionDenied, CodeRequestExists: EventValidationFailed,
	CodeAlreadyConnected: EventValidationFailed, CodeRequestNotFound: EventNotFound, CodeVibeRequired: EventValidationFailed,
	CodeInvalidToken: EventValidationFailed, CodeRSSIOutOfRange: EventValidationFailed, CodeLocationMismatch: EventValidationFailed,
	CodeMethodNotAllowed: EventValidationFailed, CodeGiftNotClaimable: EventValidationFailed, CodeCodeExpired: EventValidationFailed,
	CodeAlreadyRedeemed: EventValidationFailed, CodeProximityRequired: EventValidationFailed,
	CodeVerificationRequired: EventVerificationRequired, CodeAccountTerminated: EventAccountTerminated,
	CodeClientMessageIDConflict: EventValidationFailed,
}

func TestLegacyErrorEvent(t *testing.T) {
	for code, want := range legacyErrorOf {
		if got := LegacyErrorEvent(code); got != want {
			t.Errorf("LegacyErrorEvent(%s) = %s, want %s", code, got, want)
		}
	}
	// Every Code constant of errors.go has a decided event above.
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range file.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					continue
				}
				if _, ok := legacyErrorOf[Code(strings.Trim(lit.Value, `"`))]; !ok {
					t.Errorf("%s has no legacy error event in legacyErrorOf", name.Name)
				}
			}
		}
	}
}

func FuzzDecodeLegacyFrame(f *testing.F) {
	for _, s := range []string{
		`{"event":"typing-started","data":{"chat":"chat_a~b"}}`, `{"event":"messages-read"}`, `{"event":1}`,
		`{"event":"x","data":"y"}`, `[]`, `{`, `{"event":"` + strings.Repeat("é", 40) + `"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, perr := DecodeLegacyFrame(data)
		if perr != nil {
			switch perr.Code {
			case CodeInvalidJSON, CodeInvalidPayload, CodeUnknownType:
			default:
				t.Fatalf("unexpected code %s for %q", perr.Code, data)
			}
			if LegacyErrorEvent(perr.Code) != EventValidationFailed || !utf8.ValidString(perr.Message) {
				t.Fatalf("bad error %+v", perr)
			}
			return
		}
		if fr.Type == "" || len(fr.Type) > MaxEventLength || !utf8.ValidString(fr.Type) {
			t.Fatalf("bad event %q accepted from %q", fr.Type, data)
		}
		if !json.Valid(fr.Payload) {
			t.Fatalf("data %q is not valid JSON (input %q)", fr.Payload, data)
		}
		// What decodes re-encodes to a frame that decodes the same.
		again, perr := DecodeLegacyFrame(EncodeLegacyRawFrame(fr.Type, fr.Payload))
		if perr != nil || again.Type != fr.Type {
			t.Fatalf("round trip: %q → %q, %v", fr.Type, again.Type, perr)
		}
	})
}
