// Package actors is the home of the engine's actors, one sub-package per
// kind: session (one per socket, local), user (the User grain), reminders
// (durable timers). Each kind keeps its rules in a pure state file that takes
// the time as an argument, and a thin actor that loads state, applies
// messages, persists and forwards events.
package actors
