// Command tile38radar measures the radar's anchor: a Tile38 server (a
// well-known geospatial server) holding N live points and answering
// NEARBY, the radar's question (within --radius metres, nearest first, at
// most --limit), from --conns concurrent clients. bench/compare.sh sets
// `gisbi-load --scenario radar` against it.
//
// The points are the radar scenario's, drawn by the same code
// (loadgen.NewRadarLoadPoints, NewRadarQueryPoints): N points uniform in a
// 20 km box, the i-th is user ui; client w's queries come from seed w+7.
// With --updates each query is a location update and its radar answer:
// SET of a random user (drawn after the point) to the point, then NEARBY
// there. Each client sends --queries/--conns of them, one after another.
//
// It speaks RESP to a server it is pointed at; it does not start Tile38.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gomodule/redigo/redis"
	"github.com/spf13/pflag"

	"github.com/gisbi/engine/loadgen"
)

// result is what a run measured; latencies in milliseconds.
type result struct {
	Points        int     `json:"points"`
	LoadSeconds   float64 `json:"loadSeconds"`
	Queries       int     `json:"queries"`
	Conns         int     `json:"conns"`
	Updates       bool    `json:"updates"`
	Seconds       float64 `json:"seconds"`
	QueriesPerSec float64 `json:"queriesPerSec"`
	P50           float64 `json:"p50Ms"`
	P99           float64 `json:"p99Ms"`
	Max           float64 `json:"maxMs"`
	AvgResults    float64 `json:"avgResults"`
}

func main() {
	addr := pflag.String("addr", "127.0.0.1:9851", "Tile38 address")
	points := pflag.Int("points", 100000, "live users")
	queries := pflag.Int("queries", 200000, "radar queries in all")
	conns := pflag.Int("conns", 32, "concurrent clients")
	radius := pflag.Float64("radius", 1000, "radar radius in metres")
	limit := pflag.Int("limit", 50, "radar result cap")
	updates := pflag.Bool("updates", false, "each query is a SET of a user to the point, then NEARBY there (a location update with its radar answer)")
	asJSON := pflag.Bool("json", false, "print the result as one JSON object")
	pflag.Parse()
	if *points < 1 || *conns < 1 || *queries < *conns {
		fmt.Fprintln(os.Stderr, "tile38radar: want points ≥ 1, conns ≥ 1, queries ≥ conns")
		os.Exit(2)
	}
	res, err := run(*addr, *points, *queries, *conns, *radius, *limit, *updates)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tile38radar:", err)
		os.Exit(1)
	}
	if *asJSON {
		_ = json.NewEncoder(os.Stdout).Encode(res)
		return
	}
	fmt.Printf("tile38 radar: points=%d load=%.1fs (%.0f SET/s) queries=%d conns=%d updates=%v\n",
		res.Points, res.LoadSeconds, float64(res.Points)/res.LoadSeconds, res.Queries, res.Conns, res.Updates)
	fmt.Printf("throughput=%.0f q/s p50=%.3fms p99=%.3fms max=%.3fms avg_results=%.1f\n", res.QueriesPerSec, res.P50, res.P99, res.Max, res.AvgResults)
}

func run(addr string, points, queries, conns int, radius float64, limit int, updates bool) (*result, error) {
	pool := &redis.Pool{MaxIdle: conns + 4, Dial: func() (redis.Conn, error) { return redis.Dial("tcp", addr) }}
	defer pool.Close()
	res := &result{Points: points, Conns: conns, Updates: updates}

	// Load: pipelined SETs, a thousand at a time.
	c := pool.Get()
	if _, err := c.Do("DROP", "people"); err != nil {
		c.Close()
		return nil, err
	}
	start := time.Now()
	gen := loadgen.NewRadarLoadPoints()
	for i := 0; i < points; i += 1000 {
		end := min(i+1000, points)
		for j := i; j < end; j++ {
			lat, lng := gen.Next()
			if err := c.Send("SET", "people", fmt.Sprintf("u%d", j), "POINT", lat, lng); err != nil {
				c.Close()
				return nil, err
			}
		}
		if err := c.Flush(); err != nil {
			c.Close()
			return nil, err
		}
		for j := i; j < end; j++ {
			if _, err := c.Receive(); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	c.Close()
	res.LoadSeconds = time.Since(start).Seconds()

	// Queries: each client its own sequence, one query after another.
	per := queries / conns
	lat := make([]time.Duration, per*conns)
	found := make([]int, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start = time.Now()
	for w := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			found[w], errs[w] = client(pool, w, points, radius, limit, updates, lat[w*per:(w+1)*per])
		}()
	}
	wg.Wait()
	el := time.Since(start)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	n := len(lat)
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	res.Queries, res.Seconds = n, el.Seconds()
	res.QueriesPerSec = float64(n) / el.Seconds()
	res.P50, res.P99, res.Max = ms(lat[int(float64(n-1)*0.5)]), ms(lat[int(float64(n-1)*0.99)]), ms(lat[n-1])
	total := 0
	for _, f := range found {
		total += f
	}
	res.AvgResults = float64(total) / float64(n)
	return res, nil
}

// client runs worker w's queries, recording each one's latency in lat, and
// returns how many points the answers listed.
func client(pool *redis.Pool, w, points int, radius float64, limit int, updates bool, lat []time.Duration) (int, error) {
	c := pool.Get()
	defer c.Close()
	gen := loadgen.NewRadarQueryPoints(w, points)
	found := 0
	for i := range lat {
		// Only an update draws a mover, as the reference client does, so
		// plain NEARBY runs query the same points it does too.
		var la, ln float64
		mover := -1
		if updates {
			la, ln, mover = gen.NextUpdate()
		} else {
			la, ln = gen.Next()
		}
		t0 := time.Now()
		if updates {
			if _, err := c.Do("SET", "people", fmt.Sprintf("u%d", mover), "POINT", la, ln); err != nil {
				return 0, err
			}
		}
		v, err := redis.Values(c.Do("NEARBY", "people", "LIMIT", limit, "POINTS", "POINT", la, ln, radius))
		if err != nil {
			return 0, err
		}
		lat[i] = time.Since(t0)
		if len(v) == 2 {
			if items, ok := v[1].([]any); ok {
				found += len(items)
			}
		}
	}
	return found, nil
}
