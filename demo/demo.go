package demo

import (
	"embed"
	"io/fs"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var static embed.FS

// csp admits the page's own files and its own origin's API and sockets
// ('self' covers ws: and wss: of the same host in current browsers).
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

var headers = [][2]string{
	{"Content-Security-Policy", csp},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	{"Cache-Control", "no-store"},
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

type asset struct {
	contentType string
	body        []byte
}

// Register serves the demo on r: GET /demo is the page and GET /demo/<file>
// its script, worker and stylesheet. Call it only in dev mode. Register
// before any catch-all handler of r.
func Register(r fiber.Router) {
	assets := load()
	serve := func(c *fiber.Ctx, name string) error {
		a, ok := assets[name]
		if !ok {
			return fiber.ErrNotFound
		}
		for _, h := range headers {
			c.Set(h[0], h[1])
		}
		c.Set(fiber.HeaderContentType, a.contentType)
		return c.Send(a.body)
	}
	r.Get("/demo", func(c *fiber.Ctx) error { return serve(c, "index.html") })
	r.Get("/demo/:file", func(c *fiber.Ctx) error { return serve(c, c.Params("file")) })
}

// load reads the embedded files once; a file of an unknown kind is a build
// mistake that should stop the start.
func load() map[string]asset {
	out := map[string]asset{}
	entries, err := fs.ReadDir(static, "static")
	if err != nil {
		panic("demo: embedded files: " + err.Error())
	}
	for _, e := range entries {
		name := e.Name()
		ct, ok := contentTypes[strings.ToLower(path.Ext(name))]
		if !ok || e.IsDir() {
			panic("demo: unexpected embedded file " + name)
		}
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			panic("demo: embedded file " + name + ": " + err.Error())
		}
		out[name] = asset{contentType: ct, body: b}
	}
	return out
}
