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
// The parser is deliberately strict and self-contained (net/url is lenient
// in ways that matter here: it accepts some backslashes, decodes the path,
// and so on). Normal form:
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
	"net/netip"
	"strings"

	"github.com/popguard/popguard/internal/ascii"
	"github.com/popguard/popguard/internal/uripath"
)

// ErrHTU is matched (errors.Is) by every error CanonicalHTU and
// CanonicalTarget return.
var ErrHTU = errors.New("htu: invalid URI")

const (
	maxURILen   = 8192 // bytes, whole URI (target: without query and fragment)
	maxHostLen  = 253  // bytes, registered name or IPv6 literal
	maxLabelLen = 63   // bytes, one label of a registered name
	scratchLen  = 512  // output size built without a second allocation
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
}

func (e *htuError) Error() string { return ErrHTU.Error() + ": " + e.subject + " " + e.reason }

func (e *htuError) Unwrap() []error {
	if e.reason == reasonDotSegment {
		return []error{ErrHTU, errDotSegment}
	}
	return []error{ErrHTU}
}

// reasonDotSegment is the htuError reason of a path with a dot-segment;
// errDotSegment lets callers give that case its own rejection reason.
const reasonDotSegment = "path has a dot-segment"

var errDotSegment = errors.New("dot-segment")

func htuErr(subject, reason string) error { return &htuError{subject: subject, reason: reason} }

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
	var https, rewrite bool
	var rest int
	switch {
	case strings.HasPrefix(s, "https://"):
		https, rest = true, len("https://")
	case strings.HasPrefix(s, "http://"):
		rest = len("http://")
	case ascii.HasPrefixFold(s, "https://"):
		https, rest, rewrite = true, len("https://"), true
	case ascii.HasPrefixFold(s, "http://"):
		rest, rewrite = len("http://"), true
	default:
		return "", schemeError(s, subject)
	}

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

	// Host and port.
	var host, port string
	hasPort := false
	if auth[0] == '[' {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return "", htuErr(subject, "has an unterminated IPv6 literal")
		}
		host = auth[:j+1]
		if after := auth[j+1:]; after != "" {
			if after[0] != ':' {
				return "", htuErr(subject, "has bytes after the IPv6 literal")
			}
			port, hasPort = after[1:], true
		}
		lower, reason := checkIPv6(host[1 : len(host)-1])
		if reason != "" {
			return "", htuErr(subject, reason)
		}
		rewrite = rewrite || !lower
	} else {
		host = auth
		if j := strings.IndexByte(auth, ':'); j >= 0 {
			host, port, hasPort = auth[:j], auth[j+1:], true
		}
		lower, reason := checkRegName(host)
		if reason != "" {
			return "", htuErr(subject, reason)
		}
		rewrite = rewrite || !lower
	}
	if hasPort {
		if port == "" {
			rewrite = true // "host:" means the default port
		} else {
			def, reason := checkPort(port, https)
			if reason != "" {
				return "", htuErr(subject, reason)
			}
			if def {
				rewrite = true
				port = ""
			}
		}
	}

	// Path.
	path := s[end:]
	if path == "" {
		rewrite = true
	} else {
		clean, reason := checkPath(path)
		if reason != "" {
			return "", htuErr(subject, reason)
		}
		rewrite = rewrite || !clean
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
	if https {
		buf = append(buf, "https://"...)
	} else {
		buf = append(buf, "http://"...)
	}
	buf = appendLower(buf, host)
	if port != "" {
		buf = append(buf, ':')
		buf = append(buf, port...)
	}
	buf = appendPath(buf, path)
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

// checkRegName validates a registered name or IPv4 literal. It reports
// whether host is already in lower case, or a reason to refuse it.
func checkRegName(host string) (lower bool, reason string) {
	if host == "" {
		return false, "has an empty host"
	}
	if len(host) > maxHostLen {
		return false, "host is too long"
	}
	lower = true
	labelStart := 0
	for i := 0; i < len(host); i++ {
		c := host[i]
		switch {
		case 'a' <= c && c <= 'z', isDigit(c), c == '-':
		case 'A' <= c && c <= 'Z':
			lower = false
		case c == '.':
			if i == labelStart {
				return false, "host has an empty label"
			}
			if i-labelStart > maxLabelLen {
				return false, "host label is too long"
			}
			labelStart = i + 1
		case c == '%':
			return false, "host is percent-encoded"
		case c >= 0x80:
			return false, "host has a non-ASCII byte"
		default:
			return false, "host has an invalid byte"
		}
	}
	if labelStart == len(host) {
		return false, "host has a trailing dot"
	}
	if len(host)-labelStart > maxLabelLen {
		return false, "host label is too long"
	}
	if allDigits(host[labelStart:]) && !isPlainIPv4(host) {
		return false, "host is not a valid IPv4 address"
	}
	return lower, ""
}

// isPlainIPv4 reports whether s is a dotted-quad IPv4 address with decimal
// parts 0..255 without leading zeros.
func isPlainIPv4(s string) bool {
	for part := 0; part < 4; part++ {
		n := 0
		for n < len(s) && n < 4 && isDigit(s[n]) {
			n++
		}
		if n == 0 || n > 3 || (n > 1 && s[0] == '0') {
			return false
		}
		v := 0
		for _, c := range []byte(s[:n]) {
			v = v*10 + int(c-'0')
		}
		if v > 255 {
			return false
		}
		s = s[n:]
		if part < 3 {
			if s == "" || s[0] != '.' {
				return false
			}
			s = s[1:]
		}
	}
	return s == ""
}

// checkIPv6 validates the inside of an IPv6 literal. It reports whether it
// is already in lower case, or a reason to refuse it.
func checkIPv6(lit string) (lower bool, reason string) {
	if lit == "" {
		return false, "has an empty host"
	}
	if len(lit)+2 > maxHostLen {
		return false, "host is too long"
	}
	lower = true
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		switch {
		case isDigit(c), 'a' <= c && c <= 'f', c == ':', c == '.':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return false, "host has an invalid byte in the IPv6 literal"
		}
	}
	// Only hex digits, ':' and '.' are left, so no zone and no IPvFuture.
	addr, err := netip.ParseAddr(lit)
	if err != nil || !addr.Is6() {
		return false, "host is not a valid IPv6 address"
	}
	return lower, ""
}

// checkPort validates a non-empty port. It reports whether it is the default
// port of the scheme, or a reason to refuse it.
func checkPort(port string, https bool) (isDefault bool, reason string) {
	if !allDigits(port) {
		return false, "port is not a valid port"
	}
	if len(port) > 1 && port[0] == '0' {
		return false, "port has a leading zero"
	}
	if len(port) > 5 {
		return false, "port is out of range"
	}
	v := 0
	for i := 0; i < len(port); i++ {
		v = v*10 + int(port[i]-'0')
	}
	if v < 1 || v > 65535 {
		return false, "port is out of range"
	}
	if https {
		return v == 443, ""
	}
	return v == 80, ""
}

// checkPath validates a non-empty path (it starts with '/'). It reports
// whether the path is already in normal form (no lower-case hex digit in a
// percent-encoding), or a reason to refuse it.
func checkPath(path string) (clean bool, reason string) {
	clean = true
	for i := 1; i < len(path); i++ {
		c := path[i]
		switch pathClass[c] {
		case classSlash, classOK:
		case classPercent:
			if i+2 >= len(path) || !ascii.IsHex(path[i+1]) || !ascii.IsHex(path[i+2]) {
				return false, "path has an invalid percent-encoding"
			}
			clean = clean && !isLowerHex(path[i+1]) && !isLowerHex(path[i+2])
			i += 2
		default:
			if c >= 0x80 {
				return false, "path has a non-ASCII byte"
			}
			return false, "path has an invalid byte"
		}
	}
	if uripath.HasDotSegment(path) {
		return false, reasonDotSegment
	}
	return clean, ""
}

// appendPath appends path (validated by checkPath) with the hex digits of
// its percent-encodings upper-cased.
func appendPath(buf []byte, path string) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' {
			buf = append(buf, '%', upperHex(path[i+1]), upperHex(path[i+2]))
			i += 2
			continue
		}
		buf = append(buf, c)
	}
	if len(path) == 0 {
		buf = append(buf, '/') // empty path
	}
	return buf
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

// Byte classes of a path.
const (
	classInvalid = iota
	classOK      // unreserved, sub-delims, ':' and '@'
	classSlash   // '/'
	classPercent // '%'
)

var pathClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		if isUnreserved(byte(c)) {
			t[c] = classOK
		}
	}
	for _, c := range []byte("!$&'()*+,;=:@") {
		t[c] = classOK
	}
	t['/'] = classSlash
	t['%'] = classPercent
	return t
}()

func isAlpha(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func upperHex(c byte) byte {
	if 'a' <= c && c <= 'f' {
		return c - ('a' - 'A')
	}
	return c
}

func isUnreserved(c byte) bool {
	return isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_' || c == '~'
}
