// Package grainpb holds the protobuf contracts of the grains (grains.proto)
// and their generated Go code. Messages are protobuf so that a grain can live
// on any node of the cluster; regenerate with `task proto` (or go generate)
// after editing grains.proto, and commit the result.
package grainpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative grains.proto
