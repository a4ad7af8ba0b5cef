package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// fieldValue reads a setting from c by its environment variable name.
func fieldValue(t *testing.T, c *Config, env string) any {
	t.Helper()
	f, ok := byEnv[env]
	if !ok {
		t.Fatalf("no setting %s", env)
	}
	return reflect.ValueOf(c).Elem().Field(f.index).Interface()
}

// source turns one setting's text into the inputs of Load, so every value
// test runs against the file, the environment and the flags alike.
type source struct {
	name  string
	apply func(t *testing.T, env, value string) (args, environ []string)
}

var sources = []source{
	{"file", func(t *testing.T, env, value string) ([]string, []string) {
		path := writeFile(t, "c.yaml", byEnv[env].Key+": "+strconv.Quote(value)+"\n")
		return []string{"--config", path}, nil
	}},
	{"env", func(_ *testing.T, env, value string) ([]string, []string) {
		return nil, []string{env + "=" + value}
	}},
	{"flag", func(_ *testing.T, env, value string) ([]string, []string) {
		return []string{"--" + byEnv[env].Flag + "=" + value}, nil
	}},
}

// etcdCluster is the environment of a valid etcd cluster member.
var etcdCluster = []string{"GISBI_CLUSTER_PROVIDER=etcd", "GISBI_ETCD_ENDPOINTS=127.0.0.1:2379", "GISBI_STORE=postgres://gisbi@db:5432/gisbi"}

func TestEverySettingParses(t *testing.T) {
	credentials := writeFile(t, "firebase.json", "{}")
	apnsKey := writeFile(t, "AuthKey.p8", "key")
	apnsIDs := []string{"GISBI_APNS_KEY_ID=ABC123DEFG", "GISBI_APNS_TEAM_ID=DEF123GHIJ", "GISBI_APNS_TOPIC=com.example.app"}
	tlsCert, tlsKey, _ := tlsFiles(t)
	catalogJSON := writeFile(t, "catalog.json", `{"sections":[{"name":"daily","actions":[{"type":"walk","label":"Take a walk","startAt":0}]}]}`)
	catalogYAML := writeFile(t, "catalog.yml", "sections:\n  - name: daily\n    actions:\n      - type: walk\n        label: Take a walk\n        startAt: 23\n        reel: true\n")
	tests := []struct {
		env   string
		value string
		extra []string // environment needed for the value to be valid
		want  any
	}{
		{"GISBI_ADDR", "127.0.0.1:9000", nil, "127.0.0.1:9000"},
		{"GISBI_DATA_DIR", "/var/lib/gisbi", nil, "/var/lib/gisbi"},
		{"GISBI_STORE", "bbolt", nil, "bbolt"},
		{"GISBI_STORE", "postgres://gisbi:pw@db.internal:5432/gisbi?sslmode=require", nil, "postgres://gisbi:pw@db.internal:5432/gisbi?sslmode=require"},
		{"GISBI_STORE", "postgresql:///gisbi?host=/run/postgresql", nil, "postgresql:///gisbi?host=/run/postgresql"},
		{"GISBI_DEV", "true", nil, true},
		{"GISBI_DEV", "TRUE", nil, true},
		{"GISBI_DEV", "1", nil, true},
		{"GISBI_DEV", "false", []string{"GISBI_DEV=true"}, false},
		{"GISBI_DEV", "0", []string{"GISBI_DEV=true"}, false},
		{"GISBI_CLUSTER_PROVIDER", "local", nil, "local"},
		{"GISBI_CLUSTER_PROVIDER", "etcd", etcdCluster, "etcd"},
		{"GISBI_ETCD_ENDPOINTS", "127.0.0.1:2379", nil, []string{"127.0.0.1:2379"}},
		{"GISBI_ETCD_ENDPOINTS", " etcd-1:2379, [::1]:2379,,etcd-3.internal:23790 ", nil, []string{"etcd-1:2379", "[::1]:2379", "etcd-3.internal:23790"}},
		{"GISBI_ETCD_ENDPOINTS", "etcd-1:2379,etcd-2:2379", []string{"GISBI_CLUSTER_PROVIDER=etcd", "GISBI_STORE=postgres://db/gisbi"}, []string{"etcd-1:2379", "etcd-2:2379"}},
		{"GISBI_CLUSTER_NAME", "prod-eu_1.a", nil, "prod-eu_1.a"},
		{"GISBI_CLUSTER_BIND", "0.0.0.0:7000", nil, "0.0.0.0:7000"},
		{"GISBI_CLUSTER_BIND", ":0", nil, ":0"},
		{"GISBI_CLUSTER_BIND", "10.0.0.5:0", etcdCluster, "10.0.0.5:0"},
		{"GISBI_CLUSTER_BIND", "0.0.0.0:7000", append([]string{"GISBI_CLUSTER_ADVERTISE=10.0.0.5:7000"}, etcdCluster...), "0.0.0.0:7000"},
		{"GISBI_CLUSTER_ADVERTISE", "10.0.0.5:7000", nil, "10.0.0.5:7000"},
		{"GISBI_CLUSTER_ADVERTISE", "node-2.internal:7000", append([]string{"GISBI_CLUSTER_BIND=:7000"}, etcdCluster...), "node-2.internal:7000"},
		{"GISBI_CLUSTER_ADVERTISE", "", []string{"GISBI_CLUSTER_ADVERTISE=10.0.0.5:7000"}, ""},
		{"GISBI_TLS_CERT_FILE", tlsCert, []string{"GISBI_TLS_KEY_FILE=" + tlsKey}, tlsCert},
		{"GISBI_TLS_CERT_FILE", "", []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, ""},
		{"GISBI_TLS_KEY_FILE", tlsKey, []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, tlsKey},
		{"GISBI_JWT_KEY_FILE", "/run/secrets/jwt", nil, "/run/secrets/jwt"},
		{"GISBI_JWT_ISSUER", "gisbi-staging", nil, "gisbi-staging"},
		{"GISBI_ACCESS_TTL", "5m", nil, 5 * time.Minute},
		{"GISBI_ACCESS_TTL", "1h30m", nil, 90 * time.Minute},
		{"GISBI_REFRESH_TTL", "168h", nil, 168 * time.Hour},
		{"GISBI_GOOGLE_CLIENT_IDS", "a.apps.googleusercontent.com", nil, []string{"a.apps.googleusercontent.com"}},
		{"GISBI_GOOGLE_CLIENT_IDS", " a, b,,c ", nil, []string{"a", "b", "c"}},
		{"GISBI_GOOGLE_CLIENT_IDS", "", []string{"GISBI_GOOGLE_CLIENT_IDS=x"}, []string(nil)},
		{"GISBI_GOOGLE_JWKS_URL", "https://example.com/certs", nil, "https://example.com/certs"},
		{"GISBI_APPLE_CLIENT_IDS", "com.example.app,com.example.web", nil, []string{"com.example.app", "com.example.web"}},
		{"GISBI_APPLE_JWKS_URL", "http://127.0.0.1:8081/keys", []string{"GISBI_DEV=1"}, "http://127.0.0.1:8081/keys"},
		{"GISBI_FIREBASE_CREDENTIALS_FILE", credentials, nil, credentials},
		{"GISBI_FCM_CREDENTIALS_FILE", credentials, nil, credentials},
		{"GISBI_FCM_CREDENTIALS_FILE", "", []string{"GISBI_FCM_CREDENTIALS_FILE=" + credentials}, ""},
		{"GISBI_FCM_ENDPOINT", "https://fcm.example.com", nil, "https://fcm.example.com"},
		{"GISBI_FCM_ENDPOINT", "http://127.0.0.1:8082", []string{"GISBI_DEV=true"}, "http://127.0.0.1:8082"},
		{"GISBI_FCM_TOKEN_URL", "https://oauth2.example.com/token", nil, "https://oauth2.example.com/token"},
		{"GISBI_FCM_TOKEN_URL", "", []string{"GISBI_FCM_TOKEN_URL=https://oauth2.example.com/token"}, ""},
		{"GISBI_APNS_KEY_FILE", apnsKey, apnsIDs, apnsKey},
		{"GISBI_APNS_KEY_ID", "ABC123DEFG", nil, "ABC123DEFG"},
		{"GISBI_APNS_KEY_ID", "abc123defg", []string{"GISBI_APNS_KEY_FILE=" + apnsKey, "GISBI_APNS_TEAM_ID=DEF123GHIJ", "GISBI_APNS_TOPIC=com.example.app"}, "abc123defg"},
		{"GISBI_APNS_TEAM_ID", "DEF123GHIJ", nil, "DEF123GHIJ"},
		{"GISBI_APNS_TOPIC", "com.example.app", nil, "com.example.app"},
		{"GISBI_APNS_TOPIC", "com.example-co.app.voip", nil, "com.example-co.app.voip"},
		{"GISBI_APNS_ENDPOINT", "https://api.sandbox.push.apple.com", nil, "https://api.sandbox.push.apple.com"},
		{"GISBI_APNS_ENDPOINT", "http://127.0.0.1:8083", []string{"GISBI_DEV=1"}, "http://127.0.0.1:8083"},
		{"GISBI_PUSH_WORKERS", "1", nil, 1},
		{"GISBI_PUSH_WORKERS", "1000", nil, 1000},
		{"GISBI_PUSH_QUEUE", "1", nil, 1},
		{"GISBI_PUSH_QUEUE", "1000000", nil, 1000000},
		{"GISBI_PUSH_RETRIES", "0", nil, 0},
		{"GISBI_PUSH_RETRIES", "10", nil, 10},
		{"GISBI_ALLOWED_ORIGINS", "https://gisbi.example,http://localhost:5173", nil, []string{"https://gisbi.example", "http://localhost:5173"}},
		{"GISBI_ADMIN_TOKEN", "0123456789abcdef0123", nil, "0123456789abcdef0123"},
		{"GISBI_MAX_FRAME_BYTES", "1024", nil, 1024},
		{"GISBI_MAX_FRAME_BYTES", "16777216", nil, 16777216},
		{"GISBI_CLOCK_SPEED", "1", nil, 1.0},
		{"GISBI_CLOCK_SPEED", "2.5", []string{"GISBI_DEV=true"}, 2.5},
		{"GISBI_CLOCK_SPEED", "3600", []string{"GISBI_DEV=true"}, 3600.0},
		{"GISBI_CLOCK_START", "2026-03-14T18:25:00Z", []string{"GISBI_DEV=true"}, "2026-03-14T18:25:00Z"},
		{"GISBI_CLOCK_START", "2026-03-14T23:55:00.250+05:30", []string{"GISBI_DEV=true"}, "2026-03-14T23:55:00.250+05:30"},
		{"GISBI_CLOCK_START", "", []string{"GISBI_CLOCK_START=2026-03-14T18:25:00Z"}, ""},
		{"GISBI_SCORE_CATALOG_FILE", catalogJSON, nil, catalogJSON},
		{"GISBI_SCORE_CATALOG_FILE", catalogYAML, nil, catalogYAML},
		{"GISBI_SCORE_CATALOG_FILE", "", []string{"GISBI_SCORE_CATALOG_FILE=" + catalogJSON}, ""},
		{"GISBI_MAX_BODY_BYTES", "4096", nil, 4096},
		{"GISBI_WS_RATE", "0.5", nil, 0.5},
		{"GISBI_WS_RATE", "1e2", nil, 100.0},
		{"GISBI_WS_BURST", "1", nil, 1},
		{"GISBI_WS_SEND_QUEUE", "1024", nil, 1024},
		{"GISBI_WS_SEND_QUEUE_BYTES", "65536", nil, 65536},
		{"GISBI_MAX_SOCKETS_PER_USER", "3", nil, 3},
		{"GISBI_HTTP_RATE", "100", nil, 100.0},
		{"GISBI_HTTP_BURST", "200", nil, 200},
		{"GISBI_WS_PING_INTERVAL", "500ms", nil, 500 * time.Millisecond},
		{"GISBI_RECONNECT_GRACE", "0s", nil, time.Duration(0)},
		{"GISBI_RECONNECT_GRACE", "1m", nil, time.Minute},
		{"GISBI_SHUTDOWN_TIMEOUT", "2m", nil, 2 * time.Minute},
		{"GISBI_JWKS_REFETCH_INTERVAL", "0s", nil, time.Duration(0)},
		{"GISBI_RADAR_RADIUS_M", "250.5", nil, 250.5},
		{"GISBI_RADAR_LIMIT", "10", nil, 10},
		{"GISBI_PRESENCE_TTL", "30s", nil, 30 * time.Second},
		{"GISBI_RADAR_INTERVAL", "500ms", nil, 500 * time.Millisecond},
		{"GISBI_REQUEST_TTL", "2s", nil, 2 * time.Second},
		{"GISBI_BLE_TOKEN_TTL", "2m", nil, 2 * time.Minute},
		{"GISBI_BLE_TOKEN_TTL", "31s", nil, 31 * time.Second},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "1m", nil, time.Minute},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "89s", nil, 89 * time.Second},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "5s", []string{"GISBI_BLE_TOKEN_TTL=10s"}, 5 * time.Second},
		{"GISBI_HEARTBEAT_TIMEOUT", "1s", nil, time.Second},
		{"GISBI_HEARTBEAT_TIMEOUT", "1m", nil, time.Minute},
		{"GISBI_PROXIMITY_GRACE", "1m", nil, time.Minute},
		{"GISBI_PROXIMITY_GRACE", "1ms", nil, time.Millisecond},
		{"GISBI_MILESTONES_MINUTES", "10", nil, []int{10}},
		{"GISBI_MILESTONES_MINUTES", "1,2,525600", nil, []int{1, 2, 525600}},
		{"GISBI_MILESTONES_MINUTES", " 5, 15,,+30, ", nil, []int{5, 15, 30}},
		{"GISBI_RSSI_MIN", "-80", nil, -80},
		{"GISBI_RSSI_MIN", "-127", nil, -127},
		{"GISBI_RSSI_MIN", "-40", nil, -40},
		{"GISBI_RSSI_MIN", "20", []string{"GISBI_RSSI_MAX=20"}, 20},
		{"GISBI_RSSI_MAX", "-30", nil, -30},
		{"GISBI_RSSI_MAX", "20", nil, 20},
		{"GISBI_RSSI_MAX", "-127", []string{"GISBI_RSSI_MIN=-127"}, -127},
		{"GISBI_PROXIMITY_SNAPSHOT", "1s", nil, time.Second},
		{"GISBI_PROXIMITY_SNAPSHOT", "250ms", nil, 250 * time.Millisecond},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "1", nil, 1.0},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "100000", nil, 100000.0},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "499.5", nil, 499.5},
		{"GISBI_PROXIMITY_UPDATE_INTERVAL", "10s", nil, 10 * time.Second},
		{"GISBI_DAY_TIMEZONE", "Africa/Lagos", nil, "Africa/Lagos"},
		{"GISBI_DAY_TIMEZONE", "UTC", nil, "UTC"},
		{"GISBI_SPONSOR_CODE_MISSES_PER_HOUR", "1", nil, 1},
		{"GISBI_SPONSOR_CODE_MISSES_PER_HOUR", "100000", nil, 100000},
		{"GISBI_PROXIMITY_UPDATE_INTERVAL", "5m", nil, 5 * time.Minute},
		{"GISBI_LOG_LEVEL", "debug", nil, "debug"},
		{"GISBI_LOG_LEVEL", "error", nil, "error"},
		{"GISBI_LOG_FORMAT", "json", nil, "json"},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.env] = true
		for _, src := range sources {
			t.Run(src.name+"/"+tt.env+"="+tt.value, func(t *testing.T) {
				if src.name == "file" && slices.ContainsFunc(tt.extra, func(kv string) bool { return strings.HasPrefix(kv, tt.env+"=") }) {
					t.Skip("nothing but defaults ranks below the file")
				}
				args, environ := src.apply(t, tt.env, tt.value)
				// Extra variables come first so that, for the env source, the
				// tested value is the later duplicate and wins.
				environ = append(slices.Clone(tt.extra), environ...)
				c, err := Load(args, environ)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got := fieldValue(t, c, tt.env); !reflect.DeepEqual(got, tt.want) {
					t.Fatalf("got %#v, want %#v", got, tt.want)
				}
			})
		}
	}
	for _, s := range Settings() {
		if !covered[s.Env] {
			t.Errorf("no parse test for %s", s.Env)
		}
	}
}

func TestInvalidValues(t *testing.T) {
	dir := t.TempDir()
	apnsKey := writeFile(t, "AuthKey.p8", "key")
	apnsIDs := []string{"GISBI_APNS_KEY_ID=ABC123DEFG", "GISBI_APNS_TEAM_ID=DEF123GHIJ", "GISBI_APNS_TOPIC=com.example.app"}
	tlsCert, tlsKey, otherKey := tlsFiles(t)
	tests := []struct {
		env   string
		value string
		extra []string
		want  string // part of the reason after "config: ENV (--flag): "
	}{
		{"GISBI_ADDR", "", nil, "must not be empty"},
		{"GISBI_ADDR", "8080", nil, `"8080" is not a host:port address`},
		{"GISBI_DATA_DIR", "", nil, "must not be empty"},
		{"GISBI_STORE", "mysql://db/gisbi", nil, `must be empty, "bbolt" or a postgres:// URL`},
		{"GISBI_STORE", "postgres:///gisbi", nil, "postgres:// URL names no host"},
		{"GISBI_STORE", "postgres://u:p@db:bad/x", nil, "is not a valid postgres:// URL"},
		{"GISBI_DEV", "yes", nil, `"yes" is not a boolean`},
		{"GISBI_STORE", "bbolt", []string{"GISBI_CLUSTER_PROVIDER=etcd", "GISBI_ETCD_ENDPOINTS=127.0.0.1:2379"}, "must be a postgres:// URL when GISBI_CLUSTER_PROVIDER is etcd: every node of a cluster must share one state"},
		{"GISBI_STORE", "", []string{"GISBI_CLUSTER_PROVIDER=etcd", "GISBI_ETCD_ENDPOINTS=127.0.0.1:2379"}, "must be a postgres:// URL when GISBI_CLUSTER_PROVIDER is etcd"},
		{"GISBI_CLUSTER_PROVIDER", "consul", nil, `"consul" is not one of [local etcd]`},
		{"GISBI_ETCD_ENDPOINTS", "127.0.0.1", nil, `"127.0.0.1" is not a host:port address`},
		{"GISBI_ETCD_ENDPOINTS", "etcd-1:2379,http://etcd-2:2379", nil, `"http://etcd-2:2379" is not a host:port address`},
		{"GISBI_ETCD_ENDPOINTS", "etcd-1:0", nil, "has port 0, which cannot be dialled"},
		{"GISBI_ETCD_ENDPOINTS", ":2379", nil, "names no host to dial"},
		{"GISBI_ETCD_ENDPOINTS", "etcd-1:client", nil, "has no port number from 0 to 65535"},
		{"GISBI_ETCD_ENDPOINTS", "", []string{"GISBI_CLUSTER_PROVIDER=etcd", "GISBI_STORE=postgres://db/gisbi"}, "must be set when GISBI_CLUSTER_PROVIDER is etcd"},
		{"GISBI_CLUSTER_NAME", "", nil, `"" must be 1 to 64 letters, digits, '.', '-' or '_'`},
		{"GISBI_CLUSTER_NAME", "eu/prod", nil, `"eu/prod" must be 1 to 64 letters`},
		{"GISBI_CLUSTER_NAME", strings.Repeat("a", 65), nil, "must be 1 to 64"},
		{"GISBI_CLUSTER_BIND", "7000", nil, `"7000" is not a host:port address`},
		{"GISBI_CLUSTER_BIND", "127.0.0.1:65536", nil, "has no port number from 0 to 65535"},
		{"GISBI_CLUSTER_BIND", "", nil, `"" is not a host:port address`},
		{"GISBI_CLUSTER_ADVERTISE", "10.0.0.5", nil, `"10.0.0.5" is not a host:port address`},
		{"GISBI_CLUSTER_ADVERTISE", "10.0.0.5:0", nil, "has port 0, which cannot be dialled"},
		{"GISBI_CLUSTER_ADVERTISE", ":7000", nil, "names no host to dial"},
		{"GISBI_CLUSTER_ADVERTISE", "", append([]string{"GISBI_CLUSTER_BIND=0.0.0.0:7000"}, etcdCluster...), "must be set when GISBI_CLUSTER_PROVIDER is etcd and GISBI_CLUSTER_BIND (0.0.0.0:7000) listens on every interface"},
		{"GISBI_CLUSTER_ADVERTISE", "", append([]string{"GISBI_CLUSTER_BIND=:7000"}, etcdCluster...), "listens on every interface"},
		{"GISBI_TLS_CERT_FILE", "", []string{"GISBI_TLS_KEY_FILE=" + tlsKey}, "must be set when GISBI_TLS_KEY_FILE is set"},
		{"GISBI_TLS_CERT_FILE", filepath.Join(dir, "missing.pem"), []string{"GISBI_TLS_KEY_FILE=" + tlsKey}, `missing.pem": no such file or directory`},
		{"GISBI_TLS_CERT_FILE", dir, []string{"GISBI_TLS_KEY_FILE=" + tlsKey}, "is a directory"},
		{"GISBI_TLS_CERT_FILE", tlsKey, []string{"GISBI_TLS_KEY_FILE=" + tlsKey}, "holds no PEM certificate"},
		{"GISBI_TLS_KEY_FILE", "", []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, "must be set when GISBI_TLS_CERT_FILE is set"},
		{"GISBI_TLS_KEY_FILE", filepath.Join(dir, "missing.key"), []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, `missing.key": no such file or directory`},
		{"GISBI_TLS_KEY_FILE", otherKey, []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, "is not the private key of the certificate in"},
		{"GISBI_TLS_KEY_FILE", tlsCert, []string{"GISBI_TLS_CERT_FILE=" + tlsCert}, "is not the private key"},
		{"GISBI_JWT_ISSUER", "", nil, "must not be empty"},
		{"GISBI_ACCESS_TTL", "abc", nil, `"abc" is not a duration`},
		{"GISBI_ACCESS_TTL", "900", nil, `"900" is not a duration`},
		{"GISBI_ACCESS_TTL", "0s", nil, "must be greater than 0"},
		{"GISBI_ACCESS_TTL", "-1m", nil, "must be greater than 0"},
		{"GISBI_REFRESH_TTL", "abc", nil, `"abc" is not a duration`},
		{"GISBI_REFRESH_TTL", "10m", nil, "must be longer than GISBI_ACCESS_TTL (15m0s)"},
		{"GISBI_REFRESH_TTL", "1h", []string{"GISBI_ACCESS_TTL=1h"}, "must be longer than GISBI_ACCESS_TTL"},
		{"GISBI_GOOGLE_JWKS_URL", "", nil, "must not be empty"},
		{"GISBI_GOOGLE_JWKS_URL", "http://example.com/certs", nil, "must use https unless dev mode is on"},
		{"GISBI_GOOGLE_JWKS_URL", "example.com/certs", nil, "is not an absolute http(s) URL"},
		{"GISBI_APPLE_JWKS_URL", "ftp://example.com/keys", nil, "is not an absolute http(s) URL"},
		{"GISBI_FIREBASE_CREDENTIALS_FILE", filepath.Join(dir, "missing.json"), nil, "cannot use"},
		{"GISBI_FIREBASE_CREDENTIALS_FILE", dir, nil, "is not a regular file"},
		{"GISBI_FCM_CREDENTIALS_FILE", filepath.Join(dir, "missing.json"), nil, "cannot use"},
		{"GISBI_FCM_CREDENTIALS_FILE", dir, nil, "is not a regular file"},
		{"GISBI_FCM_ENDPOINT", "", nil, "must not be empty"},
		{"GISBI_FCM_ENDPOINT", "http://fcm.example.com", nil, "must use https unless dev mode is on"},
		{"GISBI_FCM_ENDPOINT", "fcm.googleapis.com", nil, "is not an absolute http(s) URL"},
		{"GISBI_FCM_TOKEN_URL", "http://oauth2.example.com/token", nil, "must use https unless dev mode is on"},
		{"GISBI_FCM_TOKEN_URL", "/token", []string{"GISBI_DEV=1"}, "is not an absolute http(s) URL"},
		{"GISBI_APNS_KEY_FILE", filepath.Join(dir, "missing.p8"), apnsIDs, "cannot use"},
		{"GISBI_APNS_KEY_FILE", dir, apnsIDs, "is not a regular file"},
		{"GISBI_APNS_KEY_ID", "ABC123", nil, `"ABC123" must be 10 letters or digits`},
		{"GISBI_APNS_KEY_ID", "ABC-123DEF", nil, "must be 10 letters or digits"},
		{"GISBI_APNS_KEY_ID", "", []string{"GISBI_APNS_KEY_FILE=" + apnsKey, "GISBI_APNS_TEAM_ID=DEF123GHIJ", "GISBI_APNS_TOPIC=com.example.app"}, "must be set when GISBI_APNS_KEY_FILE is set"},
		{"GISBI_APNS_TEAM_ID", "DEF123GHIJK", nil, "must be 10 letters or digits"},
		{"GISBI_APNS_TEAM_ID", "", []string{"GISBI_APNS_KEY_FILE=" + apnsKey, "GISBI_APNS_KEY_ID=ABC123DEFG", "GISBI_APNS_TOPIC=com.example.app"}, "must be set when GISBI_APNS_KEY_FILE is set"},
		{"GISBI_APNS_TOPIC", "com example app", nil, `"com example app" is not a bundle ID`},
		{"GISBI_APNS_TOPIC", "com.example.", nil, "is not a bundle ID"},
		{"GISBI_APNS_TOPIC", "", []string{"GISBI_APNS_KEY_FILE=" + apnsKey, "GISBI_APNS_KEY_ID=ABC123DEFG", "GISBI_APNS_TEAM_ID=DEF123GHIJ"}, "must be set when GISBI_APNS_KEY_FILE is set"},
		{"GISBI_APNS_ENDPOINT", "", nil, "must not be empty"},
		{"GISBI_APNS_ENDPOINT", "http://api.push.apple.com", nil, "must use https unless dev mode is on"},
		{"GISBI_PUSH_WORKERS", "0", nil, "must be between 1 and 1000, got 0"},
		{"GISBI_PUSH_WORKERS", "1001", nil, "must be between 1 and 1000"},
		{"GISBI_PUSH_WORKERS", "four", nil, `"four" is not an integer`},
		{"GISBI_PUSH_QUEUE", "0", nil, "must be between 1 and 1000000, got 0"},
		{"GISBI_PUSH_QUEUE", "1000001", nil, "must be between 1 and 1000000"},
		{"GISBI_PUSH_RETRIES", "-1", nil, "must be between 0 and 10, got -1"},
		{"GISBI_PUSH_RETRIES", "11", nil, "must be between 0 and 10"},
		{"GISBI_ALLOWED_ORIGINS", "*", nil, `"*" is not an origin`},
		{"GISBI_ALLOWED_ORIGINS", "https://ok.example,gisbi.example", nil, `"gisbi.example" is not an origin`},
		{"GISBI_ALLOWED_ORIGINS", "https://gisbi.example/app", nil, "is not an origin"},
		{"GISBI_ADMIN_TOKEN", "hunter2", nil, "must be at least 16 characters, got 7"},
		{"GISBI_MAX_FRAME_BYTES", "64k", nil, `"64k" is not an integer`},
		{"GISBI_MAX_FRAME_BYTES", "1.5", nil, `"1.5" is not an integer`},
		{"GISBI_MAX_FRAME_BYTES", "1023", nil, "must be between 1024 and 16777216, got 1023"},
		{"GISBI_MAX_FRAME_BYTES", "16777217", nil, "must be between 1024 and 16777216"},
		{"GISBI_CLOCK_SPEED", "fast", nil, `"fast" is not a number`},
		{"GISBI_CLOCK_SPEED", "NaN", []string{"GISBI_DEV=1"}, `"NaN" is not a number`},
		{"GISBI_CLOCK_SPEED", "+Inf", []string{"GISBI_DEV=1"}, `"+Inf" is not a number`},
		{"GISBI_CLOCK_SPEED", "0", []string{"GISBI_DEV=1"}, "must be greater than 0 and at most 3600"},
		{"GISBI_CLOCK_SPEED", "-2", []string{"GISBI_DEV=1"}, "must be greater than 0 and at most 3600"},
		{"GISBI_CLOCK_SPEED", "3600.5", []string{"GISBI_DEV=1"}, "must be greater than 0 and at most 3600"},
		{"GISBI_CLOCK_SPEED", "2", nil, "2 requires dev mode (GISBI_DEV=true or --dev)"},
		{"GISBI_CLOCK_START", "2026-03-14 18:25", []string{"GISBI_DEV=1"}, `"2026-03-14 18:25" is not an RFC 3339 time`},
		{"GISBI_CLOCK_START", "18:25", []string{"GISBI_DEV=1"}, `is not an RFC 3339 time`},
		{"GISBI_CLOCK_START", "2026-03-14T18:25:00Z", nil, "requires dev mode (GISBI_DEV=true or --dev)"},
		{"GISBI_SCORE_CATALOG_FILE", filepath.Join(dir, "missing.json"), nil, "no such file"},
		{"GISBI_SCORE_CATALOG_FILE", dir, nil, "is a directory"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "catalog.toml", ""), nil, `unsupported extension ".toml"`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[]}`), nil, "no sections"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[]}]}`), nil, `section "x" has no actions`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A","startsAt":8}]}]}`), nil, `unknown field "startsAt"`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A","startAt":24}]}]}`), nil, "startAt 24 is not an hour from 0 to 23"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A","startAt":-1}]}]}`), nil, "startAt -1 is not an hour from 0 to 23"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A","startAt":8.5}]}]}`), nil, "not a catalog"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":" "}]}]}`), nil, "label is required"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"label":"A"}]}]}`), nil, `type "" must be 1 to 64`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a/b","label":"A"}]}]}`), nil, `type "a/b" must be 1 to 64`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A"}]},{"name":"y","actions":[{"type":"a","label":"B"}]}]}`), nil, `type "a" appears twice`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A"}]},{"name":"x","actions":[{"type":"b","label":"B"}]}]}`), nil, `section "x" appears twice`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"totalScore","actions":[{"type":"a","label":"A"}]}]}`), nil, "the name is a key of the score itself"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"actions":[{"type":"a","label":"A"}]}]}`), nil, `name "" must be 1 to 64`},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.json", `{"sections":[{"name":"x","actions":[{"type":"a","label":"A"}]}]} {}`), nil, "trailing data"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.yaml", "sections: [\n"), nil, "not valid YAML"},
		{"GISBI_SCORE_CATALOG_FILE", writeFile(t, "c.yaml", "sections:\n  - name: x\n    actions:\n      - {type: a}\n"), nil, "label is required"},
		{"GISBI_MAX_BODY_BYTES", "0", nil, "must be at least 1, got 0"},
		{"GISBI_MAX_BODY_BYTES", "1MB", nil, `"1MB" is not an integer`},
		{"GISBI_WS_RATE", "0", nil, "must be greater than 0"},
		{"GISBI_WS_RATE", "Inf", nil, `"Inf" is not a number`},
		{"GISBI_WS_BURST", "0", nil, "must be at least 1"},
		{"GISBI_WS_BURST", "many", nil, `"many" is not an integer`},
		{"GISBI_WS_SEND_QUEUE", "0", nil, "must be at least 1"},
		{"GISBI_WS_SEND_QUEUE_BYTES", "1023", nil, "must be at least 1024, got 1023"},
		{"GISBI_MAX_SOCKETS_PER_USER", "-1", nil, "must be at least 1"},
		{"GISBI_HTTP_RATE", "-5", nil, "must be greater than 0"},
		{"GISBI_HTTP_BURST", "0", nil, "must be at least 1"},
		{"GISBI_WS_PING_INTERVAL", "0s", nil, "must be greater than 0"},
		{"GISBI_WS_PING_INTERVAL", "30", nil, `"30" is not a duration`},
		{"GISBI_RECONNECT_GRACE", "-1s", nil, "must not be negative"},
		{"GISBI_SHUTDOWN_TIMEOUT", "0s", nil, "must be greater than 0"},
		{"GISBI_JWKS_REFETCH_INTERVAL", "-1s", nil, "must not be negative"},
		{"GISBI_RADAR_RADIUS_M", "5", nil, "between 10 and 50000"},
		{"GISBI_RADAR_LIMIT", "0", nil, "between 1 and 500"},
		{"GISBI_PRESENCE_TTL", "0s", nil, "must be greater than 0"},
		{"GISBI_RADAR_INTERVAL", "0s", nil, "must be greater than 0"},
		{"GISBI_REQUEST_TTL", "0s", nil, "must be greater than 0"},
		{"GISBI_BLE_TOKEN_TTL", "0s", nil, "must be greater than 0, got 0s"},
		{"GISBI_BLE_TOKEN_TTL", "-90s", nil, "must be greater than 0"},
		{"GISBI_BLE_TOKEN_TTL", "90", nil, `"90" is not a duration`},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "0s", nil, "must be greater than 0, got 0s"},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "-1s", nil, "must be greater than 0"},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "90s", nil, "must be shorter than GISBI_BLE_TOKEN_TTL (1m30s), got 1m30s"},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "2m", nil, "must be shorter than GISBI_BLE_TOKEN_TTL (1m30s), got 2m0s"},
		{"GISBI_BLE_TOKEN_ROTATE_BEFORE", "30s", []string{"GISBI_BLE_TOKEN_TTL=20s"}, "must be shorter than GISBI_BLE_TOKEN_TTL (20s), got 30s"},
		{"GISBI_HEARTBEAT_TIMEOUT", "999ms", nil, "must be at least 1s (heartbeats are limited to one per second), got 999ms"},
		{"GISBI_HEARTBEAT_TIMEOUT", "0s", nil, "must be at least 1s"},
		{"GISBI_HEARTBEAT_TIMEOUT", "15", nil, `"15" is not a duration`},
		{"GISBI_PROXIMITY_GRACE", "0s", nil, "must be greater than 0, got 0s"},
		{"GISBI_PROXIMITY_GRACE", "-30s", nil, "must be greater than 0"},
		{"GISBI_MILESTONES_MINUTES", "", nil, "must not be empty"},
		{"GISBI_MILESTONES_MINUTES", " , ", nil, "must not be empty"},
		{"GISBI_MILESTONES_MINUTES", "5,x", nil, `element 1 ("x") is not an integer`},
		{"GISBI_MILESTONES_MINUTES", "5,,1.5", nil, `element 2 ("1.5") is not an integer`},
		{"GISBI_MILESTONES_MINUTES", "5m", nil, `element 0 ("5m") is not an integer`},
		{"GISBI_MILESTONES_MINUTES", "5,15,10", nil, "must be strictly ascending, but 10 follows 15"},
		{"GISBI_MILESTONES_MINUTES", "5,15,15,30", nil, "must be strictly ascending, but 15 appears twice"},
		{"GISBI_MILESTONES_MINUTES", "0,5", nil, "0 is not between 1 and 525600 minutes"},
		{"GISBI_MILESTONES_MINUTES", "-5,5", nil, "-5 is not between 1 and 525600 minutes"},
		{"GISBI_MILESTONES_MINUTES", "5,525601", nil, "525601 is not between 1 and 525600 minutes"},
		{"GISBI_MILESTONES_MINUTES", intsText(33), nil, "must have at most 32 entries, got 33"},
		{"GISBI_RSSI_MIN", "-128", nil, "must be between -127 and 20, got -128"},
		{"GISBI_DAY_TIMEZONE", "Mars/Olympus", nil, `must be an IANA time zone name such as UTC or Africa/Lagos, got "Mars/Olympus"`},
		{"GISBI_DAY_TIMEZONE", "Local", nil, `must be an IANA time zone name`},
		{"GISBI_SPONSOR_CODE_MISSES_PER_HOUR", "0", nil, "must be between 1 and 100000, got 0"},
		{"GISBI_SPONSOR_CODE_MISSES_PER_HOUR", "many", nil, `"many" is not an integer`},
		{"GISBI_RSSI_MIN", "21", []string{"GISBI_RSSI_MAX=20"}, "must be between -127 and 20, got 21"},
		{"GISBI_RSSI_MIN", "-80dBm", nil, `"-80dBm" is not an integer`},
		{"GISBI_RSSI_MIN", "-30", nil, "must be at most GISBI_RSSI_MAX (-40), got -30"},
		{"GISBI_RSSI_MIN", "-90", []string{"GISBI_RSSI_MAX=-95"}, "must be at most GISBI_RSSI_MAX (-95), got -90"},
		{"GISBI_RSSI_MAX", "21", nil, "must be between -127 and 20, got 21"},
		{"GISBI_RSSI_MAX", "-128", []string{"GISBI_RSSI_MIN=-127"}, "must be between -127 and 20, got -128"},
		{"GISBI_RSSI_MAX", "-40.5", nil, `"-40.5" is not an integer`},
		{"GISBI_PROXIMITY_SNAPSHOT", "0s", nil, "must be greater than 0, got 0s"},
		{"GISBI_PROXIMITY_SNAPSHOT", "5", nil, `"5" is not a duration`},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "0.5", nil, "must be between 1 and 100000, got 0.5"},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "100000.5", nil, "must be between 1 and 100000"},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "-250", nil, "must be between 1 and 100000"},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "NaN", nil, `"NaN" is not a number`},
		{"GISBI_PROXIMITY_MAX_DISTANCE_M", "250m", nil, `"250m" is not a number`},
		{"GISBI_PROXIMITY_UPDATE_INTERVAL", "0s", nil, "must be greater than 0, got 0s"},
		{"GISBI_PROXIMITY_UPDATE_INTERVAL", "-1m", nil, "must be greater than 0"},
		{"GISBI_LOG_LEVEL", "verbose", nil, `"verbose" is not one of [debug info warn error]`},
		{"GISBI_LOG_FORMAT", "xml", nil, `"xml" is not one of [text json]`},
	}

	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.env] = true
		for _, src := range sources {
			t.Run(src.name+"/"+tt.env+"="+tt.value, func(t *testing.T) {
				args, environ := src.apply(t, tt.env, tt.value)
				environ = append(environ, tt.extra...)
				_, err := Load(args, environ)
				if err == nil {
					t.Fatal("Load succeeded, want an error")
				}
				prefix := "config: " + tt.env + " (--" + byEnv[tt.env].Flag + "): "
				if !strings.Contains(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
					t.Fatalf("error %q\nwant %q followed by %q", err, prefix, tt.want)
				}
				var se *SettingError
				if !errors.As(err, &se) || se.Setting.Env != tt.env {
					t.Fatalf("error %v is not a *SettingError for %s", err, tt.env)
				}
			})
		}
	}
	// Any text is a valid value for these.
	anyText := map[string]bool{"GISBI_JWT_KEY_FILE": true, "GISBI_GOOGLE_CLIENT_IDS": true, "GISBI_APPLE_CLIENT_IDS": true}
	for _, s := range Settings() {
		if !covered[s.Env] && !anyText[s.Env] {
			t.Errorf("no invalid-value test for %s", s.Env)
		}
	}
}

func TestErrorMessageFormat(t *testing.T) {
	_, err := Load(nil, []string{"GISBI_ACCESS_TTL=abc"})
	want := `config: GISBI_ACCESS_TTL (--access-ttl): "abc" is not a duration`
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
}

func TestSecretsStayOutOfErrors(t *testing.T) {
	path := writeFile(t, "c.yaml", "admin_token: 123456789\n")
	_, err := Load([]string{"--config", path}, nil)
	if err == nil || strings.Contains(err.Error(), "123456789") || !strings.Contains(err.Error(), "GISBI_ADMIN_TOKEN") {
		t.Fatalf("error %v: want a GISBI_ADMIN_TOKEN error that hides the value", err)
	}
	_, err = Load(nil, []string{"GISBI_ADMIN_TOKEN=hunter2"})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("error %v: want an error that hides the value", err)
	}
}

func TestAllProblemsReported(t *testing.T) {
	_, err := Load([]string{"--ws-rate=x"}, []string{"GISBI_ACCESS_TTL=abc", "GISBI_DEV=maybe"})
	for _, env := range []string{"GISBI_ACCESS_TTL", "GISBI_DEV", "GISBI_WS_RATE"} {
		if err == nil || !strings.Contains(err.Error(), env) {
			t.Errorf("error %v does not mention %s", err, env)
		}
	}
}

func TestClockSpeedNeedsDev(t *testing.T) {
	tests := []struct {
		environ []string
		args    []string
		wantErr bool
	}{
		{[]string{"GISBI_CLOCK_SPEED=1"}, nil, false},
		{[]string{"GISBI_CLOCK_SPEED=60"}, nil, true},
		{[]string{"GISBI_CLOCK_SPEED=0.5"}, nil, true},
		{[]string{"GISBI_CLOCK_SPEED=60", "GISBI_DEV=false"}, nil, true},
		{[]string{"GISBI_CLOCK_SPEED=60", "GISBI_DEV=true"}, nil, false},
		{[]string{"GISBI_CLOCK_SPEED=60"}, []string{"--dev"}, false},
		{[]string{"GISBI_CLOCK_SPEED=60", "GISBI_DEV=true"}, []string{"--dev=false"}, true},
		{nil, []string{"--clock-speed=3600", "--dev"}, false},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, tt.environ)
		if !tt.wantErr {
			if err != nil {
				t.Errorf("Load(%q, %q): %v", tt.args, tt.environ, err)
			} else if c.ClockSpeed != 1 && !c.Dev {
				t.Errorf("Load(%q, %q): clock speed %v without dev mode", tt.args, tt.environ, c.ClockSpeed)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "GISBI_CLOCK_SPEED") || !strings.Contains(err.Error(), "GISBI_DEV") {
			t.Errorf("Load(%q, %q): error %v, want one naming GISBI_CLOCK_SPEED and GISBI_DEV", tt.args, tt.environ, err)
		}
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, "c.yaml", "addr: ':1'\naccess_ttl: 1m\nallowed_origins: [https://file.example]\n")
	other := writeFile(t, "other.yaml", "addr: ':5'\n")
	tests := []struct {
		name       string
		args       []string
		environ    []string
		wantAddr   string
		wantTTL    time.Duration
		wantOrigin []string
	}{
		{"defaults", nil, nil, ":8080", 15 * time.Minute, nil},
		{"file over defaults", []string{"--config", file}, nil, ":1", time.Minute, []string{"https://file.example"}},
		{"file from GISBI_CONFIG", nil, []string{"GISBI_CONFIG=" + file}, ":1", time.Minute, []string{"https://file.example"}},
		{"--config over GISBI_CONFIG", []string{"--config", other}, []string{"GISBI_CONFIG=" + file}, ":5", 15 * time.Minute, nil},
		{"env over file", []string{"--config", file}, []string{"GISBI_ADDR=:2", "GISBI_ALLOWED_ORIGINS="}, ":2", time.Minute, nil},
		{"env over defaults", nil, []string{"GISBI_ADDR=:2"}, ":2", 15 * time.Minute, nil},
		{"flag over env and file", []string{"--config", file, "--addr", ":3"}, []string{"GISBI_ADDR=:2"}, ":3", time.Minute, []string{"https://file.example"}},
		{"flag over file", []string{"--config=" + file, "--access-ttl=2m"}, nil, ":1", 2 * time.Minute, []string{"https://file.example"}},
		{"flag over env", []string{"--addr=:3"}, []string{"GISBI_ADDR=:2", "GISBI_ACCESS_TTL=3m"}, ":3", 3 * time.Minute, nil},
		{"repeated list flag appends", []string{"--allowed-origins=https://a.example", "--allowed-origins", "https://b.example"}, []string{"GISBI_ALLOWED_ORIGINS=https://env.example"}, ":8080", 15 * time.Minute, []string{"https://a.example", "https://b.example"}},
		{"last duplicate env wins", nil, []string{"GISBI_ADDR=:2", "GISBI_ADDR=:4"}, ":4", 15 * time.Minute, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(tt.args, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if c.Addr != tt.wantAddr || c.AccessTTL != tt.wantTTL || !reflect.DeepEqual(c.AllowedOrigins, tt.wantOrigin) {
				t.Fatalf("got addr %q, access_ttl %s, origins %q; want %q, %s, %q",
					c.Addr, c.AccessTTL, c.AllowedOrigins, tt.wantAddr, tt.wantTTL, tt.wantOrigin)
			}
		})
	}
}

func TestFileFormats(t *testing.T) {
	want := Defaults()
	want.Addr = "0.0.0.0:9000"
	want.Dev = true
	want.AccessTTL = 10 * time.Minute
	want.GoogleClientIDs = []string{"g1", "g2"}
	want.AppleClientIDs = []string{"a1", "a2"}
	want.MaxFrameBytes = 2048
	want.ClockSpeed = 1.5
	want.WSRate = 10
	want.HTTPBurst = 5
	want.MilestonesMinutes = []int{1, 2, 3}
	want.RSSIMin = -80

	yamlText := `# comments are fine
addr: "0.0.0.0:9000"
dev: true
access_ttl: 10m
google_client_ids: [g1, g2]
apple_client_ids: "a1, a2"
max_frame_bytes: 2048
clock_speed: 1.5
ws_rate: 10
http_burst: 5
milestones_minutes: [1, 2, 3]
rssi_min: -80
admin_token:
`
	jsonText := `{
  "addr": "0.0.0.0:9000",
  "dev": true,
  "access_ttl": "10m",
  "google_client_ids": ["g1", "g2"],
  "apple_client_ids": "a1, a2",
  "max_frame_bytes": 2048,
  "clock_speed": 1.5,
  "ws_rate": 10,
  "http_burst": 5.0,
  "milestones_minutes": [1, 2.0, 3],
  "rssi_min": -80,
  "admin_token": null
}`
	for _, tt := range []struct{ name, text string }{
		{"c.yaml", yamlText},
		{"c.yml", yamlText},
		{"C.YAML", yamlText},
		{"c.json", jsonText},
		{"empty.yaml", ""},
		{"empty.json", "{}"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.text)
			c, err := Load([]string{"--config", path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			w := want
			if strings.HasPrefix(tt.name, "empty") {
				w = Defaults()
			}
			w.ConfigFile = path
			if w.Dev {
				w.Warnings = []string{"config: dev mode listens on 0.0.0.0:9000, beyond this machine: anyone who reaches it can log in as any user with the dev provider"}
			}
			if !reflect.DeepEqual(*c, w) {
				t.Fatalf("got\n%+v\nwant\n%+v", *c, w)
			}
		})
	}
}

func TestFileErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string
	}{
		{"unknown.yaml", "acces_ttl: 1m\n", []string{`unknown setting "acces_ttl"`}},
		{"unknown.json", `{"addr": ":1", "bogus": 1, "another": 2}`, []string{`unknown setting "bogus"`, `unknown setting "another"`}},
		{"kebab.yaml", "access-ttl: 1m\n", []string{`unknown setting "access-ttl" (did you mean "access_ttl"?)`}},
		{"env-style.yaml", "GISBI_ADDR: ':1'\n", []string{`unknown setting "GISBI_ADDR"`}},
		{"nested.yaml", "jwt:\n  issuer: x\n", []string{`unknown setting "jwt"`}},
		{"empty-block.yaml", "push: {}\n", []string{`unknown setting "push"`}},
		{"number-for-string.yaml", "addr: 8080\n", []string{`GISBI_ADDR (--addr): 8080 is not a string`}},
		{"bare-duration.yaml", "access_ttl: 900\n", []string{`GISBI_ACCESS_TTL (--access-ttl): 900 is not a duration (give a unit`}},
		{"float-for-int.json", `{"ws_burst": 1.5}`, []string{`GISBI_WS_BURST (--ws-burst): 1.5 is not an integer`}},
		{"bad-list-element.yaml", "google_client_ids: [ok, 7]\n", []string{`GISBI_GOOGLE_CLIENT_IDS (--google-client-ids): element 1 (7) is not a string`}},
		{"map-for-list.yaml", "allowed_origins: {a: b}\n", []string{`GISBI_ALLOWED_ORIGINS (--allowed-origins): map[a:b] is not a list`}},
		{"bad-bool.json", `{"dev": "maybe"}`, []string{`GISBI_DEV (--dev): "maybe" is not a boolean`}},
		{"bad-int-element.yaml", "milestones_minutes: [5, x]\n", []string{`GISBI_MILESTONES_MINUTES (--milestones-minutes): element 1 ("x") is not an integer`}},
		{"float-int-element.json", `{"milestones_minutes": [5, 1.5]}`, []string{`GISBI_MILESTONES_MINUTES (--milestones-minutes): element 1 (1.5) is not an integer`}},
		{"bool-int-element.yaml", "milestones_minutes: [5, true]\n", []string{`element 1 (true) is not an integer`}},
		{"null-int-element.yaml", "milestones_minutes: [5, ~]\n", []string{`element 1 (<nil>) is not an integer`}},
		{"map-for-int-list.yaml", "milestones_minutes: {a: 1}\n", []string{`GISBI_MILESTONES_MINUTES (--milestones-minutes): map[a:1] is not a list`}},
		{"float-for-int-list.json", `{"milestones_minutes": 7.5}`, []string{`GISBI_MILESTONES_MINUTES (--milestones-minutes): element 0 (7.5) is not an integer`}},
		{"unsorted-int-list.json", `{"milestones_minutes": [30, 15]}`, []string{`GISBI_MILESTONES_MINUTES (--milestones-minutes): must be strictly ascending, but 15 follows 30`}},
		{"malformed.yaml", "addr: [\n", []string{"malformed.yaml"}},
		{"malformed.json", `{"addr": `, []string{"malformed.json"}},
		// The YAML library explains these on several lines; each problem
		// must still be one "config: " line.
		{"scalar.yaml", "0\n", []string{"scalar.yaml", "cannot unmarshal"}},
		{"list.yaml", "- addr\n- dev\n", []string{"list.yaml", "cannot unmarshal"}},
		{"scalar.json", "7", []string{"scalar.json", "cannot unmarshal"}},
		{"settings.toml", "addr = ':1'\n", []string{`unsupported extension ".toml"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.name, tt.text)
			_, err := Load([]string{"--config", path}, nil)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Errorf("error line %q does not start with \"config: \"", line)
				}
			}
		})
	}

	missing := filepath.Join(t.TempDir(), "missing.yaml")
	if _, err := Load(nil, []string{"GISBI_CONFIG=" + missing}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: error %v, want one wrapping os.ErrNotExist", err)
	}
}

func TestWarnings(t *testing.T) {
	c, err := Load([]string{"--admin-token", "0123456789abcdef"}, []string{
		"GISBI_NOPE=1",
		"GISBI_ADDRESS=:1",
		"GISBI_CONFIG=",
		"gisbi_addr=:1", // not our prefix: not ours to judge
		"PATH=/usr/bin",
		"NOEQUALS",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"config: --admin-token is visible to other local users in the process list; prefer GISBI_ADMIN_TOKEN or the config file",
		"config: ignoring unknown environment variable GISBI_ADDRESS",
		"config: ignoring unknown environment variable GISBI_NOPE",
	}
	if !reflect.DeepEqual(c.Warnings, want) {
		t.Fatalf("warnings %q, want %q", c.Warnings, want)
	}
	if c.Addr != ":8080" {
		t.Errorf("addr %q: unknown or foreign variables must not apply", c.Addr)
	}
}

func TestArgs(t *testing.T) {
	tests := []struct {
		args    []string
		want    string // error substring; "" means success
		wantDev bool
	}{
		{[]string{"--dev"}, "", true},
		{[]string{"--dev=true"}, "", true},
		{[]string{"--dev=1"}, "", true},
		{[]string{"--dev=false"}, "", false},
		{[]string{"--nope"}, "config: unknown flag: --nope", false},
		{[]string{"--addr"}, "config: flag needs an argument: --addr", false},
		{[]string{"serve"}, `config: unexpected argument "serve"`, false},
		{[]string{"--dev", "false"}, `config: unexpected argument "false"`, false},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, nil)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("Load(%q): %v", tt.args, err)
		case tt.want == "" && c.Dev != tt.wantDev:
			t.Errorf("Load(%q): dev %v, want %v", tt.args, c.Dev, tt.wantDev)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("Load(%q): error %v, want %q", tt.args, err, tt.want)
		}
	}

	for _, help := range []string{"--help", "-h"} {
		if _, err := Load([]string{help}, nil); !errors.Is(err, pflag.ErrHelp) {
			t.Errorf("Load(%q): error %v, want pflag.ErrHelp", help, err)
		}
	}
}

// intsText returns "1,2,...,n".
func intsText(n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = strconv.Itoa(i + 1)
	}
	return strings.Join(parts, ",")
}

func TestIntListSources(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		environ []string
		file    string // YAML, if any
		want    []int
	}{
		{"default", nil, nil, "", []int{5, 15, 30, 60, 120, 240}},
		{"env", nil, []string{"GISBI_MILESTONES_MINUTES=1,2"}, "", []int{1, 2}},
		{"yaml text", nil, nil, "milestones_minutes: 10,20\n", []int{10, 20}},
		{"yaml array", nil, nil, "milestones_minutes:\n  - 10\n  - \"20\"\n", []int{10, 20}},
		{"yaml single number", nil, nil, "milestones_minutes: 60\n", []int{60}},
		{"yaml null keeps default", nil, nil, "milestones_minutes:\n", []int{5, 15, 30, 60, 120, 240}},
		{"env over file", nil, []string{"GISBI_MILESTONES_MINUTES=7"}, "milestones_minutes: [1, 2]\n", []int{7}},
		{"flag over env", []string{"--milestones-minutes=3,4"}, []string{"GISBI_MILESTONES_MINUTES=1,2"}, "", []int{3, 4}},
		{"repeated flag appends", []string{"--milestones-minutes=5", "--milestones-minutes", "10,20"}, []string{"GISBI_MILESTONES_MINUTES=1,2"}, "", []int{5, 10, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", writeFile(t, "c.yaml", tt.file)}, args...)
			}
			c, err := Load(args, tt.environ)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.MilestonesMinutes, tt.want) {
				t.Fatalf("milestones %v, want %v", c.MilestonesMinutes, tt.want)
			}
		})
	}
}

// Negative numbers must not be mistaken for flags, whichever way they are
// written.
func TestNegativeFlagValues(t *testing.T) {
	tests := []struct {
		args             []string
		environ          []string
		wantMin, wantMax int
	}{
		{[]string{"--rssi-min=-80"}, nil, -80, -40},
		{[]string{"--rssi-min", "-80", "--rssi-max", "-50"}, nil, -80, -50},
		{nil, []string{"GISBI_RSSI_MIN=-80", "GISBI_RSSI_MAX=-50"}, -80, -50},
		{[]string{"--rssi-max=-100"}, []string{"GISBI_RSSI_MIN=-110"}, -110, -100},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, tt.environ)
		if err != nil {
			t.Errorf("Load(%q, %q): %v", tt.args, tt.environ, err)
			continue
		}
		if c.RSSIMin != tt.wantMin || c.RSSIMax != tt.wantMax {
			t.Errorf("Load(%q, %q): rssi %d..%d, want %d..%d", tt.args, tt.environ, c.RSSIMin, c.RSSIMax, tt.wantMin, tt.wantMax)
		}
	}
}

// --dev opens a login anyone can use: it binds loopback unless an address is
// given, and an address beyond loopback is warned about.
func TestDevBindsLoopback(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		env     []string
		addr    string
		warning bool
	}{
		{"dev alone", []string{"--dev"}, nil, "127.0.0.1:8080", false},
		{"dev from env", nil, []string{"GISBI_DEV=true"}, "127.0.0.1:8080", false},
		{"not dev keeps the default", nil, nil, ":8080", false},
		{"dev with loopback addr", []string{"--dev", "--addr", "127.0.0.1:9000"}, nil, "127.0.0.1:9000", false},
		{"dev with localhost", []string{"--dev", "--addr", "localhost:9000"}, nil, "localhost:9000", false},
		{"dev with ipv6 loopback", []string{"--dev", "--addr", "[::1]:9000"}, nil, "[::1]:9000", false},
		{"dev on every interface", []string{"--dev", "--addr", ":8080"}, nil, ":8080", true},
		{"dev on a public address from env", []string{"--dev"}, []string{"GISBI_ADDR=0.0.0.0:8080"}, "0.0.0.0:8080", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Addr != tt.addr {
				t.Errorf("addr %q, want %q", cfg.Addr, tt.addr)
			}
			warned := false
			for _, w := range cfg.Warnings {
				warned = warned || strings.Contains(w, "dev mode listens on")
			}
			if warned != tt.warning {
				t.Errorf("warnings %q, want dev warning %v", cfg.Warnings, tt.warning)
			}
		})
	}
}
