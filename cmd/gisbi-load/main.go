// Command gisbi-load simulates thousands of phones against a running
// server: see package loadgen and the README's "Load testing".
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/gisbi/engine/loadgen"
)

// Exit codes: the server failed the scenario, or the run could not start.
const (
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options is what the flags give beyond the scenario.
type options struct {
	json bool
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseFlags(args, stderr)
	if errors.Is(err, pflag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "gisbi-load: %v\n", err)
		return exitUsage
	}
	// The first signal ends the traffic phase and the run reports; a second
	// one kills the process the usual way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); stop() }()

	sum, err := loadgen.Run(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "gisbi-load: %v\n", err)
		return exitUsage
	}
	if opts.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(sum)
	} else {
		err = sum.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "gisbi-load: write summary: %v\n", err)
		return exitUsage
	}
	if !sum.Pass {
		return exitFail
	}
	return 0
}

// radarHelp explains the radar scenario, whose set-up lives on the server.
const radarHelp = `--scenario radar measures the radar like a geospatial server. Every user sends one
presence.location_update (the live points, uniform in a 20 km box from lat 6.45,
lng 3.35, math/rand seed 1: the points bench/tile38radar loads into Tile38); then
--conns of them (the first ones) each loop: an update to the next point of their
worker's generator (seed worker+7), wait for the radar.nearby.updated answering it,
repeat, for --queries updates in all or --duration. It reports updates/s, latency
p50/p99/max and nearby users per answer. Start the server with
GISBI_WS_RATE=1000000 GISBI_WS_BURST=1000000 (a closed loop outruns the 20 frames/s
per socket limit) and GISBI_PRESENCE_TTL longer than the run (the live points
must not go stale); for the no-push baseline add GISBI_RADAR_INTERVAL=1h: moves
wake nearby watchers, whose pushes (frames without our requestId) the generator
counts and discards. --box is not used.

`

// parseFlags turns the command line into a validated scenario.
func parseFlags(args []string, stderr io.Writer) (loadgen.Config, options, error) {
	cfg := loadgen.Defaults()
	var opts options
	fs := pflag.NewFlagSet("gisbi-load", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gisbi-load [flags]\n\nSimulates users against a running gisbi server; see README \"Load testing\".\n"+
			"Durations marked (server clock) are in the server's time: the generator waits them divided by --clock-speed.\n\n"+radarHelp)
		fs.PrintDefaults()
	}
	box := cfg.Box.String()
	allow := ""
	fs.StringSliceVar(&cfg.Servers, "server", cfg.Servers, "server base URL; several (comma-separated or repeated) for the nodes of a cluster: users get a home node round-robin and fail over to the others")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "mixed (walk, pair, BLE, chat) or radar (live points, then closed-loop location updates: see above)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "radar: closed-loop sockets, the first conns users")
	fs.IntVar(&cfg.Queries, "queries", cfg.Queries, "radar: updates in all, queries/conns per socket; 0 runs for --duration")
	fs.StringVar(&cfg.Dialect, "dialect", cfg.Dialect, "socket dialect: ws (/ws), or socket (the legacy /socket: idle sessions only, with --pairs 0 --location-every 0 --chat-rate 0)")
	fs.IntVar(&cfg.Users, "users", cfg.Users, "simulated users, one socket each")
	fs.IntVar(&cfg.Pairs, "pairs", cfg.Pairs, "pairs formed through request/accept among the first 2×pairs users")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "length of the traffic phase (real time), after set-up")
	fs.BoolVar(&cfg.BLE, "ble", cfg.BLE, "run BLE proximity for the pairs (--ble=false: radar and chat only)")
	fs.Float64Var(&cfg.ClockSpeed, "clock-speed", cfg.ClockSpeed, "the server's GISBI_CLOCK_SPEED")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", cfg.Heartbeat, "BLE heartbeat interval per participant (server clock), 1s to <15s")
	fs.DurationVar(&cfg.HeartbeatTimeout, "heartbeat-timeout", cfg.HeartbeatTimeout, "the server's GISBI_HEARTBEAT_TIMEOUT (server clock)")
	fs.DurationVar(&cfg.ProximityGrace, "proximity-grace", cfg.ProximityGrace, "the server's GISBI_PROXIMITY_GRACE (server clock)")
	fs.DurationVar(&cfg.RotateBefore, "ble-rotate-before", cfg.RotateBefore, "the server's GISBI_BLE_TOKEN_ROTATE_BEFORE (server clock)")
	fs.DurationVar(&cfg.LocationEvery, "location-every", cfg.LocationEvery, "location update interval per user (server clock); 0 sends none")
	fs.Float64Var(&cfg.WalkSpeed, "walk-speed", cfg.WalkSpeed, "walking speed, metres per server-clock second")
	fs.Float64Var(&cfg.ChatRate, "chat-rate", cfg.ChatRate, "chat messages per real second across all pairs")
	fs.StringVar(&box, "box", box, "city box the users walk in: minLat,minLng,maxLat,maxLng")
	fs.StringVar(&cfg.HandlePrefix, "handle-prefix", cfg.HandlePrefix, "dev-login handle prefix (default: a fresh one per run)")
	fs.StringVar(&cfg.TokensFile, "tokens", cfg.TokensFile, "file of access tokens (one per line, or JSON) instead of dev login")
	fs.StringVar(&cfg.LocalAddrs, "local-addrs", cfg.LocalAddrs, "source IPs: auto (127.0.0.2-127.0.0.33 for a loopback server), none, a,b,c or a-b")
	fs.IntVar(&cfg.LoginConcurrency, "login-concurrency", cfg.LoginConcurrency, "logins in flight")
	fs.IntVar(&cfg.ConnectConcurrency, "connect-concurrency", cfg.ConnectConcurrency, "socket dials, session starts and pair flows in flight")
	fs.Float64Var(&cfg.HTTPRate, "http-rate", cfg.HTTPRate, "the server's GISBI_HTTP_RATE: logins are paced below it per source IP")
	fs.IntVar(&cfg.HTTPBurst, "http-burst", cfg.HTTPBurst, "the server's GISBI_HTTP_BURST")
	fs.Float64Var(&cfg.WSRate, "ws-rate", cfg.WSRate, "the server's GISBI_WS_RATE: the scenario must stay below it per socket")
	fs.DurationVar(&cfg.RequestTimeout, "request-timeout", cfg.RequestTimeout, "an answer later than this is a timeout error")
	fs.DurationVar(&cfg.SetupTimeout, "setup-timeout", cfg.SetupTimeout, "bound on login, connect and pairing")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "with --server-pid: wait after connecting before sampling the server's RSS")
	fs.Float64Var(&cfg.MaxFailFraction, "max-fail", cfg.MaxFailFraction, "fraction of logins, connects, drops and pairs allowed to fail")
	fs.StringVar(&allow, "allow-errors", allow, "comma-separated error codes (with --dialect socket, error event names) that do not fail the run")
	fs.DurationVar(&cfg.TogetherTolerance, "together-tolerance", cfg.TogetherTolerance, "largest together-time error per pair (server clock); 0 = 1.5s + speed×50ms")
	fs.IntSliceVar(&cfg.ServerPIDs, "server-pid", cfg.ServerPIDs, "sample this local process's RSS and CPU (the server); several (comma-separated) are summed, for the nodes of a cluster")
	fs.BoolVar(&opts.json, "json", false, "print the summary alone as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return cfg, opts, err
	}
	if fs.NArg() > 0 {
		return cfg, opts, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if cfg.Scenario == loadgen.ScenarioRadar {
		// The radar scenario sends nothing but its own updates: the mixed
		// scenario's traffic is off unless asked for (and then refused).
		for name, zero := range map[string]func(){
			"pairs": func() { cfg.Pairs = 0 }, "location-every": func() { cfg.LocationEvery = 0 },
			"chat-rate": func() { cfg.ChatRate = 0 }, "ble": func() { cfg.BLE = false },
		} {
			if !fs.Changed(name) {
				zero()
			}
		}
	}
	cfg.Servers = trimList(cfg.Servers)
	b, err := loadgen.ParseBox(box)
	if err != nil {
		return cfg, opts, err
	}
	cfg.Box = b
	cfg.AllowErrors = trimList(strings.Split(allow, ","))
	if err := cfg.Validate(); err != nil {
		return cfg, opts, err
	}
	return cfg, opts, nil
}

// trimList trims the items of a comma-separated flag and drops empty ones
// ("a, b," is a and b).
func trimList(items []string) []string {
	var out []string
	for _, it := range items {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}
