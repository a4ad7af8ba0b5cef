package apiref

import (
	"strings"
	"testing"
)

// The renderer reads documents it does not control the shape of (a half
// written one, during development): missing parts render as nothing, never
// a panic, and what is there shows.
func TestRenderToleratesAndShows(t *testing.T) {
	const async = `
asyncapi: 3.0.0
channels:
  ws:
    address: /ws
    messages:
      ping: {$ref: '#/components/messages/ping'}
      pong: {$ref: '#/components/messages/pong'}
operations:
  receivePing:
    action: receive
    channel: {$ref: '#/channels/ws'}
    messages: [{$ref: '#/channels/ws/messages/ping'}]
    reply:
      messages: [{$ref: '#/channels/ws/messages/pong'}]
  dangling:
    action: send
    channel: {$ref: '#/channels/nowhere'}
    messages: [{$ref: '#/channels/nowhere/messages/x'}]
components:
  messages:
    ping:
      name: session.ping
      payload:
        allOf:
          - properties: {payload: {$ref: '#/components/schemas/Ping'}}
    pong: {name: session.pong, payload: {$ref: '#/components/schemas/Missing'}}
  schemas:
    Ping: {type: object}
    ErrorCode: {type: string, enum: [not_found, rate_limited]}
    CloseCode:
      type: integer
      x-close-codes:
        4008: {meaning: too slow, reconnect: yes}
`
	const open = `
openapi: 3.1.0
tags: [{name: users}]
paths:
  /users/{id}:
    get:
      operationId: getUser
      summary: One user
      tags: [users]
      parameters: [{$ref: '#/components/parameters/ID'}]
      responses:
        '200': {description: the user, content: {application/json: {schema: {$ref: '#/components/schemas/User'}}}}
        '404': {$ref: '#/components/responses/NotFound'}
components:
  parameters:
    ID: {name: id, in: path, required: true}
  responses:
    NotFound: {description: no such user}
  schemas:
    User: {type: object}
`
	for _, tc := range []struct {
		name        string
		async, open string
		want        []string
	}{
		{"empty documents", "", "", []string{"<h2>Sockets</h2>", "<h2>REST</h2>"}},
		{"not mappings", "[1, 2]", "just a string", nil},
		{"whole documents", async, open, []string{
			`<code>session.ping</code>`,
			`href="#schema-asyncapi-Ping"`,
			`data-direction="send"><td><code>session.pong</code>`,
			`<code>Missing</code>`, // a dangling $ref shows its name, unlinked
			`<td>4008</td><td>too slow</td><td>yes</td>`,
			`<code>rate_limited</code>`,
			`id="op-getUser"`, `<code>path id</code>`, `<b>404</b> no such user`,
			`href="#schema-openapi-User"`, `id="schema-openapi-User"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := Render([]byte(tc.async), []byte(tc.open))
			if tc.want == nil {
				if err == nil {
					t.Fatalf("rendered a document that is not a mapping")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(page), w) {
					t.Errorf("page lacks %s", w)
				}
			}
			if strings.Contains(string(page), `href="#schema-asyncapi-Missing"`) {
				t.Errorf("a dangling $ref is linked")
			}
		})
	}
}

// The binary refuses to start when the embedded documents do not render.
func TestEmbeddedDocumentsRender(t *testing.T) {
	if files := load(); len(files[""].body) == 0 {
		t.Fatal("the embedded documents rendered an empty page")
	}
}
