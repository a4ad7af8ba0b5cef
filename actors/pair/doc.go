// Package pair holds the Pair grain's rules: one pair of users, its
// connection requests (send, accept, reject, cancel, expiry to missed) and
// its connections (close, ring), as a pure state machine over storage.Pair
// that takes the time as an argument and returns the events both users must
// hear. Serialising every action of a pair through one grain is what makes
// crossing requests leave one pending request and concurrent accepts make
// one connection.
package pair
