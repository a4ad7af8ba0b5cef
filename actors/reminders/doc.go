// Package reminders holds the durable-timer service: timers that must outlive
// a restart (vibe expiry, request expiry, reward expiry) are stored with their
// due time and fired at their owning grain, at-least-once. Every node runs a
// service over the shared store; a service claims the reminders it fires for
// a lease (storage.Reminders.Claim), so each fires on one node at a time, and
// one whose fire failed or whose node died fires again when the lease
// lapses. The grain owns the reminder and clears or moves it while handling
// it, which makes a repeated fire harmless and keeps the service free of
// grain knowledge.
package reminders
