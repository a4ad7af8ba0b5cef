/*
Package storage is the persistence contract of the GISBI engine: the records
that must survive a restart (accounts, refresh tokens, push devices, blocks,
reports, durable timers) and the interfaces that store them. Everything
realtime (presence, radar positions, sockets) lives in memory elsewhere and is
deliberately absent here.

The interfaces are small and shaped by the callers' invariants, not by a
database, so the bbolt implementation (storage/boltdb) can later be swapped
for PostgreSQL without touching services. The behaviour both must share is
pinned by storage/storagetest.RunContract, not by prose alone.

# Basics

Open a concrete store (boltdb.Open) once per process and pass the Store or
one of its aggregates (Users, Tokens, Devices, Safety, Reminders) to the
services that need it. All methods are safe for concurrent use.

Errors are tested with errors.Is against the sentinels:

	ErrNotFound  the record (or, for ByIdentity, a live account) does not exist
	ErrConflict  a uniqueness rule failed, or a refresh token was reused
	ErrClosed    the store was closed

Anything else is an input or infrastructure error and should become an
internal error, not a 404 or 409.

A method returning nil means the write is durable: the server may acknowledge
it to the client. Returned records are copies; changing them changes nothing
until they are written back.

Soft delete is a Users.Put with DeletedAt set. The record stays (for audit and
for the peers' history), but the provider identity and the username are
released at once, so a later login with the same identity creates a fresh
account and someone else may take the handle.

# Caveats

Writes are grouped into shared commits, so a single write's latency includes
a short batching delay (10ms by default in bbolt); throughput comes from
many concurrent writers, not from one writer in a loop. Do not write from a
tight loop on a hot path; collect and write once.

Tokens.Rotate returns ErrConflict on reuse after having committed the family
revocation: the error means "refuse this refresh and log the user out", not
"nothing happened".

Times round-trip with Equal, not ==: the monotonic reading is dropped and a
backend may return another Location. A SQL backend keeps microseconds, so do
not rely on nanoseconds surviving.

Nothing expires by itself: rotated and revoked tokens, inactive devices and
fired reminders stay until deleted.
*/
package storage
