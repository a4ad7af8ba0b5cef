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
// Caveat: the Directory is per node. On one node every cell is local; a
// multi-node cluster will need remote cells answered by grain calls.
package radar
