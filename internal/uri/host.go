// Package uri holds popguard's one copy of the rules for the parts of a URI
// it checks, so that no two places can disagree on them:
//
//   - the authority, host[:port]: a Host header or HTTP/2 :authority, a
//     trusted proxy's forwarded host, a configured public host, the authority
//     of a DPoP htu or of the request target, an SHR u claim;
//   - the default port of http and https;
//   - the bytes of a path, the case of percent-encoding hex digits, and the
//     dot-segment rule.
//
// validate (CanonicalHTU, CanonicalTarget), middleware (the target URI and
// its allow-list) and internal/shrwire (SHR u and p) all call it.
//
// Host grammar. A host is one of:
//
//   - a registered name of ASCII letters, digits, '-' and '.', at most 253
//     bytes, made of labels of 1 to 63 bytes: an empty label (".a", "a..b")
//     is refused and so is a trailing dot ("a.example."), since the client
//     must name the server as it is configured; a name whose last label is all
//     digits must be an IPv4 address in dotted-quad form without leading
//     zeros ("127.0.0.1", not "127.1" or "010.0.0.1"), because WHATWG URL
//     parsers read such names as numbers;
//   - an IPv6 address in brackets, as net/netip parses it, without a zone
//     and not IPvFuture ("[::1]", "[2001:DB8::1]", "[::ffff:192.0.2.1]"),
//     at most 253 bytes with the brackets.
//
// Anything else (percent-encoding, '_', '\', userinfo, controls, non-ASCII)
// is refused. Hosts are compared ASCII case-insensitively and never
// rewritten beyond lower-casing.
//
// Port grammar. After the host, an optional ':' and a port of decimal digits,
// 1..65535, without a leading zero. An empty port ("a.example:") means the
// scheme's default, as in RFC 3986 §6.2.3.
//
// This is what every client sends (Go's net/http client, browsers, curl,
// MSAL): "api.example.com:8443", "[::1]:8080", "127.0.0.1", "localhost".
package uri

import (
	"net/netip"
	"net/url"
	"strings"

	"github.com/popguard/popguard/internal/ascii"
)

// Error is why a host, port or path is refused. Its text is a constant that
// never echoes the input, and it reads after a subject: "htu " + err.Error().
type Error string

// Error returns the reason, to be read after a subject.
func (e Error) Error() string { return string(e) }

// Reasons to refuse an authority.
const (
	errEmptyHost        Error = "has an empty host"
	errUnterminatedIPv6 Error = "has an unterminated IPv6 literal"
	errAfterIPv6        Error = "has bytes after the IPv6 literal"
	errHostTooLong      Error = "host is too long"
	errEmptyLabel       Error = "host has an empty label"
	errLabelTooLong     Error = "host label is too long"
	errHostPercent      Error = "host is percent-encoded"
	errHostNonASCII     Error = "host has a non-ASCII byte"
	errHostByte         Error = "host has an invalid byte"
	errTrailingDot      Error = "host has a trailing dot"
	errIPv4             Error = "host is not a valid IPv4 address"
	errIPv6Byte         Error = "host has an invalid byte in the IPv6 literal"
	errIPv6             Error = "host is not a valid IPv6 address"
	errPort             Error = "port is not a valid port"
	errPortLeadingZero  Error = "port has a leading zero"
	errPortRange        Error = "port is out of range"
)

const (
	maxHostLen  = 253 // bytes, registered name or IPv6 literal with brackets
	maxLabelLen = 63  // bytes, one label of a registered name
)

// Authority is a host[:port] that ParseAuthority accepted.
type Authority struct {
	Host    string // registered name, IPv4 address or bracketed IPv6 literal, case as given
	Port    string // "" when absent or empty, else 1..65535 in decimal without a leading zero
	HasPort bool   // a ':' followed the host, even with an empty port
	Lower   bool   // Host has no upper-case letter
}

// ParseAuthority checks an authority without userinfo, host[:port], against
// the host and port grammar of the package comment. On error the Authority
// is zero.
func ParseAuthority(s string) (Authority, error) {
	host, port, hasPort, err := SplitHostPort(s)
	if err != nil {
		return Authority{}, err
	}
	lower, err := CheckHost(host)
	if err != nil {
		return Authority{}, err
	}
	if port != "" {
		if err := CheckPort(port); err != nil {
			return Authority{}, err
		}
	}
	return Authority{Host: host, Port: port, HasPort: hasPort, Lower: lower}, nil
}

// SplitHostPort splits host[:port] after the closing bracket of an IPv6
// literal, else at the first ':'. hasPort is true when a ':' follows the
// host, even with an empty port. It checks the brackets only: see CheckHost
// and CheckPort for the parts.
func SplitHostPort(s string) (host, port string, hasPort bool, err error) {
	if s != "" && s[0] == '[' {
		j := strings.IndexByte(s, ']')
		if j < 0 {
			return "", "", false, errUnterminatedIPv6
		}
		host = s[:j+1]
		if after := s[j+1:]; after != "" {
			if after[0] != ':' {
				return "", "", false, errAfterIPv6
			}
			return host, after[1:], true, nil
		}
		return host, "", false, nil
	}
	if j := strings.IndexByte(s, ':'); j >= 0 {
		return s[:j], s[j+1:], true, nil
	}
	return s, "", false, nil
}

// CheckHost checks a host: a registered name, an IPv4 address or a bracketed
// IPv6 literal. It reports whether host has no upper-case letter.
func CheckHost(host string) (lower bool, err error) {
	if host != "" && host[0] == '[' {
		switch j := strings.IndexByte(host, ']'); {
		case j < 0:
			return false, errUnterminatedIPv6
		case j != len(host)-1:
			return false, errAfterIPv6
		}
		return checkIPv6(host[1 : len(host)-1])
	}
	return checkRegName(host)
}

// checkRegName checks a registered name or IPv4 address.
func checkRegName(host string) (lower bool, err error) {
	if host == "" {
		return false, errEmptyHost
	}
	if len(host) > maxHostLen {
		return false, errHostTooLong
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
				return false, errEmptyLabel
			}
			if i-labelStart > maxLabelLen {
				return false, errLabelTooLong
			}
			labelStart = i + 1
		case c == '%':
			return false, errHostPercent
		case c >= 0x80:
			return false, errHostNonASCII
		default:
			return false, errHostByte
		}
	}
	if labelStart == len(host) {
		return false, errTrailingDot
	}
	if len(host)-labelStart > maxLabelLen {
		return false, errLabelTooLong
	}
	if allDigits(host[labelStart:]) && !isPlainIPv4(host) {
		return false, errIPv4
	}
	return lower, nil
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
		if atoi(s[:n]) > 255 {
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

// checkIPv6 checks the inside of an IPv6 literal.
func checkIPv6(lit string) (lower bool, err error) {
	if lit == "" {
		return false, errEmptyHost
	}
	if len(lit)+2 > maxHostLen {
		return false, errHostTooLong
	}
	lower = true
	for i := 0; i < len(lit); i++ {
		c := lit[i]
		switch {
		case isDigit(c), 'a' <= c && c <= 'f', c == ':', c == '.':
		case 'A' <= c && c <= 'F':
			lower = false
		default:
			return false, errIPv6Byte
		}
	}
	// Only hex digits, ':' and '.' are left, so no zone and no IPvFuture.
	addr, err := netip.ParseAddr(lit)
	if err != nil || !addr.Is6() {
		return false, errIPv6
	}
	return lower, nil
}

// CheckPort checks a port: decimal digits, 1..65535, no leading zero. An
// empty port is refused here; ParseAuthority allows it after a ':'.
func CheckPort(port string) error {
	if !allDigits(port) {
		return errPort
	}
	if len(port) > 1 && port[0] == '0' {
		return errPortLeadingZero
	}
	if len(port) > 5 {
		return errPortRange
	}
	if v := atoi(port); v < 1 || v > 65535 {
		return errPortRange
	}
	return nil
}

// DefaultPort returns the default port of scheme ("443" for https, "80" for
// http, ASCII case-insensitively), or "" for any other scheme.
func DefaultPort(scheme string) string {
	switch {
	case ascii.EqualFold(scheme, "https"):
		return "443"
	case ascii.EqualFold(scheme, "http"):
		return "80"
	}
	return ""
}

// WithoutDefaultPort returns authority (host[:port], valid) without its port
// when that is empty or the default port of scheme, so that "a.example",
// "a.example:" and "a.example:443" are one https authority. Anything else is
// returned as it is.
func WithoutDefaultPort(scheme, authority string) string {
	host, port, hasPort, err := SplitHostPort(authority)
	if err == nil && hasPort && (port == "" || port == DefaultPort(scheme)) {
		return host
	}
	return authority
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

// atoi reads a short run of decimal digits.
func atoi(s string) int {
	v := 0
	for i := 0; i < len(s); i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}

// HostPort returns u's host[:port] as a client writes it in a signed
// request's u claim: the default port of the scheme dropped, an IPv6
// literal in brackets.
func HostPort(u *url.URL) string {
	host, port := u.Hostname(), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return host
	}
	return host + ":" + port
}
