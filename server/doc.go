// Package server assembles one engine node from a config: the store, the
// signing key and identity verifiers, the actor cluster with its grain kinds,
// the reminders service and the HTTP/WebSocket API. cmd/gisbi runs it; tests
// start it in-process on 127.0.0.1:0 with a temp data directory.
package server
