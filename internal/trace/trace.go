// Package trace lets popctl inspect watch the verifiers of package validate
// check an input, one check at a time, so that its explanation is the
// verifier's own verdict and never a second implementation of it.
//
// It is internal on purpose: it is not part of popguard's API. Package
// validate registers, in an init function, a hook per verifier type that
// returns a traced copy of a verifier (With); a verifier without a tracer
// pays one nil check per check and allocates nothing for tracing.
package trace

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Event is the outcome of one check.
type Event struct {
	// Check names the check ("typ", "htu", "signature", ...).
	Check string
	// Value is what the check looked at, in printable form: control
	// characters and invalid UTF-8 escaped, at most MaxValue bytes.
	Value string
	// Err is the rejection when the check failed, a *popguard.Error.
	Err error
	// Skipped: the check was not made, because the verifier cannot make it
	// (replay, a nonce without a nonce source) or lacks an input the
	// caller declared missing (Options.Missing).
	Skipped bool
}

// Tracer receives the events of a traced verifier, in the order of the
// checks. A nil Tracer receives nothing.
type Tracer func(Event)

// Pass reports a check that passed.
func (t Tracer) Pass(check, value string) {
	if t != nil {
		t(Event{Check: check, Value: Printable(value)})
	}
}

// Skip reports a check that was not made.
func (t Tracer) Skip(check, value string) {
	if t != nil {
		t(Event{Check: check, Value: Printable(value), Skipped: true})
	}
}

// Fail reports a check that failed with err, and returns err.
func (t Tracer) Fail(check, value string, err error) error {
	if t != nil {
		t(Event{Check: check, Value: Printable(value), Err: err})
	}
	return err
}

// Inputs is a set of request inputs a traced verifier does not have.
type Inputs uint8

// Inputs a caller may declare missing. The checks that need one are
// reported as skipped, and the verifier goes on as if they had passed: only
// for explaining an input offline, never for accepting a request.
const (
	// Method: the request method (DPoP htm, SHR m).
	Method Inputs = 1 << iota
	// Target: the request URI (DPoP htu, SHR u, p and q).
	Target
	// Headers: the request headers (SHR h).
	Headers
	// Body: the request body (SHR b).
	Body
	// Issuer: the trusted issuer (JWT iss).
	Issuer
	// IssuerKeys: the issuer's keys (JWT key set and signature).
	IssuerKeys
)

// Options configure a traced verifier.
type Options struct {
	Tracer  Tracer
	Missing Inputs
}

// hooks holds one func(*V, Options) *V per verifier type V.
var hooks []any

// Register installs the hook that makes traced copies of a *V. Package
// validate calls it from an init function.
func Register[V any](with func(v *V, o Options) *V) {
	hooks = append(hooks, with)
}

// With returns a copy of v that reports its checks as o says; v itself is
// unchanged. It panics for a type without a registered hook.
func With[V any](v *V, o Options) *V {
	for _, h := range hooks {
		if with, ok := h.(func(*V, Options) *V); ok {
			return with(v, o)
		}
	}
	panic(fmt.Sprintf("trace: no hook for %T", v))
}

// MaxValue caps Event.Value, in bytes.
const MaxValue = 200

// Printable returns s with control characters, invalid UTF-8 and
// non-printable runes escaped as Go does in quoted strings, cut to MaxValue
// bytes (with "…").
func Printable(s string) string {
	clean := len(s) <= MaxValue
	for i := 0; clean && i < len(s); i++ {
		c := s[i]
		clean = c >= 0x20 && c < 0x7f
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if b.Len() >= MaxValue {
			b.WriteString("…")
			break
		}
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case !strconv.IsPrint(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
