// Command popctl helps people who build and debug DPoP (RFC 9449) and
// Microsoft PoP clients and APIs: it makes keys, thumbprints, DPoP proofs,
// signed HTTP requests (SHR) and test access tokens, and it explains, check by
// check, why a proof, SHR or token would be accepted or rejected.
//
//	popctl keygen -alg ES256 -out client.json
//	popctl proof -key client.json -method GET -url https://api.example.com/x -token "$AT" --curl
//	popctl inspect -method GET -url https://api.example.com/x -token "$AT" "$PROOF"
//
// Run "popctl help" for every command, "popctl COMMAND -h" for one.
//
// Exit status: 0 success (inspect: every check passed), 1 a check failed,
// 2 usage or input error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// env is what a command may touch: its streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

func commands() []command {
	return []command{
		{"keygen", "generate a private JWK (kid = RFC 7638 thumbprint)", runKeygen},
		{"thumbprint", "RFC 7638 SHA-256 thumbprint of a JWK (or RFC 9278 URN)", runThumbprint},
		{"jwks", "public JWK Set of one or more keys, for an issuer or a server", runJWKS},
		{"proof", "make a DPoP proof (RFC 9449), optionally as curl arguments", runProof},
		{"shr", "make a Microsoft PoP signed HTTP request in MSAL's format", runSHR},
		{"token", "mint a test access token (RFC 9068), optionally key-bound", runToken},
		{"request", "call a URL as a DPoP client: token from -issuer, proof, nonces", runRequest},
		{"inspect", "decode a DPoP proof, SHR or access token and explain every check", runInspect},
		{"version", "print popctl's version", runVersion},
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `popctl: a tool for building and debugging DPoP and PoP clients and APIs.

Usage:
  popctl COMMAND [flags] [args]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "popctl COMMAND -h" for a command's flags and examples.

A local issuer for examples/server, end to end:
  popctl keygen -out issuer.json && popctl keygen -out client.json
  popctl jwks -key issuer.json > jwks.json
  go run ./examples/server -issuer https://issuer.test -audience https://api.test -jwks jwks.json &
  AT=$(popctl token -issuer-key issuer.json -iss https://issuer.test -aud https://api.test \
         -sub alice -client-id cli -bind client.json)
  eval curl -i "$(popctl proof -key client.json -url http://127.0.0.1:8080/dpop/hello -token "$AT" --curl)"

Exit status: 0 success or every check passed, 1 a check failed, 2 usage or input error.
`)
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			return run([]string{args[1], "-h"}, stdin, stdout, stderr)
		}
		usage(stdout)
		return exitOK
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(stderr, "popctl: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

// errorf prints "popctl CMD: message" on stderr and returns code.
func (e *env) errorf(code int, cmd, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "popctl %s: %s\n", cmd, fmt.Sprintf(format, a...))
	if code == exitUsage && cmd != "" {
		fmt.Fprintf(e.stderr, "Run \"popctl %s -h\" for help.\n", cmd)
	}
	return code
}

// newFlags returns a flag set whose usage prints help (text, then the
// flags).
func newFlags(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("popctl "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), strings.TrimLeft(help, "\n"))
		fmt.Fprintln(fs.Output(), "\nFlags:")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args, allowing flags after positional arguments
// ("inspect TOKEN -at 123"), and returns the positional arguments. done is
// true when the command must return code at once: help was asked for (0,
// help on stdout) or the flags are wrong (2, message on stderr).
func parseFlags(e *env, fs *flag.FlagSet, args []string) (pos []string, code int, done bool) {
	var buf bytes.Buffer
	fs.SetOutput(&buf)
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			_, _ = e.stdout.Write(buf.Bytes())
			return nil, exitOK, true
		}
		if err != nil {
			_, _ = e.stderr.Write(buf.Bytes())
			return nil, exitUsage, true
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, false
		}
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, false
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// readInput returns the contents of a FILE argument; "-" reads stdin.
func readInput(e *env, name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(io.LimitReader(e.stdin, 1<<20))
	}
	return os.ReadFile(name)
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ", ") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }
