package validate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// IssuerSet verifies the access tokens of several issuers, each with its
// own JWTVerifier: its key set, audience, profile and tenants. A token is
// checked only by the verifier of the issuer its iss names, and only with
// that issuer's keys: a key of one issuer never verifies a token claiming
// another. A token whose iss no verifier trusts is refused (invalid_token,
// token_issuer) before any signature check. It implements TokenVerifier and
// is safe for concurrent use.
type IssuerSet struct {
	vs                 []*JWTVerifier
	exact              map[string]*JWTVerifier
	maxSize, maxClaims int
	// uniform: every verifier has the same size and member limits, so the
	// token parsed to read iss is the one the verifier would parse.
	uniform bool
}

// NewIssuerSet returns a set of the verifiers vs. Two verifiers for the same
// issuer are refused. When the iss of a token matches several verifiers (an
// exact issuer and a multi-tenant one, or overlapping tenants), the exact
// match wins, then the first verifier given.
func NewIssuerSet(vs ...*JWTVerifier) (*IssuerSet, error) {
	if len(vs) == 0 {
		return nil, errors.New("validate: NewIssuerSet needs at least one verifier")
	}
	s := &IssuerSet{exact: map[string]*JWTVerifier{}, uniform: true}
	for _, v := range vs {
		if v == nil {
			return nil, errors.New("validate: NewIssuerSet(nil)")
		}
		for _, w := range s.vs {
			if w.issuer == v.issuer {
				return nil, fmt.Errorf("validate: two verifiers for the issuer %q", v.issuer)
			}
		}
		s.vs = append(s.vs, v)
		if !templated(v.issuer) {
			s.exact[v.issuer] = v
		}
		if len(s.vs) > 1 && (v.maxSize != s.maxSize || v.maxClaims != s.maxClaims) {
			s.uniform = false
		}
		s.maxSize, s.maxClaims = max(s.maxSize, v.maxSize), max(s.maxClaims, v.maxClaims)
	}
	return s, nil
}

// Issuers returns the issuers of the set, in the order given (multi-tenant
// ones with {tenantid}).
func (s *IssuerSet) Issuers() []string {
	out := make([]string, len(s.vs))
	for i, v := range s.vs {
		out[i] = v.issuer
	}
	return out
}

// VerifyToken implements TokenVerifier.
func (s *IssuerSet) VerifyToken(ctx context.Context, token string) (*Token, error) {
	v, j, err := s.route(token)
	if err != nil {
		return nil, err
	}
	if !s.uniform {
		return v.VerifyToken(ctx, token) // parsed again within its own limits
	}
	return v.verifyParsed(ctx, token, j, nil)
}

// route returns the verifier of the issuer the token names, and the parsed
// token.
func (s *IssuerSet) route(token string) (*JWTVerifier, *jose.JWS, error) {
	if len(token) > s.maxSize {
		return nil, nil, tokenErr(popguard.ReasonTokenMalformed, "The access token is too large", nil)
	}
	j, err := parseToken(token, s.maxSize, s.maxClaims)
	if err != nil {
		return nil, nil, err
	}
	iss, ok := "", false
	for _, m := range j.Payload {
		if m.Name == "iss" {
			iss, ok = jose.String(m.Value)
			break
		}
	}
	if !ok {
		return nil, nil, tokenErr(popguard.ReasonTokenClaims, "The access token has no issuer", nil)
	}
	if v := s.match(iss); v != nil {
		return v, j, nil
	}
	return nil, nil, tokenErr(popguard.ReasonTokenIssuer, "The access token issuer is not trusted", nil)
}

// match returns the verifier for iss, or nil.
func (s *IssuerSet) match(iss string) *JWTVerifier {
	if v := s.exact[iss]; v != nil {
		return v
	}
	for _, v := range s.vs {
		if v.mayIssue(iss, false) {
			return v
		}
	}
	// A tenant no verifier allows: the first verifier whose issuer has the
	// shape refuses it with token_tenant, as a single verifier would.
	for _, v := range s.vs {
		if v.mayIssue(iss, true) {
			return v
		}
	}
	return nil
}

// mayIssue reports whether iss can be one of v's issuers: the issuer itself,
// or the issuer or one of its profile's version issuers with an acceptable
// tenant in place of {tenantid}. The verifier checks the rest (the tenant
// claim, the keys). With anyTenant, the tenant is not checked.
func (v *JWTVerifier) mayIssue(iss string, anyTenant bool) bool {
	if iss == v.issuer {
		return true
	}
	cands := []string{v.issuer}
	for _, t := range v.profile.VersionIssuers {
		cands = append(cands, t)
	}
	for _, c := range cands {
		t, ok := tenantOf(c, iss)
		if !ok {
			continue
		}
		switch {
		case anyTenant:
		case v.tenants != nil:
			ok = v.tenants[t]
		case v.anyTenant:
		default:
			ok = !templated(v.issuer) && issuerTenant(v.issuer) == t
		}
		if ok {
			return true
		}
	}
	return false
}

// tenantOf matches iss against an issuer template holding {tenantid} and
// returns the tenant in its place.
func tenantOf(template, iss string) (string, bool) {
	pre, suf, ok := strings.Cut(template, tenantTemplate)
	if !ok || len(iss) < len(pre)+len(suf) || !strings.HasPrefix(iss, pre) || !strings.HasSuffix(iss, suf) {
		return "", false
	}
	t := iss[len(pre) : len(iss)-len(suf)]
	return t, validTenant(t)
}

// stillHasKey reports whether the key that signed tok is still in the key
// set of its issuer (for TokenCache).
func (s *IssuerSet) stillHasKey(tok *Token) bool {
	if v := s.match(tok.Issuer); v != nil {
		return v.stillHasKey(tok)
	}
	return false
}

// stillHasKey reports whether the key that signed tok is still in v's key
// set, when the key set can tell.
func (v *JWTVerifier) stillHasKey(tok *Token) bool {
	if h, ok := v.keys.(interface{ Has(kid string) bool }); ok && tok.SigningKeyID != "" {
		return h.Has(tok.SigningKeyID)
	}
	return true
}
