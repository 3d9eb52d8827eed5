package popguard

import (
	"context"
	"slices"
	"time"
)

// Result describes an authenticated request: who called, with which token,
// and which key proved possession of it.
type Result struct {
	// Scheme is the scheme the request used: Bearer (also for a
	// certificate-bound token, see CertificateThumbprint), DPoP, PoP, or
	// MTLSPoP.
	Scheme Scheme
	// Issuer, Subject, ClientID and Audience come from the access token.
	Issuer   string
	Subject  string
	ClientID string
	Audience []string
	// Scopes are the token's delegated scopes and Roles its application
	// roles, read from the claims its issuer's profile names
	// (validate.Profile): scope for RFC 9068, scp and roles for Entra ID.
	Scopes []string
	Roles  []string
	// Expiry is the token's exp.
	Expiry time.Time
	// TokenID is the token's jti, if any.
	TokenID string
	// KeyThumbprint is the RFC 7638 SHA-256 thumbprint of the key that
	// signed the DPoP proof or PoP request; empty for Bearer.
	KeyThumbprint string
	// CertificateThumbprint is the RFC 8705 thumbprint (base64url SHA-256
	// of the DER certificate) of the client certificate a certificate-bound
	// token was presented with: the token's cnf.x5t#S256. Empty for other
	// tokens.
	CertificateThumbprint string
	// Claims holds every claim of the access token (JWT payload or
	// introspection response), decoded from JSON: the issuer's statements.
	Claims map[string]any
	// ClientClaims holds the client's own statements, signed with the proof
	// key together with the request and decoded from JSON: for DPoP, the
	// proof's claims other than RFC 9449's jti, htm, htu, iat, ath and nonce;
	// for PoP, the JSON object an msal-browser signed request carries, as a
	// string, in client_claims (its shrClaims request parameter). It is nil
	// for Bearer and when the proof carries none. Nothing here is vouched for
	// by the issuer: whoever holds the key writes what it likes, so treat
	// these as input from the caller, never as grants.
	ClientClaims map[string]any
}

// HasScope reports whether the token grants scope.
func (r *Result) HasScope(scope string) bool {
	return r != nil && slices.Contains(r.Scopes, scope)
}

// HasRole reports whether the token grants the application role.
func (r *Result) HasRole(role string) bool {
	return r != nil && slices.Contains(r.Roles, role)
}

type ctxKey struct{}

// NewContext returns a copy of ctx carrying r.
func NewContext(ctx context.Context, r *Result) context.Context {
	return context.WithValue(ctx, ctxKey{}, r)
}

// FromContext returns the Result the middleware stored for this request, or
// nil when the request was not authenticated by popguard.
func FromContext(ctx context.Context) *Result {
	r, _ := ctx.Value(ctxKey{}).(*Result)
	return r
}
