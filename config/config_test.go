package config

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gisbi/engine/tlscert/tlscerttest"
)

// wantDefaults is written out by hand, not derived from the tags, so that a
// changed default tag shows up as a failing test.
var wantDefaults = Config{
	Addr:                     ":8080",
	DataDir:                  "./data",
	ClusterProvider:          "local",
	ClusterName:              "gisbi",
	ClusterBind:              "127.0.0.1:0",
	JWTIssuer:                "gisbi",
	AccessTTL:                15 * time.Minute,
	RefreshTTL:               720 * time.Hour,
	GoogleJWKSURL:            "https://www.googleapis.com/oauth2/v3/certs",
	AppleJWKSURL:             "https://appleid.apple.com/auth/keys",
	MaxFrameBytes:            65536,
	ClockSpeed:               1,
	MaxBodyBytes:             1048576,
	WSRate:                   20,
	WSBurst:                  40,
	WSSendQueue:              256,
	WSSendQueueBytes:         1048576,
	MaxSocketsPerUser:        10,
	HTTPRate:                 20,
	HTTPBurst:                60,
	WSPingInterval:           30 * time.Second,
	ReconnectGrace:           10 * time.Second,
	ShutdownTimeout:          15 * time.Second,
	JWKSRefetch:              time.Minute,
	RadarRadiusM:             1000,
	RadarLimit:               50,
	PresenceTTL:              2 * time.Minute,
	RadarInterval:            2 * time.Second,
	RequestTTL:               10 * time.Minute,
	BLETokenTTL:              90 * time.Second,
	BLETokenRotateBefore:     30 * time.Second,
	HeartbeatTimeout:         15 * time.Second,
	ProximityGrace:           30 * time.Second,
	MilestonesMinutes:        []int{5, 15, 30, 60, 120, 240},
	RSSIMin:                  -90,
	RSSIMax:                  -40,
	ProximitySnapshot:        5 * time.Second,
	ProximityMaxDistanceM:    250,
	ProximityUpdateInterval:  30 * time.Second,
	DayTimezone:              "UTC",
	SponsorCodeMissesPerHour: 30,
	LogLevel:                 "info",
	LogFormat:                "text",
	FCMEndpoint:              "https://fcm.googleapis.com",
	APNsEndpoint:             "https://api.push.apple.com",
	PushWorkers:              4,
	PushQueue:                10000,
	PushRetries:              3,
}

// wantNames are the environment variable and flag names promised to
// operators; they must never change by accident.
var wantNames = map[string]string{
	"GISBI_ADDR":                         "addr",
	"GISBI_DATA_DIR":                     "data-dir",
	"GISBI_STORE":                        "store",
	"GISBI_DEV":                          "dev",
	"GISBI_CLUSTER_PROVIDER":             "cluster-provider",
	"GISBI_ETCD_ENDPOINTS":               "etcd-endpoints",
	"GISBI_CLUSTER_NAME":                 "cluster-name",
	"GISBI_CLUSTER_BIND":                 "cluster-bind",
	"GISBI_CLUSTER_ADVERTISE":            "cluster-advertise",
	"GISBI_TLS_CERT_FILE":                "tls-cert-file",
	"GISBI_TLS_KEY_FILE":                 "tls-key-file",
	"GISBI_JWT_KEY_FILE":                 "jwt-key-file",
	"GISBI_JWT_ISSUER":                   "jwt-issuer",
	"GISBI_ACCESS_TTL":                   "access-ttl",
	"GISBI_REFRESH_TTL":                  "refresh-ttl",
	"GISBI_GOOGLE_CLIENT_IDS":            "google-client-ids",
	"GISBI_GOOGLE_JWKS_URL":              "google-jwks-url",
	"GISBI_APPLE_CLIENT_IDS":             "apple-client-ids",
	"GISBI_APPLE_JWKS_URL":               "apple-jwks-url",
	"GISBI_FIREBASE_CREDENTIALS_FILE":    "firebase-credentials-file",
	"GISBI_FCM_CREDENTIALS_FILE":         "fcm-credentials-file",
	"GISBI_FCM_ENDPOINT":                 "fcm-endpoint",
	"GISBI_FCM_TOKEN_URL":                "fcm-token-url",
	"GISBI_APNS_KEY_FILE":                "apns-key-file",
	"GISBI_APNS_KEY_ID":                  "apns-key-id",
	"GISBI_APNS_TEAM_ID":                 "apns-team-id",
	"GISBI_APNS_TOPIC":                   "apns-topic",
	"GISBI_APNS_ENDPOINT":                "apns-endpoint",
	"GISBI_PUSH_WORKERS":                 "push-workers",
	"GISBI_PUSH_QUEUE":                   "push-queue",
	"GISBI_PUSH_RETRIES":                 "push-retries",
	"GISBI_ALLOWED_ORIGINS":              "allowed-origins",
	"GISBI_ADMIN_TOKEN":                  "admin-token",
	"GISBI_MAX_FRAME_BYTES":              "max-frame-bytes",
	"GISBI_CLOCK_SPEED":                  "clock-speed",
	"GISBI_CLOCK_START":                  "clock-start",
	"GISBI_MAX_BODY_BYTES":               "max-body-bytes",
	"GISBI_WS_RATE":                      "ws-rate",
	"GISBI_WS_BURST":                     "ws-burst",
	"GISBI_WS_SEND_QUEUE":                "ws-send-queue",
	"GISBI_WS_SEND_QUEUE_BYTES":          "ws-send-queue-bytes",
	"GISBI_MAX_SOCKETS_PER_USER":         "max-sockets-per-user",
	"GISBI_HTTP_RATE":                    "http-rate",
	"GISBI_HTTP_BURST":                   "http-burst",
	"GISBI_WS_PING_INTERVAL":             "ws-ping-interval",
	"GISBI_RECONNECT_GRACE":              "reconnect-grace",
	"GISBI_SHUTDOWN_TIMEOUT":             "shutdown-timeout",
	"GISBI_JWKS_REFETCH_INTERVAL":        "jwks-refetch-interval",
	"GISBI_RADAR_RADIUS_M":               "radar-radius-m",
	"GISBI_RADAR_LIMIT":                  "radar-limit",
	"GISBI_PRESENCE_TTL":                 "presence-ttl",
	"GISBI_RADAR_INTERVAL":               "radar-interval",
	"GISBI_REQUEST_TTL":                  "request-ttl",
	"GISBI_BLE_TOKEN_TTL":                "ble-token-ttl",
	"GISBI_BLE_TOKEN_ROTATE_BEFORE":      "ble-token-rotate-before",
	"GISBI_HEARTBEAT_TIMEOUT":            "heartbeat-timeout",
	"GISBI_PROXIMITY_GRACE":              "proximity-grace",
	"GISBI_MILESTONES_MINUTES":           "milestones-minutes",
	"GISBI_RSSI_MIN":                     "rssi-min",
	"GISBI_RSSI_MAX":                     "rssi-max",
	"GISBI_PROXIMITY_SNAPSHOT":           "proximity-snapshot",
	"GISBI_PROXIMITY_MAX_DISTANCE_M":     "proximity-max-distance-m",
	"GISBI_PROXIMITY_UPDATE_INTERVAL":    "proximity-update-interval",
	"GISBI_DAY_TIMEZONE":                 "day-timezone",
	"GISBI_SPONSOR_CODE_MISSES_PER_HOUR": "sponsor-code-misses-per-hour",
	"GISBI_SCORE_CATALOG_FILE":           "score-catalog-file",
	"GISBI_LOG_LEVEL":                    "log-level",
	"GISBI_LOG_FORMAT":                   "log-format",
}

func TestDefaults(t *testing.T) {
	got := Defaults()
	if !reflect.DeepEqual(got, wantDefaults) {
		t.Fatalf("Defaults() =\n%+v\nwant\n%+v", got, wantDefaults)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("Defaults() does not validate: %v", err)
	}
	loaded, err := Load(nil, nil)
	if err != nil {
		t.Fatalf("Load(nil, nil): %v", err)
	}
	if !reflect.DeepEqual(*loaded, wantDefaults) {
		t.Fatalf("Load(nil, nil) =\n%+v\nwant\n%+v", *loaded, wantDefaults)
	}
}

func TestJWTKeyPath(t *testing.T) {
	tests := []struct {
		dataDir, keyFile, want string
	}{
		{"./data", "", filepath.Join("data", "jwt.key")},
		{"/var/lib/gisbi", "", "/var/lib/gisbi/jwt.key"},
		{"/var/lib/gisbi", "/run/secrets/jwt", "/run/secrets/jwt"},
	}
	for _, tt := range tests {
		c := Config{DataDir: tt.dataDir, JWTKeyFile: tt.keyFile}
		if got := c.JWTKeyPath(); got != tt.want {
			t.Errorf("JWTKeyPath(data_dir=%q, jwt_key_file=%q) = %q, want %q", tt.dataDir, tt.keyFile, got, tt.want)
		}
	}
}

func TestSettingsCoverEveryField(t *testing.T) {
	settings := Settings()
	byKey := map[string]Setting{}
	for _, s := range settings {
		byKey[s.Key] = s
	}

	ct := reflect.TypeFor[Config]()
	n := 0
	for i := range ct.NumField() {
		key := ct.Field(i).Tag.Get("koanf")
		if key == "-" {
			continue
		}
		n++
		if _, ok := byKey[key]; !ok {
			t.Errorf("field %s (key %q) missing from Settings()", ct.Field(i).Name, key)
		}
	}
	if n != len(settings) || len(byKey) != len(settings) {
		t.Errorf("Settings() has %d entries (%d distinct keys), Config has %d settings", len(settings), len(byKey), n)
	}

	gotNames := map[string]string{}
	for _, s := range settings {
		gotNames[s.Env] = s.Flag
		if want := "GISBI_" + strings.ToUpper(s.Key); s.Env != want {
			t.Errorf("%s: env %q, want %q", s.Key, s.Env, want)
		}
		if want := strings.ReplaceAll(s.Key, "_", "-"); s.Flag != want {
			t.Errorf("%s: flag %q, want %q", s.Key, s.Flag, want)
		}
		if s.Description == "" || s.Type == "" {
			t.Errorf("%s: empty description or type", s.Key)
		}
	}
	// Settings added later (e.g. push notifications) only need adding here.
	for env, flag := range wantNames {
		if gotNames[env] != flag {
			t.Errorf("setting %s: flag %q, want %q", env, gotNames[env], flag)
		}
	}
	for env := range gotNames {
		if _, ok := wantNames[env]; !ok {
			t.Errorf("setting %s is not listed in wantNames", env)
		}
	}
}

// Every default, written as text the way an operator would, must load back
// to Defaults(); this keeps the documented defaults honest.
func TestDefaultTextRoundTrips(t *testing.T) {
	var environ []string
	var args []string
	for _, s := range Settings() {
		environ = append(environ, s.Env+"="+s.Default)
		args = append(args, "--"+s.Flag+"="+s.Default)
	}
	for name, in := range map[string][2][]string{"env": {nil, environ}, "flags": {args, nil}} {
		got, err := Load(in[0], in[1])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(*got, wantDefaults) {
			t.Errorf("%s: got\n%+v\nwant\n%+v", name, *got, wantDefaults)
		}
	}
}

func TestFlagSetMatchesSettings(t *testing.T) {
	fs := FlagSet()
	for _, s := range Settings() {
		f := fs.Lookup(s.Flag)
		if f == nil {
			t.Errorf("no flag --%s", s.Flag)
			continue
		}
		if f.DefValue != s.Default {
			t.Errorf("--%s default %q, want %q", s.Flag, f.DefValue, s.Default)
		}
		if !strings.Contains(f.Usage, s.Env) {
			t.Errorf("--%s usage does not mention %s: %q", s.Flag, s.Env, f.Usage)
		}
	}
	if fs.Lookup("config") == nil {
		t.Error("no flag --config")
	}
	usage := fs.FlagUsages()
	for _, want := range []string{"--access-ttl duration", "--allowed-origins list", "--milestones-minutes ints", "(default 5,15,30,60,120,240)", "(default -90)"} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage does not contain %q:\n%s", want, usage)
		}
	}
}

func TestMarkdownTable(t *testing.T) {
	table := MarkdownTable()
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if lines[0] != "| setting | env | flag | default | description |" {
		t.Errorf("header = %q", lines[0])
	}
	// Header, separator, --config, then one row per setting.
	if want := 3 + len(Settings()); len(lines) != want {
		t.Errorf("%d lines, want %d", len(lines), want)
	}
	for _, line := range lines {
		if cells := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|"); cells != 6 {
			t.Errorf("row has %d unescaped pipes, want 6: %q", cells, line)
		}
	}
	for _, s := range Settings() {
		if !strings.Contains(table, "| `"+s.Key+"` | `"+s.Env+"` | `--"+s.Flag+"` |") {
			t.Errorf("table has no row for %s", s.Key)
		}
	}
	if !strings.Contains(table, "`GISBI_CONFIG` | `--config`") {
		t.Error("table has no row for --config")
	}
}

func TestREADMEListsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("README.md does not exist yet")
	}
	if err != nil {
		t.Fatal(err)
	}
	names := []string{configEnv}
	for _, s := range Settings() {
		names = append(names, s.Env)
	}
	for _, env := range names {
		if !bytes.Contains(readme, []byte(env)) {
			t.Errorf("README.md does not mention %s; paste config.MarkdownTable() into it", env)
		}
	}
}

func TestValidate(t *testing.T) {
	credentials := filepath.Join(t.TempDir(), "firebase.json")
	if err := os.WriteFile(credentials, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(catalog, []byte("sections:\n  - name: daily\n    actions:\n      - {type: walk, label: Take a walk}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tlsCert, tlsKey, otherKey := tlsFiles(t)
	badCatalog := filepath.Join(t.TempDir(), "catalog.json")
	if err := os.WriteFile(badCatalog, []byte(`{"sections":[{"name":"daily","actions":[{"type":"walk"}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		edit    func(*Config)
		wantEnv string // "" means valid
		want    string
	}{
		{"defaults", func(*Config) {}, "", ""},
		{"firebase file exists", func(c *Config) { c.FirebaseCredentialsFile = credentials }, "", ""},
		{"firebase file missing", func(c *Config) { c.FirebaseCredentialsFile = credentials + ".missing" }, "GISBI_FIREBASE_CREDENTIALS_FILE", "cannot use"},
		{"firebase file is a directory", func(c *Config) { c.FirebaseCredentialsFile = t.TempDir() }, "GISBI_FIREBASE_CREDENTIALS_FILE", "not a regular file"},
		{"tls pair", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = tlsCert, tlsKey }, "", ""},
		{"tls certificate without key", func(c *Config) { c.TLSCertFile = tlsCert }, "GISBI_TLS_KEY_FILE", "must be set when GISBI_TLS_CERT_FILE is set"},
		{"tls key without certificate", func(c *Config) { c.TLSKeyFile = tlsKey }, "GISBI_TLS_CERT_FILE", "must be set when GISBI_TLS_KEY_FILE is set"},
		{"tls certificate missing", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = tlsCert+".missing", tlsKey }, "GISBI_TLS_CERT_FILE", "no such file or directory"},
		{"tls key missing", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = tlsCert, tlsKey+".missing" }, "GISBI_TLS_KEY_FILE", "no such file or directory"},
		{"tls key of another certificate", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = tlsCert, otherKey }, "GISBI_TLS_KEY_FILE", "is not the private key"},
		{"tls files swapped", func(c *Config) { c.TLSCertFile, c.TLSKeyFile = tlsKey, tlsCert }, "GISBI_TLS_CERT_FILE", "holds no PEM certificate"},
		{"refresh equals access", func(c *Config) { c.RefreshTTL = c.AccessTTL }, "GISBI_REFRESH_TTL", "longer than GISBI_ACCESS_TTL"},
		{"http JWKS in production", func(c *Config) { c.GoogleJWKSURL = "http://127.0.0.1:1/keys" }, "GISBI_GOOGLE_JWKS_URL", "must use https"},
		{"http JWKS in dev", func(c *Config) { c.Dev = true; c.AppleJWKSURL = "http://127.0.0.1:1/keys" }, "", ""},
		{"origins", func(c *Config) { c.AllowedOrigins = []string{"https://a.example", "http://localhost:3000"} }, "", ""},
		{"origin with path", func(c *Config) { c.AllowedOrigins = []string{"https://a.example/"} }, "GISBI_ALLOWED_ORIGINS", "not an origin"},
		{"clock speed in dev", func(c *Config) { c.Dev = true; c.ClockSpeed = 60 }, "", ""},
		{"clock speed without dev", func(c *Config) { c.ClockSpeed = 60 }, "GISBI_CLOCK_SPEED", "GISBI_DEV"},
		{"clock start in dev", func(c *Config) { c.Dev = true; c.ClockStart = "2026-03-14T18:25:00Z" }, "", ""},
		{"clock start with offset", func(c *Config) { c.Dev = true; c.ClockStart = "2026-03-14T23:55:00.5+05:30" }, "", ""},
		{"clock start without dev", func(c *Config) { c.ClockStart = "2026-03-14T18:25:00Z" }, "GISBI_CLOCK_START", "GISBI_DEV"},
		{"clock start not a time", func(c *Config) { c.Dev = true; c.ClockStart = "tomorrow" }, "GISBI_CLOCK_START", "not an RFC 3339 time"},
		{"score catalog file", func(c *Config) { c.ScoreCatalogFile = catalog }, "", ""},
		{"score catalog file missing", func(c *Config) { c.ScoreCatalogFile = catalog + ".missing" }, "GISBI_SCORE_CATALOG_FILE", "no such file"},
		{"score catalog file invalid", func(c *Config) { c.ScoreCatalogFile = badCatalog }, "GISBI_SCORE_CATALOG_FILE", "label is required"},
		{"zero reconnect grace", func(c *Config) { c.ReconnectGrace = 0 }, "", ""},
		{"admin token", func(c *Config) { c.AdminToken = "0123456789abcdef" }, "", ""},
		{"fcm file exists", func(c *Config) { c.FCMCredentialsFile = credentials }, "", ""},
		{"fcm file missing", func(c *Config) { c.FCMCredentialsFile = credentials + ".missing" }, "GISBI_FCM_CREDENTIALS_FILE", "cannot use"},
		{"http fcm endpoint in production", func(c *Config) { c.FCMEndpoint = "http://127.0.0.1:1" }, "GISBI_FCM_ENDPOINT", "must use https"},
		{"http fcm endpoints in dev", func(c *Config) {
			c.Dev, c.FCMEndpoint, c.FCMTokenURL = true, "http://127.0.0.1:1", "http://127.0.0.1:1/token"
		}, "", ""},
		{"http apns endpoint in production", func(c *Config) { c.APNsEndpoint = "http://127.0.0.1:1" }, "GISBI_APNS_ENDPOINT", "must use https"},
		{"http apns endpoint in dev", func(c *Config) { c.Dev, c.APNsEndpoint = true, "http://127.0.0.1:1" }, "", ""},
		{"apns complete", func(c *Config) {
			c.APNsKeyFile, c.APNsKeyID, c.APNsTeamID, c.APNsTopic = credentials, "ABC123DEFG", "DEF123GHIJ", "com.example.app"
		}, "", ""},
		{"apns ids without key file", func(c *Config) {
			c.APNsKeyID, c.APNsTeamID, c.APNsTopic = "ABC123DEFG", "DEF123GHIJ", "com.example.app"
		}, "", ""},
		{"apns key file without key id", func(c *Config) {
			c.APNsKeyFile, c.APNsTeamID, c.APNsTopic = credentials, "DEF123GHIJ", "com.example.app"
		}, "GISBI_APNS_KEY_ID", "must be set when GISBI_APNS_KEY_FILE is set"},
		{"apns key file without team id", func(c *Config) {
			c.APNsKeyFile, c.APNsKeyID, c.APNsTopic = credentials, "ABC123DEFG", "com.example.app"
		}, "GISBI_APNS_TEAM_ID", "must be set when GISBI_APNS_KEY_FILE is set"},
		{"apns key file without topic", func(c *Config) {
			c.APNsKeyFile, c.APNsKeyID, c.APNsTeamID = credentials, "ABC123DEFG", "DEF123GHIJ"
		}, "GISBI_APNS_TOPIC", "must be set when GISBI_APNS_KEY_FILE is set"},
		{"no push retries", func(c *Config) { c.PushRetries = 0 }, "", ""},
		{"short admin token", func(c *Config) { c.AdminToken = "0123456789abcde" }, "GISBI_ADMIN_TOKEN", "at least 16"},
		{"rotate just before expiry", func(c *Config) { c.BLETokenRotateBefore = c.BLETokenTTL - time.Nanosecond }, "", ""},
		{"rotate at expiry", func(c *Config) { c.BLETokenRotateBefore = c.BLETokenTTL }, "GISBI_BLE_TOKEN_ROTATE_BEFORE", "shorter than GISBI_BLE_TOKEN_TTL (1m30s)"},
		{"shortest heartbeat timeout", func(c *Config) { c.HeartbeatTimeout = time.Second }, "", ""},
		{"one milestone", func(c *Config) { c.MilestonesMinutes = []int{525600} }, "", ""},
		{"nil milestones", func(c *Config) { c.MilestonesMinutes = nil }, "GISBI_MILESTONES_MINUTES", "must not be empty"},
		{"32 milestones", func(c *Config) { c.MilestonesMinutes = ascending(32) }, "", ""},
		{"33 milestones", func(c *Config) { c.MilestonesMinutes = ascending(33) }, "GISBI_MILESTONES_MINUTES", "at most 32 entries, got 33"},
		{"equal rssi bounds", func(c *Config) { c.RSSIMin, c.RSSIMax = -60, -60 }, "", ""},
		{"rssi bounds swapped", func(c *Config) { c.RSSIMin, c.RSSIMax = -40, -90 }, "GISBI_RSSI_MIN", "must be at most GISBI_RSSI_MAX (-90), got -40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Defaults()
			tt.edit(&c)
			err := c.Validate()
			if tt.wantEnv == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var se *SettingError
			if !errors.As(err, &se) || se.Setting.Env != tt.wantEnv || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want a %s error containing %q", err, tt.wantEnv, tt.want)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Defaults()
	c.Addr = ""
	c.WSBurst = 0
	c.LogFormat = "xml"
	err := c.Validate()
	for _, env := range []string{"GISBI_ADDR", "GISBI_WS_BURST", "GISBI_LOG_FORMAT"} {
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("error %v does not mention %s", err, env)
		}
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	c := Defaults()
	c.AdminToken = "super-secret-token-value"
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("config", "config", c, "ptr", &c)
	out := buf.String()
	if strings.Contains(out, c.AdminToken) {
		t.Fatalf("log leaks the admin token: %s", out)
	}
	for _, want := range []string{`"admin_token":"[redacted]"`, `"addr":":8080"`} {
		if strings.Count(out, want) != 2 {
			t.Errorf("log %s does not contain %s twice", out, want)
		}
	}
}

// ascending returns the milestones 1, 2, ..., n.
func ascending(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

func TestValidateReportsEveryMilestoneProblem(t *testing.T) {
	c := Defaults()
	c.MilestonesMinutes = []int{0, 5, 5, 3, 525601}
	err := c.Validate()
	for _, want := range []string{
		"0 is not between 1 and 525600 minutes",
		"strictly ascending, but 5 appears twice",
		"strictly ascending, but 3 follows 5",
		"525601 is not between 1 and 525600 minutes",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not contain %q", err, want)
		}
	}
}

// The README's configuration table is `gisbi settings`: a setting added or
// reworded in code shows up in the docs.
func TestREADMETableMatchesSettings(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), strings.TrimSpace(MarkdownTable())) {
		t.Error("README.md's configuration table differs from MarkdownTable(); paste the output of `go run ./cmd/gisbi settings`")
	}
}

// tlsFiles writes a certificate for 127.0.0.1, its key, and the key of
// another certificate from the same CA.
func tlsFiles(t *testing.T) (cert, key, otherKey string) {
	t.Helper()
	ca := tlscerttest.NewCA(t)
	cert, key = ca.Issue(t, 2, time.Now().Add(time.Hour)).Files(t)
	_, otherKey = ca.Issue(t, 3, time.Now().Add(time.Hour)).Files(t)
	return cert, key, otherKey
}
