package server_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"mime"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gisbi/engine/server/servertest"
)

// docs/openapi.yaml is held to the code three ways: its operations are
// exactly the fiber app's routes (and its x-gisbi-mounts exactly the
// middleware mounts), its ErrorCode enum is exactly protocol/errors.go's
// codes, and every REST answer the package's tests recorded is one the
// document describes (after the suite, see init).

func init() {
	afterSuite = append(afterSuite, checkRecordedExchanges)
}

// openAPIOp is one operation of the document.
type openAPIOp struct {
	method, path string // "GET", "/chats/{chat}/messages"
	op           map[string]any
}

func (o openAPIOp) key() string { return o.method + " " + o.path }

// pointer is the operation's JSON pointer in the document.
func (o openAPIOp) pointer() string {
	return "#/paths/" + escapePointer(o.path) + "/" + strings.ToLower(o.method)
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func openAPIOps(doc map[string]any) []openAPIOp {
	paths, _ := doc["paths"].(map[string]any)
	var out []openAPIOp
	for p, item := range paths {
		m, _ := item.(map[string]any)
		for _, method := range httpMethods {
			if op, ok := m[method].(map[string]any); ok {
				out = append(out, openAPIOp{method: strings.ToUpper(method), path: p, op: op})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key() < out[j].key() })
	return out
}

// fiberToOpenAPI writes fiber's ":param" segments as OpenAPI's "{param}".
func fiberToOpenAPI(path string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + strings.TrimSuffix(name, "?") + "}"
		}
	}
	return strings.Join(segs, "/")
}

// servedRoutes lists the app's routes as "METHOD /openapi/{path}" and its
// middleware mounts as prefixes, as servedEntries (authz_test.go) finds them.
func servedRoutes(srv *servertest.Server) (routes map[string]bool, mounts map[string]bool) {
	raw := map[string]bool{}
	for _, r := range srv.API.App.GetRoutes(true) {
		raw[r.Method+" "+r.Path] = true
	}
	routes = map[string]bool{}
	for k := range raw {
		m, p, _ := strings.Cut(k, " ")
		// Fiber adds a HEAD route beside every GET one, with the GET's
		// handlers: the GET operation documents both.
		if m == http.MethodHead && raw[http.MethodGet+" "+p] {
			continue
		}
		routes[m+" "+fiberToOpenAPI(p)] = true
	}
	mounts = map[string]bool{}
	for _, r := range srv.API.App.GetRoutes(false) {
		// A USE mount is middleware: it has no method or path of its own,
		// so it is no OpenAPI operation; the document lists mounts under
		// x-gisbi-mounts with the answers they give by themselves.
		if !raw[r.Method+" "+r.Path] {
			mounts[r.Path] = true
		}
	}
	return routes, mounts
}

// noFailure are the operations that answer no 4xx of their own, and why.
var noFailure = map[string]string{
	"GET /healthz": "a liveness probe: it answers 200 while the process serves at all",
	"GET /readyz":  "a readiness probe: not ready is 503 with a status body, not an error",
	"GET /metrics": "Prometheus' scrape: nothing about the request can be wrong",
	"GET /console": "the console's page is a static file",
	"GET /docs":    "the reference page is rendered once at start-up",
	"GET /demo":    "the demo's page is a static file",
}

func TestOpenAPIMatchesTheRoutes(t *testing.T) {
	doc := apiDoc(t, "openapi")
	srv := servertest.Start(t, withAdmin)
	routes, mounts := servedRoutes(srv)

	documented := map[string]bool{}
	for _, o := range openAPIOps(doc) {
		documented[o.key()] = true
		if !routes[o.key()] {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not serve: remove paths[%q].%s (or serve it)",
				o.key(), o.path, strings.ToLower(o.method))
		}
		checkOperation(t, doc, o)
	}
	for _, r := range slices.Sorted(mapKeys(routes)) {
		if !documented[r] {
			m, p, _ := strings.Cut(r, " ")
			t.Errorf("the server serves %s, which docs/openapi.yaml does not document: add paths[%q].%s with operationId, summary, security, parameters, request body and responses",
				r, p, strings.ToLower(m))
		}
	}

	docMounts, _ := doc["x-gisbi-mounts"].(map[string]any)
	for m := range mounts {
		if _, ok := docMounts[m]; !ok {
			t.Errorf("middleware is mounted on %q but docs/openapi.yaml's x-gisbi-mounts does not list it: add it with the answers it gives of its own", m)
		}
	}
	for m := range docMounts {
		if !mounts[m] {
			t.Errorf("docs/openapi.yaml's x-gisbi-mounts lists %q, where no middleware is mounted: remove it", m)
		}
	}
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// checkOperation: an operationId, a summary, security (possibly explicitly
// none), and a 4xx answer with the Error body unless noFailure says why not.
func checkOperation(t *testing.T, doc map[string]any, o openAPIOp) {
	t.Helper()
	for _, field := range []string{"operationId", "summary"} {
		if s, _ := o.op[field].(string); s == "" {
			t.Errorf("%s: no %s", o.key(), field)
		}
	}
	if _, ok := o.op["security"].([]any); !ok {
		t.Errorf("%s: no security (write `security: []` for a public route)", o.key())
	}
	responses, _ := o.op["responses"].(map[string]any)
	has4xx := false
	for status, r := range responses {
		if !strings.HasPrefix(status, "4") {
			continue
		}
		res, ptr := resolveRef(doc, r, o.pointer()+"/responses/"+status)
		schema := jsonSchemaOf(res)
		if ref, _ := schema["$ref"].(string); ref != "#/components/schemas/Error" {
			t.Errorf("%s: answer %s (%s) does not have the Error body", o.key(), status, ptr)
			continue
		}
		has4xx = true
	}
	why, exempt := noFailure[o.key()]
	switch {
	case !has4xx && !exempt:
		t.Errorf("%s: no 4xx answer with the Error body; document how it fails (or add it to noFailure with why it cannot)", o.key())
	case has4xx && exempt:
		t.Errorf("%s has 4xx answers but noFailure says %q: remove it from noFailure", o.key(), why)
	}
}

// resolveRef follows a {$ref: "#/..."} (several in a row) and answers the
// object and its pointer.
func resolveRef(doc map[string]any, v any, ptr string) (map[string]any, string) {
	for i := 0; i < 10; i++ {
		m, _ := v.(map[string]any)
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, ptr
		}
		ptr = ref
		v = lookupPointer(doc, ref)
	}
	return nil, ptr
}

func lookupPointer(doc map[string]any, ref string) any {
	var cur any = doc
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func jsonSchemaOf(res map[string]any) map[string]any {
	content, _ := res["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	s, _ := mt["schema"].(map[string]any)
	return s
}

func TestOpenAPIErrorCodes(t *testing.T) {
	doc := apiDoc(t, "openapi")
	want, err := protocolErrorCodes("../protocol/errors.go")
	if err != nil {
		t.Fatal(err)
	}
	errSchema, _ := lookupPointer(doc, "#/components/schemas/Error").(map[string]any)
	props, _ := errSchema["properties"].(map[string]any)
	code, _ := resolveRef(doc, props["code"], "#/components/schemas/Error/properties/code")
	enum, _ := code["enum"].([]any)
	if len(enum) == 0 {
		t.Fatal("docs/openapi.yaml: components/schemas/Error's code has no enum")
	}
	got := map[string]bool{}
	for _, c := range enum {
		s, _ := c.(string)
		if got[s] {
			t.Errorf("the Error code enum lists %q twice", s)
		}
		got[s] = true
		if !want[s] {
			t.Errorf("the Error code enum lists %q, which protocol/errors.go does not declare: remove it", s)
		}
	}
	for c := range want {
		if !got[c] {
			t.Errorf("protocol/errors.go declares %q, which the Error code enum lacks: add it", c)
		}
	}
	for _, field := range []string{"detail", "code"} {
		if _, ok := props[field]; !ok {
			t.Errorf("components/schemas/Error has no %s (protocol.RESTError's fields are detail and code)", field)
		}
	}
}

// protocolErrorCodes reads the Code constants of protocol/errors.go, the
// one list of them (as protocol's own TestEveryCodeHasAStatus does).
func protocolErrorCodes(path string) (map[string]bool, error) {
	file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		return nil, err
	}
	codes := map[string]bool{}
	for _, decl := range file.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
				continue
			}
			for _, v := range vs.Values {
				lit, ok := v.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return nil, fmt.Errorf("%s: a Code constant that is no string literal", path)
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return nil, err
				}
				codes[s] = true
			}
		}
	}
	if len(codes) == 0 {
		return nil, fmt.Errorf("%s declares no Code constants", path)
	}
	return codes, nil
}

// matchOperation finds the documented path template of path (a literal
// segment beats a parameter) and its operation for method.
func matchOperation(ops []openAPIOp, method, path string) (tmpl string, op *openAPIOp) {
	segs := strings.Split(path, "/")
	best := -1
	for i := range ops {
		t := strings.Split(ops[i].path, "/")
		if len(t) != len(segs) {
			continue
		}
		literal, ok := 0, true
		for j := range t {
			switch {
			case strings.HasPrefix(t[j], "{") && strings.HasSuffix(t[j], "}"):
				ok = ok && segs[j] != ""
			case t[j] == segs[j]:
				literal++
			default:
				ok = false
			}
		}
		if !ok || literal < best {
			continue
		}
		if literal > best {
			best, tmpl, op = literal, ops[i].path, nil
		}
		if ops[i].path == tmpl && ops[i].method == method {
			op = &ops[i]
		}
	}
	return tmpl, op
}

// mountFor is the longest x-gisbi-mounts prefix path lies under.
func mountFor(mounts map[string]any, path string) string {
	best := "/"
	for m := range mounts {
		if (path == m || strings.HasPrefix(path, strings.TrimSuffix(m, "/")+"/")) && len(m) > len(best) {
			best = m
		}
	}
	return best
}

// checkRecordedExchanges holds every REST answer the tests recorded to the
// document: its path and method are an operation (or, for answers no route
// gave, a middleware mount that gives them), its status is documented
// there, and a JSON body validates against the documented schema.
func checkRecordedExchanges() error {
	doc, err := decodeAPIDoc("openapi")
	if err != nil {
		return err
	}
	schemas, err := newDocSchemas("openapi")
	if err != nil {
		return err
	}
	ops := openAPIOps(doc)
	mounts, _ := doc["x-gisbi-mounts"].(map[string]any)
	_, exchanges := servertest.Recorded()
	// One line per kind of mismatch, with its first body and how often
	// it was seen: a wrong schema shows once, not once per test login.
	type seen struct {
		first string
		n     int
	}
	problems := map[string]*seen{}
	for _, ex := range exchanges {
		p := checkExchange(doc, schemas, ops, mounts, ex)
		if p == "" {
			continue
		}
		key := fmt.Sprintf("%s %s → %d: %s", ex.Method, ex.Path, ex.Status, p)
		if tmpl, _ := matchOperation(ops, ex.Method, ex.Path); tmpl != "" && tmpl != ex.Path {
			key = fmt.Sprintf("%s %s (%s) → %d: %s", ex.Method, tmpl, ex.Path, ex.Status, p)
		}
		group := fmt.Sprintf("%s %d: %s", ex.Method, ex.Status, p)
		if s := problems[group]; s != nil {
			s.n++
			continue
		}
		problems[group] = &seen{first: key + "; body: " + truncate(ex.Body, 300), n: 1}
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "docs/openapi.yaml: checked %d recorded REST answers\n", len(exchanges))
	}
	if len(problems) > 0 {
		var lines []string
		for _, s := range problems {
			line := s.first
			if s.n > 1 {
				line += fmt.Sprintf(" (and %d more like it)", s.n-1)
			}
			lines = append(lines, line)
		}
		slices.Sort(lines)
		return fmt.Errorf("%d kinds of recorded REST answers disagree with docs/openapi.yaml (method, path, status, what, body):\n  %s", len(lines), strings.Join(lines, "\n  "))
	}
	return nil
}

func checkExchange(doc map[string]any, schemas *docSchemas, ops []openAPIOp, mounts map[string]any, ex servertest.RecordedExchange) string {
	method := ex.Method
	if method == http.MethodHead {
		method = http.MethodGet
	}
	status := strconv.Itoa(ex.Status)
	var res any
	var where string
	tmpl, op := matchOperation(ops, method, ex.Path)
	if op != nil {
		responses, _ := op.op["responses"].(map[string]any)
		res, where = responses[status], op.pointer()+"/responses/"+status
		if res == nil {
			return fmt.Sprintf("status %s is not documented for %s %s", status, method, tmpl)
		}
	} else {
		// No operation took it: the answer is a middleware's (the
		// fallback's 404/405, a mount refusing before routing).
		m := mountFor(mounts, ex.Path)
		for _, mount := range []string{m, "/"} {
			mm, _ := mounts[mount].(map[string]any)
			responses, _ := mm["responses"].(map[string]any)
			if r := responses[status]; r != nil {
				res, where = r, "#/x-gisbi-mounts/"+escapePointer(mount)+"/responses/"+status
				break
			}
		}
		if res == nil {
			what := "no documented path matches"
			if tmpl != "" {
				what = fmt.Sprintf("%s is documented without %s", tmpl, method)
			}
			return fmt.Sprintf("%s, and neither x-gisbi-mounts[%q] nor [\"/\"] documents status %s", what, m, status)
		}
	}
	resolved, ptr := resolveRef(doc, res, where)
	if len(ex.Body) == 0 || ex.Method == http.MethodHead {
		return ""
	}
	content, _ := resolved["content"].(map[string]any)
	mt, _, err := mime.ParseMediaType(ex.ContentType)
	if err != nil {
		return fmt.Sprintf("Content-Type %q: %v", ex.ContentType, err)
	}
	if _, ok := content[mt]; !ok {
		return fmt.Sprintf("Content-Type %s is not documented at %s", mt, ptr)
	}
	if mt != "application/json" {
		return ""
	}
	var schemaPtr string
	if s, _ := content[mt].(map[string]any)["schema"].(map[string]any); s != nil {
		if ref, ok := s["$ref"].(string); ok {
			schemaPtr = ref
		} else {
			schemaPtr = ptr + "/content/application~1json/schema"
		}
	}
	if schemaPtr == "" {
		return "no JSON schema documented at " + ptr
	}
	if err := schemas.validate(schemaPtr, ex.Body); err != nil {
		return fmt.Sprintf("does not validate against %s: %s", schemaPtr, strings.ReplaceAll(err.Error(), "\n", " | "))
	}
	return ""
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
