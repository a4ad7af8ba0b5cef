package loadgen

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func fakeJWT(iat, exp int64) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"EdDSA"}`)) + "." + enc([]byte(`{"sub":"user_1","iat":`+strconv.FormatInt(iat, 10)+`,"exp":`+strconv.FormatInt(exp, 10)+`}`)) + ".sig"
}

func TestParseTokens(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Credentials
		wantErr bool
	}{
		{"lines", "a.b.c\n\n# comment\n d.e.f \n", []Credentials{{AccessToken: "a.b.c"}, {AccessToken: "d.e.f"}}, false},
		{"JSON lines", `{"accessToken":"a","refreshToken":"r"}` + "\n" + `"b"`, []Credentials{{AccessToken: "a", RefreshToken: "r"}, {AccessToken: "b"}}, false},
		{"JSON array of strings", `["a", "b"]`, []Credentials{{AccessToken: "a"}, {AccessToken: "b"}}, false},
		{"JSON array of objects", ` [{"accessToken":"a"},{"accessToken":"b","refreshToken":"r"}]`, []Credentials{{AccessToken: "a"}, {AccessToken: "b", RefreshToken: "r"}}, false},
		{"empty", "\n# nothing\n", nil, true},
		{"object without token", `{"refreshToken":"r"}`, nil, true},
		{"token with a space", "a b", nil, true},
		{"broken array", `["a",`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTokens([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %+v, want %+v", got, tt.want)
				}
			}
		})
	}
}

func TestReadTokensFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(p, []byte("x.y.z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadTokensFile(p); err != nil || len(c) != 1 {
		t.Fatalf("ReadTokensFile = %v, %v", c, err)
	}
	if _, err := ReadTokensFile(p + ".missing"); err == nil {
		t.Fatal("a missing file is an error")
	}
}

func TestTokenLifetime(t *testing.T) {
	tok := fakeJWT(1_800_000_000, 1_800_000_900) // 15 minutes
	if d, ok := tokenLifetime(tok, 1); !ok || d != 15*time.Minute {
		t.Fatalf("speed 1: %v %v", d, ok)
	}
	if d, ok := tokenLifetime(tok, 60); !ok || d != 15*time.Second {
		t.Fatalf("speed 60: %v %v", d, ok)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", fakeJWT(0, 0), fakeJWT(100, 50)} {
		if _, ok := tokenLifetime(bad, 1); ok {
			t.Errorf("tokenLifetime(%q) claims to know", bad)
		}
	}
}
