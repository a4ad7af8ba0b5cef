// Package auth holds the engine's cryptography of identity: who a request
// comes from, proven by a token, with no network round trip on the hot path.
//
// # Our tokens
//
// An [Issuer] signs and verifies the engine's own JWTs with an Ed25519 key
// (EdDSA, the only algorithm accepted: no "none", no HMAC with the public key
// as secret, no algorithm switching). There are two types:
//
//   - access tokens (15 min by default) authenticate REST calls and the
//     WebSocket handshake;
//   - refresh tokens (30 days by default) buy a new access token through
//     POST /auth/refresh and are rotated on every use. Each carries a family
//     ID shared by all the tokens rotated from one login, so that replaying a
//     rotated token can revoke the whole family (the store tracks that; this
//     package only signs and checks).
//
// The type is bound both by the typ claim and by the audience (gisbi-access,
// gisbi-refresh), so one type can never pass as the other. iss, aud, exp, nbf
// and iat are checked against an injected clock, since the process clock may
// run fast in dev mode. Rejections wrap [ErrTokenExpired] (an otherwise valid
// token that expired: the wire answers token_expired and the client
// refreshes) or [ErrInvalidToken] (anything else: unauthorized).
//
// # Signing key
//
// [LoadOrCreateKey] reads the Ed25519 key from a PKCS#8 PEM file, creating it
// on first start with mode 0600. A key file readable by group or others is
// refused rather than silently used: whoever reads it can mint tokens for any
// user.
//
// # Google and Apple ID tokens
//
// An [IDTokenVerifier] checks the ID tokens that clients obtain from Sign in
// with Google or Apple, offline: RS256 signatures against the provider's JWKS,
// fetched lazily, cached (Cache-Control max-age or one hour), and refetched
// when a token names an unknown key ID, which is how provider key rotations
// are picked up. Refetches are rate limited and shared between concurrent
// callers, so tokens with made-up key IDs cannot hammer the provider. Issuer,
// audience (the configured client IDs), expiry and subject are checked.
// Rejections wrap [ErrInvalidIDToken]; [ErrProviderUnavailable] means the
// keys could not be fetched and no cached key decides (HTTP 503). Once
// fetched, keys keep being used while the provider is unreachable.
//
// # Firebase
//
// A [FirebaseMinter] mints Firebase custom tokens from a service-account file,
// so that clients can use Firebase services as the same user.
//
// The authtest sub-package provides a fake provider (JWKS server and token
// signer) and service accounts for tests.
package auth
