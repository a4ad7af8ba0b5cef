// Package protocol is the wire: every JSON shape a client sends or receives,
// and nothing else. It holds the `/ws` envelope (type, payload, requestId,
// correlationId, timestamp) and its decoder, the payload structs of each
// feature with their validation, the data models (User, Connection,
// Message, NearbyUser, ...), event names, error codes with their HTTP
// statuses, and the WebSocket close codes with the reconnect rule of each.
//
// Hot paths have hand-written encoders here (frames, the radar's nearby
// list, bootstrap); each is tied to its struct by a test that decodes the
// fast output with encoding/json and compares it with json.Marshal of the
// same value, so the two cannot drift.
//
// The package does no I/O, starts no goroutines and imports nothing of the
// engine's, so both transports, the grains and the load generator can share
// it. Decoders are fuzzed (fuzz_test.go): malformed input yields a
// *protocol.Error with the documented code, never a panic.
//
// Caveat: a Code is part of the contract with shipped apps. Add codes; never
// rename or reuse one.
package protocol
