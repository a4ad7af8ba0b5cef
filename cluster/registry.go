package cluster

import cmap "github.com/orcaman/concurrent-map"

// protoactor's process registry is 1024 concurrent maps of
// cmap.SHARD_COUNT Go maps each: 32,768 maps at the default 32. A Go map
// keeps its first group of slots (288 bytes) once anything was stored in
// it, and every grain call's future passes through the registry, so a
// busy node soon has all 32,768 allocated: about 9 MB, ~1 KB per session
// at 10,000 sessions. Eight shards still spread the registry over 8,192
// locks (and the cluster's PID cache, one cmap, over 8).
//
// It is set once, before any actor system exists, and never changed:
// cmap picks a key's shard by it.
func init() { cmap.SHARD_COUNT = 8 }
