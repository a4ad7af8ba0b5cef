// Package session holds the per-socket actor. It attaches to its User grain,
// serves client frames through a dispatch table that features register into,
// assembles session.bootstrap from feature sources, watches the access token's
// expiry, and writes pre-encoded frames through a Transport whose bounded
// queue disconnects slow clients instead of stalling anyone else.
package session
