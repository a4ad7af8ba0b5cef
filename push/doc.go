// Package push sends notifications to users' phones and browsers when the
// realtime socket cannot reach them: a chat message, a connection request,
// an accepted request or a ring for a user who is offline.
//
// # What lives here
//
//   - Notification, the provider-independent alert (kind, title, body, data,
//     collapse key), and Sender, one provider's delivery to one device token.
//   - FCM, the Firebase Cloud Messaging HTTP v1 sender used for android and
//     web devices. It authenticates with a Google service account: a
//     jwt-bearer grant (RS256 assertion) buys an OAuth access token, cached
//     until shortly before it expires.
//   - APNs, the Apple Push Notification service sender used for ios devices,
//     over HTTP/2 with token-based authentication: an ES256 provider JWT
//     signed with the team's .p8 key, reused for 50 minutes.
//   - Dispatcher, which turns "notify user U" into a send to each of U's
//     active devices (storage.Devices), and FromConfig, which builds it from
//     the fcm_*, apns_* and push_* settings.
//
// Senders classify failures: ErrUnregistered means the provider has
// forgotten the token (the app was uninstalled, the token rotated), so the
// dispatcher deactivates that device; ErrTransient (throttling, 5xx,
// network trouble) is retried with exponential backoff; anything else is
// logged and given up. *Error carries the provider's status and reason.
//
// # Why delivery is asynchronous
//
// Notify is called from the socket and grain paths that also answer the
// sender of a message or ring. A provider round trip takes tens to hundreds
// of milliseconds, an OAuth refresh more, and an outage can hang for the
// whole timeout; doing that inline would stall chat for everyone behind it.
// So Notify only puts the notification on a bounded queue and returns; a
// fixed pool of workers looks up devices and talks to the providers. When
// the queue is full Notify drops the notification and says so (false, a
// "dropped" outcome, a rate-limited warning): a push is a best-effort hint
// that the app will catch up on at its next session.start, never worth
// back-pressure on the realtime path.
//
// # Caveats
//
// A user's devices are tried one after the other by a single worker, and a
// retry sleeps in that worker (at most 30 s per wait), so a provider outage
// slows the pool down and fills the queue rather than piling up goroutines.
// Close drains the queue; give it a deadline at shutdown.
package push
