package protocol

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
)

// httpStatusOf is the expected REST status of every Code constant.
var httpStatusOf = map[Code]int{
	CodeClientMessageIDConflict:  http.StatusConflict,
	CodeInvalidJSON:              http.StatusBadRequest,
	CodeVerificationRequired:     http.StatusForbidden,
	CodeAccountTerminated:        http.StatusForbidden,
	CodeUnknownType:              http.StatusBadRequest,
	CodeInvalidPayload:           http.StatusBadRequest,
	CodeRateLimited:              http.StatusTooManyRequests,
	CodeUnauthorized:             http.StatusUnauthorized,
	CodeTokenExpired:             http.StatusUnauthorized,
	CodeNotFound:                 http.StatusNotFound,
	CodeForbidden:                http.StatusForbidden,
	CodeInternal:                 http.StatusInternalServerError,
	CodeAccountDeleted:           http.StatusUnauthorized,
	CodeProviderDisabled:         http.StatusForbidden,
	CodeProviderUnavailable:      http.StatusServiceUnavailable,
	CodePayloadTooLarge:          http.StatusRequestEntityTooLarge,
	CodeHeadersTooLarge:          http.StatusRequestHeaderFieldsTooLarge,
	CodeUsernameTaken:            http.StatusConflict,
	CodeUserNotFound:             http.StatusNotFound,
	CodeMissingUserID:            http.StatusBadRequest,
	CodeMissingRecipientID:       http.StatusBadRequest,
	CodeActiveConnectionRequired: http.StatusForbidden,
	CodeInvalidLocation:          http.StatusBadRequest,
	CodeRequestExpired:           http.StatusGone,
	CodeSelfRequest:              http.StatusBadRequest,
	CodeBlocked:                  http.StatusForbidden,
	CodeRequestExists:            http.StatusConflict,
	CodeAlreadyConnected:         http.StatusConflict,
	CodeRequestNotFound:          http.StatusNotFound,
	CodeVibeRequired:             http.StatusConflict,
	CodePeerGiftsDisabled:        http.StatusGone,
	CodeUnavailable:              http.StatusServiceUnavailable,
	CodeInvalidToken:             http.StatusConflict,
	CodeRSSIOutOfRange:           http.StatusBadRequest,
	CodeLocationMismatch:         http.StatusConflict,
	CodeMethodNotAllowed:         http.StatusMethodNotAllowed,
	CodeGiftNotClaimable:         http.StatusConflict,
	CodeCodeExpired:              http.StatusGone,
	CodeAlreadyRedeemed:          http.StatusConflict,
	CodeProximityRequired:        http.StatusConflict,
}

func TestHTTPStatus(t *testing.T) {
	for code, want := range httpStatusOf {
		t.Run(string(code), func(t *testing.T) {
			if got := HTTPStatus(code); got != want {
				t.Errorf("HTTPStatus(%q) = %d, want %d", code, got, want)
			}
		})
	}
	others := []struct {
		code Code
		want int
	}{
		{"request_exists", http.StatusConflict}, // feature codes are rule violations
		{"already_connected", http.StatusConflict},
		{"", http.StatusInternalServerError},
	}
	for _, tc := range others {
		if got := HTTPStatus(tc.code); got != tc.want {
			t.Errorf("HTTPStatus(%q) = %d, want %d", tc.code, got, tc.want)
		}
	}
}

// TestHTTPStatusCoversEveryCode keeps httpStatusOf in step with errors.go:
// a new Code constant must get an expected status here.
func TestHTTPStatusCoversEveryCode(t *testing.T) {
	file, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Code]bool{}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for i, name := range vs.Names {
				lit := vs.Values[i].(*ast.BasicLit)
				code := Code(lit.Value[1 : len(lit.Value)-1])
				seen[code] = true
				if _, ok := httpStatusOf[code]; !ok {
					t.Errorf("%s (%q) has no expected HTTP status in httpStatusOf", name.Name, code)
				}
			}
		}
	}
	if len(seen) != len(httpStatusOf) {
		t.Errorf("errors.go declares %d codes, httpStatusOf has %d", len(seen), len(httpStatusOf))
	}
}

func TestErrorf(t *testing.T) {
	e := Errorf(CodeInvalidPayload, DomainChat, "%s is longer than %d characters", "content", 2000)
	if e.Code != CodeInvalidPayload || e.Domain != DomainChat || e.Message != "content is longer than 2000 characters" || e.Details != nil {
		t.Errorf("Errorf = %+v", e)
	}
	if got, want := e.Error(), "invalid_payload: content is longer than 2000 characters"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got := Errorf(CodeInvalidPayload, DomainUsers, "unknown field %q", "a%d").Message; got != `unknown field "a%d"` {
		t.Errorf("Errorf with user text as argument = %q", got)
	}
}

func TestAsError(t *testing.T) {
	base := Errorf(CodeUserNotFound, DomainConnections, "user not found")
	tests := []struct {
		name string
		err  error
		want *Error
	}{
		{"nil", nil, nil},
		{"reply error", base, base},
		{"wrapped once", fmt.Errorf("send request: %w", base), base},
		{"wrapped twice", fmt.Errorf("grain: %w", fmt.Errorf("send request: %w", base)), base},
		{"joined", errors.Join(io.EOF, base), base},
		{"two %w verbs", fmt.Errorf("%w and %w", io.EOF, base), base},
		{"formatted with %v loses it", fmt.Errorf("send request: %v", base), nil},
		{"plain error", errors.New("boom"), nil},
		{"io error wrapped", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), nil},
		{"disconnect is not a reply error", &Disconnect{Code: CloseSlowConsumer, Reason: "slow"}, nil},
		{"typed nil reply error", (*Error)(nil), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := AsError(tc.err)
			if tc.name == "typed nil reply error" {
				// errors.As matches the type even for a nil pointer.
				if !ok || got != nil {
					t.Errorf("AsError(typed nil) = %v, %v; want nil, true", got, ok)
				}
				return
			}
			if got != tc.want || ok != (tc.want != nil) {
				t.Errorf("AsError = %v, %v; want %v, %v", got, ok, tc.want, tc.want != nil)
			}
		})
	}
}

func TestDisconnectError(t *testing.T) {
	d := &Disconnect{Code: CloseSessionLimit, Reason: "too many sessions"}
	if got, want := d.Error(), "disconnect 4009: too many sessions"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	var target *Disconnect
	if !errors.As(fmt.Errorf("session: %w", d), &target) || target != d {
		t.Error("Disconnect not found through %w")
	}
}

func TestDomainOf(t *testing.T) {
	tests := []struct {
		typ, want string
	}{
		{TypeSessionStart, DomainSession},
		{TypeUserProfileUpdated, DomainSession},
		{TypeVibeExpired, DomainSession},
		{TypeLocationUpdate, DomainPresence},
		{TypeRadarSetVisible, DomainPresence},
		{TypeRequestSend, DomainConnections},
		{TypeConnClose, DomainConnections},
		{TypeProximityStart, DomainProximity},
		{TypeChatMessage, DomainChat},
		{TypeChatShareStart, DomainChat},
		{"gift.create", DomainGifts},
		{TypeGiftHistory, DomainGifts},
		{TypeSafetyBlock, DomainSafety},
		{"unknown.thing", DomainSession},
		{"nodot", DomainSession},
		{"", DomainSession},
		{".chat", DomainSession},
		{"chat", DomainSession},
		{"chat.", DomainChat},
	}
	for _, tc := range tests {
		if got := DomainOf(tc.typ); got != tc.want {
			t.Errorf("DomainOf(%q) = %q, want %q", tc.typ, got, tc.want)
		}
	}
}

// Every close code we send has a reconnect rule, and the rules are the ones
// docs/protocol.md tells clients.
func TestReconnects(t *testing.T) {
	tests := []struct {
		code int
		want Reconnect
	}{
		{CloseNormal, ReconnectNo},
		{CloseGoingAway, ReconnectYes},
		{ClosePolicy, ReconnectAfterAuth},
		{CloseTooBig, ReconnectNo},
		{CloseInternal, ReconnectYes},
		{CloseTokenExpired, ReconnectAfterAuth},
		{CloseAccountDeleted, ReconnectNo},
		{CloseSlowConsumer, ReconnectYes},
		{CloseSessionLimit, ReconnectNo},
		{CloseAbuse, ReconnectYes},
		{4999, ReconnectYes},
	}
	for _, tt := range tests {
		if got := Reconnects(tt.code); got != tt.want {
			t.Errorf("Reconnects(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

// docs/protocol.md's close-code table tells clients the same reconnect rule
// as Reconnects.
func TestCloseCodeTableMatchesReconnects(t *testing.T) {
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "### Close codes")
	if !ok {
		t.Fatal("docs/protocol.md has no close-code table")
	}
	words := map[string]Reconnect{"yes": ReconnectYes, "no": ReconnectNo, "after auth": ReconnectAfterAuth}
	rows := 0
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "## ") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 5 {
			continue
		}
		code, err := strconv.Atoi(strings.TrimSpace(cells[1]))
		if err != nil {
			continue
		}
		rows++
		want, ok := words[strings.TrimSpace(cells[3])]
		if !ok {
			t.Errorf("close %d: reconnect column %q is not yes, no or after auth", code, cells[3])
			continue
		}
		if got := Reconnects(code); got != want {
			t.Errorf("close %d: docs say %q, Reconnects says %v", code, strings.TrimSpace(cells[3]), got)
		}
	}
	if rows != 10 {
		t.Errorf("found %d close codes in the docs, want the 10 the server sends", rows)
	}
}

// Every code a client can receive is in docs/protocol.md's error table,
// with the HTTP status HTTPStatus gives it.
func TestEveryCodeIsDocumented(t *testing.T) {
	b, err := os.ReadFile("../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for code, status := range httpStatusOf {
		row := fmt.Sprintf("| `%s` | %d |", code, status)
		if !strings.Contains(doc, row) {
			t.Errorf("docs/protocol.md lacks the row %q", row)
		}
	}
}
