package server_test

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/gisbi/engine/protocol"
	"github.com/gisbi/engine/server/servertest"
)

// The tests below hold docs/asyncapi.yaml to the code: the dispatch table
// (every client frame type served), the protocol package's constants (every
// frame type and event the server can emit), the error and close codes,
// and, after the suite, every frame the tests actually received.

const asyncDoc = "docs/asyncapi.yaml"

// asyncChannels maps a dialect to its channel key in the document and the
// socket path its recorded frames carry.
var asyncChannels = []struct{ dialect, channel, path string }{
	{protocol.DialectWS, "ws", "/ws"},
	{protocol.DialectLegacy, "socket", "/socket"},
}

// asyncMessages is what the document says a channel carries: the client
// frames (receive operations) and the server frames (send operations and
// replies), each name with the JSON pointers of its messages' payloads.
type asyncMessages struct {
	client map[string][]string
	server map[string][]string
}

// asyncAPIMessages reads the operations of the document. A message is
// client→server iff a receive operation references it, server→client iff
// a send operation or a reply does.
func asyncAPIMessages(doc map[string]any) (map[string]*asyncMessages, error) {
	out := map[string]*asyncMessages{}
	for _, c := range asyncChannels {
		out[c.channel] = &asyncMessages{client: map[string][]string{}, server: map[string][]string{}}
	}
	ops, _ := doc["operations"].(map[string]any)
	if len(ops) == 0 {
		return nil, fmt.Errorf("%s has no operations", asyncDoc)
	}
	var errs []error
	add := func(op string, chanRef any, msgs any, into func(*asyncMessages) map[string][]string) {
		channel, ok := refChannel(chanRef)
		if !ok || out[channel] == nil {
			errs = append(errs, fmt.Errorf("%s: operation %s names no known channel (ws or socket)", asyncDoc, op))
			return
		}
		list, _ := msgs.([]any)
		if len(list) == 0 {
			errs = append(errs, fmt.Errorf("%s: operation %s lists no messages", asyncDoc, op))
		}
		for _, m := range list {
			name, pointer, err := resolveMessage(doc, m)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: operation %s: %w", asyncDoc, op, err))
				continue
			}
			set := into(out[channel])
			if !slices.Contains(set[name], pointer) {
				set[name] = append(set[name], pointer)
			}
		}
	}
	keys := sortedKeys(ops)
	for _, key := range keys {
		op, _ := ops[key].(map[string]any)
		switch op["action"] {
		case "receive":
			add(key, op["channel"], op["messages"], func(m *asyncMessages) map[string][]string { return m.client })
			if reply, ok := op["reply"].(map[string]any); ok {
				ch := reply["channel"]
				if ch == nil {
					ch = op["channel"]
				}
				add(key+" reply", ch, reply["messages"], func(m *asyncMessages) map[string][]string { return m.server })
			}
		case "send":
			add(key, op["channel"], op["messages"], func(m *asyncMessages) map[string][]string { return m.server })
		default:
			errs = append(errs, fmt.Errorf("%s: operation %s: action must be send or receive", asyncDoc, key))
		}
	}
	return out, errors.Join(errs...)
}

// refChannel turns {$ref: "#/channels/ws"} into "ws".
func refChannel(v any) (string, bool) {
	m, _ := v.(map[string]any)
	ref, _ := m["$ref"].(string)
	name, ok := strings.CutPrefix(ref, "#/channels/")
	return name, ok && !strings.Contains(name, "/")
}

// resolveMessage follows a message reference (through the channel's
// messages to components/messages) to the message's name and the pointer
// of its payload schema.
func resolveMessage(doc map[string]any, v any) (name, payload string, err error) {
	for range 4 {
		m, _ := v.(map[string]any)
		ref, isRef := m["$ref"].(string)
		if !isRef {
			name, _ = m["name"].(string)
			if name == "" {
				return "", "", errors.New("a message without a name")
			}
			if m["payload"] == nil {
				return "", "", fmt.Errorf("message %s has no payload", name)
			}
			return name, payload + "/payload", nil
		}
		payload = ref
		if v, err = pointerGet(doc, ref); err != nil {
			return "", "", err
		}
	}
	return "", "", errors.New("a message reference loops")
}

// pointerGet resolves a local JSON pointer ("#/a/b") in doc.
func pointerGet(doc map[string]any, ref string) (any, error) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("%s: only local references are supported", ref)
	}
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok || m[part] == nil {
			return nil, fmt.Errorf("%s does not resolve", ref)
		}
		cur = m[part]
	}
	return cur, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func TestAsyncAPIMatchesTheDispatchTable(t *testing.T) {
	msgs, err := asyncAPIMessages(apiDoc(t, "asyncapi"))
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t)
	for _, c := range asyncChannels {
		served := map[string]bool{}
		for _, typ := range srv.FrameTypes(c.dialect) {
			served[typ] = true
			if msgs[c.channel].client[typ] == nil {
				t.Errorf("%s: %q is served on %s but not documented: add a message named %q and a receive operation for it on channel %s",
					asyncDoc, typ, c.path, typ, c.channel)
			}
		}
		for _, name := range sortedKeys(msgs[c.channel].client) {
			if !served[name] {
				t.Errorf("%s: %q is documented as a client frame of channel %s but %s serves no such type: remove its receive operation (or serve it)",
					asyncDoc, name, c.channel, c.path)
			}
		}
	}
}

// protocolConsts scans the protocol package's source for constants and the
// keys of PeerGiftTypes: the honest registry of what the server can emit,
// since every frame type and event is written through one of them.
type protocolConsts struct {
	strs      map[string]string // constant name → string value
	ints      map[string]int
	codes     []protocol.Code // constants of type Code
	peerGifts []string
}

func scanProtocol(t *testing.T) protocolConsts {
	t.Helper()
	files, err := filepath.Glob("../protocol/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no protocol sources: %v", err)
	}
	pc := protocolConsts{strs: map[string]string{}, ints: map[string]int{}}
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, name := range vs.Names {
					if gd.Tok == token.VAR && name.Name == "PeerGiftTypes" && i < len(vs.Values) {
						lit, _ := vs.Values[i].(*ast.CompositeLit)
						if lit == nil {
							t.Fatalf("%s: PeerGiftTypes is no longer a map literal: teach this test to read it", file)
						}
						for _, el := range lit.Elts {
							if kv, ok := el.(*ast.KeyValueExpr); ok {
								if s, ok := stringLit(kv.Key); ok {
									pc.peerGifts = append(pc.peerGifts, s)
								}
							}
						}
					}
					if gd.Tok != token.CONST || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok {
						continue
					}
					switch lit.Kind {
					case token.STRING:
						s, _ := strconv.Unquote(lit.Value)
						pc.strs[name.Name] = s
						if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "Code" {
							pc.codes = append(pc.codes, protocol.Code(s))
						}
					case token.INT:
						n, _ := strconv.Atoi(lit.Value)
						pc.ints[name.Name] = n
					}
				}
			}
		}
	}
	if len(pc.peerGifts) == 0 || len(pc.codes) == 0 {
		t.Fatal("the protocol scan found no peer gift types or no error codes: teach this test where they went")
	}
	return pc
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

func TestAsyncAPIDocumentsEveryEventConstant(t *testing.T) {
	msgs, err := asyncAPIMessages(apiDoc(t, "asyncapi"))
	if err != nil {
		t.Fatal(err)
	}
	pc := scanProtocol(t)
	// constants: channel → wire name → the constant that spells it.
	constants := map[string]map[string]string{"ws": {}, "socket": {}}
	for name, value := range pc.strs {
		switch {
		case strings.HasPrefix(name, "Type"):
			constants["ws"][value] = "protocol." + name
		case strings.HasPrefix(name, "Event"):
			constants["socket"][value] = "protocol." + name
		}
	}
	for _, g := range pc.peerGifts {
		constants["ws"][g] = "protocol.PeerGiftTypes[" + strconv.Quote(g) + "]"
	}
	for _, ch := range []string{"ws", "socket"} {
		m := msgs[ch]
		for _, value := range sortedKeys(constants[ch]) {
			if m.client[value] == nil && m.server[value] == nil {
				t.Errorf("%s: %s = %q is not documented: add a message named %q to channel %s, with a send operation if the server emits it or a receive operation if clients send it",
					asyncDoc, constants[ch][value], value, value, ch)
			}
		}
		for _, name := range sortedKeys(m.server) {
			if constants[ch][name] == "" {
				t.Errorf("%s: %q is documented as a server frame of channel %s but no protocol constant names it, so the server never emits it: remove it (or add the constant where it is emitted)",
					asyncDoc, name, ch)
			}
		}
	}
}

func TestAsyncAPIErrorAndCloseCodes(t *testing.T) {
	doc := apiDoc(t, "asyncapi")
	msgs, err := asyncAPIMessages(doc)
	if err != nil {
		t.Fatal(err)
	}
	pc := scanProtocol(t)

	documented := map[string]bool{}
	for _, v := range enumOf(t, doc, "#/components/schemas/ErrorCode") {
		s, _ := v.(string)
		documented[s] = true
	}
	codes := map[string]bool{}
	for _, c := range pc.codes {
		codes[string(c)] = true
		if c != protocol.CodeInternal && protocol.HTTPStatus(c) == 500 {
			t.Errorf("protocol.HTTPStatus has no status for %q", c)
		}
		if !documented[string(c)] {
			t.Errorf("%s: error code %q is missing from components/schemas/ErrorCode: add it to the enum", asyncDoc, c)
		}
		// Every code reaches a legacy socket as one of the error events.
		if ev := protocol.LegacyErrorEvent(c); msgs["socket"].server[ev] == nil {
			t.Errorf("%s: code %q is sent on /socket as %q, which is not a documented server message of channel socket", asyncDoc, c, ev)
		}
	}
	for _, c := range sortedKeys(documented) {
		if !codes[c] {
			t.Errorf("%s: ErrorCode lists %q, which is not a protocol.Code constant: remove it", asyncDoc, c)
		}
	}
	// The replies of the legacy dialect are its error events, and only those.
	legacyErrors := map[string]bool{}
	for _, c := range pc.codes {
		legacyErrors[protocol.LegacyErrorEvent(c)] = true
	}
	for _, op := range legacyReplies(t, doc) {
		if !legacyErrors[op.name] {
			t.Errorf("%s: operation %s replies %q, which protocol.LegacyErrorEvent never gives", asyncDoc, op.op, op.name)
		}
	}

	closeCodes := map[int]string{}
	for name, n := range pc.ints {
		if strings.HasPrefix(name, "Close") {
			closeCodes[n] = "protocol." + name
		}
	}
	if len(closeCodes) == 0 {
		t.Fatal("no protocol.Close* constants found")
	}
	enum := map[int]bool{}
	for _, v := range enumOf(t, doc, "#/components/schemas/CloseCode") {
		f, _ := v.(float64)
		enum[int(f)] = true
		if closeCodes[int(f)] == "" {
			t.Errorf("%s: CloseCode lists %v, which is no protocol.Close* constant: remove it", asyncDoc, v)
		}
	}
	meanings, _ := mustGet(t, doc, "#/components/schemas/CloseCode/x-close-codes").(map[string]any)
	want := map[protocol.Reconnect]string{protocol.ReconnectYes: "yes", protocol.ReconnectNo: "no", protocol.ReconnectAfterAuth: "after-auth"}
	for code, name := range closeCodes {
		if !enum[code] {
			t.Errorf("%s: close code %d (%s) is missing from components/schemas/CloseCode: add it to the enum and x-close-codes", asyncDoc, code, name)
		}
		entry, _ := meanings[strconv.Itoa(code)].(map[string]any)
		if entry == nil {
			t.Errorf("%s: x-close-codes has no entry for %d (%s)", asyncDoc, code, name)
			continue
		}
		if got := entry["reconnect"]; got != want[protocol.Reconnects(code)] {
			t.Errorf("%s: x-close-codes %d says reconnect %v; protocol.Reconnects says %s", asyncDoc, code, got, want[protocol.Reconnects(code)])
		}
	}
	for key := range meanings {
		if n, err := strconv.Atoi(key); err != nil || closeCodes[n] == "" {
			t.Errorf("%s: x-close-codes has %q, which is no protocol.Close* constant", asyncDoc, key)
		}
	}
}

type namedReply struct{ op, name string }

// legacyReplies lists the reply messages of the socket channel's receive
// operations.
func legacyReplies(t *testing.T, doc map[string]any) []namedReply {
	t.Helper()
	var out []namedReply
	ops, _ := doc["operations"].(map[string]any)
	for _, key := range sortedKeys(ops) {
		op, _ := ops[key].(map[string]any)
		if ch, _ := refChannel(op["channel"]); ch != "socket" || op["action"] != "receive" {
			continue
		}
		reply, _ := op["reply"].(map[string]any)
		list, _ := reply["messages"].([]any)
		for _, m := range list {
			name, _, err := resolveMessage(doc, m)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, namedReply{key, name})
		}
	}
	return out
}

func mustGet(t *testing.T, doc map[string]any, pointer string) any {
	t.Helper()
	v, err := pointerGet(doc, pointer)
	if err != nil {
		t.Fatalf("%s: %v", asyncDoc, err)
	}
	return v
}

func enumOf(t *testing.T, doc map[string]any, pointer string) []any {
	t.Helper()
	s, _ := mustGet(t, doc, pointer).(map[string]any)
	enum, _ := s["enum"].([]any)
	if len(enum) == 0 {
		t.Fatalf("%s: %s has no enum", asyncDoc, pointer)
	}
	return enum
}

func init() { afterSuite = append(afterSuite, checkRecordedFrames) }

// checkRecordedFrames validates every frame the tests received against the
// document: its type must be a server message of its channel, and it must
// match the payload schema of one of the messages of that name (a name may
// be both an answer and an event).
func checkRecordedFrames() error {
	frames, _ := servertest.Recorded()
	if len(frames) == 0 {
		return nil
	}
	doc, err := decodeAPIDoc("asyncapi")
	if err != nil {
		return err
	}
	msgs, err := asyncAPIMessages(doc)
	if err != nil {
		return err
	}
	schemas, err := newDocSchemas("asyncapi")
	if err != nil {
		return err
	}
	channelOf := map[string]string{}
	for _, c := range asyncChannels {
		channelOf[c.path] = c.channel
	}
	var errs []error
	reported := map[string]int{}
	for _, f := range frames {
		key := f.Path + " " + f.Type
		if reported[key] >= 2 {
			continue // two examples of one problem are enough
		}
		pointers := msgs[channelOf[f.Path]].server[f.Type]
		if len(pointers) == 0 {
			reported[key]++
			errs = append(errs, fmt.Errorf("%s: the server sent %q on %s, which is not a documented server message of that channel; frame: %s",
				asyncDoc, f.Type, f.Path, truncate(f.Raw, 1200)))
			continue
		}
		var first error
		for _, p := range pointers {
			if err := schemas.validate(p, f.Raw); err == nil {
				first = nil
				break
			} else if first == nil {
				first = fmt.Errorf("%s: %w", p, err)
			}
		}
		if first != nil {
			reported[key]++
			errs = append(errs, fmt.Errorf("%s: a %q frame on %s does not match its schema: %s\nframe: %s",
				asyncDoc, f.Type, f.Path, truncate([]byte(first.Error()), 1200), truncate(f.Raw, 1200)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d recorded frames disagree with %s:\n%w", len(errs), asyncDoc, errors.Join(errs...))
	}
	return nil
}
