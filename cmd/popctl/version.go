package main

import (
	"fmt"
	"runtime/debug"
)

const versionHelp = `
Usage: popctl version

Prints the version of the popguard module popctl was built from ("devel"
for a build from a source checkout), and the Go version.

Examples:
  popctl version
  go install github.com/popguard/popguard/cmd/popctl@latest && popctl version
`

func runVersion(e *env, args []string) int {
	fs := newFlags("version", versionHelp)
	pos, code, done := parseFlags(e, fs, args)
	if done {
		return code
	}
	if len(pos) > 0 {
		return e.errorf(exitUsage, "version", "unexpected argument %q", pos[0])
	}
	v, goVersion := "devel", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = bi.GoVersion
		if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
			v = mv
		}
	}
	if goVersion != "" {
		fmt.Fprintf(e.stdout, "popctl %s (%s)\n", v, goVersion)
	} else {
		fmt.Fprintf(e.stdout, "popctl %s\n", v)
	}
	return exitOK
}
