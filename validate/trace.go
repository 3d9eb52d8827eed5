package validate

// Tracing for popctl inspect (internal/trace): a traced copy of a verifier
// reports each check, with the value it looked at and its outcome, so the
// inspector shows the verifier's own verdicts. Nothing here is exported:
// internal/trace.With reaches the hooks registered below.

import (
	"fmt"
	"strconv"
	"time"

	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
)

// traced is embedded in each verifier. Checks a verifier never makes
// (replay, and the nonce without a nonce source) are reported as skipped. Untraced, tr is nil and every
// report is one nil check that allocates nothing.
type traced struct {
	tr      trace.Tracer
	missing trace.Inputs
}

// lacks reports whether the caller declared input missing: the checks that
// need it are reported as skipped and treated as passed.
func (t *traced) lacks(input trace.Inputs) bool { return t.missing&input != 0 }

// unknown reports a check not made because the caller lacks an input
// (what it is, e.g. "request method").
func (t *traced) unknown(check, value, what string) {
	if t.tr == nil {
		return
	}
	if value != "" {
		value += " "
	}
	t.tr.Skip(check, value+"(no "+what+" given)")
}

func init() {
	trace.Register(func(v *ProofVerifier, o trace.Options) *ProofVerifier {
		c := *v
		c.traced = traced{tr: o.Tracer, missing: o.Missing}
		return &c
	})
	trace.Register(func(v *SHRVerifier, o trace.Options) *SHRVerifier {
		c := *v
		c.traced = traced{tr: o.Tracer, missing: o.Missing}
		return &c
	})
	trace.Register(func(v *JWTVerifier, o trace.Options) *JWTVerifier {
		c := *v
		c.traced = traced{tr: o.Tracer, missing: o.Missing}
		return &c
	})
}

// report reports check as failed with err, or passed when err is nil,
// with the value made by value (called only when tracing), and returns err.
func (t *traced) report(check string, err error, value func() string) error {
	switch {
	case t.tr == nil:
	case err != nil:
		t.tr.Fail(check, value(), err)
	default:
		t.tr.Pass(check, value())
	}
	return err
}

// structure reports the parse of an n-byte JWS (limit max) that failed
// with err (nil: it parsed), and returns err.
func (t *traced) structure(n, max int, err error) error {
	return t.report("structure", err, func() string {
		if err != nil {
			return fmt.Sprintf("%d bytes (at most %d)", n, max)
		}
		return fmt.Sprintf("compact JWS, %d bytes", n)
	})
}

// match checks got (a claim) against want (from the request or the
// configuration, what it is): reported as skipped when the caller lacks
// input, else a mismatch is the error fail makes.
func (t *traced) match(check string, input trace.Inputs, what, got, want string, fail func() error) error {
	switch {
	case t.lacks(input):
		t.unknown(check, got, what)
	case got != want:
		err := fail()
		if t.tr != nil {
			t.tr.Fail(check, fmt.Sprintf("%q, %s %q", got, what, want), err)
		}
		return err
	default:
		t.tr.Pass(check, got)
	}
	return nil
}

// window checks that at (a proof's iat, an SHR's ts) lies within
// [now-maxAge, now+skew]; fail makes the error from the description old
// or future.
func (t *traced) window(check string, at, now time.Time, maxAge, skew time.Duration, fail func(desc string) error, old, future string) error {
	if at.Before(now.Add(-maxAge)) || at.After(now.Add(skew)) {
		desc := old
		if at.After(now) {
			desc = future
		}
		err := fail(desc)
		if t.tr != nil {
			t.tr.Fail(check, windowValue(at, now, maxAge, skew), err)
		}
		return err
	}
	if t.tr != nil {
		t.tr.Pass(check, windowValue(at, now, maxAge, skew))
	}
	return nil
}

// The helpers below format trace values; they run only when tracing.

// typValue is the typ header as a check saw it.
func typValue(j *jose.JWS) string {
	if !j.HasTyp {
		return "missing"
	}
	return strconv.Quote(j.Typ)
}

// timeValue places t relative to now: "2024-01-02T03:04:05Z, 12s ago".
func timeValue(t, now time.Time) string {
	d := now.Sub(t).Round(time.Second)
	rel := "now"
	switch {
	case d > 0:
		rel = d.String() + " ago"
	case d < 0:
		rel = "in " + (-d).String()
	}
	return t.UTC().Format(time.RFC3339) + ", " + rel
}

// windowValue is timeValue with the accepted window.
func windowValue(t, now time.Time, maxAge, skew time.Duration) string {
	return fmt.Sprintf("%s (accepted from %s before now to %s after)", timeValue(t, now), maxAge, skew)
}

// keyValue describes an imported public key.
func keyValue(k *jose.PublicKey) string {
	kind := k.Kty
	if k.Crv != "" {
		kind += " " + k.Crv
	}
	if s, ok := k.Key.(interface{ Size() int }); ok && k.Kty == "RSA" {
		kind += fmt.Sprintf(" %d-bit", s.Size()*8)
	}
	return kind + " public key, thumbprint " + k.Thumbprint
}

// quoteList writes names as ["a", "b"].
func quoteList(names []string) string {
	b := []byte{'['}
	for i, n := range names {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, n)
	}
	return string(append(b, ']'))
}
