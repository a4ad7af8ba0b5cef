// Package radar holds live presence on an H3 grid: the pure geometry and
// query (who is within the radius, nearest first), and the Cell grain.
//
// Each Cell grain (one per H3 cell at the Grid's resolution) owns the
// entries of the users located in it and the set of users watching it. After
// every change it publishes an immutable Snapshot to the node's Directory;
// radar queries read the snapshots of the cells covering the radius without
// messaging any grain, so a query costs microseconds however many cells it
// spans. A user moves between cells by being added to the new cell before
// being removed from the old one; a query seeing both keeps the newer entry,
// so a move is atomic to readers. The User grain does not wait for a cell:
// it sends the remove only once the new cell acknowledged the upsert.
//
// The JSON of a NearbyUser is written by protocol's encoder; the parts every
// viewer sees alike (profile, location) are encoded once per published
// entry, so an answer mostly copies bytes.
//
// Watchers are the users whose radar covers a cell. A change in a cell wakes
// only them, so the fan-out of a move is proportional to the users nearby.
// The User grain coalesces wake-ups into at most one pushed
// radar.nearby.updated per radar interval, and only when the result changed.
//
// Many nodes. A Cell grain lives on one member (disthash places it), but a
// query must see every cell, wherever its grain lives, without messaging
// it. So every member keeps a replica of every cell the others host in its
// own Directory, beside its own cells' snapshots (a Slot holds both):
//
//   - After each change a Cell grain sends a CellDelta (the upserted
//     entries or removed users, numbered within its activation) to the
//     radar mirror of every other member, a node-wide actor named
//     MirrorName. Its first delta carries the whole content; with no
//     peers nothing is built or sent, so a cluster of one pays nothing.
//   - The mirror (mirror.go, rules in replica.go) applies the deltas of
//     each activation in order, publishes the cell's snapshot and wakes
//     the cell's watchers on its node, as the grain does on its own. A
//     gap, or an activation it has no content of, makes it ask the grain
//     for all of it (CellResync). Deltas from a member that is not live
//     are ignored; a member that leaves takes its cells with it; a member
//     that joins, and a node that starts, asks the others' mirrors for
//     their cells (MirrorSync), which ask their local Cell grains.
//   - When a topology change moves a cell, the old activation hands its
//     entries over to the new one (handover.go), and both show until the
//     old one's stopped delta arrives; a query keeps the newest entry of a
//     user seen twice.
//
// A query is then as local as on one node. The price is one delta per
// change per other member, and the mirror's work on each (see
// BenchmarkMirrorApply). A watcher is woken by a remote change only once
// the delta reached its node: a few milliseconds later than a local one.
package radar
