package validate

import (
	"slices"
	"strings"

	"github.com/popguard/popguard"
)

// Profile describes how one identity provider's JWT access tokens look:
// which typ headers it sends, which claims it always includes, and where it
// puts scopes, application roles and the client's id. A JWTVerifier reads
// tokens through one profile (UseProfile; RFC9068 by default). The profile
// never weakens a check: signature, iss, aud, exp, nbf and iat are verified
// whatever the profile says.
//
// Start from the preset closest to the provider (RFC9068, Entra, Keycloak,
// Okta, Auth0) and change fields on the copy it returns.
type Profile struct {
	// Name identifies the profile in logs and errors.
	Name string
	// Types lists the accepted values of the JOSE typ header, compared
	// ASCII case-insensitively with any "application/" prefix removed
	// (RFC 7515 §4.1.9). The empty string accepts a token without typ.
	Types []string
	// Required lists the claims a token must carry.
	Required []string
	// RequiredAny lists claims of which a token must carry at least one.
	// Entra ID's access tokens always carry scp or roles, its ID tokens
	// neither (Microsoft.Identity.Web refuses such tokens the same way).
	RequiredAny []string
	// ScopeClaims lists the claims that hold delegated scopes, each a
	// space-separated string or an array of strings ("scope" itself is
	// always a string: RFC 6749 §3.3, RFC 9068 §2.2.3). The scopes of every
	// listed claim present are combined.
	ScopeClaims []string
	// RoleClaims lists the claims that hold application roles (app-only
	// permissions), each an array of strings or a space-separated string. A
	// name may be a dotted path into nested objects, as Keycloak's
	// "realm_access.roles".
	RoleClaims []string
	// ClaimValues restricts claims to listed string values: a token must
	// carry each named claim with one of its values, or it is refused as
	// another kind of token (reason token_type). Keycloak marks access
	// tokens with typ "Bearer" (or "DPoP") and ID tokens with "ID".
	ClaimValues map[string][]string
	// ClientClaims lists, in order of preference, the claims that name the
	// client the token was issued to; the first one present is used.
	ClientClaims []string
	// TenantClaim names the claim holding the tenant of a multi-tenant
	// issuer ("tid" for Entra ID). An issuer holding {tenantid} must agree
	// with it, and so must the issuer published with the signing key. An
	// issuer without {tenantid} names its tenant in its first path segment,
	// as Entra ID's issuers do: the claim must be that segment.
	TenantClaim string
	// VersionIssuers maps a value of the token's "ver" claim to the issuer
	// expected for tokens of that version, instead of the verifier's
	// issuer. Entra ID names v1.0 tokens https://sts.windows.net/{tenantid}/
	// whichever endpoint issued them.
	VersionIssuers map[string]string
}

// RFC9068 returns the profile of RFC 9068 JWT access tokens, the default:
// typ at+jwt, the claims of §2.2, scopes in scope (§2.2.3), roles in roles
// (§2.2.3.1, RFC 7643), the client in client_id.
func RFC9068() Profile {
	return Profile{
		Name:         "rfc9068",
		Types:        []string{"at+jwt"},
		Required:     []string{"iss", "exp", "aud", "sub", "client_id", "iat", "jti"},
		ScopeClaims:  []string{"scope"},
		RoleClaims:   []string{"roles"},
		ClientClaims: []string{"client_id"},
	}
}

// Entra returns the profile of Microsoft Entra ID access tokens (v1.0 and
// v2.0), as documented at
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference:
// typ JWT; delegated permissions in scp (a space-separated string), app
// roles in roles; the client in azp (v2.0) or appid (v1.0); the tenant in
// tid; v1.0 tokens (ver "1.0") issued by https://sts.windows.net/{tenantid}/.
// The signing keys of Entra's JWKS carry an issuer member, which must agree
// with the token (see TenantClaim). PoP tokens carry cnf {"kid": <RFC 7638
// thumbprint>, "xms_ksl": ...}, read as a PoP binding.
func Entra() Profile {
	return Profile{
		Name:           "entra",
		Types:          []string{"JWT"},
		Required:       []string{"iss", "aud", "exp", "iat", "nbf", "sub", "tid", "ver"},
		RequiredAny:    []string{"scp", "roles"},
		ScopeClaims:    []string{"scp"},
		RoleClaims:     []string{"roles"},
		ClientClaims:   []string{"azp", "appid"},
		TenantClaim:    "tid",
		VersionIssuers: map[string]string{"1.0": "https://sts.windows.net/{tenantid}/"},
	}
}

// Keycloak returns the profile of Keycloak access tokens, as documented at
// https://www.keycloak.org/docs/latest/server_admin/ (OIDC token and
// protocol mappers): typ JWT (or at+jwt when the client asks for RFC 9068
// tokens); the typ claim "Bearer" or "DPoP" (ID tokens say "ID"); scopes in
// scope; realm roles in realm_access.roles; the client in azp, or client_id
// for the client-credentials grant. Client roles
// (resource_access.<client>.roles) depend on the client's name: add that
// path to RoleClaims.
func Keycloak() Profile {
	return Profile{
		Name:         "keycloak",
		Types:        []string{"JWT", "at+jwt"},
		Required:     []string{"iss", "aud", "exp", "iat", "sub", "azp", "jti"},
		ClaimValues:  map[string][]string{"typ": {"Bearer", "DPoP"}},
		ScopeClaims:  []string{"scope"},
		RoleClaims:   []string{"realm_access.roles"},
		ClientClaims: []string{"client_id", "azp"},
	}
}

// Okta returns the profile of access tokens of an Okta custom authorization
// server, as documented at
// https://developer.okta.com/docs/reference/api/oidc/#access-token: no typ
// header (or at+jwt); scopes in scp (an array); the client in cid, which ID
// tokens do not carry, so it is required; groups are not roles (add
// "groups" to RoleClaims if the authorization server puts app roles there).
func Okta() Profile {
	return Profile{
		Name:         "okta",
		Types:        []string{"", "at+jwt"},
		Required:     []string{"iss", "aud", "exp", "iat", "sub", "cid", "jti"},
		ScopeClaims:  []string{"scp"},
		ClientClaims: []string{"cid"},
	}
}

// Auth0 returns the profile of Auth0 access tokens for an API, as documented
// at https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles:
// typ at+jwt (the RFC 9068 profile) or JWT (the Auth0 profile); scopes in
// scope; the API permissions granted by role-based access control in
// permissions; the client in azp (Auth0 profile) or client_id (RFC 9068
// profile).
func Auth0() Profile {
	return Profile{
		Name:         "auth0",
		Types:        []string{"at+jwt", "JWT"},
		Required:     []string{"iss", "aud", "exp", "iat", "sub"},
		ScopeClaims:  []string{"scope"},
		RoleClaims:   []string{"permissions"},
		ClientClaims: []string{"client_id", "azp"},
	}
}

// ProfileByName returns the preset profile named name: rfc9068, entra,
// keycloak, okta or auth0.
func ProfileByName(name string) (Profile, bool) {
	switch strings.ToLower(name) {
	case "rfc9068", "":
		return RFC9068(), true
	case "entra":
		return Entra(), true
	case "keycloak":
		return Keycloak(), true
	case "okta":
		return Okta(), true
	case "auth0":
		return Auth0(), true
	}
	return Profile{}, false
}

// profileTyp is the normal form of a typ value: lower case, without the
// "application/" prefix.
func profileTyp(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}

// acceptsTyp reports whether the profile accepts a token's typ header.
func (p *Profile) acceptsTyp(has bool, typ string) bool {
	if !has {
		return slices.Contains(p.Types, "")
	}
	if typ == "" {
		return false // an explicit empty typ is not an absent one
	}
	t := profileTyp(typ)
	for _, want := range p.Types {
		if want != "" && profileTyp(want) == t {
			return true
		}
	}
	return false
}

// lookup returns the value at a dotted claim path.
func lookup(claims map[string]any, path string) (any, bool) {
	if v, ok := claims[path]; ok {
		return v, true
	}
	var cur any = claims
	for part := range strings.SplitSeq(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// stringsOf reads a claim that is a space-separated string or an array of
// strings.
func stringsOf(v any) ([]string, bool) {
	switch v := v.(type) {
	case string:
		return splitScope(v), true
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// apply fills the profile-dependent fields of t (scopes, roles, client) from
// its claims.
func (p *Profile) apply(t *Token) error {
	t.Scopes, t.Roles = nil, nil
	for _, name := range p.ScopeClaims {
		if v, ok := lookup(t.Claims, name); ok {
			s, ok := stringsOf(v)
			if _, isStr := v.(string); name == "scope" && !isStr {
				ok = false
			}
			if !ok {
				return tokenErr(popguard.ReasonTokenClaims, "The access token claim "+name+" has the wrong type", nil)
			}
			t.Scopes = append(t.Scopes, s...)
		}
	}
	for _, name := range p.RoleClaims {
		if v, ok := lookup(t.Claims, name); ok {
			s, ok := stringsOf(v)
			if !ok {
				return tokenErr(popguard.ReasonTokenClaims, "The access token claim "+name+" has the wrong type", nil)
			}
			t.Roles = append(t.Roles, s...)
		}
	}
	t.ClientID = ""
	for _, name := range p.ClientClaims {
		if v, ok := t.Claims[name]; ok {
			s, ok := v.(string)
			if !ok {
				return tokenErr(popguard.ReasonTokenClaims, "The access token claim "+name+" has the wrong type", nil)
			}
			t.ClientID = s
			break
		}
	}
	return nil
}
