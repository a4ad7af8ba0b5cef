package servertest

import (
	"os"
	"os/exec"
	"testing"
)

// CIEnv is set by .ci/run: there a missing browser fails a browser test,
// since a skipped one would pass CI without ever opening its page.
const CIEnv = "GISBI_CI"

// Chromium finds a Chromium or Chrome binary on PATH, or skips the test
// (fails it under CIEnv) saying how to get one; what names the page the
// test opens.
func Chromium(t testing.TB, what string) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium on PATH (looked for chromium, chromium-browser, google-chrome); " +
		"install one (Debian: apt-get install chromium) to run " + what + "'s browser test"
	if os.Getenv(CIEnv) != "" {
		t.Fatal(msg + "; " + CIEnv + " is set, so a missing browser is a failure")
	}
	t.Skip(msg)
	return ""
}
