// Package reminders holds the durable-timer service: timers that must outlive
// a restart (vibe expiry, request expiry, reward expiry) are stored with their
// due time and fired at their owning grain, at-least-once. The grain owns the
// reminder and clears or moves it while handling it, which makes a repeated
// fire harmless and keeps the service free of grain knowledge.
package reminders
