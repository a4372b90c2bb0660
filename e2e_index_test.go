package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestE2EIndex keeps E2E.md honest: every scenario it lists names a test
// function that exists in the file it names.
func TestE2EIndex(t *testing.T) {
	raw, err := os.ReadFile("E2E.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| (\\d\\d) \\|[^|]+\\| `(Test\\w+)` \\| (\\S+) \\|$")
	n := 0
	var listed []string
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		listed = append(listed, m[2])
		src, err := os.ReadFile(m[3])
		if err != nil {
			t.Errorf("scenario %s: %v", m[1], err)
			continue
		}
		if !strings.Contains(string(src), "func "+m[2]+"(t *testing.T)") {
			t.Errorf("scenario %s: %s has no func %s", m[1], m[3], m[2])
		}
	}
	if n < 20 {
		t.Errorf("E2E.md lists %d scenarios; the table could not be read", n)
	}
	// And the other way round: every test of this package that starts
	// the real `mailsrv serve` (startServe, directly or through a helper)
	// is a scenario of the index.
	for _, name := range testsStartingServe(t) {
		if !slices.Contains(listed, name) {
			t.Errorf("%s starts mailsrv serve but is not in E2E.md", name)
		}
	}
}

// testsStartingServe parses this package's test files and returns the
// Test functions that call startServe, directly or through functions
// that do.
func testsStartingServe(t *testing.T) []string {
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string][]string{} // function -> functions it calls
	fset := token.NewFileSet()
	for _, f := range files {
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || fd.Body == nil {
				continue
			}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				if c, ok := n.(*ast.CallExpr); ok {
					if id, ok := c.Fun.(*ast.Ident); ok {
						calls[fd.Name.Name] = append(calls[fd.Name.Name], id.Name)
					}
				}
				return true
			})
		}
	}
	starts := map[string]bool{"startServe": true}
	for changed := true; changed; {
		changed = false
		for fn, callees := range calls {
			if !starts[fn] && slices.ContainsFunc(callees, func(c string) bool { return starts[c] }) {
				starts[fn], changed = true, true
			}
		}
	}
	var out []string
	for fn := range starts {
		if strings.HasPrefix(fn, "Test") {
			out = append(out, fn)
		}
	}
	slices.Sort(out)
	if len(out) < 5 {
		t.Fatalf("found only %v starting mailsrv serve; the parse went wrong", out)
	}
	return out
}
