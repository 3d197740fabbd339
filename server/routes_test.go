package server_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// registeredRoutes returns every pattern the server registers on its mux:
// each HandleFunc/Handle call in the non-test files of server and
// server/capgo, its pattern evaluated from string literals and the string
// constants of api, server and server/capgo. A pattern it cannot evaluate
// fails the test, so no route escapes the scope table.
func registeredRoutes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	parse := func(dir string) []*ast.File {
		matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, m := range matches {
			if strings.HasSuffix(m, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, m, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		return files
	}
	byDir := map[string][]*ast.File{"api": parse("../api"), "server": parse("."), "capgo": parse("capgo"), "native": parse("native")}
	consts := map[string]string{} // "pkg.Name" -> value
	for _, files := range byDir {
		for _, f := range files {
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, sp := range g.Specs {
					vs := sp.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if i < len(vs.Values) {
							if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
								v, _ := strconv.Unquote(lit.Value)
								consts[f.Name.Name+"."+n.Name] = v
							}
						}
					}
				}
			}
		}
	}
	var eval func(pkg string, e ast.Expr) (string, bool)
	eval = func(pkg string, e ast.Expr) (string, bool) {
		switch e := e.(type) {
		case *ast.BasicLit:
			if e.Kind == token.STRING {
				v, err := strconv.Unquote(e.Value)
				return v, err == nil
			}
		case *ast.Ident:
			v, ok := consts[pkg+"."+e.Name]
			return v, ok
		case *ast.SelectorExpr:
			if x, ok := e.X.(*ast.Ident); ok {
				v, ok := consts[x.Name+"."+e.Sel.Name]
				return v, ok
			}
		case *ast.BinaryExpr:
			if e.Op == token.ADD {
				a, ok1 := eval(pkg, e.X)
				b, ok2 := eval(pkg, e.Y)
				return a + b, ok1 && ok2
			}
		case *ast.ParenExpr:
			return eval(pkg, e.X)
		}
		return "", false
	}
	var routes []string
	for _, dir := range []string{"server", "capgo", "native"} {
		for _, f := range byDir[dir] {
			ast.Inspect(f, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) != 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "HandleFunc" && sel.Sel.Name != "Handle") {
					return true
				}
				p, ok := eval(f.Name.Name, call.Args[0])
				if !ok {
					t.Errorf("%s: cannot evaluate the route pattern; give it a constant pattern and a scope table entry", fset.Position(call.Pos()))
					return true
				}
				routes = append(routes, p)
				return true
			})
		}
	}
	sort.Strings(routes)
	if len(routes) < 30 {
		t.Fatalf("found only %d routes: %v", len(routes), routes)
	}
	return routes
}

// checkRouteTable fails for every registered route without an entry and
// every entry that is no route.
func checkRouteTable(t *testing.T, table map[string]routeCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range registeredRoutes(t) {
		seen[p] = true
		if _, ok := table[p]; !ok {
			t.Errorf("route %q has no entry in the scope table (server/scope_test.go) and no row in the README's Scopes table", p)
		}
	}
	for p := range table {
		if !seen[p] {
			t.Errorf("scope table entry %q is not a registered route", p)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}

// pathOf fills a pattern's {name} parameters.
func pathOf(pattern string, params map[string]string) string {
	_, path, _ := strings.Cut(pattern, " ")
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", v)
	}
	if strings.Contains(path, "{") {
		panic(fmt.Sprintf("pattern %q: unfilled parameter in %q", pattern, path))
	}
	return path
}
