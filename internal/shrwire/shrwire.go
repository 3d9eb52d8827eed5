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
	"github.com/popguard/popguard/internal/uri"
)

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

// ReadList reads a q or h claim: a JSON array of exactly two elements, a
// list of at most MaxListNames non-empty strings, then a string. It reports
// false for anything else.
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

// MatchHost checks u against the request authority host (host[:port])
// under scheme: the hosts are equal ASCII case-insensitively, and so are the
// ports once a missing or empty request port is read as the scheme's
// default. u may leave the default port out but not leave its port empty.
// The host and port grammar is internal/uri's; a request host outside it is
// a bad target.
func MatchHost(u, scheme, host string) error {
	def := uri.DefaultPort(scheme)
	if def == "" {
		return popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The request scheme is not http or https", nil)
	}
	r, err := uri.ParseAuthority(host)
	if err != nil {
		return popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget, "The request host is not valid", nil)
	}
	rPort := r.Port
	if rPort == "" {
		rPort = def
	}
	// r.Host is valid, so a u host equal to it is too.
	uHost, uPort, uHasPort, err := uri.SplitHostPort(u)
	if err != nil || !ascii.EqualFold(uHost, r.Host) {
		return popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonSHRU, "The PoP signed request u does not match the request host", nil)
	}
	if uHasPort {
		if uri.CheckPort(uPort) != nil || uPort != rPort {
			return popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonSHRU, "The PoP signed request u does not match the request port", nil)
		}
	} else if rPort != def {
		return popguard.NewError(popguard.CodeInvalidToken, popguard.ReasonSHRU, "The PoP signed request u lacks the request's port", nil)
	}
	return nil
}

// MatchPath compares p with the request path: exact after upper-casing
// percent-encoding hex digits, plus msal-browser's lower-cased form when
// compat is set (see MSALBrowserCompat).
func MatchPath(p, path, rawQuery string, compat bool) bool {
	if path == "" {
		path = "/"
	}
	np := uri.UpperPercentHex(p)
	if np == uri.UpperPercentHex(path) {
		return true
	}
	if !compat || strings.ContainsFunc(p, func(r rune) bool { return 'A' <= r && r <= 'Z' }) {
		return false
	}
	lp := uri.UpperPercentHex(ascii.Lower(path))
	if np == lp {
		return true
	}
	return rawQuery == "" && !strings.HasSuffix(lp, "/") && len(np) == len(lp)+1 && np[len(lp)] == '/' && np[:len(lp)] == lp
}
