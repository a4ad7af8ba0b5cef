package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/gisbi/engine/docs"
)

// apiDoc is one of the embedded API documents ("asyncapi" or "openapi")
// decoded as JSON would be, so its schemas can be compiled and walked.
func apiDoc(t testing.TB, name string) map[string]any {
	t.Helper()
	doc, err := decodeAPIDoc(name)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func decodeAPIDoc(name string) (map[string]any, error) {
	src := map[string][]byte{"asyncapi": docs.AsyncAPI, "openapi": docs.OpenAPI}[name]
	if src == nil {
		return nil, fmt.Errorf("no API document %q", name)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("docs/%s.yaml: %w", name, err)
	}
	// A round trip through JSON gives the plain JSON values the schema
	// compiler expects (YAML ints decode as int, JSON's as float64).
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("docs/%s.yaml is not JSON-compatible: %w", name, err)
	}
	doc = nil
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// docSchemas compiles schemas out of an API document by JSON pointer
// ("#/components/schemas/User"), resolving the document's own $refs.
type docSchemas struct {
	name  string
	c     *jsonschema.Compiler
	cache map[string]*jsonschema.Schema
}

func newDocSchemas(name string) (*docSchemas, error) {
	doc, err := decodeAPIDoc(name)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(name+".json", doc); err != nil {
		return nil, fmt.Errorf("docs/%s.yaml: %w", name, err)
	}
	return &docSchemas{name: name, c: c, cache: map[string]*jsonschema.Schema{}}, nil
}

// schema compiles the schema at pointer, e.g. "#/components/schemas/User".
func (d *docSchemas) schema(pointer string) (*jsonschema.Schema, error) {
	if s, ok := d.cache[pointer]; ok {
		return s, nil
	}
	s, err := d.c.Compile(d.name + ".json" + pointer)
	if err != nil {
		return nil, fmt.Errorf("docs/%s.yaml %s: %w", d.name, pointer, err)
	}
	d.cache[pointer] = s
	return s, nil
}

// validate checks a JSON value (raw bytes) against the schema at pointer.
func (d *docSchemas) validate(pointer string, raw []byte) error {
	s, err := d.schema(pointer)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytesReader(raw))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return s.Validate(v)
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
