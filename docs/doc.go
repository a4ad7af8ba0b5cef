// Package docs holds the project's documents. The two machine-readable API
// documents are embedded, so the binary can serve them and tests can hold
// the code to them: asyncapi.yaml describes both socket dialects and
// openapi.yaml every REST route.
package docs

import _ "embed"

// AsyncAPI is docs/asyncapi.yaml (AsyncAPI 3.0): the /ws and /socket dialects.
//
//go:embed asyncapi.yaml
var AsyncAPI []byte

// OpenAPI is docs/openapi.yaml (OpenAPI 3.1): the REST routes.
//
//go:embed openapi.yaml
var OpenAPI []byte
