package xfrm

import (
	"bytes"
	"go/ast"
	"go/build"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"slices"
	"testing"
)

// exportedAPI gives the exported declarations of this package as built
// for goos, one string each: every function and method with its
// signature, every type, variable and constant by name.
func exportedAPI(t *testing.T, goos string) []string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.BuildTags = goos, "amd64", nil
	pkg, err := ctx.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	text := func(n ast.Node) string {
		var b bytes.Buffer
		printer.Fprint(&b, fset, n)
		return b.String()
	}
	var api []string
	for _, name := range pkg.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkg.Dir, name), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				recv := ""
				if d.Recv != nil {
					typ := d.Recv.List[0].Type
					if star, ok := typ.(*ast.StarExpr); ok {
						typ = star.X
					}
					if !ast.IsExported(text(typ)) {
						continue // a method of an unexported type
					}
					recv = "(" + text(d.Recv.List[0].Type) + ") "
				}
				api = append(api, "func "+recv+d.Name.Name+text(d.Type)[len("func"):])
			case *ast.GenDecl:
				for _, s := range d.Specs {
					switch s := s.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							api = append(api, "type "+s.Name.Name)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								api = append(api, d.Tok.String()+" "+n.Name)
							}
						}
					}
				}
			}
		}
	}
	slices.Sort(api)
	return api
}

// The stubs of other systems (*_other.go) declare what the Linux files
// do, signatures included, so that a program that builds on Linux builds
// everywhere (api.go checks the types' methods at compile time; this
// catches the rest: functions, variables, a method api.go does not list).
func TestStubsMatchLinux(t *testing.T) {
	linux := exportedAPI(t, "linux")
	for _, goos := range []string{"darwin", "freebsd", "windows"} {
		other := exportedAPI(t, goos)
		for _, d := range linux {
			if _, found := slices.BinarySearch(other, d); !found {
				t.Errorf("%s lacks %s", goos, d)
			}
		}
		for _, d := range other {
			if _, found := slices.BinarySearch(linux, d); !found {
				t.Errorf("%s has %s, which Linux lacks", goos, d)
			}
		}
	}
}
