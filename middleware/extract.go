package middleware

import (
	"net/http"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/ascii"
)

// credentials is what the Authorization header carried.
type credentials struct {
	scheme popguard.Scheme
	token  string
}

// isTchar reports whether c may appear in an RFC 9110 token.
func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isToken68 reports whether s is an RFC 9110 token68 (which also covers the
// RFC 6750 b64token): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := token68.Span(s)
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// token68 holds the characters of RFC 9110 §11.2 token68 before its
// trailing '='s.
var token68 = ascii.NewSet(true, "-._~+/")

func trimOWS(s string) string {
	return strings.Trim(s, " \t")
}

// extract reads the one Authorization field line (RFC 9110 §5.3: counting
// raw field lines, never Header.Get, which hides duplicates). It returns
// (nil, nil) when there is none or its scheme is unknown (RFC 6750 §3.1: a
// challenge without error).
func (g *Guard) extract(r *http.Request) (*credentials, error) {
	lines := r.Header.Values("Authorization")
	if len(lines) == 0 {
		return g.queryToken(r, false)
	}
	if len(lines) > 1 {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleAuthorization,
			"Multiple methods used to include access token", nil)
	}
	if len(lines[0]) > g.maxAuth {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestHeaderTooLarge,
			"The Authorization header is too large", nil)
	}
	if _, err := g.queryToken(r, true); err != nil {
		return nil, err
	}
	v := trimOWS(lines[0])
	sp := strings.IndexByte(v, ' ')
	name := v
	if sp >= 0 {
		name = v[:sp]
	}
	for i := 0; i < len(name); i++ {
		if !isTchar(name[i]) {
			return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization,
				"The Authorization header is malformed", nil)
		}
	}
	scheme, ok := popguard.ParseScheme(name)
	if !ok {
		return nil, nil // unknown scheme: as if no credentials
	}
	if sp < 0 {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization,
			"The Authorization header has no token", nil)
	}
	// credentials = auth-scheme 1*SP token68: spaces (not tabs) only.
	token := strings.TrimLeft(v[sp:], " ")
	if !isToken68(token) {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization,
			"The Authorization header must hold exactly one token", nil)
	}
	return &credentials{scheme: scheme, token: token}, nil
}

// queryToken handles the access_token URI query parameter (RFC 6750 §2.3).
// It is refused unless enabled, and never combined with a header.
func (g *Guard) queryToken(r *http.Request, haveHeader bool) (*credentials, error) {
	// Names may be percent-encoded (access%5Ftoken): decode whenever the raw
	// query could hide one.
	if r.URL == nil || (!strings.Contains(r.URL.RawQuery, "access_token") && !strings.Contains(r.URL.RawQuery, "%")) {
		return nil, nil
	}
	values := r.URL.Query()["access_token"]
	if len(values) == 0 {
		return nil, nil
	}
	if haveHeader || len(values) > 1 {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleMethods,
			"Multiple methods used to include access token", nil)
	}
	if !g.queryTokens {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestQueryToken,
			"Access tokens are not accepted in the URI query", nil)
	}
	if !isToken68(values[0]) || len(values[0]) > g.maxAuth {
		return nil, popguard.NewError(popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization,
			"The access_token parameter is malformed", nil)
	}
	return &credentials{scheme: popguard.Bearer, token: values[0]}, nil
}

// dpopKey is the DPoP header's key in an http.Header. Looking it up by its
// canonical form avoids canonicalizing "DPoP" (not in net/textproto's table
// of common headers) into a new string on every request.
var dpopKey = http.CanonicalHeaderKey("DPoP")

// dpopHeader returns the one DPoP field line (RFC 9449 §4.3 check 1).
func (g *Guard) dpopHeader(r *http.Request) (string, error) {
	lines := r.Header[dpopKey]
	switch {
	case len(lines) == 0:
		return "", popguard.NewError(popguard.CodeInvalidDPoPProof, popguard.ReasonProofMissing,
			"The DPoP proof is missing", nil)
	case len(lines) > 1:
		return "", popguard.NewError(popguard.CodeInvalidDPoPProof, popguard.ReasonProofMultiple,
			"Multiple DPoP proofs are not allowed", nil)
	}
	// Its size is the proof verifier's rule (validate.MaxSize).
	v := trimOWS(lines[0])
	if strings.ContainsAny(v, ", \t") {
		// A comma is two proofs folded by a proxy (RFC 9110 §5.3).
		return "", popguard.NewError(popguard.CodeInvalidDPoPProof, popguard.ReasonProofMultiple,
			"Multiple DPoP proofs are not allowed", nil)
	}
	return v, nil
}
