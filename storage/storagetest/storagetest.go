package storagetest

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/gisbi/engine/storage"
	"github.com/gisbi/engine/storage/boltdb"
)

// New opens a bbolt store in a fresh temporary directory and closes it when
// the test ends. Tests of other packages use it instead of fakes, so they
// exercise the real indexes and error paths.
func New(t testing.TB) storage.Store {
	t.Helper()
	s, err := boltdb.Open(filepath.Join(t.TempDir(), "gisbi.db"), boltdb.Options{})
	if err != nil {
		t.Fatalf("storagetest: open bbolt store: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("storagetest: close: %v", err)
		}
	})
	return s
}

// t0 has microsecond precision on purpose: SQL timestamp columns keep no
// more, and the suite must pass on such backends too.
var t0 = time.Date(2026, 3, 14, 15, 9, 26, 535_897_000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func ptr[T any](v T) *T { return &v }

// testCase is one independent check against a fresh store.
type testCase struct {
	name string
	run  func(t *testing.T, s storage.Store)
}

// RunContract checks that a storage.Store behaves as storage.go documents.
// open must return a new, empty store each time and release it when t ends
// (Close called by the suite must not break that: Close is idempotent). It is
// called from parallel subtests.
func RunContract(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Users", userCases},
		{"Tokens", tokenCases},
		{"Devices", deviceCases},
		{"Safety", safetyCases},
		{"Reminders", reminderCases},
		{"Claims", claimCases},
		{"Pairs", pairCases},
		{"Messages", messageCases},
		{"ClientMessageIDs", clientIDCases},
		{"Snapshots", snapshotCases},
		{"Rewards", rewardCases},
		{"Scores", scoreCases},
		{"Moderation", moderationCases},
		{"Store", storeCases},
		{"Fencing", fencingCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range g.cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					c.run(t, open(t))
				})
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantIs(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: err = %v, want errors.Is(err, %v)", what, err, target)
	}
}

func wantErr(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: err = nil, want an error", what)
	}
}

func wantEqual(t testing.TB, what string, got, want any) {
	t.Helper()
	if !equal(reflect.ValueOf(got), reflect.ValueOf(want)) {
		t.Fatalf("%s:\n got  %s\n want %s", what, show(got), show(want))
	}
}

// show prints values with their pointers followed, so a diff is readable.
func show(v any) string {
	rv := reflect.ValueOf(v)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Slice {
		parts := make([]string, rv.Len())
		for i := range rv.Len() {
			parts[i] = show(rv.Index(i).Interface())
		}
		return fmt.Sprint(parts)
	}
	if rv.Kind() != reflect.Struct {
		return fmt.Sprintf("%+v", rv)
	}
	s := "{"
	for i := range rv.NumField() {
		f := rv.Field(i)
		if !rv.Type().Field(i).IsExported() {
			continue
		}
		if i > 0 {
			s += " "
		}
		val := fmt.Sprintf("%+v", f)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				val = "nil"
			} else {
				val = fmt.Sprintf("&%+v", f.Elem())
			}
		}
		s += rv.Type().Field(i).Name + ":" + val
	}
	return s + "}"
}

var timeType = reflect.TypeFor[time.Time]()

// equal is reflect.DeepEqual except that times compare with Equal (a
// backend may hand back another Location) and nil and empty slices match
// (JSON and SQL both blur them).
func equal(a, b reflect.Value) bool {
	if !a.IsValid() || !b.IsValid() {
		return a.IsValid() == b.IsValid()
	}
	if a.Type() != b.Type() {
		return false
	}
	if a.Type() == timeType {
		return a.Interface().(time.Time).Equal(b.Interface().(time.Time))
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Struct:
		for i := range a.NumField() {
			if !a.Type().Field(i).IsExported() {
				continue
			}
			if !equal(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	default:
		return reflect.DeepEqual(a.Interface(), b.Interface())
	}
}

func sorted(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	if out == nil {
		out = []string{}
	}
	return out
}
