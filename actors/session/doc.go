// Package session holds the per-socket actor. It stays on the socket's node
// and attaches to its User grain, wherever that runs; each watches the
// other, and when the grain's activation stops (moved to another member, or
// its member died) the session attaches again and gives the new one the
// last location it had sent. It serves client frames through a dispatch
// table that features register into, assembles session.bootstrap from
// feature sources, watches the access token's expiry, and writes
// pre-encoded frames through a Transport whose bounded queue disconnects
// slow clients instead of stalling anyone else.
package session
