package popguard_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every Go snippet in README.md compiles: each ```go block follows a marker
//
//	<!-- code: FILE NAME... -->
//
// and must equal, once indented with four spaces, the body of the function
// NAME in FILE when NAME starts with Example, or its whole declaration
// otherwise (several names are joined by a blank line). FILE is relative to
// the repository root; it is compiled by `go test` of its module (adapter
// examples by their own modules' tests in CI).
func TestREADMESnippetsCompile(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	marker := regexp.MustCompile(`^<!-- code: (\S+) ([^>]+) -->$`)
	blocks := 0
	for i := 0; i < len(lines); i++ {
		if lines[i] != "```go" {
			continue
		}
		blocks++
		end := i + 1
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		block := strings.Join(lines[i+1:end], "\n")
		var m []string
		if i > 0 {
			m = marker.FindStringSubmatch(lines[i-1])
		}
		if m == nil {
			t.Errorf("README.md line %d: a Go block without a <!-- code: FILE NAME --> marker above it", i+1)
			i = end
			continue
		}
		src, err := os.ReadFile(filepath.FromSlash(m[1]))
		if err != nil {
			t.Errorf("README.md line %d: %v", i, err)
			i = end
			continue
		}
		var parts []string
		for _, name := range strings.Fields(m[2]) {
			part, ok := funcText(string(src), name)
			if !ok {
				t.Errorf("README.md line %d: no func %s in %s", i, name, m[1])
			}
			parts = append(parts, part)
		}
		if want := strings.Join(parts, "\n\n"); block != want {
			t.Errorf("README.md line %d: the block differs from %s %s; it should read:\n%s", i+2, m[1], m[2], want)
		}
		i = end
	}
	if blocks == 0 {
		t.Fatal("no Go block found in README.md")
	}
}

// funcText returns the body of an Example function (without braces and
// output comment, one tab of indentation removed) or the declaration of
// any other function, with tabs shown as four spaces.
func funcText(src, name string) (string, bool) {
	start := strings.Index(src, "\nfunc "+name+"(")
	if start < 0 {
		return "", false
	}
	start++
	end := strings.Index(src[start:], "\n}\n")
	if end < 0 {
		return "", false
	}
	decl := src[start : start+end+2]
	if strings.HasPrefix(name, "Example") {
		body := decl[strings.Index(decl, "{\n")+2 : len(decl)-2]
		var out []string
		for _, l := range strings.Split(body, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "// Output:") {
				break
			}
			out = append(out, strings.TrimPrefix(l, "\t"))
		}
		decl = strings.Join(out, "\n")
	}
	var b bytes.Buffer
	for i, l := range strings.Split(strings.TrimRight(decl, "\n"), "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		b.WriteString(strings.Repeat("    ", n) + l[n:])
	}
	return b.String(), true
}
