// Package cluster starts a protoactor cluster member and offers typed grain
// calls. By default the engine runs as a cluster of one member with the
// in-memory provider; with the etcd provider, every member registered in
// etcd under the same cluster name is in the cluster, and disthash places
// each grain on one of them. The same grains and the same call path serve
// one node and many: only the provider changes.
//
// A member whose etcd membership lapsed cannot rejoin in the same process
// (its peers block its id, and the provider never re-adds itself), so a
// watchdog reports it on Node.Lost and the process exits for its
// supervisor to restart it. The grains' message contracts live in the
// grainpb sub-package.
package cluster
