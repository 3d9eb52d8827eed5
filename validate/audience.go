package validate

import "slices"

// AcceptsAudience reports whether a token whose aud holds aud passes the
// audience check: aud is one of the Audience values, or SkipAudienceCheck
// was given. A resource server announcing a resource identifier (RFC 9728,
// RFC 8707) checks with it that tokens issued for that identifier are
// accepted.
func (v *JWTVerifier) AcceptsAudience(aud string) bool {
	return v.anyAud || slices.Contains(v.audiences, aud)
}

// AcceptsAudience reports whether every verifier of the set accepts a token
// whose aud holds aud (JWTVerifier.AcceptsAudience): whichever trusted
// issuer a client asks, a token for aud is accepted.
func (s *IssuerSet) AcceptsAudience(aud string) bool {
	for _, v := range s.vs {
		if !v.AcceptsAudience(aud) {
			return false
		}
	}
	return true
}

// AcceptsAudience reports whether an introspection response whose aud
// holds aud passes the audience check: aud is one of the Audience values, or
// no Audience was given.
func (i *Introspector) AcceptsAudience(aud string) bool {
	return len(i.audiences) == 0 || slices.Contains(i.audiences, aud)
}

// AcceptsAudience reports whether the wrapped verifier accepts a token whose
// aud holds aud, when it can tell (a JWTVerifier, IssuerSet, Introspector
// or TokenCache); true otherwise.
func (c *TokenCache) AcceptsAudience(aud string) bool {
	if a, ok := c.inner.(interface{ AcceptsAudience(string) bool }); ok {
		return a.AcceptsAudience(aud)
	}
	return true
}

// Issuers returns the issuers the wrapped verifier trusts: the issuer of a
// JWTVerifier, the issuers of an IssuerSet (multi-tenant ones with
// {tenantid}), those of a wrapped TokenCache; nil for other verifiers, such
// as an Introspector.
func (c *TokenCache) Issuers() []string {
	switch v := c.inner.(type) {
	case *JWTVerifier:
		return []string{v.issuer}
	case interface{ Issuers() []string }:
		return v.Issuers()
	}
	return nil
}
