package config

import (
	"bytes"
	"encoding/json"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// configFileSeeds are realistic config files and score catalogs, by the
// file name they are written under.
var configFileSeeds = map[string][]string{
	"c.yaml": {
		"# comments are fine\naddr: \"0.0.0.0:9000\"\ndev: true\naccess_ttl: 10m\ngoogle_client_ids: [g1, g2]\n" +
			"apple_client_ids: \"a1, a2\"\nmax_frame_bytes: 2048\nclock_speed: 1.5\nws_rate: 10\nhttp_burst: 5\n" +
			"milestones_minutes: [1, 2, 3]\nrssi_min: -80\nadmin_token:\n",
		"store: postgres://gisbi:secret@db:5432/gisbi?sslmode=require\ncluster_provider: etcd\netcd_endpoints: [\"etcd1:2379\", \"etcd2:2379\"]\n" +
			"cluster_advertise: 10.0.0.5:7000\nlog_level: debug\nlog_format: json\n",
		"admin_token: !!binary aGVsbG8=\nanchor: &a [1, 2]\nmilestones_minutes: *a\n",
		"access_ttl: 15\nrefresh_ttl: 1h\nws_rate: .nan\ndev: maybe\n",
	},
	"c.json": {
		`{"addr":"0.0.0.0:9000","dev":true,"access_ttl":"10m","google_client_ids":["g1","g2"],"milestones_minutes":[1,2.0,3],"rssi_min":-80,"admin_token":null}`,
		`{"clock_speed":1e309,"max_frame_bytes":1.5,"allowed_origins":"https://a.example, http://b.example:8080"}`,
		`{"radar_radius_m":"400","http_rate":"20","data_dir":"/var/lib/gisbi","day_timezone":"Africa/Lagos"}`,
	},
	"catalog.json": {
		string(defaultScoreCatalog),
		`{"sections":[{"name":"social","actions":[{"type":"say-hi","label":"Say hi","startAt":9,"reel":true,"subLabel":"x"}]}]}`,
		`{"sections":[{"name":"date","actions":[]}],"extra":1}`,
	},
	"catalog.yaml": {
		"sections:\n  - name: social\n    actions:\n      - type: say-hi\n        label: Say hi\n        startAt: 25\n",
		"sections:\n  - name: mind\n    actions:\n      - {type: focus, label: Focus, reel: yes}\n",
	},
}

// Secret markers: values of the secret settings that are invalid, so
// their settings are refused, and that no error text may contain.
const (
	secretMark     = "S3CRETMARK"
	secretStoreURL = "postgres://gisbi:" + secretMark + "@[::1"
)

// FuzzConfigFile reads each input as a config file (YAML or JSON, through
// Load, as --config does) or as a score catalog (ParseScoreCatalog, as
// score_catalog_file does); the name picks which, an unknown one by its
// hash.
//
// Properties. A config file: every error line is a "config: " line; the
// secret settings' values never appear in an error; an accepted config
// validates again, and written back as a JSON file it loads to the same
// config. A catalog: an accepted one passes Check, and encoded as JSON
// parses back to the same catalog.
func FuzzConfigFile(f *testing.F) {
	names := []string{"c.json", "c.yaml", "catalog.json", "catalog.yaml"}
	for _, name := range names {
		f.Add(name, []byte{})
		for _, s := range configFileSeeds[name] {
			f.Add(name, []byte(s))
		}
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		if !slices.Contains(names, name) {
			h := fnv.New32a()
			h.Write([]byte(name))
			name = names[h.Sum32()%uint32(len(names))]
		}
		if strings.HasPrefix(name, "catalog") {
			checkCatalog(t, data, filepath.Ext(name))
			return
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		args := []string{"--config", path}
		_, err := Load(args, []string{"GISBI_STORE=" + secretStoreURL, "GISBI_ADMIN_TOKEN=" + secretMark})
		if err == nil || strings.Contains(err.Error(), secretMark) {
			t.Fatalf("with invalid secrets set, Load answered %v; want an error that hides them", err)
		}
		cfg, err := Load(args, nil)
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: ") {
					t.Fatalf("error line %q does not start with \"config: \" (file %q)", line, data)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("accepted config does not validate: %v", err)
		}
		back := filepath.Join(dir, "back.json")
		if err := os.WriteFile(back, encodeConfig(t, cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		again, err := Load([]string{"--config", back}, nil)
		if err != nil {
			t.Fatalf("config %q written back as %s does not load: %v", data, encodeConfig(t, cfg), err)
		}
		again.ConfigFile, again.Warnings = cfg.ConfigFile, cfg.Warnings
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("config %q does not round-trip:\n%+v\n%+v", data, *cfg, *again)
		}
	})
}

// encodeConfig writes every setting of c as a JSON config file.
func encodeConfig(t *testing.T, c *Config) []byte {
	cv := reflect.ValueOf(c).Elem()
	m := map[string]any{}
	for _, f := range fields {
		v := cv.Field(f.index)
		switch f.kind {
		case kindDuration:
			m[f.Key] = time.Duration(v.Int()).String()
		default:
			m[f.Key] = v.Interface()
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("encode %+v: %v", *c, err)
	}
	return b
}

func checkCatalog(t *testing.T, data []byte, ext string) {
	c, err := ParseScoreCatalog(data, ext)
	if err != nil {
		if err.Error() == "" {
			t.Fatal("empty error")
		}
		return
	}
	if err := c.Check(); err != nil {
		t.Fatalf("accepted catalog fails Check: %v", err)
	}
	enc, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("encode %+v: %v", c, err)
	}
	again, err := ParseScoreCatalog(enc, ".json")
	if err != nil {
		t.Fatalf("catalog %q encoded as %s is refused: %v", data, enc, err)
	}
	if !reflect.DeepEqual(c, again) {
		t.Fatalf("catalog does not round-trip:\n%+v\n%+v", c, again)
	}
	if enc2, _ := json.Marshal(again); !bytes.Equal(enc, enc2) {
		t.Fatalf("catalog encoding not stable:\n%s\n%s", enc, enc2)
	}
}
