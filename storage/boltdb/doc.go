/*
Package boltdb implements storage.Store over a single bbolt file.

bbolt fits a single-node server that must not lose acknowledged writes: one
file, ACID transactions, copy-on-write pages that make hot backups trivial,
and no server process to operate. Its limits (one writer at a time, one
process per file) are what the design below works around.

# Basics

Open the file once per process; a second process waits Options.Timeout for
the file lock and then fails instead of hanging:

	s, err := boltdb.Open("/var/lib/gisbi/gisbi.db", boltdb.Options{
		OnCommit: func(op string, d time.Duration) { writeLatency.WithLabelValues(op).Observe(d.Seconds()) },
	})
	if err != nil { ... }
	defer s.Close()

Every write goes through the store's group commit: one writer goroutine
commits, in one transaction and one fsync, everything queued while its
previous commit ran, so throughput grows with the number of writers (and
with the fsync time) while every returned nil is still durable. NoSync is
never used.

Each record lives in its own bucket as JSON, beside index buckets that are
updated in the same transaction, so that no call scans more than the keys it
returns:

	users                user id → User
	identities           provider \x00 subject → user id (live users only)
	usernames            lower(username) → user id (live users only)
	tokens               jti → RefreshToken
	tokens_by_user       user id \x00 jti
	tokens_by_family     family \x00 jti
	revoked_families     family → time revoked by reuse detection
	devices              push token → Device
	devices_by_user      user id \x00 push token
	blocks               blocker \x00 blocked → Block
	blocks_rev           blocked \x00 blocker
	reports              report id → Report
	reports_by_reporter  reporter \x00 created(8) report id, walked backwards
	reminders            kind \x00 identity \x00 name → Reminder
	reminders_due        due(8) kind \x00 identity \x00 name
	pairs                pair id → Pair (every request and connection of two users)
	pairs_by_user        user id \x00 pair id, for both users of the pair
	pairs_by_request     request id → pair id
	pairs_by_connection  connection id → pair id
	messages             pair id \x00 seq(8) → Message, in conversation order
	messages_by_id       message id → pair id \x00 seq(8)
	inbox                recipient \x00 created(8) \x00 message id → pair id \x00 seq(8)
	conversations        user id \x00 pair id → {otherUserId, lastSeq, unread}, for both users
	messages_by_client_id pair id \x00 sender \x00 client message id → pair id \x00 seq(8), the latest message with that key
	snapshots            kind \x00 id → a grain's snapshot bytes
	brands               brand id → Brand
	brands_by_slug       slug → brand id
	brands_by_key        sponsor key hash → brand id
	campaigns            campaign id → Campaign, with its granted and redeemed counters
	gifts                gift id → Gift
	gifts_by_pair_campaign pair id \x00 campaign id → gift id: one gift per pair per campaign, ever
	gifts_by_pair        pair id \x00 gift id
	gifts_by_user        user id \x00 gift id, for both users of the pair
	gift_codes           redemption code → gift id, never deleted
	meta                 schema_version → uint64

The 8-byte times are big-endian nanoseconds with the sign bit flipped, so key
order is time order and Due, Next and ReportsBy are cursor range scans.
Because \x00 separates key parts, ids must not contain it; empty, oversized
(over 1 KiB) or NUL-containing ids fail with ErrInvalid before any
transaction starts.

A pair id is storage.PairID(a, b), "a|b" with the smaller id first, so user
ids in a pair must not contain "|" either: users "a|b" and "c" would
otherwise share the pair id "a|b|c" with users "a" and "b|c". Pairs.Save
writes the whole record and only the index entries it lacks, in one
transaction. Ids never leave a pair, so it removes nothing; a request or
connection id already indexed under another pair is storage.ErrConflict.

Messages are keyed by pair and big-endian seq, so Page and LastSeq are
backwards range scans and Since is a forward scan of the recipient's inbox.
Append writes the message, both indexes and both users' conversation
summaries in one transaction; the recipient's summary carries the unread
count, so Conversations never counts messages (it reads the user's
summaries and each last message, then sorts by the last message's time).
Append refuses a message that is already read or whose seq is not above the
pair's last (ErrConflict, like a taken id or seq): then the messages a user
has read are always the oldest ones sent to them, and MarkRead walks
backwards from upToSeq only until the first message to the reader that is
already read. A MarkRead with nothing to mark is answered from a read
transaction and commits nothing.

Rewards.Grant checks the once-per-pair rule and the campaign's stock and
counts the grant in the transaction that stores the gift, so the stock is
exact under any number of concurrent grants (on one node or, with a shared
database, several). A refused grant is decided in a read transaction first
and checked again inside the write, where a refusal writes nothing and is
reported without failing the batch it shares. Gift ids are ULIDs, so a
user's history is a backwards range scan of gifts_by_user from the cursor.

The meta bucket holds the schema version. Open runs the pending migrations
in one transaction, so a crash mid-upgrade leaves the old schema intact, and
refuses (ErrSchemaVersion) a file written by a newer binary, naming both
versions. To change the layout, append a migration and raise SchemaVersion;
never edit a released migration.

Backup copies a consistent snapshot through a read transaction while writers
continue, into a temporary file beside the target that is fsynced and then
renamed, so a crash never leaves a torn backup under the final name. The
result is an ordinary database file: Open it to restore.

# Caveats

A write waits for the commit in progress, if any, then for its own. There
is no batch delay to tune; Options.MaxBatchSize bounds a batch.

A write function may run twice when another call in the same batch fails:
the batch is rolled back and run again without it. The functions here only touch the transaction and results they reset
at their start; keep it that way when adding methods.

Records are stored as the JSON of the storage structs, so a renamed json tag
is a format change and needs a migration that rewrites the records.

The file never shrinks: bbolt reuses freed pages but does not return them to
the filesystem. Restoring from Backup (or bbolt compact) gives a compact file.

A long Backup holds a read transaction, which keeps the pages it sees from
being reused and makes the file grow under heavy writes until it ends. Close
waits for operations in flight, including a running Backup; after Close every
method fails with storage.ErrClosed.

The context is checked when a call starts. A write whose context ends while
it is still queued is withdrawn and returns the context's error, having
written nothing. Once taken into a transaction it is not: the call waits and
returns whether it committed, because one function cannot be removed from a
running transaction.

Only one process may open the file. Read-only tools must work on a Backup.

# Faults

A full disk fails the commit that needed a new page, with
storage.ErrUnavailable (ENOSPC or EDQUOT underneath), and nothing else:
bbolt writes a commit's pages before its meta page and rolls back without
touching the meta, so the file still holds the previous commit, and the
rollback reloads the free-page list from it. Reads go on; a commit that
fits into pages freed earlier still succeeds on a full disk; once space is
freed, writes succeed again with no reopen. The file's growth (a truncate)
allocates nothing on ext4, XFS or tmpfs, so it is the page writes that meet
the full disk. Not covered: a filesystem that can fail the fsync after the
meta page was written (copy-on-write ones such as btrfs or ZFS may report
ENOSPC there) leaves that commit visible although its caller was told it
failed, as after any failed fsync.

Check walks the file as bbolt's check does. HoldCommits stalls every
commit until released, as a hung fsync would: a hook for fault tests that
nothing in the server calls.
*/
package boltdb
