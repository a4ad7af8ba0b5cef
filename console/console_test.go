package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/gisbi/engine/config"
	"github.com/gisbi/engine/server/servertest"
)

const adminToken = "operator-token-for-console-tests"

func withAdmin(c *config.Config) { c.AdminToken = adminToken }

// wantHeaders are the console's security headers, word for word: a
// loosened policy must show up here as a failing test, not in production.
var wantHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"X-Content-Type-Options":  "nosniff",
	"Cache-Control":           "no-store",
}

type answer struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, method, url string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	// No redirects: a redirect to the page would hide a path that should
	// not answer at all.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{res.StatusCode, res.Header, string(b)}
}

func checkHeaders(t *testing.T, what string, a answer) {
	t.Helper()
	for k, v := range wantHeaders {
		if got := a.header.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want %q", what, k, got, v)
		}
	}
}

func TestConsoleServesItsFiles(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/console", "text/html; charset=utf-8", `<title>GISBI operator console</title>`},
		{"/console/", "text/html; charset=utf-8", `<title>GISBI operator console</title>`},
		{"/console/console.js", "text/javascript; charset=utf-8", "'use strict';"},
		{"/console/console.css", "text/css; charset=utf-8", "[hidden]"},
		{"/console/favicon.svg", "image/svg+xml", "<svg"},
		// Routes ignore case throughout the app; the headers must too.
		{"/Console", "text/html; charset=utf-8", `<title>GISBI operator console</title>`},
		{"/CONSOLE/console.js", "text/javascript; charset=utf-8", "'use strict';"},
	} {
		a := get(t, http.MethodGet, srv.URL+tc.path)
		if a.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", tc.path, a.status, a.body)
			continue
		}
		checkHeaders(t, "GET "+tc.path, a)
		if ct := a.header.Get("Content-Type"); ct != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, ct, tc.contentType)
		}
		if !strings.Contains(a.body, tc.contains) {
			t.Errorf("GET %s: body lacks %q", tc.path, tc.contains)
		}
		h := get(t, http.MethodHead, srv.URL+tc.path)
		if h.status != http.StatusOK || h.header.Get("Content-Type") != tc.contentType || h.body != "" {
			t.Errorf("HEAD %s: %d %q %q", tc.path, h.status, h.header.Get("Content-Type"), h.body)
		}
		checkHeaders(t, "HEAD "+tc.path, h)
	}

	page := get(t, http.MethodGet, srv.URL+"/console").body
	if !strings.Contains(page, `data-operator-api="on"`) || strings.Contains(page, "{{") {
		t.Errorf("with an admin token the page must say the operator API is on: %s", page)
	}
	// The CSP forbids inline code, so any there would be dead in a browser.
	if regexp.MustCompile(`(?i)<script(\s[^>]*)?>\s*[^<\s]|<style|\sstyle=|\son[a-z]+=`).MatchString(page) {
		t.Error("index.html has an inline script, style or event handler, which the CSP blocks")
	}
	// Every file the page refers to is served.
	for _, m := range regexp.MustCompile(`(?:src|href)="(/console/[^"]+)"`).FindAllStringSubmatch(page, -1) {
		if a := get(t, http.MethodGet, srv.URL+m[1]); a.status != http.StatusOK {
			t.Errorf("index.html refers to %s, which answers %d", m[1], a.status)
		}
	}
	script := get(t, http.MethodGet, srv.URL+"/console/console.js").body
	// User text (report reasons, names) is shown as text only: no HTML
	// parsing of anything, no storage the token could end up in.
	for _, banned := range []string{"innerHTML", "outerHTML =", "insertAdjacentHTML", "document.write", "eval(", "localStorage", "sessionStorage", "document.cookie"} {
		if strings.Contains(script, banned) {
			t.Errorf("console.js uses %s", banned)
		}
	}
}

func TestConsoleUnknownAndOutside(t *testing.T) {
	srv := servertest.Start(t, withAdmin)
	// Unknown files under /console: 404 as JSON like every other API miss,
	// still with the console's headers.
	for _, p := range []string{
		"/console/nope.js", "/console/static/console.js", "/console/a/b", "/console/index.htm",
		"/console/..%2fgo.mod", "/console/%2e%2e/go.mod", "/console/console.go", "/console/.hidden",
	} {
		a := get(t, http.MethodGet, srv.URL+p)
		if a.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404: %.200s", p, a.status, a.body)
			continue
		}
		checkHeaders(t, "GET "+p, a)
		var e struct{ Code, Detail string }
		if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Code != "not_found" {
			t.Errorf("GET %s: body %q, want a not_found error", p, a.body)
		}
	}
	// Nothing of the console answers outside /console, and those answers
	// do not carry its headers either.
	for _, p := range []string{
		"/", "/console.js", "/console.css", "/consolex", "/console-old/console.js", "/index.html",
		"/static/index.html", "/static/console.js", "/console.html", "/favicon.svg", "/admin/console",
	} {
		a := get(t, http.MethodGet, srv.URL+p)
		if a.status == http.StatusOK || strings.Contains(a.body, "operator console") || strings.Contains(a.body, "use strict") {
			t.Errorf("GET %s answers %d with console content: %.200s", p, a.status, a.body)
		}
		if a.header.Get("Content-Security-Policy") != "" {
			t.Errorf("GET %s carries the console's CSP", p)
		}
	}
	// The console is read-only: other methods are refused as on any route.
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		a := get(t, m, srv.URL+"/console")
		if a.status != http.StatusMethodNotAllowed || a.header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /console: %d Allow %q", m, a.status, a.header.Get("Allow"))
		}
		checkHeaders(t, m+" /console", a)
	}
}

// Without an admin token the console is still served, and tells the
// operator the API is off instead of offering a sign-in that cannot work.
func TestConsoleWithoutOperatorAPI(t *testing.T) {
	srv := servertest.Start(t)
	a := get(t, http.MethodGet, srv.URL+"/console")
	if a.status != http.StatusOK || !strings.Contains(a.body, `data-operator-api="off"`) {
		t.Fatalf("GET /console without an admin token: %d %.300s", a.status, a.body)
	}
	checkHeaders(t, "GET /console", a)
	if b := get(t, http.MethodGet, srv.URL+"/admin/campaigns"); b.status != http.StatusNotFound {
		t.Errorf("operator API without a token: %d", b.status)
	}
}
