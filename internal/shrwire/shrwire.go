// Package shrwire holds the wire-level rules of Microsoft's signed HTTP
// request (SHR) claims: reading ts and the q/h lists, matching u and p
// against the request, and reading the header kid, for package validate.
package shrwire

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/ascii"
	"github.com/popguard/popguard/internal/jose"
)

func fail(code popguard.ErrorCode, reason popguard.Reason, desc string, cause error) error {
	return popguard.NewError(code, reason, desc, cause)
}

func shrErr(reason popguard.Reason, desc string, cause error) error {
	return popguard.NewError(popguard.CodeInvalidToken, reason, desc, cause)
}

// MaxListNames caps the names a q or h claim may list: real clients
// cover a handful, and the list is checked before the signature.
const MaxListNames = 64

// List is a q or h claim: [[names...], value].
type List struct {
	Names []string
	Value string
}

// KidThumbprint reads a header kid: MSAL.NET's raw RFC 7638 thumbprint or
// msal-browser's base64url of {"kid": thumbprint}. ok is false for a kid of
// any other form, which is ignored.
func KidThumbprint(kid string) (string, bool) {
	if len(kid) == 43 && jose.IsB64URL(kid) {
		return kid, true
	}
	if len(kid) > 512 || !jose.IsB64URL(kid) {
		return "", false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(kid)
	if err != nil {
		return "", false
	}
	members, err := jose.ParseObject(raw)
	if err != nil {
		return "", false
	}
	val, ok := jose.Lookup(members, "kid")
	if !ok {
		return "", false
	}
	tp, ok := jose.String(val)
	if !ok {
		// A req_cnf object whose kid is not a string names no key: refuse
		// rather than ignore, it is not what any client sends.
		return "\x00", true
	}
	return tp, true
}

// Int reads ts: a JSON number written as an integer (digits only: no
// sign, fraction or exponent; draft-03 §3 "MUST be a number containing an
// integer value"), at most 11 digits.
func Int(raw []byte) (int64, bool) {
	if len(raw) == 0 || len(raw) > 11 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func ReadList(raw []byte) (*List, bool) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, false
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(raw, &parts); err != nil || len(parts) != 2 {
		return nil, false
	}
	if len(parts[0]) == 0 || parts[0][0] != '[' {
		return nil, false
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(parts[0], &elems); err != nil {
		return nil, false
	}
	if len(elems) > MaxListNames {
		return nil, false
	}
	l := &List{Names: make([]string, 0, len(elems))}
	for _, e := range elems {
		s, ok := jose.String(e)
		if !ok || s == "" {
			return nil, false
		}
		l.Names = append(l.Names, s)
	}
	var ok bool
	if l.Value, ok = jose.String(parts[1]); !ok {
		return nil, false
	}
	return l, true
}

// MatchHost checks u against the request authority.
func MatchHost(u, scheme, host string) error {
	var defPort int
	switch {
	case ascii.EqualFold(scheme, "https"):
		defPort = 443
	case ascii.EqualFold(scheme, "http"):
		defPort = 80
	default:
		return fail(popguard.CodeInvalidRequest, popguard.ReasonBadTarget, "The request scheme is not http or https", nil)
	}
	rHost, rPort, rHasPort, ok := splitAuthority(host)
	effPort := defPort
	if ok && rHasPort && rPort != "" {
		effPort, ok = parsePort(rPort)
	}
	if !ok {
		return fail(popguard.CodeInvalidRequest, popguard.ReasonBadTarget, "The request host is not valid", nil)
	}
	uHost, uPort, uHasPort, ok := splitAuthority(u)
	if !ok || !ascii.EqualFold(uHost, rHost) {
		return shrErr(popguard.ReasonSHRHost, "The PoP signed request u does not match the request host", nil)
	}
	if uHasPort {
		p, ok := parsePort(uPort)
		if !ok || p != effPort {
			return shrErr(popguard.ReasonSHRHost, "The PoP signed request u does not match the request port", nil)
		}
	} else if effPort != defPort {
		return shrErr(popguard.ReasonSHRHost, "The PoP signed request u lacks the request's port", nil)
	}
	return nil
}

// splitAuthority splits host[:port]; an IPv6 literal is in brackets.
// hasPort is true when a ':' follows the host, even with an empty port.
func splitAuthority(s string) (host, port string, hasPort, ok bool) {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool {
		return r <= ' ' || r >= 0x7f || strings.ContainsRune(`/?#@\"<>{}|^`+"`", r)
	}) {
		return "", "", false, false
	}
	rest := ""
	if s[0] == '[' {
		i := strings.IndexByte(s, ']')
		if i < 0 {
			return "", "", false, false
		}
		host, rest = s[:i+1], s[i+1:]
	} else {
		i := strings.IndexByte(s, ':')
		if i < 0 {
			return s, "", false, true
		}
		host, rest = s[:i], s[i:]
	}
	if host == "" || host == "[]" {
		return "", "", false, false
	}
	if rest == "" {
		return host, "", false, true
	}
	if rest[0] != ':' || strings.IndexByte(rest[1:], ':') >= 0 {
		return "", "", false, false
	}
	return host, rest[1:], true, true
}

// parsePort parses a port: 1..65535, decimal, no leading zero.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, n >= 1 && n <= 65535
}

// MatchPath compares p with the request path: exact after upper-casing
// percent-encoding hex digits, plus msal-browser's lower-cased form when
// compat is set (see MSALBrowserCompat).
func MatchPath(p, path, rawQuery string, compat bool) bool {
	if path == "" {
		path = "/"
	}
	np := UpperPercentHex(p)
	if np == UpperPercentHex(path) {
		return true
	}
	if !compat || strings.ContainsFunc(p, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		return false
	}
	lp := UpperPercentHex(ascii.Lower(path))
	if np == lp {
		return true
	}
	return rawQuery == "" && !strings.HasSuffix(lp, "/") && len(np) == len(lp)+1 && np[len(lp)] == '/' && np[:len(lp)] == lp
}

// UpperPercentHex upper-cases the hex digits of well-formed percent-encoded
// triplets; nothing else changes.
func UpperPercentHex(s string) string {
	i := 0
	for ; i+2 < len(s); i++ {
		if s[i] == '%' && ascii.IsHex(s[i+1]) && ascii.IsHex(s[i+2]) && (isLowerHex(s[i+1]) || isLowerHex(s[i+2])) {
			break
		}
	}
	if i+2 >= len(s) {
		return s
	}
	b := []byte(s)
	for ; i+2 < len(b); i++ {
		if b[i] == '%' && ascii.IsHex(b[i+1]) && ascii.IsHex(b[i+2]) {
			b[i+1], b[i+2] = upperHex(b[i+1]), upperHex(b[i+2])
			i += 2
		}
	}
	return string(b)
}

func isLowerHex(c byte) bool { return 'a' <= c && c <= 'f' }

func upperHex(c byte) byte {
	if isLowerHex(c) {
		return c - ('a' - 'A')
	}
	return c
}
