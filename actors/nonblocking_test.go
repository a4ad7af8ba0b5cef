package actors

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Actor code must never wait: a grain or session that blocks inside Receive
// stalls every socket and grain queued behind it, and two grains waiting on
// each other deadlock. Replies come back as messages (ReenterAfter,
// session.CallAsync) and timers are messages to self. This test reads every
// non-test Go file under actors/ and refuses the calls that wait.
//
// forbidden maps an import path to the functions of it that block.
var forbidden = map[string]map[string]string{
	"github.com/gisbi/engine/cluster": {
		"Call":   "a synchronous grain call; use cluster.Request (or session.CallAsync from a handler)",
		"CallIn": "a synchronous grain call from inside an actor",
	},
	"time": {
		"Sleep": "sleeping inside an actor holds its mailbox; use a timer that sends a message to self",
	},
}

// forbiddenMethods are methods that wait whatever their receiver: a
// future's Result/Wait, a WaitGroup's Wait.
var forbiddenMethods = map[string]string{
	"Result": "waiting on a future; use cluster.Request",
	"Wait":   "waiting inside an actor; use ReenterAfter or a message",
}

// allowDirective on a call's line exempts it; the text after it must say
// why the wait is outside any actor's Receive (a service's own shutdown).
const allowDirective = "//nonblocking:allow "

// violations lists the blocking calls in one file's source.
func violations(fset *token.FileSet, name string, src any) ([]string, error) {
	f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution|parser.ParseComments)
	if err != nil {
		return nil, err
	}
	allowed := map[int]bool{}
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, allowDirective) && len(strings.TrimSpace(c.Text[len(allowDirective):])) > 0 {
				allowed[fset.Position(c.Pos()).Line] = true
			}
		}
	}
	imports := map[string]string{} // local name -> path
	for _, im := range f.Imports {
		path, _ := strconv.Unquote(im.Path.Value)
		local := path[strings.LastIndex(path, "/")+1:]
		if im.Name != nil {
			local = im.Name.Name
		}
		imports[local] = path
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		fun := call.Fun
		// Generic instantiation: cluster.Call[*T](...).
		switch x := fun.(type) {
		case *ast.IndexExpr:
			fun = x.X
		case *ast.IndexListExpr:
			fun = x.X
		}
		sel, ok := fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pos := fset.Position(call.Pos())
		if allowed[pos.Line] {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok {
			if path, ok := imports[id.Name]; ok {
				if why, bad := forbidden[path][sel.Sel.Name]; bad {
					out = append(out, fmt.Sprintf("%s:%d: %s.%s: %s", pos.Filename, pos.Line, id.Name, sel.Sel.Name, why))
				}
				return true
			}
		}
		if why, bad := forbiddenMethods[sel.Sel.Name]; bad && len(call.Args) == 0 {
			out = append(out, fmt.Sprintf("%s:%d: .%s(): %s", pos.Filename, pos.Line, sel.Sel.Name, why))
		}
		return true
	})
	return out, nil
}

func TestActorCodeNeverBlocks(t *testing.T) {
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		v, err := violations(fset, path, nil)
		found = append(found, v...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(found)
	for _, v := range found {
		t.Error(v)
	}
}

// The checker itself must catch what it is for, under any import name.
func TestViolationsFinds(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want int
	}{
		{"sleep", `package p; import "time"; func f() { time.Sleep(time.Second) }`, 1},
		{"renamed time", `package p; import tm "time"; func f() { tm.Sleep(1) }`, 1},
		{"generic call", `package p; import "github.com/gisbi/engine/cluster"; func f() { cluster.Call[*int](nil, nil, "", "", nil) }`, 1},
		{"call in", `package p; import c "github.com/gisbi/engine/cluster"; func f() { c.CallIn[*int](nil, 0, "", "", nil) }`, 1},
		{"future result", `package p; func f(x interface{ Result() (any, error) }) { x.Result() }`, 1},
		{"waitgroup", `package p; import "sync"; func f(wg *sync.WaitGroup) { wg.Wait() }`, 1},
		{"timers and sends are fine", `package p; import ("time"; "github.com/gisbi/engine/cluster"); func f(n *cluster.Node) { time.AfterFunc(time.Second, nil); cluster.SendIn(nil, "", "", nil); n.Send("", "", nil) }`, 0},
		{"allowed with a reason", "package p; import \"time\"; func f() { time.Sleep(1) //nonblocking:allow shutdown of a service goroutine\n }", 0},
		{"allowed without a reason is not", "package p; import \"time\"; func f() { time.Sleep(1) //nonblocking:allow \n }", 1},
		{"a field named Result is fine", `package p; type r struct{ Result func(int) }; func f(x r) { x.Result(1) }`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := violations(token.NewFileSet(), "x.go", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tt.want {
				t.Errorf("got %d violations %v, want %d", len(got), got, tt.want)
			}
		})
	}
}
