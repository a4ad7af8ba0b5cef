// Package user holds the User grain: profile, radar visibility flag, blocks in
// both directions, the live session references and the vibe-expiry reminder.
// It is the only path by which events reach a user's sockets (Deliver).
// Rules live in state.go as pure functions; grain.go persists and announces.
package user
