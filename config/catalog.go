package config

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/knadh/koanf/parsers/yaml"
)

// ScoreCatalog is the daily social score's action catalog: named sections
// of actions, in the order clients show them. It is read from
// score_catalog_file, or is the built-in catalog (score_catalog.json)
// when that setting is empty.
type ScoreCatalog struct {
	Sections []ScoreSection `json:"sections"`
}

// ScoreSection is one named group of actions; its name is a key of the
// score-updated payload.
type ScoreSection struct {
	Name    string        `json:"name"`
	Actions []ScoreAction `json:"actions"`
}

// ScoreAction is one action a user can complete once or more a day.
type ScoreAction struct {
	// Type names the action on the wire and in POST /score/actions/:type.
	Type     string `json:"type"`
	Label    string `json:"label"`
	SubLabel string `json:"subLabel,omitempty"`
	// StartAt is the suggested hour of the day (0–23), shown to clients;
	// it never gates completion.
	StartAt *int `json:"startAt,omitempty"`
	// Reel marks a video action: its completions count in reelsSeen.
	Reel bool `json:"reel,omitempty"`
}

//go:embed score_catalog.json
var defaultScoreCatalog []byte

// Limits of a catalog. Types and section names travel in URLs and as JSON
// keys, so they keep to a plain alphabet; the action bound keeps every
// score-updated frame small.
const (
	maxScoreActions = 100
	maxScoreName    = 64
	// maxScoreCatalogBytes bounds the file: the largest catalog the limits
	// allow is a few tens of KB.
	maxScoreCatalogBytes = 1 << 20
)

// reservedScoreKeys are the payload's own keys: a section of that name
// would overwrite them.
var reservedScoreKeys = map[string]bool{"date": true, "reelsSeen": true, "totalScore": true}

// DefaultScoreCatalog is the built-in catalog: the spec's social and
// mindfulness sections.
func DefaultScoreCatalog() ScoreCatalog {
	c, err := ParseScoreCatalog(defaultScoreCatalog, ".json")
	if err != nil {
		// The embedded file is part of the binary and tested.
		panic(fmt.Sprintf("config: built-in score catalog: %v", err))
	}
	return c
}

// ScoreCatalog is the catalog score_catalog_file names, or the built-in
// one. Validate already read it once; it is read again here, at start-up,
// so an edit in between is checked too.
func (c *Config) ScoreCatalog() (ScoreCatalog, error) {
	if c.ScoreCatalogFile == "" {
		return DefaultScoreCatalog(), nil
	}
	return LoadScoreCatalog(c.ScoreCatalogFile)
}

// LoadScoreCatalog reads and checks a catalog file, JSON (.json) or YAML
// (.yaml, .yml) by extension.
func LoadScoreCatalog(path string) (ScoreCatalog, error) {
	raw, err := readSmallFile(path, maxScoreCatalogBytes)
	if err != nil {
		return ScoreCatalog{}, fmt.Errorf("score catalog: %w", err)
	}
	c, err := ParseScoreCatalog(raw, filepath.Ext(path))
	if err != nil {
		return ScoreCatalog{}, fmt.Errorf("score catalog %s: %w", path, err)
	}
	return c, nil
}

// readSmallFile reads a regular file of at most max bytes. Anything else
// (a FIFO, /dev/zero, a log file named by mistake) is refused before it is
// read: reading it whole could block start-up or exhaust memory.
func readSmallFile(path string, max int64) ([]byte, error) {
	// Stat before opening: opening a FIFO blocks until a writer comes.
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := regular(path, st); err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > max {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, max)
	}
	return raw, nil
}

func regular(path string, st os.FileInfo) error {
	switch {
	case st.IsDir():
		return fmt.Errorf("%s is a directory", path)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	}
	return nil
}

// ParseScoreCatalog decodes a catalog in the format ext names and checks
// it. Unknown keys are errors: a misspelt "startAt" would otherwise
// silently drop the hour.
func ParseScoreCatalog(raw []byte, ext string) (ScoreCatalog, error) {
	var c ScoreCatalog
	switch strings.ToLower(ext) {
	case ".json":
	case ".yaml", ".yml":
		// YAML goes through the same strict JSON decoding, so both
		// formats accept exactly the same catalogs.
		m, err := yaml.Parser().Unmarshal(raw)
		if err != nil {
			return c, fmt.Errorf("not valid YAML: %w", err)
		}
		if raw, err = json.Marshal(m); err != nil {
			return c, fmt.Errorf("not a catalog: %w", err)
		}
	default:
		return c, fmt.Errorf("unsupported extension %q (want .json, .yaml or .yml)", ext)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("not a catalog: %w", err)
	}
	if dec.More() {
		return c, errors.New("not a catalog: trailing data after the object")
	}
	return c, c.Check()
}

// Check reports every problem of the catalog at once.
func (c ScoreCatalog) Check() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Sections) == 0 {
		bad("no sections")
	}
	sections, types, n := map[string]bool{}, map[string]bool{}, 0
	for i, s := range c.Sections {
		switch {
		case !plainName(s.Name):
			bad("section %d: name %q must be 1 to %d letters, digits, '-' or '_'", i+1, s.Name, maxScoreName)
		case reservedScoreKeys[s.Name]:
			bad("section %q: the name is a key of the score itself", s.Name)
		case sections[s.Name]:
			bad("section %q appears twice", s.Name)
		}
		sections[s.Name] = true
		if len(s.Actions) == 0 {
			bad("section %q has no actions", s.Name)
		}
		for j, a := range s.Actions {
			n++
			at := fmt.Sprintf("section %q action %d", s.Name, j+1)
			switch {
			case !plainName(a.Type):
				bad("%s: type %q must be 1 to %d letters, digits, '-' or '_'", at, a.Type, maxScoreName)
			case types[a.Type]:
				bad("%s: type %q appears twice", at, a.Type)
			}
			types[a.Type] = true
			if strings.TrimSpace(a.Label) == "" {
				bad("%s (%s): label is required", at, a.Type)
			}
			if a.StartAt != nil && (*a.StartAt < 0 || *a.StartAt > 23) {
				bad("%s (%s): startAt %d is not an hour from 0 to 23", at, a.Type, *a.StartAt)
			}
		}
	}
	if n > maxScoreActions {
		bad("%d actions, at most %d", n, maxScoreActions)
	}
	return errors.Join(errs...)
}

func plainName(s string) bool {
	if s == "" || len(s) > maxScoreName {
		return false
	}
	for _, r := range s {
		if r != '-' && r != '_' && !isAlnumRune(r) {
			return false
		}
	}
	return true
}
