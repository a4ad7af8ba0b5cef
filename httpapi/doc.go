// Package httpapi is the node's HTTP face, a fiber app: the REST routes,
// the WebSocket upgrade and transport of `/ws`, and the middleware around
// them (request ids, per-user and per-address rate limits, body limits,
// bearer and operator-token auth, 405 with Allow, one debug line per
// request).
//
// Handlers are thin: decode the request with protocol's decoders, call a
// grain (cluster.Call) or a read model of the actor packages, encode the
// answer. Rules live in the actors; errors become status and body in one
// place (wireerr, through errorHandler). The package reads the store
// directly only for what no grain owns: tokens and devices (auth), the
// readiness ping and the backup.
//
// A socket is a transport: the reader goroutine rate-limits and hands raw
// frames to the socket's session actor; a writer goroutine drains a bounded
// queue, so a slow client is disconnected (4008) instead of stalling the
// grains that write to it.
package httpapi
