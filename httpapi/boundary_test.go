package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// grainOwned are the stores whose data a grain owns: handlers reach that
// data through the grain or the actor packages' read models, never the
// store, so the rules that shape it have one home.
var grainOwned = map[string]string{
	"Pairs":      "pairs belong to the Pair grain (actors/pair read models)",
	"Messages":   "messages belong to the Pair grain (actors/pair read models)",
	"Snapshots":  "proximity snapshots belong to the Proximity grain (actors/proximity read models)",
	"Safety":     "blocks and reports belong to the User grain",
	"Scores":     "daily scores belong to the Score grain",
	"Moderation": "the report queue and audit log belong to package moderation",
}

func TestHandlersDoNotReadGrainOwnedStores(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, im := range file.Imports {
			if strings.Contains(im.Path.Value, "storage/boltdb") {
				t.Errorf("%s imports %s: handlers use the storage interfaces, never an implementation", f, im.Path.Value)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) != 0 {
				return true
			}
			if sel, ok := call.Fun.(*ast.SelectorExpr); ok {
				if why, bad := grainOwned[sel.Sel.Name]; bad {
					t.Errorf("%s: calls %s(): %s", fset.Position(call.Pos()), sel.Sel.Name, why)
				}
			}
			return true
		})
	}
}
