// Package proximity holds the BLE proximity rules of one connection as a
// pure state machine: rotating BLE tokens per participant, the two-sided
// start handshake, heartbeats that keep a participant "seeing" its partner,
// runs that pause and resume within a grace period, verified together-time
// (in total and per calendar day) and the milestones it unlocks, plus the
// anti-spoofing checks (RSSI bounds, token validity, GPS plausibility, a
// heartbeat rate limit) and their risk counters.
//
// Every State method takes the time as an argument and returns the events
// to send; there are no goroutines, timers or I/O in it. Time moves the
// machine only through Advance (the other methods call it first), so the
// connection's grain decides when to wake (NextWake), persists Snapshot and
// sends the events. Together-time follows the server's clock, never the
// clients'.
//
// Files, by concern:
//   - config.go: the tunables and their defaults.
//   - state.go: the State, what it persists (Persisted, with the run in
//     flight for the read models) and its accessors.
//   - tokens.go: issuing, rotating and recognising BLE tokens.
//   - risk.go: the checks a scan must pass and the risk counters.
//   - runs.go: start, heartbeat, end, close and time (Advance, NextWake).
//   - views.go: the ProximitySession and summary renderings.
//   - grain.go, persist.go, locations.go: the Proximity grain (identity: the
//     connection id), one method per grainpb message; its snapshots; the
//     participants' GPS fixes, fetched without ever waiting in Receive.
//   - commands.go: the socket commands, which ask the grain asynchronously.
//   - readmodel.go: proximity inside other answers (connection lists,
//     bootstrap), read from the stored snapshots.
//   - grains.go: the node's registry of running grains, for shutdown.
//
// Several nodes: nothing here reads node-local memory to answer a client.
// Views read the snapshots in the shared store; the Grains registry only
// lets each node stop the grains it hosts at its own shutdown. The wire
// shapes live in protocol (proximity.go).
package proximity
