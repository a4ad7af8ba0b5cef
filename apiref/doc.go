// Package apiref serves the API reference at /docs: one HTML page rendered
// at start-up from the two embedded machine-readable documents (package
// docs: asyncapi.yaml for the sockets, openapi.yaml for REST), and the
// documents themselves for tools. It is rendered on the server with
// html/template, so the page needs no script, no renderer bundle and no
// network: what the binary embeds is what a reader sees.
package apiref
