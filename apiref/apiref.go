package apiref

import (
	"bytes"
	"embed"
	"html/template"

	"github.com/gofiber/fiber/v2"

	"github.com/gisbi/engine/docs"
)

//go:embed static
var static embed.FS

// headers go on every answer: the page has no script at all, loads only its
// own stylesheet, and cannot be framed.
var headers = [][2]string{
	{"Content-Security-Policy", "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
	{"X-Content-Type-Options", "nosniff"},
	{"Referrer-Policy", "no-referrer"},
	// The documents change with the binary; a cached page from an older
	// one would describe an API this server no longer speaks.
	{"Cache-Control", "no-cache"},
}

type file struct {
	contentType string
	body        []byte
}

// Register serves the reference on r: GET /docs is the page, and
// GET /docs/<file> the two documents and the stylesheet. Register before
// any catch-all handler of r.
func Register(r fiber.Router) {
	files := load()
	serve := func(c *fiber.Ctx, name string) error {
		f, ok := files[name]
		if !ok {
			return fiber.ErrNotFound
		}
		for _, h := range headers {
			c.Set(h[0], h[1])
		}
		c.Set(fiber.HeaderContentType, f.contentType)
		return c.Send(f.body)
	}
	r.Get("/docs", func(c *fiber.Ctx) error { return serve(c, "") })
	r.Get("/docs/:file", func(c *fiber.Ctx) error { return serve(c, c.Params("file")) })
}

// load renders the page once: the documents cannot change while the binary
// runs, and one that does not render is a build mistake (the package's tests
// render the embedded documents) that should stop the start.
func load() map[string]file {
	page, err := Render(docs.AsyncAPI, docs.OpenAPI)
	if err != nil {
		panic("apiref: " + err.Error())
	}
	css, err := static.ReadFile("static/apiref.css")
	if err != nil {
		panic("apiref: " + err.Error())
	}
	// YAML has no registered type; application/yaml is the one RFC 9512
	// gives it, and tools that fetch the documents accept it.
	return map[string]file{
		"":              {"text/html; charset=utf-8", page},
		"apiref.css":    {"text/css; charset=utf-8", css},
		"asyncapi.yaml": {"application/yaml", docs.AsyncAPI},
		"openapi.yaml":  {"application/yaml", docs.OpenAPI},
	}
}

var tmpl = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"dict": func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	},
	"anchor": anchor,
	// isSchema is replaced per render with the documents' schema names.
	"isSchema": func(doc, name string) bool { return false },
}).ParseFS(static, "static/page.html"))

// Render renders the reference page from the sources of the AsyncAPI and
// OpenAPI documents.
func Render(asyncAPI, openAPI []byte) ([]byte, error) {
	p, err := build(asyncAPI, openAPI)
	if err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, g := range p.Schemas {
		for _, s := range g.Schemas {
			known[s.Anchor()] = true
		}
	}
	t, err := tmpl.Clone()
	if err != nil {
		return nil, err
	}
	t.Funcs(template.FuncMap{"isSchema": func(doc, name string) bool { return known[anchor(doc, name)] }})
	var out bytes.Buffer
	if err := t.Execute(&out, p); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
