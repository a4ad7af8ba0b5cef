package server_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gisbi/engine/docs"
	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// /docs is the rendered reference, and the two documents are served
// byte for byte as embedded, for tools to fetch from a running server.
func TestAPIReferenceIsServed(t *testing.T) {
	srv := servertest.Start(t)
	page := srv.Do("GET", "/docs", "", nil)
	if page.Status != 200 {
		t.Fatalf("GET /docs: %d %s", page.Status, page.Body)
	}
	html := string(page.Body)
	for _, want := range []string{
		`href="/docs/asyncapi.yaml"`, `href="/docs/openapi.yaml"`, `href="/docs/apiref.css"`,
		// one frame of each dialect, one REST operation, one code
		`<code>chat.message.created</code>`, `<code>messages-received</code>`,
		`id="op-openWS"`, `<code>` + string(protocol.CodeRateLimited) + `</code>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("GET /docs lacks %s", want)
		}
	}
	for _, tc := range []struct {
		file string
		want []byte
	}{
		{"asyncapi.yaml", docs.AsyncAPI},
		{"openapi.yaml", docs.OpenAPI},
	} {
		res := srv.Do("GET", "/docs/"+tc.file, "", nil)
		if res.Status != 200 || !bytes.Equal(res.Body, tc.want) {
			t.Errorf("GET /docs/%s: %d, %d bytes, want 200 and the embedded %d bytes", tc.file, res.Status, len(res.Body), len(tc.want))
		}
	}
	if res := srv.Do("GET", "/docs/apiref.css", "", nil); res.Status != 200 {
		t.Errorf("GET /docs/apiref.css: %d", res.Status)
	}
	if res := srv.Do("GET", "/docs/doc.go", "", nil); res.Status != 404 || res.Code() != string(protocol.CodeNotFound) {
		t.Errorf("GET /docs/doc.go: %d %s, want 404 not_found", res.Status, res.Body)
	}
}
