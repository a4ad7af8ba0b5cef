package ids

import (
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	a, b := New("req"), New("req")
	if !strings.HasPrefix(a, "req_") || len(a) != len("req_")+26 || a == b || a != strings.ToLower(a) {
		t.Fatalf("New = %q, %q", a, b)
	}
}
