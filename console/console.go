// Package console is the operator console: a small web page served by the
// binary at /console, from files embedded at build time, that drives the
// operator API (reports, users, campaigns, audit log) and shows the node's
// health. It is plain HTML, CSS and JavaScript with no build step, so what
// is in static/ is exactly what a browser runs, and it works offline.
//
// The page holds the admin token in a JavaScript variable only; the server
// side here serves files and never sees the token. Every answer carries a
// strict Content-Security-Policy, which is why no script or style is
// inline: both live in their own files.
package console

import (
	"bytes"
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var static embed.FS

// prefix is where the console lives; nothing of it is served elsewhere.
const prefix = "/console"

// csp admits only the console's own files: no inline script or style, no
// other origin, no framing (clickjacking an operator who terminates
// accounts is the attack it closes), and forms post only here.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// headers go on every console answer, errors included.
var headers = [][2]string{
	{"Content-Security-Policy", csp},
	{"X-Frame-Options", "DENY"},
	{"Referrer-Policy", "no-referrer"},
	{"X-Content-Type-Options", "nosniff"},
	// The page is small and changes with the binary; a stale script
	// against a newer API is worse than a re-download.
	{"Cache-Control", "no-store"},
}

// contentTypes are the types of the files the console ships; a file of
// another kind is refused at start-up rather than served as a guess.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// operatorAPIMarker is replaced in index.html by "on" or "off", so the page
// knows at once whether to offer a sign-in: no extra round trip, and no
// inline script, which the CSP forbids.
const operatorAPIMarker = "{{operatorApi}}"

type asset struct {
	contentType string
	body        []byte
}

// Register serves the console on r: GET /console is the page and
// GET /console/<file> its assets. operatorAPI says whether an admin token
// is configured; without one the page says the operator API is off.
// Register before any catch-all handler of r.
func Register(r fiber.Router, operatorAPI bool) {
	assets := load(operatorAPI)
	r.Use(prefix, func(c *fiber.Ctx) error {
		// Fiber matches a Use prefix as a plain string prefix, so this
		// also runs for /console.js or /consolex, which are not ours; and
		// its routes ignore case, so /Console is the page too.
		if p := strings.ToLower(c.Path()); p == prefix || strings.HasPrefix(p, prefix+"/") {
			for _, h := range headers {
				c.Set(h[0], h[1])
			}
		}
		return c.Next()
	})
	serve := func(c *fiber.Ctx, name string) error {
		a, ok := assets[name]
		if !ok {
			return fiber.ErrNotFound
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		return c.Send(a.body)
	}
	r.Get(prefix, func(c *fiber.Ctx) error { return serve(c, "index.html") })
	r.Get(prefix+"/:file", func(c *fiber.Ctx) error { return serve(c, c.Params("file")) })
}

// load reads the embedded files once: they cannot change while the binary
// runs, and a bad one is a build mistake that should stop the start.
func load(operatorAPI bool) map[string]asset {
	state := "off"
	if operatorAPI {
		state = "on"
	}
	out := map[string]asset{}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic("console: embedded files: " + err.Error())
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		ct, ok := contentTypes[strings.ToLower(path.Ext(name))]
		if !ok {
			panic("console: no content type for embedded file " + name)
		}
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic("console: embedded file " + name + ": " + err.Error())
		}
		if name == "index.html" {
			b = bytes.ReplaceAll(b, []byte(operatorAPIMarker), []byte(state))
		}
		out[name] = asset{contentType: ct, body: b}
	}
	if _, ok := out["index.html"]; !ok {
		panic("console: index.html is not embedded")
	}
	return out
}
