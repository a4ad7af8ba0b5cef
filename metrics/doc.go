// Package metrics holds the Prometheus collectors of the engine: sockets
// open, frames in and out by type, errors by code, grain activations, store
// commit latency. Labels take only values the server chose (known frame
// types, stable codes), never raw client input, so a hostile client cannot
// blow up the series count.
package metrics
