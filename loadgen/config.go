package loadgen

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// minHeartbeat is the server's heartbeat rate limit: a second heartbeat of
// a participant within a second (server clock) is refused.
const minHeartbeat = time.Second

// Socket dialects the generator speaks (the server's protocol.DialectWS and
// protocol.DialectLegacy).
const (
	// DialectWS is `/ws`: typed frames matched to answers by requestId,
	// and a session that starts with session.start.
	DialectWS = "ws"
	// DialectSocket is the legacy `/socket`: `{event, data}` frames both
	// ways, no requestId and no session.start. It has no radar, connection
	// requests or BLE frames, so the generator only holds its sockets idle.
	DialectSocket = "socket"
)

// Scenarios: what the users do once connected.
const (
	// ScenarioMixed is the default: users walk (location updates), pairs
	// form, run BLE proximity and chat.
	ScenarioMixed = "mixed"
	// ScenarioRadar measures the radar as a geospatial server: every user
	// sends one location (the live points), then Conns of them send
	// location updates in a closed loop, each waiting for its radar
	// answer. See radar.go.
	ScenarioRadar = "radar"
)

// Box is the city the users walk in, in degrees.
type Box struct {
	MinLat, MinLng, MaxLat, MaxLng float64
}

// DefaultBox is about 20 km × 20 km of Lagos, the spec's example city.
var DefaultBox = Box{MinLat: 6.40, MinLng: 3.30, MaxLat: 6.58, MaxLng: 3.48}

// ParseBox reads "minLat,minLng,maxLat,maxLng".
func ParseBox(s string) (Box, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return Box{}, fmt.Errorf("box %q: want minLat,minLng,maxLat,maxLng", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return Box{}, fmt.Errorf("box %q: %w", s, err)
		}
		v[i] = f
	}
	return Box{MinLat: v[0], MinLng: v[1], MaxLat: v[2], MaxLng: v[3]}, nil
}

func (b Box) String() string {
	return fmt.Sprintf("%g,%g,%g,%g", b.MinLat, b.MinLng, b.MaxLat, b.MaxLng)
}

// Config is one scenario. Durations marked "server clock" are in the
// server's time; the generator waits them divided by ClockSpeed.
type Config struct {
	// Servers are the base URLs, http(s)://host:port, of the nodes behind
	// a load balancer: user i's home is Servers[i % len], and a dropped
	// socket fails over to the others (see servers.go).
	Servers  []string
	Dialect  string // DialectWS or DialectSocket
	Scenario string // ScenarioMixed or ScenarioRadar

	// The radar scenario: Conns sockets (the first Conns users) send
	// Queries updates in all, a closed loop per socket; with Queries 0
	// they go on for Duration.
	Conns   int
	Queries int

	Users    int           // simulated users (sockets)
	Pairs    int           // pairs formed among the first 2×Pairs users
	Duration time.Duration // real time of the traffic phase, after set-up
	BLE      bool          // run BLE proximity for the pairs

	ClockSpeed float64       // the server's GISBI_CLOCK_SPEED
	Heartbeat  time.Duration // server clock: BLE heartbeat interval per participant

	// The server's proximity settings (server clock), which the generator
	// models to compute the together-time a pair should have.
	HeartbeatTimeout time.Duration // GISBI_HEARTBEAT_TIMEOUT: a side sees its partner this long after a valid scan
	ProximityGrace   time.Duration // GISBI_PROXIMITY_GRACE: a paused run resumes only within this
	RotateBefore     time.Duration // GISBI_BLE_TOKEN_ROTATE_BEFORE: a rotation reaches the owner this long before expiry

	LocationEvery time.Duration // server clock: location update interval per user; 0 = users never send a location
	WalkSpeed     float64       // metres per server-clock second
	ChatRate      float64       // chat messages per real second across all pairs
	Box           Box

	HandlePrefix string // dev-login handles are HandlePrefix + index; empty = a fresh prefix per run
	TokensFile   string // access tokens (one per line, or JSON) instead of dev login

	LocalAddrs         string  // "auto", "none", a comma list or a range a-b of source IPs
	LoginConcurrency   int     // logins in flight
	ConnectConcurrency int     // socket dials and session.starts in flight
	HTTPRate           float64 // the server's http_rate: unauthenticated REST calls per second per source IP
	HTTPBurst          int     // the server's http_burst
	WSRate             float64 // the server's ws_rate: frames per second per socket

	RequestTimeout time.Duration // real: an answer later than this counts as a timeout
	SetupTimeout   time.Duration // real: bound on login + connect + pairing
	Settle         time.Duration // real: wait after connecting before sampling the server's RSS

	MaxFailFraction   float64       // logins, connects, dropped sockets and pairs allowed to fail
	AllowErrors       []string      // error codes that do not fail the run; on /socket, error event names (the dialect has no codes)
	TogetherTolerance time.Duration // server clock: largest |reported − expected| together-time; 0 = auto
	ServerPIDs        []int         // sample these processes' RSS and CPU, summed (same machine only): the server, or the nodes of a cluster
}

// Defaults returns a small radar + chat + BLE scenario against a local
// dev server.
func Defaults() Config {
	return Config{
		Servers:            []string{"http://127.0.0.1:8080"},
		Dialect:            DialectWS,
		Scenario:           ScenarioMixed,
		Conns:              32,
		Users:              100,
		Pairs:              20,
		Duration:           30 * time.Second,
		BLE:                true,
		ClockSpeed:         1,
		Heartbeat:          5 * time.Second,
		HeartbeatTimeout:   15 * time.Second,
		ProximityGrace:     30 * time.Second,
		RotateBefore:       30 * time.Second,
		LocationEvery:      10 * time.Second,
		WalkSpeed:          1.4,
		ChatRate:           10,
		Box:                DefaultBox,
		LocalAddrs:         "auto",
		LoginConcurrency:   64,
		ConnectConcurrency: 64,
		HTTPRate:           20,
		HTTPBurst:          60,
		WSRate:             20,
		RequestTimeout:     10 * time.Second,
		SetupTimeout:       5 * time.Minute,
		Settle:             2 * time.Second,
		MaxFailFraction:    0.01,
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if len(c.Servers) == 0 {
		bad("server: want at least one http(s)://host:port")
	}
	seen := map[string]bool{}
	for _, s := range c.Servers {
		if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("server %q: want http(s)://host:port", s)
		}
		// A URL given twice is a typo, and would give one node twice the
		// users; two spellings of one node (localhost, 127.0.0.1) are allowed.
		if k := strings.TrimRight(s, "/"); seen[k] {
			bad("server %q is given twice", s)
		} else {
			seen[k] = true
		}
	}
	switch c.Dialect {
	case DialectWS:
	case DialectSocket:
		// Everything but an idle socket needs frames the legacy dialect
		// does not have; say which flags ask for them. BLE runs only for
		// pairs, so --pairs 0 rules it out whatever --ble says.
		if busy := c.busyFlags(); len(busy) > 0 {
			bad("dialect socket only holds idle sessions (the legacy dialect has no radar, connection request or BLE frames): "+
				"set %s to 0", strings.Join(busy, ", "))
		}
	default:
		bad("dialect %q: want %s or %s", c.Dialect, DialectWS, DialectSocket)
	}
	switch c.Scenario {
	case ScenarioMixed:
	case ScenarioRadar:
		// The users' locations are the radar points, not a walk, and the
		// closed loop is all the traffic, so nothing else may run.
		if busy := c.busyFlags(); len(busy) > 0 {
			bad("scenario radar sends only its own location updates: set %s to 0", strings.Join(busy, ", "))
		}
		if c.Dialect != DialectWS {
			bad("scenario radar needs dialect ws (the legacy dialect has no radar)")
		}
		if c.Conns < 1 || c.Conns > c.Users {
			bad("conns must be between 1 and users (%d): the closed-loop sockets are the first conns users", c.Users)
		}
		if c.Queries < 0 || (c.Queries > 0 && c.Queries < c.Conns) {
			bad("queries must be 0 (run for --duration) or at least conns (%d)", c.Conns)
		}
	default:
		bad("scenario %q: want %s or %s", c.Scenario, ScenarioMixed, ScenarioRadar)
	}
	if c.Users < 1 {
		bad("users must be at least 1")
	}
	if c.Pairs < 0 || 2*c.Pairs > c.Users {
		bad("pairs must be between 0 and users/2 (%d)", c.Users/2)
	}
	if c.Duration <= 0 {
		bad("duration must be positive")
	}
	if c.ClockSpeed <= 0 || c.ClockSpeed > 3600 {
		bad("clock-speed must be above 0 and at most 3600, as the server's GISBI_CLOCK_SPEED")
	}
	if c.HeartbeatTimeout < minHeartbeat || c.ProximityGrace <= 0 || c.RotateBefore <= 0 {
		bad("heartbeat-timeout must be at least %v, proximity-grace and ble-rotate-before positive", minHeartbeat)
	}
	if c.BLE && c.Pairs > 0 && (c.Heartbeat < minHeartbeat || c.Heartbeat >= c.HeartbeatTimeout) {
		bad("heartbeat must be at least %v and below the %v heartbeat timeout (server clock)", minHeartbeat, c.HeartbeatTimeout)
	}
	if c.LocationEvery < 0 {
		bad("location-every must not be negative (0 sends no locations)")
	}
	if c.WalkSpeed < 0 {
		bad("walk-speed must not be negative")
	}
	if c.ChatRate < 0 {
		bad("chat-rate must not be negative")
	}
	if c.ChatRate > 0 && c.Pairs == 0 {
		bad("chat-rate needs pairs: chat is only allowed on an active connection")
	}
	b := c.Box
	if b.MinLat < -90 || b.MaxLat > 90 || b.MinLng < -180 || b.MaxLng > 180 || b.MinLat >= b.MaxLat || b.MinLng >= b.MaxLng {
		bad("box %v: want minLat<maxLat in -90..90 and minLng<maxLng in -180..180", b)
	}
	if len(c.HandlePrefix) > 40 {
		bad("handle-prefix is longer than 40 characters (handles are at most 64)")
	}
	if _, err := parseLocalAddrs(c.LocalAddrs); err != nil {
		bad("local-addrs: %w", err)
	}
	if c.LoginConcurrency < 1 || c.ConnectConcurrency < 1 {
		bad("login-concurrency and connect-concurrency must be at least 1")
	}
	if c.HTTPRate <= 0 || c.HTTPBurst < 1 || c.WSRate <= 0 {
		bad("http-rate, http-burst and ws-rate must be positive (they are the server's limits)")
	}
	if c.RequestTimeout <= 0 || c.SetupTimeout <= 0 || c.Settle < 0 {
		bad("request-timeout and setup-timeout must be positive, settle not negative")
	}
	if c.MaxFailFraction < 0 || c.MaxFailFraction >= 1 {
		bad("max-fail must be in [0, 1)")
	}
	if c.TogetherTolerance < 0 {
		bad("together-tolerance must not be negative (0 is automatic)")
	}
	if slices.ContainsFunc(c.ServerPIDs, func(p int) bool { return p <= 0 }) {
		bad("server-pid must not be negative")
	}
	if len(errs) == 0 && c.Scenario != ScenarioRadar { // a closed loop has no set rate: see radar.go
		if fps, budget := c.FramesPerSocket(), 0.8*c.WSRate; fps > budget {
			bad("each paired socket would send %.1f frames/s, above 80%% of the server's ws_rate (%.0f/s): "+
				"lengthen --heartbeat or --location-every, lower --chat-rate or --clock-speed, "+
				"or raise GISBI_WS_RATE on the server and pass it as --ws-rate", fps, c.WSRate)
		}
	}
	return errors.Join(errs...)
}

// RealDuration converts a server-clock duration into the real time it takes.
func (c *Config) RealDuration(server time.Duration) time.Duration {
	return time.Duration(float64(server) / c.ClockSpeed)
}

// FramesPerSocket is the steady frame rate, per real second, of the busiest
// socket (a paired one), to keep under the server's ws_rate.
func (c *Config) FramesPerSocket() float64 {
	var f float64
	if c.LocationEvery > 0 {
		f += c.ClockSpeed / c.LocationEvery.Seconds()
	}
	if c.Pairs > 0 {
		if c.BLE {
			f += c.ClockSpeed / c.Heartbeat.Seconds()
		}
		f += c.ChatRate / float64(2*c.Pairs)
	}
	return f
}

// EffectiveHTTPRate is the sustained rate the server's REST limiter really
// admits per key. It is a sliding window of ceil(burst/rate) whole seconds
// whose previous window weighs in by the whole seconds left, so in the
// first second of a window the previous window counts in full: a steady
// client gets burst/(window+1) per second, 15/s for the default 20/s with a
// burst of 60.
func (c *Config) EffectiveHTTPRate() float64 {
	window := max(math.Ceil(float64(c.HTTPBurst)/c.HTTPRate), 1)
	return min(c.HTTPRate, float64(c.HTTPBurst)/(window+1))
}

// Tolerance is the together-time tolerance in server-clock time: the
// configured one, or 1.5 s (the server counts whole seconds) plus 50 ms of
// real timing noise at each end, scaled by the clock speed.
func (c *Config) Tolerance() time.Duration {
	if c.TogetherTolerance > 0 {
		return c.TogetherTolerance
	}
	return 1500*time.Millisecond + time.Duration(c.ClockSpeed*float64(50*time.Millisecond))
}

// busyFlags names the traffic flags that are set: pairs, walking and chat.
func (c *Config) busyFlags() []string {
	var busy []string
	if c.Pairs > 0 {
		busy = append(busy, "--pairs")
	}
	if c.LocationEvery > 0 {
		busy = append(busy, "--location-every")
	}
	if c.ChatRate > 0 {
		busy = append(busy, "--chat-rate")
	}
	return busy
}
