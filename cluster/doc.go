// Package cluster starts a protoactor cluster member and offers typed grain
// calls. By default the engine runs as a cluster of one member with the
// in-memory provider: the same grains and the same call path serve one node
// and many, only the provider changes. The grains' message contracts live in
// the grainpb sub-package.
package cluster
