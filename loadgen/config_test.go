package loadgen

import (
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(c *Config)
		wantErr string // "" = valid
	}{
		{"defaults", func(c *Config) {}, ""},
		{"radar only", func(c *Config) { c.Pairs, c.ChatRate = 0, 0 }, ""},
		{"idle", func(c *Config) { c.Pairs, c.ChatRate, c.LocationEvery = 0, 0, 0 }, ""},
		{"no ble keeps chat", func(c *Config) { c.BLE = false }, ""},
		{"bad scheme", func(c *Config) { c.Servers = []string{"ws://x:1"} }, "server"},
		{"no host", func(c *Config) { c.Servers = []string{"http://"} }, "server"},
		{"no server", func(c *Config) { c.Servers = nil }, "at least one"},
		{"three nodes", func(c *Config) {
			c.Servers = []string{"http://127.0.0.1:8080", "http://127.0.0.1:8081/", "https://b.example"}
		}, ""},
		{"one spelling per node", func(c *Config) { c.Servers = []string{"http://127.0.0.1:8080", "http://localhost:8080"} }, ""},
		{"a bad node among good ones", func(c *Config) { c.Servers = []string{"http://127.0.0.1:8080", "127.0.0.1:8081"} }, `server "127.0.0.1:8081"`},
		{"a node twice", func(c *Config) { c.Servers = []string{"http://a:1", "http://b:1", "http://a:1/"} }, `server "http://a:1/" is given twice`},
		{"no users", func(c *Config) { c.Users = 0 }, "users"},
		{"too many pairs", func(c *Config) { c.Users, c.Pairs = 10, 6 }, "pairs"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "duration"},
		{"clock too fast", func(c *Config) { c.ClockSpeed = 4000 }, "clock-speed"},
		{"heartbeat under a second", func(c *Config) { c.Heartbeat = 500 * time.Millisecond }, "heartbeat"},
		{"heartbeat at the timeout", func(c *Config) { c.Heartbeat = 15 * time.Second }, "heartbeat"},
		{"heartbeat ignored without ble", func(c *Config) { c.BLE, c.Heartbeat = false, 0 }, ""},
		{"chat without pairs", func(c *Config) { c.Pairs = 0 }, "chat-rate needs pairs"},
		{"inverted box", func(c *Config) { c.Box = Box{MinLat: 7, MinLng: 3, MaxLat: 6, MaxLng: 4} }, "box"},
		{"long prefix", func(c *Config) { c.HandlePrefix = strings.Repeat("x", 41) }, "handle-prefix"},
		{"bad local addrs", func(c *Config) { c.LocalAddrs = "127.0.0.9-127.0.0.2" }, "local-addrs"},
		{"zero concurrency", func(c *Config) { c.LoginConcurrency = 0 }, "concurrency"},
		{"max-fail one", func(c *Config) { c.MaxFailFraction = 1 }, "max-fail"},
		{"negative tolerance", func(c *Config) { c.TogetherTolerance = -time.Second }, "together-tolerance"},
		{"frames over the ws rate", func(c *Config) { c.ClockSpeed = 60 }, "frames/s"},
		{"fast clock within a raised ws rate", func(c *Config) { c.ClockSpeed, c.WSRate = 60, 100 }, ""},
		{"legacy idle", func(c *Config) { c.Dialect, c.Pairs, c.ChatRate, c.LocationEvery = DialectSocket, 0, 0, 0 }, ""},
		{"legacy idle without ble", func(c *Config) {
			c.Dialect, c.Pairs, c.ChatRate, c.LocationEvery, c.BLE = DialectSocket, 0, 0, 0, false
		}, ""},
		{"legacy with the default traffic", func(c *Config) { c.Dialect = DialectSocket }, "set --pairs, --location-every, --chat-rate to 0"},
		{"legacy with pairs", func(c *Config) { c.Dialect, c.ChatRate, c.LocationEvery = DialectSocket, 0, 0 }, "set --pairs to 0"},
		{"legacy with pairs and no ble", func(c *Config) { c.Dialect, c.ChatRate, c.LocationEvery, c.BLE = DialectSocket, 0, 0, false }, "set --pairs to 0"},
		{"legacy with locations", func(c *Config) { c.Dialect, c.Pairs, c.ChatRate = DialectSocket, 0, 0 }, "set --location-every to 0"},
		{"legacy with chat", func(c *Config) { c.Dialect, c.Pairs, c.LocationEvery = DialectSocket, 0, 0 }, "set --chat-rate to 0"},
		{"unknown dialect", func(c *Config) { c.Dialect = "wss" }, `dialect "wss": want ws or socket`},
		{"no dialect", func(c *Config) { c.Dialect = "" }, `dialect "": want ws or socket`},
		{"radar", func(c *Config) { *c = RadarDefaults() }, ""},
		{"radar for a duration", func(c *Config) { *c = RadarDefaults(); c.Queries = 0 }, ""},
		{"radar, every user a loop", func(c *Config) { *c = RadarDefaults(); c.Users, c.Conns = 32, 32 }, ""},
		{"radar ignores the ws rate: a closed loop has none", func(c *Config) { *c = RadarDefaults(); c.WSRate = 1 }, ""},
		{"radar with the mixed traffic", func(c *Config) { c.Scenario = ScenarioRadar }, "scenario radar sends only its own location updates: set --pairs, --location-every, --chat-rate to 0"},
		{"radar with locations", func(c *Config) { *c = RadarDefaults(); c.LocationEvery = time.Second }, "set --location-every to 0"},
		{"radar on the legacy dialect", func(c *Config) { *c = RadarDefaults(); c.Dialect = DialectSocket }, "needs dialect ws"},
		{"radar with more loops than users", func(c *Config) { *c = RadarDefaults(); c.Users, c.Conns = 10, 11 }, "conns must be between 1 and users (10)"},
		{"radar without loops", func(c *Config) { *c = RadarDefaults(); c.Conns = 0 }, "conns"},
		{"radar, fewer updates than loops", func(c *Config) { *c = RadarDefaults(); c.Queries = 31 }, "queries must be 0"},
		{"radar, negative updates", func(c *Config) { *c = RadarDefaults(); c.Queries = -1 }, "queries"},
		{"unknown scenario", func(c *Config) { c.Scenario = "tile38" }, `scenario "tile38": want mixed or radar`},
		{"fast clock with slow phones", func(c *Config) { c.ClockSpeed, c.LocationEvery, c.Heartbeat = 60, time.Minute, 10*time.Second }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestFramesPerSocket(t *testing.T) {
	c := Defaults()
	c.ClockSpeed, c.LocationEvery, c.Heartbeat, c.Pairs, c.ChatRate = 10, 10*time.Second, 5*time.Second, 10, 20
	// 1 location + 2 heartbeats + 1 chat message per real second.
	if got := c.FramesPerSocket(); math.Abs(got-4) > 1e-9 {
		t.Fatalf("FramesPerSocket = %v, want 4", got)
	}
	c.BLE = false
	if got := c.FramesPerSocket(); math.Abs(got-2) > 1e-9 {
		t.Fatalf("without BLE = %v, want 2", got)
	}
}

func TestEffectiveHTTPRate(t *testing.T) {
	tests := []struct {
		rate  float64
		burst int
		want  float64
	}{
		{20, 60, 15},            // the server defaults: a 3 s window
		{20, 20, 10},            // a 1 s window: the previous second weighs in full
		{1000, 10, 5},           // the window floors at 1 s
		{5, 1000, 1000.0 / 201}, // a 200 s window
	}
	for _, tt := range tests {
		c := Config{HTTPRate: tt.rate, HTTPBurst: tt.burst}
		if got := c.EffectiveHTTPRate(); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("rate %v burst %d: %v, want %v", tt.rate, tt.burst, got, tt.want)
		}
	}
}

func TestTolerance(t *testing.T) {
	c := Defaults()
	if got := c.Tolerance(); got != 1550*time.Millisecond {
		t.Errorf("auto at speed 1 = %v", got)
	}
	c.ClockSpeed = 60
	if got := c.Tolerance(); got != 4500*time.Millisecond {
		t.Errorf("auto at speed 60 = %v", got)
	}
	c.TogetherTolerance = 2 * time.Second
	if got := c.Tolerance(); got != 2*time.Second {
		t.Errorf("explicit = %v", got)
	}
	if got := c.RealDuration(time.Minute); got != time.Second {
		t.Errorf("RealDuration(1m) at ×60 = %v", got)
	}
}

func TestParseBox(t *testing.T) {
	b, err := ParseBox(" 6.4, 3.3,6.58,3.48")
	if err != nil || b != (Box{6.4, 3.3, 6.58, 3.48}) {
		t.Fatalf("ParseBox = %v, %v", b, err)
	}
	if back, _ := ParseBox(b.String()); back != b {
		t.Fatalf("String does not round-trip: %v", b.String())
	}
	for _, bad := range []string{"", "1,2,3", "a,b,c,d", "1,2,3,4,5"} {
		if _, err := ParseBox(bad); err == nil {
			t.Errorf("ParseBox(%q) accepted", bad)
		}
	}
}
