// Package loadgen simulates phones against a running engine: thousands of
// users over real WebSockets who log in (dev login or given tokens), walk a
// city box sending location updates, form pairs through the real
// request/accept flow, run BLE proximity for those pairs (tokens, the start
// handshake, heartbeats, rotation) and chat, while it measures what the
// server answers.
//
// That is the default, mixed scenario. The radar scenario (radar.go,
// --scenario radar) measures the radar the way a geospatial server is
// measured: every user sends one location, at a fixed sequence of points
// (radarpoints.go, shared with the Tile38 client in bench/tile38radar), then
// Conns of them run closed loops of location updates, each waiting for its
// radar answer, and the summary gives updates per second, latency and
// nearby users per answer. The server needs GISBI_WS_RATE raised for a
// closed loop, and GISBI_RADAR_INTERVAL longer than the run for the no-push
// baseline; pushes that come anyway are counted and dropped.
//
// What lives where:
//   - config.go: the scenario (Config), its defaults and validation;
//   - run.go, phases.go: a run and its phases (login, connect, pair,
//     traffic, stop);
//   - radar.go, radarpoints.go: the radar scenario (load the live points,
//     then the closed loops) and its points;
//   - client.go, frames.go, envelope.go: one simulated phone's socket,
//     requests matched to answers by requestId, reconnects, and a frame
//     reader that skims envelopes instead of decoding 16 KB radar payloads
//     (counting their nearby users in the same pass, in a pooled buffer);
//     with --dialect socket, an idle legacy `/socket` whose `{event, data}`
//     frames are counted by event and whose attach is proven by a probe;
//   - rest.go, tokens.go, netaddr.go: REST calls, token files and refresh,
//     source addresses and pacing under the server's per-IP REST limit;
//   - servers.go: several server URLs (the nodes of a cluster): each user's
//     home node, round-robin, and the order it fails over to the others;
//   - behaviour.go, walker.go, pairing.go, proximity.go: the simulated
//     behaviour (walking, chatting, pairing, BLE);
//   - together.go: the server clock as seen from its answers, and the
//     together-time a pair should have under the documented rules, from the
//     scans the server accepted and when it stamped them;
//   - hist.go, stats.go: latency histograms and counters;
//   - summary.go, criteria.go, report.go, progress.go: the end summary, the
//     failure criteria, the text report and the live progress line;
//   - procstat.go: RSS and CPU of this process and of the server.
//
// Time: every interval that the server judges (heartbeats, location
// freshness, token lifetimes, together-time) is given and reported in
// server-clock time; the generator waits real time = server time / speed,
// where speed is the server's GISBI_CLOCK_SPEED. Load rates (chat messages
// per second) and timeouts are real time.
package loadgen
