// Package config defines the engine's configuration: the Config struct, its
// defaults, how it is loaded and how it is validated.
//
// # Sources and precedence
//
// Every setting can be given in three places. Later sources override earlier
// ones, setting by setting:
//
//		defaults < config file < environment < flags
//
//	  - Config file: named by --config or GISBI_CONFIG; YAML (.yaml, .yml) or
//	    JSON (.json), chosen by extension. Keys are the snake_case setting
//	    names, all at the top level (access_ttl: 15m). An unknown key is an
//	    error, because a misspelt key would otherwise be silently ignored. A
//	    null value counts as not set.
//	  - Environment: GISBI_ plus the upper-cased key (GISBI_ACCESS_TTL). An
//	    unknown GISBI_ variable only adds to Config.Warnings, because stray
//	    variables from old deployments should not stop a server.
//	  - Flags: the key in kebab case (--access-ttl 15m).
//
// Values are written the same way everywhere: durations as Go durations
// (30s, 15m, 720h), booleans as true, false, 1 or 0, and lists as
// comma-separated strings (files may also use arrays).
//
// Load reports every problem it finds, each naming the setting by its
// environment variable and flag, for example:
//
//	config: GISBI_ACCESS_TTL (--access-ttl): "abc" is not a duration
//
// # Adding a setting
//
// Add one field to Config with its tags:
//
//	PushTTL time.Duration `koanf:"push_ttl" default:"1h" desc:"How long ..."`
//
// That alone gives it a file key, GISBI_PUSH_TTL, --push-ttl, a default, a row
// in Settings and MarkdownTable, and a line in --help. Supported field types
// are string, bool, int, float64, time.Duration, []string and []int; add
// secret:"true" for values that must not appear in logs. If the value has
// limits, check them in Validate. Then paste the new MarkdownTable output into
// the README.
package config
