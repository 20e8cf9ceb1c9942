package main

// The layer rules of DESIGN.md, checked over the source tree with go/build
// (no go/packages, no go command): every package's imports, its test files'
// imports separately, against the rules below.

import (
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// frameworks may appear only in adapters and bootstrap: the application and
// its ports stay free of transport, storage and wiring types.
var frameworks = []string{
	"github.com/gofiber/",
	"github.com/uptrace/bun",
	"github.com/nats-io/",
	"github.com/meilisearch/",
	"github.com/blevesearch/",
	"go.uber.org/fx",
	"go.uber.org/dig",
	"github.com/spf13/cobra",
}

// importKind classifies an import path seen from module modPath.
type importKind int

const (
	stdlib importKind = iota
	internal
	thirdParty
)

func classify(modPath, imp string) importKind {
	if imp == modPath || strings.HasPrefix(imp, modPath+"/") {
		return internal
	}
	first, _, _ := strings.Cut(imp, "/")
	if !strings.Contains(first, ".") {
		return stdlib // "C" included
	}
	return thirdParty
}

// under reports whether the module-relative path rel is dir or inside it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// checkImports returns the layer violations of one package. pkg is its path
// relative to the module root ("." for the root, "domain/chat"); imports are
// full import paths; test says whether they come from _test.go files, which
// may use adapters as fakes in application and ports tests.
func checkImports(modPath, pkg string, imports []string, test bool) []string {
	var v []string
	bad := func(imp, why string) {
		what := "imports"
		if test {
			what = "tests import"
		}
		v = append(v, fmt.Sprintf("%s %s %s: %s", pkg, what, imp, why))
	}
	for _, imp := range imports {
		kind := classify(modPath, imp)
		rel := strings.TrimPrefix(strings.TrimPrefix(imp, modPath), "/")
		if kind == internal && rel == "" {
			rel = "."
		}
		framework := kind == thirdParty && slices.ContainsFunc(frameworks, func(f string) bool { return strings.HasPrefix(imp, f) })

		if kind == internal && under(rel, "bootstrap") && pkg != "." && !under(pkg, "bootstrap") {
			switch {
			case under(pkg, "adapters"):
				bad(imp, "adapters must not import bootstrap (it wires them, not the other way round)")
			default:
				bad(imp, "only main imports bootstrap")
			}
			continue
		}
		switch {
		case under(pkg, "domain"):
			if kind == internal && !under(rel, "domain") {
				bad(imp, "domain imports nothing of this module outside domain/")
			}
			if kind == thirdParty {
				bad(imp, "domain is pure Go: standard library only")
			}
		case under(pkg, "application"):
			if kind == internal && !test && (under(rel, "adapters") || under(rel, "client")) {
				bad(imp, "application depends on ports, not on adapters")
			}
			if framework {
				bad(imp, "frameworks belong in adapters and bootstrap")
			}
		case under(pkg, "ports"):
			if kind == internal && !under(rel, "domain") && !under(rel, "ports") && !(test && under(rel, "adapters")) {
				bad(imp, "ports may import only domain/ and ports/")
			}
			if framework {
				bad(imp, "frameworks belong in adapters and bootstrap")
			}
		}
	}
	return v
}

func TestCheckImportsCatchesViolations(t *testing.T) {
	const mod = "example.com/app"
	tests := []struct {
		name    string
		pkg     string
		imports []string
		test    bool
		want    string // "" means no violation
	}{
		{"domain stdlib and domain", "domain/chat", []string{"time", "errors", mod + "/domain/errs"}, false, ""},
		{"domain imports ports", "domain/chat", []string{mod + "/ports"}, false, "outside domain/"},
		{"domain imports application", "domain/message", []string{mod + "/application/command"}, false, "outside domain/"},
		{"domain imports third party", "domain/chat", []string{"github.com/google/uuid"}, false, "standard library only"},
		{"domain test imports third party", "domain/chat", []string{"github.com/stretchr/testify/require"}, true, "standard library only"},
		{"application imports domain, ports, zap", "application/command", []string{mod + "/domain/chat", mod + "/ports", "go.uber.org/zap"}, false, ""},
		{"application imports adapters", "application/command", []string{mod + "/adapters/postgres"}, false, "not on adapters"},
		{"application imports bootstrap", "application", []string{mod + "/bootstrap"}, false, "only main imports bootstrap"},
		{"application imports bun", "application/query", []string{"github.com/uptrace/bun"}, false, "frameworks"},
		{"application test uses memory fakes", "application/command", []string{mod + "/adapters/memory"}, true, ""},
		{"querytest imports query and porttest", "application/query/querytest", []string{mod + "/application/query", mod + "/ports/porttest"}, false, ""},
		{"ports imports domain", "ports", []string{mod + "/domain/message", "context"}, false, ""},
		{"porttest imports ports and domain", "ports/porttest", []string{mod + "/ports", mod + "/domain/errs", "testing"}, false, ""},
		{"ports imports application", "ports", []string{mod + "/application/query"}, false, "only domain/ and ports/"},
		{"porttest imports adapters", "ports/porttest", []string{mod + "/adapters/memory"}, false, "only domain/ and ports/"},
		{"ports imports bootstrap", "ports", []string{mod + "/bootstrap"}, false, "only main imports bootstrap"},
		{"ports imports fiber", "ports", []string{"github.com/gofiber/fiber/v2"}, false, "frameworks"},
		{"adapters import anything but bootstrap", "adapters/postgres", []string{mod + "/application/query", mod + "/ports", mod + "/domain/chat", "github.com/uptrace/bun"}, false, ""},
		{"adapters import bootstrap", "adapters/http", []string{mod + "/bootstrap"}, false, "adapters must not import bootstrap"},
		{"adapter test imports bootstrap", "adapters/http", []string{mod + "/bootstrap"}, true, "adapters must not import bootstrap"},
		{"client imports bootstrap", "client", []string{mod + "/bootstrap"}, false, "only main imports bootstrap"},
		{"main imports bootstrap", ".", []string{mod + "/bootstrap"}, false, ""},
		{"bootstrap imports everything", "bootstrap", []string{mod + "/adapters/postgres", mod + "/configs", "go.uber.org/fx"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkImports(mod, tt.pkg, tt.imports, tt.test)
			switch {
			case tt.want == "" && len(got) > 0:
				t.Errorf("unexpected violations: %q", got)
			case tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)):
				t.Errorf("violations = %q, want one containing %q", got, tt.want)
			}
		})
	}
}

// TestLayerDependencies checks every package of this module.
func TestLayerDependencies(t *testing.T) {
	modPath := modulePath(t)
	var checked int
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != "." && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
			return filepath.SkipDir
		}
		if path != "." {
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
		}
		pkg, err := build.ImportDir(path, build.ImportComment)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		rel := filepath.ToSlash(path)
		checked++
		for _, v := range checkImports(modPath, rel, pkg.Imports, false) {
			t.Error(v)
		}
		for _, v := range checkImports(modPath, rel, append(pkg.TestImports, pkg.XTestImports...), true) {
			t.Error(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 3 {
		t.Fatalf("checked only %d packages; is the test running at the module root?", checked)
	}
}

func modulePath(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^module\s+(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no module line")
	}
	return string(m[1])
}
