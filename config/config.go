package config

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gisbi/engine/tlscert"
)

// Config is the complete engine configuration.
//
// Each setting's struct tags are the single source of truth for its file key
// (koanf), default (default), help text (desc) and whether it must be kept out
// of logs (secret). The environment variable and flag names are derived from
// the key, so they cannot drift from the README or --help. Fields tagged
// koanf:"-" are filled in by Load and are not settings.
type Config struct {
	Addr    string `koanf:"addr" default:":8080" desc:"Address the HTTP and WebSocket server listens on (host:port). In dev mode it defaults to 127.0.0.1:8080 instead, and a non-loopback address logs a warning."`
	DataDir string `koanf:"data_dir" default:"./data" desc:"Directory for the database and generated keys."`
	Store   string `koanf:"store" default:"" secret:"true" desc:"Where the data lives: empty or bbolt for the embedded database file in data_dir (one node), or a postgres:// URL of a PostgreSQL database that every node of a cluster shares (e.g. postgres://gisbi:secret@db:5432/gisbi?sslmode=require). Start-up fails with a clear error when the database cannot be reached."`
	Dev     bool   `koanf:"dev" default:"false" desc:"Development mode: accepts any WebSocket origin, http JWKS and push endpoint URLs and a clock speed other than 1. Never enable in production."`

	// Cluster membership. With etcd, several nodes form one cluster and
	// share the store, so the store must be PostgreSQL.
	ClusterProvider  string   `koanf:"cluster_provider" default:"local" desc:"How nodes find each other: local for a cluster of this one node, or etcd for a cluster of every node registered in etcd_endpoints under the same cluster_name (store must then be a postgres:// URL that every node shares)."`
	EtcdEndpoints    []string `koanf:"etcd_endpoints" default:"" desc:"Comma-separated host:port client addresses of the etcd cluster; required when cluster_provider is etcd. Start-up fails with a clear error when etcd does not answer."`
	ClusterName      string   `koanf:"cluster_name" default:"gisbi" desc:"Name of the cluster (1 to 64 letters, digits, '.', '-' or '_'): nodes with the same name form one cluster, and the name keeps two clusters that share an etcd apart."`
	ClusterBind      string   `koanf:"cluster_bind" default:"127.0.0.1:0" desc:"host:port the node's cluster endpoint (gRPC, node to node) listens on; port 0 picks a free port."`
	ClusterAdvertise string   `koanf:"cluster_advertise" default:"" desc:"host:port other nodes dial to reach this one; empty means the address cluster_bind actually listens on, which must then name a host (not 0.0.0.0 or an empty host) when cluster_provider is etcd."`

	// TLS served by the binary itself, for operators with no proxy in front.
	TLSCertFile string `koanf:"tls_cert_file" default:"" desc:"PEM certificate file (the server's certificate first, then any intermediates, as in certbot's fullchain.pem). With tls_key_file, addr serves HTTPS and WSS instead of HTTP; both files are read again on SIGHUP and when they change. Empty means plain HTTP."`
	TLSKeyFile  string `koanf:"tls_key_file" default:"" desc:"PEM private key file of the certificate in tls_cert_file; set both or neither."`

	JWTKeyFile string        `koanf:"jwt_key_file" default:"" desc:"File holding the JWT signing key; empty means jwt.key inside data_dir."`
	JWTIssuer  string        `koanf:"jwt_issuer" default:"gisbi" desc:"Issuer (iss claim) of the tokens this server signs and accepts."`
	AccessTTL  time.Duration `koanf:"access_ttl" default:"15m" desc:"Lifetime of access tokens (Go duration, e.g. 15m)."`
	RefreshTTL time.Duration `koanf:"refresh_ttl" default:"720h" desc:"Lifetime of refresh tokens; must be longer than access_ttl."`

	GoogleClientIDs []string `koanf:"google_client_ids" default:"" desc:"Comma-separated OAuth client IDs accepted as audience of Google ID tokens; empty disables Google sign-in."`
	GoogleJWKSURL   string   `koanf:"google_jwks_url" default:"https://www.googleapis.com/oauth2/v3/certs" desc:"URL of Google's signing keys (JWKS); https unless dev mode."`
	AppleClientIDs  []string `koanf:"apple_client_ids" default:"" desc:"Comma-separated client (services) IDs accepted as audience of Apple ID tokens; empty disables Sign in with Apple."`
	AppleJWKSURL    string   `koanf:"apple_jwks_url" default:"https://appleid.apple.com/auth/keys" desc:"URL of Apple's signing keys (JWKS); https unless dev mode."`
	// JWKSRefetch rate-limits key refetches triggered by unknown key ids, so
	// forged kids cannot make us hammer the provider.
	JWKSRefetch time.Duration `koanf:"jwks_refetch_interval" default:"1m" desc:"Least time between two fetches of a provider's JWKS caused by an unknown key id."`

	FirebaseCredentialsFile string `koanf:"firebase_credentials_file" default:"" desc:"Firebase service-account JSON file; empty disables Firebase. Must exist when set."`

	// Push notifications to offline users. Each provider is on when its
	// credentials file is set; with neither, push is off.
	FCMCredentialsFile string `koanf:"fcm_credentials_file" default:"" desc:"Google service-account JSON file for Firebase Cloud Messaging (Android and web push); empty disables FCM. Must exist when set."`
	FCMEndpoint        string `koanf:"fcm_endpoint" default:"https://fcm.googleapis.com" desc:"Base URL of the FCM HTTP v1 API; https unless dev mode."`
	FCMTokenURL        string `koanf:"fcm_token_url" default:"" desc:"OAuth token URL for FCM; empty means the token_uri of the credentials file. https unless dev mode."`
	APNsKeyFile        string `koanf:"apns_key_file" default:"" desc:"APNs auth key (.p8, PKCS#8 EC P-256) for iOS push; empty disables APNs. Must exist when set, and then apns_key_id, apns_team_id and apns_topic are required."`
	APNsKeyID          string `koanf:"apns_key_id" default:"" desc:"Key ID of the APNs auth key (10 letters or digits)."`
	APNsTeamID         string `koanf:"apns_team_id" default:"" desc:"Apple developer team ID that owns the APNs key (10 letters or digits)."`
	APNsTopic          string `koanf:"apns_topic" default:"" desc:"APNs topic: the iOS app's bundle ID."`
	APNsEndpoint       string `koanf:"apns_endpoint" default:"https://api.push.apple.com" desc:"Base URL of APNs (https://api.sandbox.push.apple.com for development builds); https unless dev mode."`
	PushWorkers        int    `koanf:"push_workers" default:"4" desc:"Concurrent push deliveries (1 to 1000)."`
	PushQueue          int    `koanf:"push_queue" default:"10000" desc:"Push notifications waiting for a worker (1 to 1000000); when full, new ones are dropped rather than delaying the sender."`
	PushRetries        int    `koanf:"push_retries" default:"3" desc:"Retries of a push after a transient provider error, with exponential backoff (0 to 10)."`

	AllowedOrigins []string `koanf:"allowed_origins" default:"" desc:"Comma-separated browser origins (scheme://host[:port]) allowed to open WebSockets; dev mode accepts any origin."`
	AdminToken     string   `koanf:"admin_token" default:"" secret:"true" desc:"Bearer token for the operator API, at least 16 characters; empty disables the operator API."`

	MaxFrameBytes     int     `koanf:"max_frame_bytes" default:"65536" desc:"Largest WebSocket frame accepted, in bytes (1024 to 16777216)."`
	ClockSpeed        float64 `koanf:"clock_speed" default:"1" desc:"Game clock speed multiplier, above 0 and at most 3600; anything but 1 requires dev mode."`
	ClockStart        string  `koanf:"clock_start" default:"" desc:"Dev mode only: the instant (RFC 3339, e.g. 2026-03-14T18:25:00Z) the game clock reads at start-up instead of now, running at clock_speed from there; every start begins there again. Empty means now."`
	MaxBodyBytes      int     `koanf:"max_body_bytes" default:"1048576" desc:"Largest REST request body, in bytes."`
	WSRate            float64 `koanf:"ws_rate" default:"20" desc:"Frames per second a socket may send on average."`
	WSBurst           int     `koanf:"ws_burst" default:"40" desc:"Frames a socket may send in a burst above ws_rate."`
	WSSendQueue       int     `koanf:"ws_send_queue" default:"256" desc:"Outbound frames queued per socket; a socket whose queue is full is closed."`
	WSSendQueueBytes  int     `koanf:"ws_send_queue_bytes" default:"1048576" desc:"Outbound bytes queued per socket (at least 1024; one frame is always taken); a socket whose queue is full is closed."`
	MaxSocketsPerUser int     `koanf:"max_sockets_per_user" default:"10" desc:"Concurrent WebSocket connections allowed per user."`
	HTTPRate          float64 `koanf:"http_rate" default:"20" desc:"REST requests per second allowed per client on average."`
	HTTPBurst         int     `koanf:"http_burst" default:"60" desc:"REST requests a client may send in a burst above http_rate."`

	WSPingInterval time.Duration `koanf:"ws_ping_interval" default:"30s" desc:"Interval between WebSocket pings."`
	ReconnectGrace time.Duration `koanf:"reconnect_grace" default:"10s" desc:"How long a user whose last socket closed stays on others' radar, so a reconnect does not flicker."`

	RadarRadiusM  float64       `koanf:"radar_radius_m" default:"1000" desc:"Radar radius in metres (10 to 50000)."`
	RadarLimit    int           `koanf:"radar_limit" default:"50" desc:"Most users a radar answer lists, nearest first (1 to 500)."`
	PresenceTTL   time.Duration `koanf:"presence_ttl" default:"2m" desc:"How long a location stays live without a new update."`
	RadarInterval time.Duration `koanf:"radar_interval" default:"2s" desc:"Least time between two pushed radar.nearby.updated frames to one user; while the node is behind it stretches up to 8× (gisbi_radar_push_interval_seconds)."`

	RequestTTL time.Duration `koanf:"request_ttl" default:"10m" desc:"How long a connection request stays pending before it is missed."`

	// Proximity: paired users accumulate together-time while their phones see
	// each other over BLE and report it in heartbeats.
	BLETokenTTL             time.Duration `koanf:"ble_token_ttl" default:"90s" desc:"Lifetime of a participant's BLE advertising token."`
	BLETokenRotateBefore    time.Duration `koanf:"ble_token_rotate_before" default:"30s" desc:"How long before a BLE token expires its owner is sent the next one; must be shorter than ble_token_ttl."`
	HeartbeatTimeout        time.Duration `koanf:"heartbeat_timeout" default:"15s" desc:"How long after its last valid heartbeat a participant still counts as seeing its partner; at least 1s, since heartbeats are limited to one per second."`
	ProximityGrace          time.Duration `koanf:"proximity_grace" default:"30s" desc:"How long a paused run can still resume if both participants see each other again."`
	MilestonesMinutes       []int         `koanf:"milestones_minutes" default:"5,15,30,60,120,240" desc:"Comma-separated together-time milestones in minutes, strictly ascending (at most 32, each 1 to 525600); a milestone's giftTier is its position, starting at 1."`
	RSSIMin                 int           `koanf:"rssi_min" default:"-90" desc:"Weakest heartbeat signal accepted, in dBm (-127 to 20, at most rssi_max)."`
	RSSIMax                 int           `koanf:"rssi_max" default:"-40" desc:"Strongest heartbeat signal accepted, in dBm (-127 to 20); heartbeats outside rssi_min to rssi_max, inclusive, are rejected."`
	ProximitySnapshot       time.Duration `koanf:"proximity_snapshot" default:"5s" desc:"How often an active run's together-time is saved; a crash loses at most this much."`
	ProximityMaxDistanceM   float64       `koanf:"proximity_max_distance_m" default:"250" desc:"Distance in metres (1 to 100000) beyond which two fresh GPS fixes make a heartbeat a location_mismatch."`
	ProximityUpdateInterval time.Duration `koanf:"proximity_update_interval" default:"30s" desc:"How often an active run pushes proximity.session.updated to both participants, besides on state changes."`

	// Sponsored rewards.
	DayTimezone              string `koanf:"day_timezone" default:"UTC" desc:"IANA time zone (e.g. Africa/Lagos) whose calendar days split together-time for the daily reward rules."`
	SponsorCodeMissesPerHour int    `koanf:"sponsor_code_misses_per_hour" default:"30" desc:"Lookups of unknown redemption codes a sponsor key may make per hour (1 to 100000) before its lookups answer rate_limited; guessing codes is counted in gisbi_reward_code_misses_total."`

	// Daily social score; its days are those of day_timezone.
	ScoreCatalogFile string `koanf:"score_catalog_file" default:"" desc:"Action catalog of the daily social score, JSON (.json) or YAML (.yaml, .yml) by extension; empty means the built-in catalog (the spec's social and mindfulness sections). Checked at start-up."`

	ShutdownTimeout time.Duration `koanf:"shutdown_timeout" default:"15s" desc:"How long shutdown waits for connections and work to drain."`

	LogLevel  string `koanf:"log_level" default:"info" desc:"Log level: debug, info, warn or error."`
	LogFormat string `koanf:"log_format" default:"text" desc:"Log format: text or json."`

	// ConfigFile is the file Load read settings from, empty if none; kept so
	// start-up logs can say where the configuration came from.
	ConfigFile string `koanf:"-"`
	// Warnings are problems that should be logged but must not stop start-up,
	// such as unknown GISBI_ environment variables left over from old deployments.
	Warnings []string `koanf:"-"`
}

// DayLocation is the zone of day_timezone (validated: it loads).
func (c *Config) DayLocation() *time.Location {
	loc, err := time.LoadLocation(c.DayTimezone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// ClockStartTime is the instant clock_start names; zero when it is empty
// (validated: it parses).
func (c *Config) ClockStartTime() time.Time {
	t, err := time.Parse(time.RFC3339Nano, c.ClockStart)
	if err != nil {
		return time.Time{}
	}
	return t
}

// Limits the validation enforces; named so tests and messages agree.
const (
	minFrameBytes     = 1024
	maxFrameBytes     = 16 << 20
	maxClockSpeed     = 3600
	minAdminTokenLen  = 16
	maxPushWorkers    = 1000
	maxPushQueue      = 1_000_000
	maxPushRetries    = 10
	appleIDLen        = 10
	defaultJWTKeyName = "jwt.key"

	// Heartbeats are rate limited to one per second, so a shorter timeout
	// could never keep a run active.
	minHeartbeatTimeout = time.Second
	maxMilestones       = 32
	maxMilestoneMinutes = 525600 // one year
	minRSSI             = -127
	maxRSSI             = 20
	minProximityDistM   = 1
	maxProximityDistM   = 100000
)

// Defaults returns the configuration used when no file, environment variable
// or flag sets anything.
func Defaults() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for _, f := range fields {
		// The defaults were already parsed when the table was built, so this
		// cannot fail.
		_ = f.set(v.Field(f.index), f.Default)
	}
	return c
}

// JWTKeyPath is where the JWT signing key lives. An empty jwt_key_file follows
// data_dir so that moving the data directory moves the key with it.
func (c *Config) JWTKeyPath() string {
	if c.JWTKeyFile != "" {
		return c.JWTKeyFile
	}
	return filepath.Join(c.DataDir, defaultJWTKeyName)
}

// Validate reports every invalid setting at once, so an operator fixes them in
// one round trip instead of one restart per mistake. Each problem is a
// *SettingError.
func (c *Config) Validate() error {
	var v validator

	v.check(c.Addr != "", "addr", "must not be empty")
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			v.add("addr", fmt.Sprintf("%q is not a host:port address", c.Addr), err)
		}
	}
	v.check(c.DataDir != "", "data_dir", "must not be empty")
	v.store(c.Store)
	v.cluster(c)
	v.tlsPair(c.TLSCertFile, c.TLSKeyFile)
	v.check(c.JWTIssuer != "", "jwt_issuer", "must not be empty")

	v.check(c.AccessTTL > 0, "access_ttl", fmt.Sprintf("must be greater than 0, got %s", c.AccessTTL))
	v.check(c.RefreshTTL > 0, "refresh_ttl", fmt.Sprintf("must be greater than 0, got %s", c.RefreshTTL))
	if c.AccessTTL > 0 && c.RefreshTTL > 0 {
		v.check(c.RefreshTTL > c.AccessTTL, "refresh_ttl",
			fmt.Sprintf("must be longer than GISBI_ACCESS_TTL (%s), got %s", c.AccessTTL, c.RefreshTTL))
	}

	v.secureURL("google_jwks_url", c.GoogleJWKSURL, c.Dev)
	v.secureURL("apple_jwks_url", c.AppleJWKSURL, c.Dev)

	v.regularFile("firebase_credentials_file", c.FirebaseCredentialsFile)

	v.regularFile("fcm_credentials_file", c.FCMCredentialsFile)
	v.secureURL("fcm_endpoint", c.FCMEndpoint, c.Dev)
	if c.FCMTokenURL != "" {
		v.secureURL("fcm_token_url", c.FCMTokenURL, c.Dev)
	}
	v.regularFile("apns_key_file", c.APNsKeyFile)
	v.appleID("apns_key_id", c.APNsKeyID, c.APNsKeyFile != "")
	v.appleID("apns_team_id", c.APNsTeamID, c.APNsKeyFile != "")
	switch {
	case c.APNsTopic == "" && c.APNsKeyFile != "":
		v.add("apns_topic", "must be set when GISBI_APNS_KEY_FILE is set", nil)
	case c.APNsTopic != "" && !isBundleID(c.APNsTopic):
		v.add("apns_topic", fmt.Sprintf("%q is not a bundle ID (letters, digits, '.' and '-')", c.APNsTopic), nil)
	}
	v.secureURL("apns_endpoint", c.APNsEndpoint, c.Dev)
	v.between("push_workers", c.PushWorkers, 1, maxPushWorkers)
	v.between("push_queue", c.PushQueue, 1, maxPushQueue)
	v.between("push_retries", c.PushRetries, 0, maxPushRetries)

	for _, o := range c.AllowedOrigins {
		if !isOrigin(o) {
			v.add("allowed_origins", fmt.Sprintf("%q is not an origin (want scheme://host[:port])", o), nil)
		}
	}

	// The token itself is never echoed: error messages end up in logs.
	if c.AdminToken != "" && len(c.AdminToken) < minAdminTokenLen {
		v.add("admin_token", fmt.Sprintf("must be at least %d characters, got %d", minAdminTokenLen, len(c.AdminToken)), nil)
	}

	v.check(c.MaxFrameBytes >= minFrameBytes && c.MaxFrameBytes <= maxFrameBytes, "max_frame_bytes",
		fmt.Sprintf("must be between %d and %d, got %d", minFrameBytes, maxFrameBytes, c.MaxFrameBytes))

	switch {
	case !(c.ClockSpeed > 0 && c.ClockSpeed <= maxClockSpeed): // also catches NaN
		v.add("clock_speed", fmt.Sprintf("must be greater than 0 and at most %d, got %v", maxClockSpeed, c.ClockSpeed), nil)
	case c.ClockSpeed != 1 && !c.Dev:
		// A fast clock in production would expire games and timers early
		// for real players, so it is only for testing.
		v.add("clock_speed", fmt.Sprintf("%v requires dev mode (GISBI_DEV=true or --dev); production runs at 1", c.ClockSpeed), nil)
	}
	if c.ClockStart != "" {
		// A shifted clock in production would stamp every record with a
		// made-up time, so it is only for testing, like the speed.
		if _, err := time.Parse(time.RFC3339Nano, c.ClockStart); err != nil {
			v.add("clock_start", fmt.Sprintf("%q is not an RFC 3339 time such as 2026-03-14T18:25:00Z", c.ClockStart), err)
		} else if !c.Dev {
			v.add("clock_start", "requires dev mode (GISBI_DEV=true or --dev); production starts at the current time", nil)
		}
	}
	if c.ScoreCatalogFile != "" {
		if _, err := LoadScoreCatalog(c.ScoreCatalogFile); err != nil {
			v.add("score_catalog_file", err.Error(), err)
		}
	}

	v.atLeast("max_body_bytes", c.MaxBodyBytes, 1)
	v.positiveRate("ws_rate", c.WSRate)
	v.atLeast("ws_burst", c.WSBurst, 1)
	v.atLeast("ws_send_queue", c.WSSendQueue, 1)
	v.atLeast("ws_send_queue_bytes", c.WSSendQueueBytes, 1024)
	v.atLeast("max_sockets_per_user", c.MaxSocketsPerUser, 1)
	v.positiveRate("http_rate", c.HTTPRate)
	v.atLeast("http_burst", c.HTTPBurst, 1)

	v.check(c.WSPingInterval > 0, "ws_ping_interval", fmt.Sprintf("must be greater than 0, got %s", c.WSPingInterval))
	v.check(c.ReconnectGrace >= 0, "reconnect_grace", fmt.Sprintf("must not be negative, got %s", c.ReconnectGrace))
	v.check(c.RadarRadiusM >= 10 && c.RadarRadiusM <= 50000, "radar_radius_m", fmt.Sprintf("must be between 10 and 50000, got %v", c.RadarRadiusM))
	v.check(c.RadarLimit >= 1 && c.RadarLimit <= 500, "radar_limit", fmt.Sprintf("must be between 1 and 500, got %d", c.RadarLimit))
	v.check(c.PresenceTTL > 0, "presence_ttl", fmt.Sprintf("must be greater than 0, got %s", c.PresenceTTL))
	v.check(c.RequestTTL > 0, "request_ttl", fmt.Sprintf("must be greater than 0, got %s", c.RequestTTL))
	v.proximity(c)
	v.check(c.RadarInterval > 0, "radar_interval", fmt.Sprintf("must be greater than 0, got %s", c.RadarInterval))
	v.check(c.JWKSRefetch >= 0, "jwks_refetch_interval", fmt.Sprintf("must not be negative, got %s", c.JWKSRefetch))
	v.check(c.ShutdownTimeout > 0, "shutdown_timeout", fmt.Sprintf("must be greater than 0, got %s", c.ShutdownTimeout))

	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	v.oneOf("log_format", c.LogFormat, "text", "json")

	return errors.Join(v.errs...)
}

// LogValue lets the configuration be logged at start-up without leaking
// secrets. It has a value receiver so that logging a Config or a *Config both
// redact.
func (c Config) LogValue() slog.Value {
	v := reflect.ValueOf(c)
	attrs := make([]slog.Attr, 0, len(fields)+1)
	if c.ConfigFile != "" {
		attrs = append(attrs, slog.String("config_file", c.ConfigFile))
	}
	for _, f := range fields {
		fv := v.Field(f.index)
		if f.Secret && !fv.IsZero() {
			attrs = append(attrs, slog.String(f.Key, "[redacted]"))
			continue
		}
		attrs = append(attrs, slog.Any(f.Key, fv.Interface()))
	}
	return slog.GroupValue(attrs...)
}

// validator collects problems so Validate can report all of them.
type validator struct {
	errs []error
}

func (v *validator) add(key, reason string, cause error) {
	v.errs = append(v.errs, &SettingError{Setting: mustSetting(key), Reason: reason, Err: cause})
}

func (v *validator) check(ok bool, key, reason string) {
	if !ok {
		v.add(key, reason, nil)
	}
}

func (v *validator) atLeast(key string, got, min int) {
	v.check(got >= min, key, fmt.Sprintf("must be at least %d, got %d", min, got))
}

func (v *validator) between(key string, got, min, max int) {
	v.check(got >= min && got <= max, key, fmt.Sprintf("must be between %d and %d, got %d", min, max, got))
}

// regularFile checks an optional file setting: empty is fine, anything else
// must name a readable regular file now rather than fail on first use.
func (v *validator) regularFile(key, path string) {
	if path == "" {
		return
	}
	st, err := os.Stat(path)
	switch {
	case err != nil:
		v.add(key, fmt.Sprintf("cannot use %q", path), err)
	case !st.Mode().IsRegular():
		v.add(key, fmt.Sprintf("%q is not a regular file", path), nil)
	}
}

// tlsPair checks the TLS files together: one without the other would
// serve nothing, and a pair that does not load is better found now than at
// the first handshake. A problem is reported on the file at fault.
func (v *validator) tlsPair(certFile, keyFile string) {
	switch {
	case certFile == "" && keyFile == "":
	case certFile == "":
		v.add("tls_cert_file", "must be set when GISBI_TLS_KEY_FILE is set", nil)
	case keyFile == "":
		v.add("tls_key_file", "must be set when GISBI_TLS_CERT_FILE is set", nil)
	default:
		if _, err := tlscert.Load(certFile, keyFile); err != nil {
			key := "tls_cert_file"
			if fe, ok := errors.AsType[*tlscert.FileError](err); ok && fe.Key {
				key = "tls_key_file"
			}
			v.add(key, err.Error(), err)
		}
	}
}

// appleID checks a key or team ID from the Apple developer account, which
// are 10 letters or digits; required says the APNs key file needs it.
func (v *validator) appleID(key, id string, required bool) {
	switch {
	case id == "" && required:
		v.add(key, "must be set when GISBI_APNS_KEY_FILE is set", nil)
	case id != "" && (len(id) != appleIDLen || !isAlnum(id)):
		v.add(key, fmt.Sprintf("%q must be %d letters or digits", id, appleIDLen), nil)
	}
}

// proximity checks the proximity settings, reporting a relation between two
// settings on the one that names the other.
func (v *validator) proximity(c *Config) {
	v.check(c.BLETokenTTL > 0, "ble_token_ttl", fmt.Sprintf("must be greater than 0, got %s", c.BLETokenTTL))
	v.check(c.BLETokenRotateBefore > 0, "ble_token_rotate_before", fmt.Sprintf("must be greater than 0, got %s", c.BLETokenRotateBefore))
	if c.BLETokenTTL > 0 && c.BLETokenRotateBefore > 0 {
		v.check(c.BLETokenRotateBefore < c.BLETokenTTL, "ble_token_rotate_before",
			fmt.Sprintf("must be shorter than GISBI_BLE_TOKEN_TTL (%s), got %s", c.BLETokenTTL, c.BLETokenRotateBefore))
	}
	v.check(c.HeartbeatTimeout >= minHeartbeatTimeout, "heartbeat_timeout",
		fmt.Sprintf("must be at least %s (heartbeats are limited to one per second), got %s", minHeartbeatTimeout, c.HeartbeatTimeout))
	v.check(c.ProximityGrace > 0, "proximity_grace", fmt.Sprintf("must be greater than 0, got %s", c.ProximityGrace))
	v.milestones("milestones_minutes", c.MilestonesMinutes)
	if _, err := time.LoadLocation(c.DayTimezone); err != nil || c.DayTimezone == "" || c.DayTimezone == "Local" {
		v.add("day_timezone", fmt.Sprintf("must be an IANA time zone name such as UTC or Africa/Lagos, got %q", c.DayTimezone), nil)
	}
	v.between("sponsor_code_misses_per_hour", c.SponsorCodeMissesPerHour, 1, 100000)

	v.between("rssi_min", c.RSSIMin, minRSSI, maxRSSI)
	v.between("rssi_max", c.RSSIMax, minRSSI, maxRSSI)
	if inRange(c.RSSIMin, minRSSI, maxRSSI) && inRange(c.RSSIMax, minRSSI, maxRSSI) {
		v.check(c.RSSIMin <= c.RSSIMax, "rssi_min",
			fmt.Sprintf("must be at most GISBI_RSSI_MAX (%d), got %d", c.RSSIMax, c.RSSIMin))
	}

	v.check(c.ProximitySnapshot > 0, "proximity_snapshot", fmt.Sprintf("must be greater than 0, got %s", c.ProximitySnapshot))
	v.check(c.ProximityMaxDistanceM >= minProximityDistM && c.ProximityMaxDistanceM <= maxProximityDistM, "proximity_max_distance_m",
		fmt.Sprintf("must be between %d and %d, got %v", minProximityDistM, maxProximityDistM, c.ProximityMaxDistanceM))
	v.check(c.ProximityUpdateInterval > 0, "proximity_update_interval", fmt.Sprintf("must be greater than 0, got %s", c.ProximityUpdateInterval))
}

// milestones checks a list of minutes whose positions are gift tiers: a
// repeat or a step back would make two tiers fire at once or never.
func (v *validator) milestones(key string, ms []int) {
	switch {
	case len(ms) == 0:
		v.add(key, "must not be empty", nil)
		return
	case len(ms) > maxMilestones:
		v.add(key, fmt.Sprintf("must have at most %d entries, got %d", maxMilestones, len(ms)), nil)
		return
	}
	for i, m := range ms {
		if !inRange(m, 1, maxMilestoneMinutes) {
			v.add(key, fmt.Sprintf("%d is not between 1 and %d minutes", m, maxMilestoneMinutes), nil)
		}
		switch {
		case i == 0:
		case m == ms[i-1]:
			v.add(key, fmt.Sprintf("must be strictly ascending, but %d appears twice", m), nil)
		case m < ms[i-1]:
			v.add(key, fmt.Sprintf("must be strictly ascending, but %d follows %d", m, ms[i-1]), nil)
		}
	}
}

func inRange(got, min, max int) bool { return got >= min && got <= max }

func (v *validator) positiveRate(key string, got float64) {
	v.check(got > 0 && !math.IsInf(got, 0), key, fmt.Sprintf("must be greater than 0, got %v", got))
}

func (v *validator) oneOf(key, got string, allowed ...string) {
	if !slices.Contains(allowed, got) {
		v.add(key, fmt.Sprintf("%q is not one of %v", got, allowed), nil)
	}
}

// secureURL insists on https outside dev mode: JWKS URLs decide which ID
// tokens are trusted, and push endpoints receive provider credentials.
func (v *validator) secureURL(key, raw string, dev bool) {
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		v.add(key, "must not be empty", nil)
	case err != nil:
		v.add(key, fmt.Sprintf("%q is not a URL", raw), err)
	case u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		v.add(key, fmt.Sprintf("%q is not an absolute http(s) URL", raw), nil)
	case u.Scheme == "http" && !dev:
		v.add(key, fmt.Sprintf("%q must use https unless dev mode is on", raw), nil)
	}
}

// isOrigin accepts exactly what browsers send in the Origin header, so that
// a configured value with a path or trailing slash cannot silently never match.
func isOrigin(s string) bool {
	u, err := url.Parse(s)
	if err != nil {
		return false
	}
	return (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" &&
		u.Path == "" && u.RawQuery == "" && u.Fragment == "" && u.User == nil &&
		s == u.Scheme+"://"+u.Host
}

func isAlnum(s string) bool {
	for _, r := range s {
		if !isAlnumRune(r) {
			return false
		}
	}
	return true
}

func isAlnumRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
}

// isBundleID accepts what Apple allows in a bundle ID, which is also the
// APNs topic (optionally with a suffix such as .voip).
func isBundleID(s string) bool {
	for _, r := range s {
		if r != '.' && r != '-' && !isAlnumRune(r) {
			return false
		}
	}
	return s != "" && s[0] != '.' && s[len(s)-1] != '.'
}

// StoreBBolt is the store setting's name for the embedded database.
const StoreBBolt = "bbolt"

// PostgresStore reports whether the store setting names a PostgreSQL
// database (a postgres:// or postgresql:// URL).
func (c *Config) PostgresStore() bool { return IsPostgresURL(c.Store) }

// IsPostgresURL reports whether s has the form of a PostgreSQL URL.
func IsPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// store checks the shape of the store setting; whether the database answers
// is checked when the server opens it. The URL may hold a password, so it
// is never echoed.
func (v *validator) store(s string) {
	switch {
	case s == "" || s == StoreBBolt:
	case IsPostgresURL(s):
		u, err := url.Parse(s)
		if err != nil {
			v.add("store", "is not a valid postgres:// URL", nil)
			return
		}
		v.check(u.Host != "" || u.Query().Get("host") != "", "store", "postgres:// URL names no host")
	default:
		v.add("store", `must be empty, "bbolt" or a postgres:// URL`, nil)
	}
}

// Cluster providers, the values of cluster_provider.
const (
	ClusterLocal = "local"
	ClusterEtcd  = "etcd"
)

// maxClusterName bounds cluster_name, which becomes part of every etcd key.
const maxClusterName = 64

// cluster checks the cluster settings. Addresses are checked for shape
// only; whether etcd answers is checked at start-up.
func (v *validator) cluster(c *Config) {
	v.oneOf("cluster_provider", c.ClusterProvider, ClusterLocal, ClusterEtcd)
	etcd := c.ClusterProvider == ClusterEtcd
	for _, e := range c.EtcdEndpoints {
		if reason := hostPort(e, false); reason != "" {
			v.add("etcd_endpoints", fmt.Sprintf("%q %s", e, reason), nil)
		}
	}
	if etcd && len(c.EtcdEndpoints) == 0 {
		v.add("etcd_endpoints", "must be set when GISBI_CLUSTER_PROVIDER is etcd", nil)
	}
	// The name is a segment of the etcd keys: a '/' would split it.
	if n := c.ClusterName; n == "" || len(n) > maxClusterName || strings.TrimFunc(n, isNameRune) != "" {
		v.add("cluster_name", fmt.Sprintf("%q must be 1 to %d letters, digits, '.', '-' or '_'", n, maxClusterName), nil)
	}
	bindReason := hostPort(c.ClusterBind, true)
	if bindReason != "" {
		v.add("cluster_bind", fmt.Sprintf("%q %s", c.ClusterBind, bindReason), nil)
	}
	if c.ClusterAdvertise != "" {
		if reason := hostPort(c.ClusterAdvertise, false); reason != "" {
			v.add("cluster_advertise", fmt.Sprintf("%q %s", c.ClusterAdvertise, reason), nil)
		}
	} else if etcd && bindReason == "" && !dialable(c.ClusterBind) {
		v.add("cluster_advertise", fmt.Sprintf(
			"must be set when GISBI_CLUSTER_PROVIDER is etcd and GISBI_CLUSTER_BIND (%s) listens on every interface: other nodes need an address to dial", c.ClusterBind), nil)
	}
	// Every node reads and writes the same users, pairs and timers; a bbolt
	// file is seen by one node only, so the others would diverge from it.
	if etcd && !IsPostgresURL(c.Store) {
		v.add("store", "must be a postgres:// URL when GISBI_CLUSTER_PROVIDER is etcd: every node of a cluster must share one state, and the embedded bbolt file is seen by this node only", nil)
	}
}

// hostPort says what is wrong with addr as a host:port address, or "" when
// nothing is. A bind address may leave the host empty (every interface) and
// use port 0 (any free port); an address others dial may not.
func hostPort(addr string, bind bool) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "is not a host:port address"
	}
	n, err := strconv.Atoi(port)
	switch {
	case err != nil || n < 0 || n > 65535:
		return "has no port number from 0 to 65535"
	case !bind && host == "":
		return "names no host to dial"
	case !bind && n == 0:
		return "has port 0, which cannot be dialled"
	}
	return ""
}

// dialable reports whether a bind address names a host that other nodes
// can dial, rather than every interface.
func dialable(bind string) bool {
	host, _, err := net.SplitHostPort(bind)
	if err != nil || host == "" {
		return false
	}
	ip := net.ParseIP(host)
	return ip == nil || !ip.IsUnspecified()
}

func isNameRune(r rune) bool { return r == '.' || r == '-' || r == '_' || isAlnumRune(r) }
