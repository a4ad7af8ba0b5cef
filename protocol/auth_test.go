package protocol

import (
	"encoding/json"
	"testing"
)

// The sign-in shapes are what shipped apps parse: the names are pinned.
func TestAuthShapes(t *testing.T) {
	fb := "fbt"
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"login", LoginResponse{TokenPair: TokenPair{AccessToken: "a", RefreshToken: "r"}, FirebaseToken: &fb, User: User{ID: "usr_1", Name: "Ada"}},
			`{"accessToken":"a","refreshToken":"r","firebaseToken":"fbt","user":`},
		{"login without firebase", LoginResponse{TokenPair: TokenPair{AccessToken: "a", RefreshToken: "r"}},
			`{"accessToken":"a","refreshToken":"r","firebaseToken":null,"user":`},
		{"refresh answer", TokenPair{AccessToken: "a", RefreshToken: "r"}, `{"accessToken":"a","refreshToken":"r"}`},
		{"status", StatusOK, `{"status":"ok"}`},
		{"social login body", SocialLoginRequest{Provider: "dev", IDToken: "ada"}, `{"provider":"dev","idToken":"ada","deviceToken":"","devicePlatform":""}`},
		{"logout body", LogoutRequest{DeviceToken: "d", RefreshToken: "r"}, `{"deviceToken":"d","refreshToken":"r"}`},
		{"delete body", DeleteAccountRequest{Reason: "bye"}, `{"reason":"bye"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); len(got) < len(tt.want) || got[:len(tt.want)] != tt.want {
				t.Errorf("got %s, want it to start with %s", got, tt.want)
			}
		})
	}
}
