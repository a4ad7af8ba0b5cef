package protocol

// REST shapes of sign-in, tokens and account deletion.

// SocialLoginRequest is the body of POST /auth/social-login.
type SocialLoginRequest struct {
	Provider       string `json:"provider"`
	IDToken        string `json:"idToken"`
	DeviceToken    string `json:"deviceToken"`
	DevicePlatform string `json:"devicePlatform"`
}

// TokenPair answers POST /auth/refresh, and is part of a login's answer.
type TokenPair struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
}

// LoginResponse answers POST /auth/social-login.
type LoginResponse struct {
	TokenPair
	// FirebaseToken is a Firebase custom token, null when Firebase is off.
	FirebaseToken *string `json:"firebaseToken"`
	User          User    `json:"user"`
}

// RefreshRequest is the body of POST /auth/refresh.
type RefreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

// LogoutRequest is the body of POST /auth/logout; both fields are optional.
type LogoutRequest struct {
	DeviceToken  string `json:"deviceToken"`
	RefreshToken string `json:"refreshToken"`
}

// DeleteAccountRequest is the body of POST /auth/delete-account.
type DeleteAccountRequest struct {
	Reason string `json:"reason"`
}

// Status is the `{status}` answer of operations with nothing else to say
// (logout, account deletion, health and readiness).
type Status struct {
	Status string `json:"status"`
}

// StatusOK is the answer of an operation that succeeded.
var StatusOK = Status{Status: "ok"}
