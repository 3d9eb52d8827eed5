package middleware_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// TestDependenciesFollowUse checks that the Redis client is linked only by
// programs that use the Redis replay store: middleware and replay (with the
// in-memory store) must not depend on go-redis, while replay/redisstore
// must, which shows that the check can see it.
func TestDependenciesFollowUse(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("the go command is not on PATH (%v); skipping the dependency check (run: go list -deps ./middleware | grep go-redis)", err)
	}
	const redis = "github.com/redis/go-redis"
	// Import path: whether it must depend on go-redis (otherwise it must not).
	pkgs := map[string]bool{
		"github.com/popguard/popguard/middleware":        false,
		"github.com/popguard/popguard/replay":            false,
		"github.com/popguard/popguard/replay/redisstore": true,
	}
	// .Deps is what go list -deps prints for one package (minus the package
	// itself): every package it imports, directly or not, test files aside.
	args := []string{"list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}"}
	for p := range pkgs {
		args = append(args, p)
	}
	cmd := exec.Command(goBin, args...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	seen := 0
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		pkg, deps := fields[0], fields[1:]
		wantRedis, ok := pkgs[pkg]
		if !ok {
			t.Errorf("go list printed an unexpected package %q", pkg)
			continue
		}
		seen++
		var redisDeps []string
		for _, d := range deps {
			if strings.Contains(d, redis) {
				redisDeps = append(redisDeps, d)
			}
		}
		switch {
		case !wantRedis && len(redisDeps) > 0:
			t.Errorf("%s depends on %d go-redis packages (%s): every program that imports it links them, "+
				"even with the in-memory store; only replay/redisstore may import go-redis", pkg, len(redisDeps), strings.Join(redisDeps, ", "))
		case wantRedis && len(redisDeps) == 0:
			t.Errorf("%s does not depend on %s: the check cannot see go-redis (go list output changed?)", pkg, redis)
		}
	}
	if seen != len(pkgs) {
		t.Errorf("go list reported %d of the %d packages:\n%s", seen, len(pkgs), out)
	}
}
