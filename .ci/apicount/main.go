// Command apicount lists and counts the exported names of Go packages: top-level
// functions, types, constants and variables, and the exported methods of
// exported types (struct fields are not counted). Usage:
//
//	V=1 go run ./.ci/apicount . validate middleware replay nonce

package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
)

func main() {
	for _, dir := range os.Args[1:] {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
		if err != nil {
			panic(err)
		}
		var names []string
		for _, p := range pkgs {
			for _, f := range p.Files {
				for _, d := range f.Decls {
					switch d := d.(type) {
					case *ast.FuncDecl:
						if !d.Name.IsExported() {
							continue
						}
						if d.Recv != nil {
							t := d.Recv.List[0].Type
							if s, ok := t.(*ast.StarExpr); ok {
								t = s.X
							}
							if ix, ok := t.(*ast.IndexExpr); ok {
								t = ix.X
							}
							id, ok := t.(*ast.Ident)
							if !ok || !id.IsExported() {
								continue
							}
							names = append(names, "method "+id.Name+"."+d.Name.Name)
						} else {
							names = append(names, "func "+d.Name.Name)
						}
					case *ast.GenDecl:
						for _, s := range d.Specs {
							switch s := s.(type) {
							case *ast.TypeSpec:
								if s.Name.IsExported() {
									names = append(names, "type "+s.Name.Name)
								}
							case *ast.ValueSpec:
								for _, n := range s.Names {
									if n.IsExported() {
										names = append(names, d.Tok.String()+" "+n.Name)
									}
								}
							}
						}
					}
				}
			}
		}
		sort.Strings(names)
		fmt.Printf("== %s %d\n", dir, len(names))
		if os.Getenv("V") != "" {
			for _, n := range names {
				fmt.Println("  ", n)
			}
		}
	}
}
