package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "GISBI_"

// Setting describes one configuration setting for help text and docs.
type Setting struct {
	Key         string // file key, e.g. "access_ttl"
	Env         string // environment variable, e.g. "GISBI_ACCESS_TTL"
	Flag        string // flag name without dashes, e.g. "access-ttl"
	Type        string // duration, string, bool, int, float, list or ints
	Default     string // default as text, exactly as it would be written in env
	Description string
	Secret      bool // kept out of logs and error messages
}

// SettingError reports an invalid value for one setting. It names the
// environment variable and the flag because those are what an operator
// searches for, whichever source the value came from.
type SettingError struct {
	Setting Setting
	Reason  string
	Err     error // underlying parse or I/O error, if any
}

func (e *SettingError) Error() string {
	return fmt.Sprintf("config: %s (--%s): %s", e.Setting.Env, e.Setting.Flag, e.Reason)
}

func (e *SettingError) Unwrap() error { return e.Err }

type kind int

const (
	kindString kind = iota
	kindBool
	kindInt
	kindFloat
	kindDuration
	kindList
	kindIntList
)

var kindNames = [...]string{
	kindString:   "string",
	kindBool:     "bool",
	kindInt:      "int",
	kindFloat:    "float",
	kindDuration: "duration",
	kindList:     "list",
	// "ints" is what pflag itself shows for integer slice flags.
	kindIntList: "ints",
}

func (k kind) String() string { return kindNames[k] }

// field is a Setting plus what is needed to read and write it via reflection.
type field struct {
	Setting
	index int
	kind  kind
}

// fields is built once from Config's struct tags. Building it panics on a
// malformed tag so that a bad new setting fails every test immediately.
var (
	fields = buildFields()
	byKey  = indexFields(func(f *field) string { return f.Key })
	byEnv  = indexFields(func(f *field) string { return f.Env })
	byFlag = indexFields(func(f *field) string { return f.Flag })
)

func buildFields() []field {
	t := reflect.TypeFor[Config]()
	var out []field
	for i := range t.NumField() {
		sf := t.Field(i)
		key := sf.Tag.Get("koanf")
		if key == "-" {
			continue
		}
		if key == "" || key != strings.ToLower(key) || strings.ContainsAny(key, "-. ") {
			panic(fmt.Sprintf("config: field %s needs a snake_case koanf tag", sf.Name))
		}
		desc := sf.Tag.Get("desc")
		if desc == "" {
			panic(fmt.Sprintf("config: field %s needs a desc tag", sf.Name))
		}
		def, ok := sf.Tag.Lookup("default")
		if !ok {
			panic(fmt.Sprintf("config: field %s needs a default tag (may be empty)", sf.Name))
		}
		f := field{
			Setting: Setting{
				Key:         key,
				Env:         EnvPrefix + strings.ToUpper(key),
				Flag:        strings.ReplaceAll(key, "_", "-"),
				Default:     def,
				Description: desc,
				Secret:      sf.Tag.Get("secret") == "true",
			},
			index: i,
			kind:  kindOf(sf),
		}
		f.Type = f.kind.String()
		// Parsing the default here proves that the text shown in --help and
		// the README is exactly what Defaults() uses.
		if err := f.set(reflect.New(sf.Type).Elem(), def); err != nil {
			panic(fmt.Sprintf("config: field %s: bad default: %v", sf.Name, err))
		}
		out = append(out, f)
	}
	return out
}

func kindOf(sf reflect.StructField) kind {
	switch t := sf.Type; {
	case t == reflect.TypeFor[time.Duration]():
		return kindDuration
	case t.Kind() == reflect.String:
		return kindString
	case t.Kind() == reflect.Bool:
		return kindBool
	case t.Kind() == reflect.Int:
		return kindInt
	case t.Kind() == reflect.Float64:
		return kindFloat
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.String:
		return kindList
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int:
		return kindIntList
	}
	panic(fmt.Sprintf("config: field %s has unsupported type %s", sf.Name, sf.Type))
}

func indexFields(name func(*field) string) map[string]*field {
	m := make(map[string]*field, len(fields))
	for i := range fields {
		n := name(&fields[i])
		if _, dup := m[n]; dup {
			panic(fmt.Sprintf("config: duplicate setting name %q", n))
		}
		m[n] = &fields[i]
	}
	return m
}

// mustSetting is for names written in this package's own code, where a typo
// is a programming error.
func mustSetting(key string) Setting {
	f, ok := byKey[key]
	if !ok {
		panic("config: no setting " + key)
	}
	return f.Setting
}

// Settings describes every setting in the order they are declared in Config.
func Settings() []Setting {
	out := make([]Setting, len(fields))
	for i, f := range fields {
		out[i] = f.Setting
	}
	return out
}

// MarkdownTable renders the settings as a Markdown table for the README,
// including the --config flag, which selects the file and is not itself a
// setting.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| setting | env | flag | default | description |\n")
	b.WriteString("|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| | `%s` | `--%s` | | %s |\n", configEnv, configFlag, mdEscape(configDesc))
	for _, f := range fields {
		def := ""
		if f.Default != "" {
			def = "`" + f.Default + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `--%s` | %s | %s |\n", f.Key, f.Env, f.Flag, def, mdEscape(f.Description))
	}
	return b.String()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(s)
}

// set parses raw into dst. raw is a string from the environment, a flag or a
// default, or whatever the YAML/JSON parser produced for a file value. The
// returned error's text is the reason shown after the setting's name.
func (f *field) set(dst reflect.Value, raw any) error {
	switch f.kind {
	case kindString:
		s, ok := raw.(string)
		if !ok {
			return f.invalid(raw, "is not a string (quote it)", nil)
		}
		dst.SetString(s)
	case kindBool:
		b, err := parseBool(raw)
		if err != nil {
			return f.invalid(raw, "is not a boolean (true, false, 1 or 0)", err)
		}
		dst.SetBool(b)
	case kindInt:
		n, err := parseInt(raw)
		if err != nil {
			return f.invalid(raw, "is not an integer", err)
		}
		dst.SetInt(int64(n))
	case kindFloat:
		x, err := parseFloat(raw)
		if err != nil {
			return f.invalid(raw, "is not a number", err)
		}
		dst.SetFloat(x)
	case kindDuration:
		s, ok := raw.(string)
		if !ok {
			// A bare number in a file has no unit; refusing it avoids
			// guessing between seconds and nanoseconds.
			return f.invalid(raw, "is not a duration (give a unit, e.g. 30s)", nil)
		}
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return f.invalid(raw, "is not a duration", err)
		}
		dst.SetInt(int64(d))
	case kindList:
		l, err := parseList(raw)
		if err != nil {
			return &SettingError{Setting: f.Setting, Reason: err.Error()}
		}
		dst.Set(reflect.ValueOf(l))
	case kindIntList:
		l, err := parseIntList(raw)
		if err != nil {
			return &SettingError{Setting: f.Setting, Reason: err.Error()}
		}
		dst.Set(reflect.ValueOf(l))
	}
	return nil
}

// invalid builds the parse error for raw, hiding secret values.
func (f *field) invalid(raw any, reason string, cause error) error {
	shown := "value"
	if !f.Secret {
		if s, ok := raw.(string); ok {
			shown = strconv.Quote(s)
		} else {
			shown = fmt.Sprintf("%v", raw)
		}
	}
	return &SettingError{Setting: f.Setting, Reason: shown + " " + reason, Err: cause}
}

func parseBool(raw any) (bool, error) {
	switch v := raw.(type) {
	case bool:
		return v, nil
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "true", "1":
			return true, nil
		case "false", "0":
			return false, nil
		}
	case int:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case float64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	}
	return false, fmt.Errorf("invalid boolean %v", raw)
}

func parseInt(raw any) (int, error) {
	switch v := raw.(type) {
	case string:
		return strconv.Atoi(strings.TrimSpace(v))
	case int:
		return v, nil
	case int64:
		return int(v), nil
	case uint64:
		if v <= math.MaxInt {
			return int(v), nil
		}
	case float64:
		// JSON numbers arrive as float64; accept them only when whole.
		if v == math.Trunc(v) && math.Abs(v) <= 1<<53 {
			return int(v), nil
		}
	}
	return 0, fmt.Errorf("invalid integer %v", raw)
}

func parseFloat(raw any) (float64, error) {
	var x float64
	switch v := raw.(type) {
	case string:
		var err error
		if x, err = strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return 0, err
		}
	case int:
		x = float64(v)
	case int64:
		x = float64(v)
	case uint64:
		x = float64(v)
	case float64:
		x = v
	default:
		return 0, fmt.Errorf("invalid number %v", raw)
	}
	// ParseFloat accepts "NaN" and "Inf", which no rate or speed can be.
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0, fmt.Errorf("invalid number %v", raw)
	}
	return x, nil
}

// parseList returns nil for an empty list so that "unset" and "set to
// nothing" compare equal.
func parseList(raw any) ([]string, error) {
	var parts []string
	switch v := raw.(type) {
	case string:
		parts = strings.Split(v, ",")
	case []string:
		parts = v
	case []any:
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("element %d (%v) is not a string", i, e)
			}
			parts = append(parts, s)
		}
	default:
		return nil, fmt.Errorf("%v is not a list (comma-separated string or array of strings)", raw)
	}
	var out []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

// parseIntList reads a list of integers written like a list: comma-separated
// text, or in a file an array (or a single number). Like parseList it skips
// empty elements and returns nil for an empty list. Errors count elements
// from 0 as written, empty ones included.
func parseIntList(raw any) ([]int, error) {
	var parts []any
	switch v := raw.(type) {
	case string:
		for p := range strings.SplitSeq(v, ",") {
			parts = append(parts, p)
		}
	case []any:
		parts = v
	case int, int64, uint64, float64:
		parts = []any{v}
	default:
		return nil, fmt.Errorf("%v is not a list (comma-separated string or array of integers)", raw)
	}
	var out []int
	for i, p := range parts {
		s, isString := p.(string)
		if isString && strings.TrimSpace(s) == "" {
			continue
		}
		n, err := parseInt(p)
		switch {
		case err == nil:
			out = append(out, n)
		case isString:
			return nil, fmt.Errorf("element %d (%q) is not an integer", i, s)
		default:
			return nil, fmt.Errorf("element %d (%v) is not an integer", i, p)
		}
	}
	return out, nil
}
