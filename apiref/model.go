package apiref

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Page is what the template renders.
type Page struct {
	Title      string
	REST       []TagGroup
	Channels   []Channel
	ErrorCodes []string
	CloseCodes []CloseCode
	Schemas    []SchemaGroup
}

// TagGroup is the REST operations of one tag.
type TagGroup struct {
	Tag        string
	Operations []Operation
}

// Operation is one REST method on one path.
type Operation struct {
	ID, Method, Path, Summary, Description string
	Security                               []string
	Parameters                             []string
	RequestBody                            string // schema name, if any
	Responses                              []Response
}

// Response is one documented answer of an operation.
type Response struct {
	Status, Description, Schema string
}

// Channel is one socket dialect.
type Channel struct {
	Key, Address, Description string
	ClientToServer            []Message
	ServerToClient            []Message
}

// Message is one frame type of a channel.
type Message struct {
	Name, Summary, Schema string
	Replies               []string
}

// CloseCode is one WebSocket close code and the client's rule for it.
type CloseCode struct {
	Code, Meaning, Reconnect string
}

// SchemaGroup is the components/schemas of one document.
type SchemaGroup struct {
	Doc     string
	Schemas []Schema
}

// Schema is one named schema, shown as indented JSON.
type Schema struct {
	Doc, Name, JSON string
}

// Anchor is the page's fragment id for a schema of doc.
func (s Schema) Anchor() string { return anchor(s.Doc, s.Name) }

func anchor(doc, name string) string { return "schema-" + doc + "-" + name }

// doc is a decoded document with its $refs resolvable.
type doc struct {
	name string
	root map[string]any
}

func decode(name string, src []byte) (*doc, error) {
	var root map[string]any
	if err := yaml.Unmarshal(src, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if root == nil {
		root = map[string]any{}
	}
	return &doc{name: name, root: normalize(root).(map[string]any)}, nil
}

// normalize gives every mapping string keys: YAML allows others (the close
// codes are integer keys), which neither JSON nor the lookups here take.
func normalize(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = normalize(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = normalize(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = normalize(e)
		}
		return t
	}
	return v
}

// at resolves a local JSON pointer ("#/components/schemas/User").
func (d *doc) at(ref string) any {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = d.root
	for _, seg := range strings.Split(p, "/") {
		seg, _ = url.PathUnescape(seg)
		seg = strings.NewReplacer("~1", "/", "~0", "~").Replace(seg)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[seg]
	}
	return cur
}

// deref follows $ref until it reaches an object without one (at most a few
// hops: the documents never chain deeper, and a cycle must not hang start-up).
func (d *doc) deref(v any) map[string]any {
	for range 8 {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		v = d.at(ref)
	}
	return nil
}

// schemaName is the component schema a schema names or wraps: its own
// $ref, or, for a whole-frame schema, the $ref of its payload (or legacy
// data) property, searched depth-first through allOf/oneOf.
func schemaName(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if ref, ok := m["$ref"].(string); ok {
		if n, ok := strings.CutPrefix(ref, "#/components/schemas/"); ok {
			return n
		}
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for _, k := range []string{"payload", "data"} {
			if n := schemaName(props[k]); n != "" {
				return n
			}
		}
	}
	for _, k := range []string{"allOf", "oneOf", "anyOf"} {
		list, _ := m[k].([]any)
		for _, s := range list {
			if n := schemaName(s); n != "" {
				return n
			}
		}
	}
	return ""
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var methods = []string{"get", "put", "post", "patch", "delete", "head", "options"}

// rest lists the OpenAPI operations grouped by their first tag, in the
// order the document's top-level tags give (then any others, sorted).
func rest(d *doc) []TagGroup {
	groups := map[string][]Operation{}
	paths, _ := d.root["paths"].(map[string]any)
	for _, path := range sortedKeys(paths) {
		item := d.deref(paths[path])
		for _, method := range methods {
			op, ok := item[method].(map[string]any)
			if !ok {
				continue
			}
			o := Operation{ID: str(op, "operationId"), Method: strings.ToUpper(method), Path: path,
				Summary: str(op, "summary"), Description: str(op, "description")}
			sec, hasSec := op["security"].([]any)
			if !hasSec {
				sec, _ = d.root["security"].([]any)
			}
			for _, req := range sec {
				r, _ := req.(map[string]any)
				if len(r) == 0 {
					o.Security = append(o.Security, "none")
				}
				o.Security = append(o.Security, sortedKeys(r)...)
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				if pm := d.deref(p); pm != nil {
					o.Parameters = append(o.Parameters, str(pm, "in")+" "+str(pm, "name"))
				}
			}
			if body := d.deref(op["requestBody"]); body != nil {
				o.RequestBody = contentSchema(body)
			}
			responses, _ := op["responses"].(map[string]any)
			for _, status := range sortedKeys(responses) {
				r := d.deref(responses[status])
				o.Responses = append(o.Responses, Response{Status: status, Description: str(r, "description"), Schema: contentSchema(r)})
			}
			tag := "other"
			if tags, _ := op["tags"].([]any); len(tags) > 0 {
				if t, ok := tags[0].(string); ok {
					tag = t
				}
			}
			groups[tag] = append(groups[tag], o)
		}
	}
	var order []string
	declared, _ := d.root["tags"].([]any)
	for _, t := range declared {
		if name := str(d.deref(t), "name"); groups[name] != nil && !slices.Contains(order, name) {
			order = append(order, name)
		}
	}
	for _, t := range sortedKeys(anyMap(groups)) {
		if !slices.Contains(order, t) {
			order = append(order, t)
		}
	}
	out := make([]TagGroup, 0, len(order))
	for _, t := range order {
		out = append(out, TagGroup{Tag: t, Operations: groups[t]})
	}
	return out
}

func anyMap[V any](m map[string]V) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// contentSchema names the schema of a request body or response's first
// JSON content, or its media type when it is not JSON.
func contentSchema(m map[string]any) string {
	content, _ := m["content"].(map[string]any)
	types := sortedKeys(content)
	if len(types) == 0 {
		return ""
	}
	c, _ := content[types[0]].(map[string]any)
	if n := schemaName(c["schema"]); n != "" {
		return n
	}
	return types[0]
}

// channels lists each AsyncAPI channel's messages by direction: a message
// a receive operation takes is client→server, one a send operation (or a
// reply) carries is server→client.
func channels(d *doc) []Channel {
	chans, _ := d.root["channels"].(map[string]any)
	ops, _ := d.root["operations"].(map[string]any)
	var out []Channel
	for _, key := range sortedKeys(chans) {
		ch := d.deref(chans[key])
		c := Channel{Key: key, Address: str(ch, "address"), Description: str(ch, "description")}
		seen := map[string]bool{}
		for _, id := range sortedKeys(ops) {
			op := d.deref(ops[id])
			chRef, _ := op["channel"].(map[string]any)
			if str(chRef, "$ref") != "#/channels/"+key {
				continue
			}
			var replies []string
			if reply := d.deref(op["reply"]); reply != nil {
				for _, m := range d.messages(reply["messages"]) {
					replies = append(replies, m.Name)
					if !seen["send "+m.Name+m.Schema] {
						seen["send "+m.Name+m.Schema] = true
						c.ServerToClient = append(c.ServerToClient, m)
					}
				}
			}
			for _, m := range d.messages(op["messages"]) {
				dir := str(op, "action")
				if seen[dir+" "+m.Name+m.Schema] {
					continue
				}
				seen[dir+" "+m.Name+m.Schema] = true
				if dir == "receive" {
					m.Replies = replies
					c.ClientToServer = append(c.ClientToServer, m)
				} else {
					c.ServerToClient = append(c.ServerToClient, m)
				}
			}
		}
		byName := func(a, b Message) int { return strings.Compare(a.Name+a.Schema, b.Name+b.Schema) }
		slices.SortFunc(c.ClientToServer, byName)
		slices.SortFunc(c.ServerToClient, byName)
		out = append(out, c)
	}
	return out
}

func (d *doc) messages(list any) []Message {
	refs, _ := list.([]any)
	var out []Message
	for _, r := range refs {
		m := d.deref(r)
		if m == nil {
			continue
		}
		out = append(out, Message{Name: str(m, "name"), Summary: str(m, "summary"), Schema: schemaName(m["payload"])})
	}
	return out
}

// codes reads the ErrorCode enum and the CloseCode table.
func codes(d *doc) ([]string, []CloseCode) {
	var errs []string
	ec := d.deref(d.at("#/components/schemas/ErrorCode"))
	enum, _ := ec["enum"].([]any)
	for _, e := range enum {
		errs = append(errs, fmt.Sprint(e))
	}
	var closes []CloseCode
	cc := d.deref(d.at("#/components/schemas/CloseCode"))
	table, _ := cc["x-close-codes"].(map[string]any)
	for _, code := range sortedKeys(table) {
		row, _ := table[code].(map[string]any)
		closes = append(closes, CloseCode{Code: code, Meaning: fmt.Sprint(row["meaning"]), Reconnect: fmt.Sprint(row["reconnect"])})
	}
	return errs, closes
}

func schemas(d *doc) SchemaGroup {
	g := SchemaGroup{Doc: d.name}
	all, _ := d.at("#/components/schemas").(map[string]any)
	for _, name := range sortedKeys(all) {
		b, err := json.MarshalIndent(all[name], "", "  ")
		if err != nil {
			b = []byte(err.Error())
		}
		g.Schemas = append(g.Schemas, Schema{Doc: d.name, Name: name, JSON: string(b)})
	}
	return g
}

// build assembles the page from the two documents' sources.
func build(asyncSrc, openSrc []byte) (*Page, error) {
	async, err := decode("asyncapi", asyncSrc)
	if err != nil {
		return nil, err
	}
	open, err := decode("openapi", openSrc)
	if err != nil {
		return nil, err
	}
	p := &Page{Title: "GISBI API reference", REST: rest(open), Channels: channels(async)}
	p.ErrorCodes, p.CloseCodes = codes(async)
	p.Schemas = []SchemaGroup{schemas(async), schemas(open)}
	return p, nil
}
