package bootstrap

import (
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const memoryPkg = "github.com/fechatter/fechatter/adapters/memory"

// Nothing of adapters/memory serves the production profile. The server's
// code reaches the package only from bootstrap (no adapter or application
// package imports it), bootstrap names it only in the search backend
// "memory" (the case of SearchMemory in openSearchIndex), the production
// profile does not select that backend and refuses it when asked
// (TestProductionRefusesTheMemorySearchIndex), and the index it opens is
// of another package.
func TestProductionUsesNothingOfTheMemoryAdapters(t *testing.T) {
	t.Parallel()

	// 1. Who imports it, among the packages the server is built from.
	ctx := build.Default
	seen := map[string]bool{}
	var walk func(path, dir string)
	walk = func(path, dir string) {
		if seen[path] {
			return
		}
		seen[path] = true
		pkg, err := ctx.ImportDir(dir, 0)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for _, imp := range pkg.Imports { // not the test files' imports
			if imp == memoryPkg || strings.HasPrefix(imp, memoryPkg+"/") {
				if path != "github.com/fechatter/fechatter/bootstrap" {
					t.Errorf("%s imports %s: only bootstrap may, for the memory search backend", path, imp)
				}
				continue
			}
			if rel, ok := strings.CutPrefix(imp, "github.com/fechatter/fechatter/"); ok {
				walk(imp, filepath.Join("..", filepath.FromSlash(rel)))
			}
		}
	}
	walk("github.com/fechatter/fechatter/bootstrap", ".")
	if len(seen) < 20 {
		t.Fatalf("walked only %d packages", len(seen))
	}

	// 2. Where bootstrap names it: inside `case SearchMemory:` only.
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	uses := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		local := ""
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); p == memoryPkg || strings.HasPrefix(p, memoryPkg+"/") {
				local = filepath.Base(p)
				if imp.Name != nil {
					local = imp.Name.Name
				}
			}
		}
		if local == "" {
			continue
		}
		var stack []ast.Node
		ast.Inspect(f, func(n ast.Node) bool {
			if n == nil {
				stack = stack[:len(stack)-1]
				return true
			}
			stack = append(stack, n)
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != local {
				return true
			}
			uses++
			for i := len(stack) - 1; i >= 0; i-- {
				if cc, ok := stack[i].(*ast.CaseClause); ok {
					for _, e := range cc.List {
						if id, ok := e.(*ast.Ident); ok && id.Name == "SearchMemory" {
							return true
						}
					}
				}
			}
			t.Errorf("%s: %s.%s outside the memory search backend's case", fset.Position(sel.Pos()), local, sel.Sel.Name)
			return true
		})
	}
	if uses == 0 {
		t.Error("bootstrap names adapters/memory nowhere: drop this test's first part, or its import check is wrong")
	}

	// 3. The production profile's index is not the memory one.
	cfg := mustLoad(t, LoadOptions{Profile: ProfileProduction, Environ: productionEnv()})
	if cfg.Search.Backend == SearchMemory {
		t.Fatal("production selects the memory search backend")
	}
	si, err := openSearchIndex(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = si.close() })
	if p := reflect.TypeOf(si.SearchIndex).Elem().PkgPath(); strings.HasPrefix(p, memoryPkg) {
		t.Errorf("production's search index is %s's", p)
	}
}
