package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/knadh/koanf/parsers/json"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// The config file is chosen before any setting is read, so it has its own
// flag and environment variable instead of being a Config field.
const (
	configFlag = "config"
	configEnv  = EnvPrefix + "CONFIG"
	configDesc = "Config file to read, YAML (.yaml, .yml) or JSON (.json) by extension."
)

// FlagSet returns a new flag set with --config and one flag per setting, as
// used by Load. It is meant for usage text: print it with
// FlagSet().FlagUsages() when Load returns pflag.ErrHelp.
func FlagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("gisbi", pflag.ContinueOnError)
	// Load reports errors to its caller; pflag must not print on its own.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.SortFlags = false

	fs.String(configFlag, "", configDesc+" (env "+configEnv+")")
	for _, f := range fields {
		// Values are kept as raw text and parsed later by the same code as
		// env and file values, so that a bad flag produces the same message
		// as a bad environment variable.
		v := &flagValue{kind: f.kind, raw: f.Default}
		fl := fs.VarPF(v, f.Flag, "", f.Description+" (env "+f.Env+")")
		if f.kind == kindBool {
			fl.NoOptDefVal = "true"
		}
	}
	return fs
}

// flagValue holds a flag's text unparsed; see FlagSet.
type flagValue struct {
	kind kind
	raw  string
	set  bool
}

func (v *flagValue) String() string { return v.raw }
func (v *flagValue) Type() string   { return v.kind.String() }

func (v *flagValue) Set(s string) error {
	// Repeating a list flag appends, as with pflag's own slice flags.
	if (v.kind == kindList || v.kind == kindIntList) && v.set {
		v.raw += "," + s
	} else {
		v.raw = s
	}
	v.set = true
	return nil
}

// IsBoolFlag lets pflag treat a defaulted bool flag as zero in usage text.
func (v *flagValue) IsBoolFlag() bool { return v.kind == kindBool }

// Load parses args (flags only, without the program name) and environ (in
// os.Environ form), reads the config file named by --config or GISBI_CONFIG,
// and returns the validated configuration. Later sources override earlier
// ones: defaults, file, environment, flags.
//
// For -h/--help it returns an error matching pflag.ErrHelp, so the caller can
// print FlagSet().FlagUsages() and exit successfully.
func Load(args []string, environ []string) (*Config, error) {
	fs := FlagSet()
	if err := fs.Parse(args); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("config: unexpected argument %q (settings are given as --name value)", fs.Arg(0))
	}

	cfg := Defaults()
	k := koanf.New(".")

	path := configPath(fs, environ)
	if path != "" {
		fk, err := loadFile(path)
		if err != nil {
			return nil, err
		}
		if err := k.Merge(fk); err != nil {
			return nil, fmt.Errorf("config: config file %s: %w", path, err)
		}
		cfg.ConfigFile = path
	}

	var warnings []string
	envProvider := env.Provider(".", env.Opt{
		Prefix: EnvPrefix,
		// Always set: a nil environ must mean "no variables", not os.Environ.
		EnvironFunc: func() []string { return environ },
		TransformFunc: func(name, value string) (string, any) {
			if f, ok := byEnv[name]; ok {
				return f.Key, value
			}
			if name != configEnv {
				warnings = append(warnings, fmt.Sprintf("config: ignoring unknown environment variable %s", name))
			}
			return "", nil
		},
	})
	if err := k.Load(envProvider, nil); err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}

	// A nil koanf makes posflag skip flags that were not given, so flag
	// defaults never mask file or environment values.
	flagProvider := posflag.ProviderWithFlag(fs, ".", nil, func(fl *pflag.Flag) (string, any) {
		f, ok := byFlag[fl.Name]
		if !ok {
			return "", nil
		}
		if f.Secret && fl.Changed && fl.Value.String() != "" {
			warnings = append(warnings, fmt.Sprintf(
				"config: --%s is visible to other local users in the process list; prefer %s or the config file", f.Flag, f.Env))
		}
		return f.Key, fl.Value.String()
	})
	if err := k.Load(flagProvider, nil); err != nil {
		return nil, fmt.Errorf("config: flags: %w", err)
	}

	var errs []error
	cv := reflect.ValueOf(&cfg).Elem()
	for i := range fields {
		f := &fields[i]
		// A null in a file (e.g. "admin_token:" in YAML) means "not set".
		raw := k.Get(f.Key)
		if raw == nil {
			continue
		}
		if err := f.set(cv.Field(f.index), raw); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// The dev login lets anyone sign in as anyone: a dev server listens on
	// loopback unless told otherwise, and says so loudly when told.
	if cfg.Dev {
		if k.Get("addr") == nil {
			cfg.Addr = DevAddr
		} else if !loopback(cfg.Addr) {
			warnings = append(warnings, fmt.Sprintf(
				"config: dev mode listens on %s, beyond this machine: anyone who reaches it can log in as any user with the dev provider", cfg.Addr))
		}
	}

	slices.Sort(warnings)
	cfg.Warnings = warnings
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// DevAddr is where a dev server listens when addr is not set.
const DevAddr = "127.0.0.1:8080"

// loopback reports whether addr's host only accepts connections from this
// machine. An empty host means every interface.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// oneLine shows an error on one line: the YAML library explains some
// problems over several ("yaml: unmarshal errors:\n  line 1: ..."), and
// Load's errors are one "config: " line per problem.
type oneLine struct{ err error }

func (e oneLine) Error() string {
	lines := strings.Split(e.err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

func (e oneLine) Unwrap() error { return e.err }

func configPath(fs *pflag.FlagSet, environ []string) string {
	if fl := fs.Lookup(configFlag); fl.Changed {
		return fl.Value.String()
	}
	// Last one wins, matching how the env provider treats duplicates.
	path := ""
	for _, kv := range environ {
		if name, value, ok := strings.Cut(kv, "="); ok && name == configEnv {
			path = value
		}
	}
	return path
}

// loadFile reads one config file into its own koanf so its keys can be
// checked before they are merged with the other sources.
func loadFile(path string) (*koanf.Koanf, error) {
	var parser koanf.Parser
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".yaml", ".yml":
		parser = yaml.Parser()
	case ".json":
		parser = json.Parser()
	default:
		return nil, fmt.Errorf("config: config file %s: unsupported extension %q (want .yaml, .yml or .json)", path, ext)
	}
	fk := koanf.New(".")
	if err := fk.Load(file.Provider(path), parser); err != nil {
		return nil, fmt.Errorf("config: config file %s: %w", path, oneLine{err})
	}

	// Top-level keys are checked, not flattened ones: settings are flat, so
	// a nested block is either an unknown key or a type error later, and an
	// empty block must not slip through unnoticed.
	var errs []error
	for key := range fk.Raw() {
		if _, ok := byKey[key]; ok {
			continue
		}
		msg := fmt.Sprintf("config: config file %s: unknown setting %q", path, key)
		if f, ok := byKey[strings.ToLower(strings.ReplaceAll(key, "-", "_"))]; ok {
			msg += fmt.Sprintf(" (did you mean %q?)", f.Key)
		}
		errs = append(errs, errors.New(msg))
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	return fk, nil
}
