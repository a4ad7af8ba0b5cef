package server_test

import (
	"fmt"
	"os"
	"testing"
)

// afterSuite are checks over what the whole package's tests recorded (see
// servertest.Recorded): they run once every test has passed, so a frame or
// answer that only some test provokes is still checked.
var afterSuite []func() error

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		for _, check := range afterSuite {
			if err := check(); err != nil {
				fmt.Fprintf(os.Stderr, "FAIL: after the suite: %v\n", err)
				code = 1
			}
		}
	}
	os.Exit(code)
}
