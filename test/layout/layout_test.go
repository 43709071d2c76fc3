// Package layout checks the rules of the tree's shape: the data flows one
// way, and the leaf and the emulator depend on nothing they must not.
package layout

import (
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/gcupsert/gcupsert"

// imports maps each package of the module (by path) to the module packages
// its non-test files import.
func imports(t *testing.T) map[string][]string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	err = filepath.WalkDir(root, func(dir string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if name := d.Name(); dir != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			return nil // no Go files
		}
		rel, _ := filepath.Rel(root, dir)
		path := module
		if rel != "." {
			path += "/" + filepath.ToSlash(rel)
		}
		for _, imp := range pkg.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				out[path] = append(out[path], imp)
			}
		}
		if _, ok := out[path]; !ok {
			out[path] = nil
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// deps is every module package p depends on, directly or not.
func deps(graph map[string][]string, p string) []string {
	seen := map[string]bool{}
	var walk func(string)
	walk = func(q string) {
		for _, d := range graph[q] {
			if !seen[d] {
				seen[d] = true
				walk(d)
			}
		}
	}
	walk(p)
	out := make([]string, 0, len(seen))
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

func TestTheDataFlowsOneWay(t *testing.T) {
	g := imports(t)
	if len(g) < 10 {
		t.Fatalf("found %d packages; the walk is broken", len(g))
	}
	for p := range g {
		for _, d := range g[p] {
			if strings.HasPrefix(d, module+"/cmd/") {
				t.Errorf("%s imports %s: no package imports cmd/", p, d)
			}
		}
	}
	if d := g[module+"/change"]; len(d) != 0 {
		t.Errorf("change imports %v; it must import nothing of the project", d)
	}
	rules := map[string][]string{
		module + "/consumer": {"/upsert", "/sink", "/decode", "/emulator", "/config"},
		module + "/decode":   {"/upsert", "/sink", "/consumer", "/emulator", "/config"},
		module + "/sink":     {"/upsert", "/consumer", "/decode", "/emulator", "/config"},
		module + "/upsert":   {"/sink", "/consumer", "/decode", "/emulator", "/config"},
		// The mirror reads the sync topic as any consumer would: by the
		// documented format, not by the worker's code.
		module + "/mirror":       {"/sink", "/consumer", "/decode", "/upsert", "/emulator", "/config"},
		module + "/mirror/sqldb": {"/sink", "/consumer", "/decode", "/upsert", "/emulator", "/config"},
	}
	for p, banned := range rules {
		if _, ok := g[p]; !ok {
			t.Errorf("package %s is missing", p)
		}
		for _, d := range deps(g, p) {
			for _, b := range banned {
				if d == module+b || strings.HasPrefix(d, module+b+"/") {
					t.Errorf("%s depends on %s", p, d)
				}
			}
		}
	}
	for p := range g {
		if !strings.HasPrefix(p, module+"/emulator") {
			continue
		}
		for _, d := range deps(g, p) {
			if strings.HasPrefix(d, module+"/upsert") {
				t.Errorf("%s depends on %s: the emulator shares no code with the client", p, d)
			}
		}
	}
}
