package validate

// This file implements the htu check of RFC 9449 §4.3 (check 9): the htu
// claim of a DPoP proof must match the URI of the HTTP request in which the
// proof was received, ignoring any query and fragment. Both sides are brought
// to a normal form with RFC 3986 §6.2.2 (syntax-based) and §6.2.3
// (scheme-based) normalization and then compared as strings:
//
//	htu, err := validate.CanonicalHTU(claims.HTU)
//	want, err := validate.CanonicalTarget("https://" + r.Host + r.URL.RequestURI())
//	ok := htu == want
//
// The parser is deliberately strict and does not use net/url (it is lenient
// in ways that matter here: it accepts some backslashes, decodes the path,
// and so on). Its host, port and path rules are internal/uri's, the ones the
// middleware applies to Host and forwarding headers. Normal form:
//
//	scheme "://" host [":" port] path
//
//   - scheme: "http" or "https", matched ASCII case-insensitively, output in
//     lower case. Anything else, including a relative reference, is refused.
//   - userinfo: refused.
//   - host: a registered name of ASCII letters, digits, '-' and '.', or an
//     IPv4 literal, or an IPv6 literal in brackets; output in lower case.
//     Refused: an empty host, any other byte (percent-encoding, '_', '\',
//     controls, non-ASCII), empty labels (so a trailing dot as in
//     "example.org." is refused rather than stripped: the client must send
//     the name the server is reached by), labels over 63 bytes, names over
//     253 bytes. A name whose last label is all digits must be a dotted-quad
//     IPv4 address in its plain form ("127.0.0.1", not "127.1" or
//     "010.0.0.1"), because such names are read as numbers by WHATWG URL
//     parsers. An IPv6 literal must parse as an IPv6 address (zones and
//     IPvFuture are refused); it is lower-cased but not otherwise rewritten.
//   - port: optional; an empty port means the default. Decimal digits,
//     1..65535, no leading zero. The default port of the scheme (80 for http,
//     443 for https) is dropped.
//   - path: an empty path becomes "/". Allowed bytes are RFC 3986 pchar and
//     '/'. A percent-encoded triplet must have two hex digits; its hex digits
//     are upper-cased and it is never decoded: "%61" is not "a" and "%2F" is
//     not "/". Decoding would change routing for routers that route on the
//     raw path (chi, echo), so a proof would be accepted for a path other
//     than the one the handler serves. For the same reason a path holding a
//     dot-segment in any spelling (".", "..", "%2E", ".%2e", also between
//     "%2F" separators) is refused rather than resolved: Go's ServeMux routes
//     "/a/%2E%2E/b" to "/a/", chi never removes dot-segments, and a check that
//     resolved them would compare one path while the router serves another.
//     Case, empty segments and a trailing slash are significant.
//
// An htu with a query or fragment (even an empty one) is refused; for the
// request target they are dropped. Inputs over 8192 bytes are refused (for
// the target, the part before the query and fragment is counted).
//
// Inputs already in normal form are returned unchanged without allocating;
// other accepted inputs cost one allocation (two above 512 bytes).

import (
	"errors"
	"strings"

	"github.com/popguard/popguard/internal/ascii"
	"github.com/popguard/popguard/internal/uri"
)

// ErrHTU is matched (errors.Is) by every error CanonicalHTU and
// CanonicalTarget return.
var ErrHTU = errors.New("htu: invalid URI")

const (
	maxURILen  = 8192 // bytes, whole URI (target: without query and fragment)
	scratchLen = 512  // output size built without a second allocation
)

// Subjects of the error messages.
const (
	subjectHTU    = "htu"
	subjectTarget = "request target"
)

// htuError is the error returned by CanonicalHTU and CanonicalTarget. Its
// message is built from constant strings only and never echoes the input.
type htuError struct {
	subject string // "htu" or "request target"
	reason  string // e.g. "has userinfo"
	rule    error  // the internal/uri rule that failed, if any
}

func (e *htuError) Error() string { return ErrHTU.Error() + ": " + e.subject + " " + e.reason }

// Unwrap returns ErrHTU and, for a URI rule of internal/uri, that rule's
// error (uri.ErrDotSegment gets a rejection reason of its own).
func (e *htuError) Unwrap() []error {
	if e.rule != nil {
		return []error{ErrHTU, e.rule}
	}
	return []error{ErrHTU}
}

func htuErr(subject, reason string) error { return &htuError{subject: subject, reason: reason} }

// ruleErr is htuErr for an error of internal/uri, whose text is constant.
func ruleErr(subject string, rule error) error {
	return &htuError{subject: subject, reason: rule.Error(), rule: rule}
}

// CanonicalHTU returns the normal form of a DPoP proof's htu claim, or an
// error if the claim is not an acceptable absolute http(s) URI. An htu with a
// query or a fragment is refused. See the file comment for the normal form.
func CanonicalHTU(htu string) (string, error) {
	if len(htu) > maxURILen {
		return "", htuErr(subjectHTU, "is too long")
	}
	if i := strings.IndexAny(htu, "?#"); i >= 0 {
		if htu[i] == '?' {
			return "", htuErr(subjectHTU, "has a query")
		}
		return "", htuErr(subjectHTU, "has a fragment")
	}
	return canonicalize(htu, subjectHTU)
}

// CanonicalTarget returns the normal form of a request's target URI
// (absolute, as the client saw it, e.g. "https://api.example.com/a/b?x=1"),
// with query and fragment dropped. The result compares equal to the
// CanonicalHTU of a matching htu claim.
func CanonicalTarget(target string) (string, error) {
	if i := strings.IndexAny(target, "?#"); i >= 0 {
		target = target[:i]
	}
	if len(target) > maxURILen {
		return "", htuErr(subjectTarget, "is too long")
	}
	return canonicalize(target, subjectTarget)
}

// canonicalize validates s (no '?' or '#' in it) and returns its normal form.
// It makes one validating pass that notes whether anything must be
// rewritten; if not, s itself is returned.
func canonicalize(s, subject string) (string, error) {
	if s == "" {
		return "", htuErr(subject, "is empty")
	}

	// Scheme.
	var scheme string
	var rewrite bool
	switch {
	case strings.HasPrefix(s, "https://"):
		scheme = "https"
	case strings.HasPrefix(s, "http://"):
		scheme = "http"
	case ascii.HasPrefixFold(s, "https://"):
		scheme, rewrite = "https", true
	case ascii.HasPrefixFold(s, "http://"):
		scheme, rewrite = "http", true
	default:
		return "", schemeError(s, subject)
	}
	rest := len(scheme) + len("://")

	// Authority: up to the first '/'. There is no '?' or '#' in s.
	end := len(s)
	if i := strings.IndexByte(s[rest:], '/'); i >= 0 {
		end = rest + i
	}
	auth := s[rest:end]
	if auth == "" {
		return "", htuErr(subject, "has an empty host")
	}
	if strings.IndexByte(auth, '@') >= 0 {
		return "", htuErr(subject, "has userinfo")
	}

	// Host and port (internal/uri holds the grammar).
	a, err := uri.ParseAuthority(auth)
	if err != nil {
		return "", ruleErr(subject, err)
	}
	host, port := a.Host, a.Port
	rewrite = rewrite || !a.Lower
	if a.HasPort && (port == "" || port == uri.DefaultPort(scheme)) {
		rewrite = true // "host:" and the default port are dropped
		port = ""
	}

	// Path.
	path := s[end:]
	if path == "" {
		rewrite = true
	} else {
		normal, err := uri.CheckPath(path)
		if err != nil {
			return "", ruleErr(subject, err)
		}
		rewrite = rewrite || !normal
	}

	if !rewrite {
		return s, nil
	}

	// Build the normal form. It is never longer than len(s)+1 (only an empty
	// path grows, by one byte), so buf never grows; for common sizes it lives
	// on the stack and string(buf) is the only allocation.
	var scratch [scratchLen]byte
	var buf []byte
	if len(s)+1 <= len(scratch) {
		buf = scratch[:0]
	} else {
		buf = make([]byte, 0, len(s)+1)
	}
	buf = append(buf, scheme...)
	buf = append(buf, "://"...)
	buf = appendLower(buf, host)
	if port != "" {
		buf = append(buf, ':')
		buf = append(buf, port...)
	}
	if path == "" {
		buf = append(buf, '/')
	}
	buf = uri.AppendUpperPercentHex(buf, path)
	return string(buf), nil
}

// schemeError explains why s does not start with "http://" or "https://".
func schemeError(s, subject string) error {
	// scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) (RFC 3986 §3.1)
	i := 0
	for i < len(s) {
		c := s[i]
		if isAlpha(c) || (i > 0 && (isDigit(c) || c == '+' || c == '-' || c == '.')) {
			i++
			continue
		}
		break
	}
	if i == 0 || i == len(s) || s[i] != ':' {
		return htuErr(subject, "is not an absolute URI")
	}
	if ascii.EqualFold(s[:i], "http") || ascii.EqualFold(s[:i], "https") {
		return htuErr(subject, "has no authority")
	}
	return htuErr(subject, "scheme is not http or https")
}

// appendLower appends s with ASCII letters in lower case.
func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
