// Package pair holds the Pair grain's rules: one pair of users, its
// connection requests (send, accept, reject, cancel, expiry to missed), its
// connections (close, ring) and its conversation, as a pure state machine
// over storage.Pair that takes the time as an argument and returns the
// events both users must hear. Serialising every action of a pair through
// one grain is what makes crossing requests leave one pending request and
// concurrent accepts make one connection.
//
// The grain (grain.go, chat.go) takes one protobuf message per operation
// and never waits on another grain: an accept asks both User grains for
// their location and applies when the answers come back, checked again
// against the state as it is then. Session handlers (commands.go,
// chat_commands.go) send without waiting either.
//
// Reads that need no rule applied by the grain itself (a user's history,
// the legacy /connections list, the pending request between two users, the
// conversation pages) are read models over the store (history.go,
// conversations.go): the grain stores every change before anyone hears of
// it, so they see everything acknowledged.
package pair
