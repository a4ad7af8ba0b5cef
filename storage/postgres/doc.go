/*
Package postgres is the PostgreSQL implementation of the storage contract,
for deployments where several nodes share one database. It passes the same
contract suite as the embedded bbolt store (storage/storagetest).

# Schema and migrations

The schema is a numbered series of SQL files embedded in the binary
(migrations/NNNN_name.sql) and recorded in the gisbi_schema table. Open
applies the missing ones, and `gisbi migrate` does the same ahead of a
rollout. Every node migrates under one advisory lock, so nodes that start
together take turns instead of racing on CREATE TABLE, and a node never runs
against a schema newer than it knows (ErrSchemaVersion).

Records the server reads whole (pairs, gifts, snapshots, score days, users)
are stored as JSONB documents beside the columns that index, constrain or
fence them; messages and reminders are plain columns, since they are
queried and written in bulk.

# Fencing

A grain's state row carries a version. A write is
UPDATE … WHERE id = $1 AND version = $2; when it matches no row the write
fails with storage.ErrStale and the grain stops without acknowledging, so a
stale activation (a frozen node that came back) never overwrites newer state.

# Timers

Reminders are claimed by any node with SELECT … FOR UPDATE SKIP LOCKED and a
lease (claimed_until): two nodes never claim one reminder at once, and a
reminder whose node died is claimed again when the lease ends.

# Backups

Backup is pg_dump's job; the store's Backup method says so.
*/
package postgres
