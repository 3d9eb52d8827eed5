package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/testenv"
)

// The README's gateway configurations are the shipped files, byte for
// byte: each block after a <!-- file: PATH --> marker equals PATH.
func TestREADMEConfigsAreShipped(t *testing.T) {
	root := testenv.RepoRoot()
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(readme), "\n")
	marker := regexp.MustCompile(`^<!-- file: (\S+) -->\n$`)
	found := map[string]bool{}
	for i := 0; i < len(lines); i++ {
		m := marker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("README.md line %d: the marker is not followed by a code block", i+1)
		}
		var block strings.Builder
		j := i + 2
		for ; j < len(lines) && lines[j] != "```\n"; j++ {
			block.WriteString(lines[j])
		}
		want, err := os.ReadFile(filepath.Join(root, m[1]))
		if err != nil {
			t.Fatalf("README.md line %d: %v", i+1, err)
		}
		if !bytes.Equal([]byte(block.String()), want) {
			t.Errorf("README.md line %d: the block differs from %s", i+1, m[1])
		}
		found[m[1]] = true
		i = j
	}
	for _, f := range []string{"examples/gateway/nginx.conf", "examples/gateway/Caddyfile"} {
		if !found[f] {
			t.Errorf("README.md does not show %s", f)
		}
	}
}

// The example configuration file is valid.
func TestExampleConfig(t *testing.T) {
	c, err := loadConfigFile(filepath.Join(testenv.RepoRoot(), "examples", "gateway", "popguard.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.validate()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	s.describe(&out)
	if !strings.Contains(out.String(), "/transfers               dpop           yes    no     /transfers       transfers:write\n") {
		t.Errorf("check-config output:\n%s", out.String())
	}
}
