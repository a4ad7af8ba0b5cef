package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testNow is the fixed clock of every protocol test.
var testNow = time.Date(2026, 4, 14, 14, 12, 20, 123456789, time.UTC)

// checkErr compares a reply error with the expected code (empty: success)
// and, when msg is not empty, a substring of its message.
func checkErr(t *testing.T, got *Error, code Code, msg string) bool {
	t.Helper()
	switch {
	case code == "" && got != nil:
		t.Errorf("unexpected error %v", got)
		return false
	case code != "" && got == nil:
		t.Errorf("got no error, want %s", code)
		return false
	case code != "" && got.Code != code:
		t.Errorf("code = %s (%q), want %s", got.Code, got.Message, code)
		return false
	case msg != "" && !strings.Contains(got.Message, msg):
		t.Errorf("message = %q, want it to contain %q", got.Message, msg)
		return false
	}
	return true
}

// reportFailures fails the row with every mismatch it collected.
func reportFailures(t *testing.T, failures []string) {
	t.Helper()
	for _, f := range failures {
		t.Error(f)
	}
}

// sameJSON reports whether two JSON texts hold the same value. Numbers are
// compared as written so that no precision is lost on the way.
func sameJSON(a, b []byte) bool {
	va, errA := decodeAny(a)
	vb, errB := decodeAny(b)
	if errA != nil || errB != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeAny(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// decodeObject decodes an encoded object into its raw members.
func decodeObject(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v\n%s", err, b)
	}
	return m
}

func keysOf(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
