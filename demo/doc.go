// Package demo is a page to try GISBI in two browser tabs: served at /demo
// in dev mode only, since it signs in with the dev provider, which lets
// anyone be anyone. One tab is one user: it logs in with a handle, sets a
// location and draws its radar live on a canvas, sends and accepts a
// connection request, chats, and simulates BLE with the other tab: each tab
// shows the token it advertises and "scans" the other's over a
// BroadcastChannel (tabs of one origin), then keeps scanning (heartbeats,
// or a new start when the run paused or ended) so together-time and
// milestones grow. The scan clock runs in a small worker, because a hidden
// tab's own timers are throttled past the heartbeat timeout.
//
// Like the operator console it is plain HTML, CSS and JavaScript embedded
// at build time, with no build step and nothing loaded from elsewhere, and
// its answers carry a Content-Security-Policy that admits only its own
// files, its own origin's REST API and its sockets.
package demo
