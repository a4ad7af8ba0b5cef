// Package proximity holds the BLE proximity rules of one connection as a
// pure state machine: rotating BLE tokens per participant, the two-sided
// start handshake, heartbeats that keep a participant "seeing" its partner,
// runs that pause and resume within a grace period, verified together-time
// (in total and per calendar day) and the milestones it unlocks, plus the
// anti-spoofing checks (RSSI bounds, token validity, GPS plausibility, a
// heartbeat rate limit) and their risk counters.
//
// Every method takes the time as an argument and returns the events to send;
// there are no goroutines, timers or I/O here. Time moves the machine only
// through Advance (the other methods call it first), so the connection's
// grain decides when to wake (NextWake), persists Snapshot and sends the
// events. Together-time follows the server's clock, never the clients'.
package proximity
