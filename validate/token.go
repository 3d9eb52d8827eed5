package validate

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// TokenVerifier validates an access token and returns its claims. JWTVerifier
// implements it for RFC 9068 JWT access tokens, Introspector for opaque tokens
// (RFC 7662 introspection), and TokenCache caches the answers of either.
//
// Errors should be *popguard.Error with code invalid_token (or
// temporarily_unavailable when the verifier could not reach its issuer).
type TokenVerifier interface {
	VerifyToken(ctx context.Context, token string) (*Token, error)
}

// Token is a validated access token.
type Token struct {
	Issuer   string
	Subject  string
	ClientID string
	Audience []string
	// Scopes are the delegated scopes, Roles the application roles, read
	// from the claims the verifier's Profile names.
	Scopes []string
	Roles  []string
	// Tenant is the tenant claim of a multi-tenant issuer's token.
	Tenant    string
	ID        string
	Expiry    time.Time
	IssuedAt  time.Time
	NotBefore time.Time
	// Cnf is the token's confirmation (RFC 7800): the key it is bound to.
	Cnf Confirmation
	// Claims holds every claim, decoded from JSON.
	Claims map[string]any
	// SigningKeyID is the kid of the issuer key that signed a JWT, if known.
	SigningKeyID string
}

// Confirmation is the cnf claim of a token: the proof-of-possession key the
// token is bound to.
type Confirmation struct {
	// JKT is the RFC 7638 thumbprint of a DPoP key (RFC 9449 §6).
	JKT string
	// KID identifies a PoP key: for Microsoft Entra ID tokens the RFC 7638
	// thumbprint of the key in the signed request's cnf.jwk.
	KID string
	// JWK is the raw JSON of a PoP key carried in the token.
	JWK []byte
	// JKU is a JWK Set URL; popguard never dereferences it.
	JKU string
	// JWE is the raw JSON of an encrypted symmetric PoP key; popguard does
	// not accept symmetric PoP keys, but the token is still bound.
	JWE []byte
	// X5tS256 is the certificate thumbprint of an mTLS-bound token (RFC 8705
	// §3.1): base64url of the SHA-256 digest of the DER certificate.
	X5tS256 string
}

// Bound reports whether the token is bound to any key. A bound token must
// never be accepted as a Bearer token.
func (c Confirmation) Bound() bool {
	return c.JKT != "" || c.KID != "" || c.JWK != nil || c.JKU != "" || c.JWE != nil || c.X5tS256 != ""
}

// parseCnf reads a cnf claim value (RFC 7800 §3.1): a JSON object holding a
// single key representation. Unknown members are ignored.
func parseCnf(raw []byte) (Confirmation, error) {
	var c Confirmation
	members, err := jose.ParseObject(raw)
	if err != nil {
		return c, tokenErr(popguard.ReasonTokenCnf, "The cnf claim is not a JSON object", err)
	}
	reps := 0
	for _, m := range members {
		ok := true
		switch m.Name {
		case "jkt":
			c.JKT, ok = jose.String(m.Value)
			// A bare RFC 7638 SHA-256 thumbprint: 43 base64url characters,
			// never an RFC 9278 URI (RFC 9449 §6.1).
			ok = ok && len(c.JKT) == 43 && jose.IsB64URL(c.JKT)
			reps++
		case "jwk":
			ok = len(m.Value) > 0 && m.Value[0] == '{'
			c.JWK = m.Value
			reps++
		case "jku":
			c.JKU, ok = jose.String(m.Value)
			ok = ok && c.JKU != ""
			reps++
		case "jwe":
			c.JWE = m.Value
			ok = len(m.Value) > 0
			reps++
		case "x5t#S256":
			c.X5tS256, ok = jose.String(m.Value)
			// base64url of a SHA-256 digest, unpadded (RFC 8705 §3.1).
			ok = ok && len(c.X5tS256) == 43 && jose.IsB64URL(c.X5tS256)
			reps++
		case "kid":
			c.KID, ok = jose.String(m.Value)
			ok = ok && c.KID != ""
		}
		if !ok {
			return Confirmation{}, tokenErr(popguard.ReasonTokenCnf, "The cnf claim has an invalid member", nil)
		}
	}
	if reps > 1 || (c.KID != "" && (c.JKT != "" || c.X5tS256 != "")) {
		return Confirmation{}, tokenErr(popguard.ReasonTokenCnf, "The cnf claim names more than one key", nil)
	}
	if !c.Bound() {
		return Confirmation{}, tokenErr(popguard.ReasonTokenCnf, "The cnf claim names no key", nil)
	}
	return c, nil
}

// CheckDPoPBinding checks that the token is bound to the key that signed
// the proof (RFC 9449 §4.3 check 12, §6). A token bound by another mechanism
// (PoP, mTLS) or not bound at all is rejected: there is no DPoP key to match.
func CheckDPoPBinding(tok *Token, proof *Proof) error {
	if tok.Cnf.JKT == "" {
		if tok.Cnf.Bound() {
			return tokenErr(popguard.ReasonTokenKeyBinding, "The access token is not bound to a DPoP key", nil)
		}
		return tokenErr(popguard.ReasonTokenNotBound, "The access token is not DPoP-bound", nil)
	}
	if tok.Cnf.JKT != proof.Thumbprint {
		return tokenErr(popguard.ReasonTokenKeyBinding, "Invalid DPoP key binding", nil)
	}
	return nil
}

// CertificateThumbprint returns the RFC 8705 §3.1 thumbprint of a DER
// certificate: base64url (unpadded) of its SHA-256 digest, the value a
// certificate-bound token carries in cnf.x5t#S256. It does not parse or
// validate der: the TLS server (or the proxy in front of it) checks the
// certificate; the thumbprint only ties the token to it.
func CertificateThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// CheckCertificateBinding checks that a certificate-bound token (cnf.x5t#S256)
// is presented with the certificate it is bound to (RFC 8705 §3):
// thumbprint is CertificateThumbprint of the client certificate the request
// came with, "" when it came without one. The comparison takes constant
// time. It fails with invalid_token and reason token_cert_missing (no
// certificate), token_cert_binding (another certificate), or
// token_key_binding (the token is bound to a key, not a certificate) or
// token_not_bound (the token is not bound at all).
func CheckCertificateBinding(tok *Token, thumbprint string) error {
	want := tok.Cnf.X5tS256
	switch {
	case want == "" && tok.Cnf.Bound():
		return tokenErr(popguard.ReasonTokenKeyBinding, "The access token is not bound to a certificate", nil)
	case want == "":
		return tokenErr(popguard.ReasonTokenNotBound, "The access token is not certificate-bound", nil)
	case thumbprint == "":
		return tokenErr(popguard.ReasonTokenCertMissing, "The access token is bound to a client certificate and none was presented", nil)
	case subtle.ConstantTimeCompare([]byte(want), []byte(thumbprint)) != 1:
		return tokenErr(popguard.ReasonTokenCertBinding, "The access token is bound to another client certificate", nil)
	}
	return nil
}

// splitScope splits a space-delimited scope claim (RFC 8693 §4.2).
func splitScope(s string) []string {
	return strings.Fields(s)
}
