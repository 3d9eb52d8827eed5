// Package testenv decides what a test does when an outside component it
// needs (npm packages, nginx, Caddy, Chromium, a Redis Cluster, a command
// such as openssl or curl) is missing.
//
// On a machine with only Go, `go test ./...` skips such a test and says what
// is missing and how to get it. In CI, .ci/run sets POPGUARD_TEST_STRICT=1
// after installing the components, and a missing one fails the test instead:
// a CI run never passes by skipping.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

// StrictEnv is the environment variable that turns a missing component into
// a test failure. .ci/run sets it to 1.
const StrictEnv = "POPGUARD_TEST_STRICT"

// Strict reports whether missing components are failures.
func Strict() bool { return os.Getenv(StrictEnv) == "1" }

// Missing skips t, or fails it when Strict, naming what is missing and how to
// provide it (for example "run npm ci in testdata/node").
func Missing(t testing.TB, what, how string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s is missing (%s=1 makes that a failure): %s", what, StrictEnv, how)
	}
	t.Skipf("skipping: %s is missing; %s (CI sets %s=1 and provides it)", what, how, StrictEnv)
}

// LookPath returns the path of the command name, or calls Missing.
func LookPath(t testing.TB, name, how string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "the command "+name, how)
	}
	return p
}

// RepoRoot returns the root of the checkout (the directory holding the core
// go.mod), found from this file's location.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Buffer collects a child process's output while a test reads it: safe for
// concurrent use, and capped at 1 MiB (later output is dropped).
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 1<<20 {
		return len(p), nil
	}
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
