// Package user holds the User grain: profile, radar visibility flag, blocks in
// both directions, the live session references, the user's presence on the
// radar and the vibe-expiry reminder. It is the only path by which events
// reach a user's sockets (Deliver), by the PIDs of their session actors on
// whichever nodes hold the sockets; it watches them, so a socket whose node
// died stops counting.
//
// Online (online.go) tells any grain on this node whether a user has a
// socket open anywhere: the counts of the User grains here, and those of
// the other members' User grains, mirrored by a node-wide actor
// (online_mirror.go).
//
// Rules live in pure types: state.go (profile patches, sessions, blocks) and
// presence_state.go (liveness, reconnect grace, staleness, push coalescing,
// cell moves), whose methods take the time and return effects. grain.go
// persists and announces; presence.go carries out the presence effects
// (cell writes, watches, timers, pushes) without waiting on any Cell grain.
package user
