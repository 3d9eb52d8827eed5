package validate_test

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// Access tokens of Keycloak, Okta and Auth0, shaped as their documentation
// shows them and signed with keys published the way each provider
// publishes them, read through each provider's profile, and refused by the
// default RFC 9068 profile.

// prRSAKey2 is a second shared RSA key (key generation is slow under -race).
var prRSAKey2 = sync.OnceValue(func() *jwsKey { return newJWSKey("RS256") })

var prNow = time.Unix(1_750_000_000, 0)

// prProvider is one provider's issuer, key set and token header.
type prProvider struct {
	issuer string
	key    *jwsKey
	kid    string
	keys   *validate.StaticKeySet
	hdr    map[string]any // the provider's JOSE header, without alg
}

func newPrProvider(t *testing.T, issuer string, key *jwsKey, kid string, hdr map[string]any, jwks ...map[string]any) *prProvider {
	t.Helper()
	keys, err := validate.NewStaticKeySet(ksJWKS(t, jwks...))
	if err != nil {
		t.Fatal(err)
	}
	return &prProvider{issuer: issuer, key: key, kid: kid, keys: keys, hdr: hdr}
}

func (p *prProvider) verifier(t *testing.T, aud string, opts ...validate.Option) *validate.JWTVerifier {
	t.Helper()
	all := append([]validate.Option{validate.Audience(aud), validate.Clock(func() time.Time { return prNow })}, opts...)
	v, err := validate.NewJWTVerifier(p.issuer, p.keys, all...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sign signs claims under the provider's header with hdr applied.
func (p *prProvider) sign(t *testing.T, hdr, claims map[string]any) string {
	t.Helper()
	h := jtMerge(map[string]any{}, p.hdr)
	return jtSign(t, p.key, jtMerge(h, hdr), claims)
}

// ---- Keycloak ----

const (
	kcIssuer = "https://keycloak.example.com/realms/myrealm"
	kcKID    = "lZ3bXo4F2-9s_9FJ8sT2K7fW1eXn0pR3YhQ0aVbCdEf"
)

// newKeycloak publishes the realm's keys as
// /realms/{realm}/protocol/openid-connect/certs does: an RS256 signing key
// with alg, use, x5c, x5t and x5t#S256, and an RSA-OAEP encryption key
// (use enc) that must never verify a signature.
func newKeycloak(t *testing.T) *prProvider {
	t.Helper()
	sig, _ := entraJWK(t, jtRSAKey(), "")
	sig["kid"], sig["alg"] = kcKID, "RS256"
	sig["x5t#S256"] = "ZmFrZS14NXQtczI1Ni1ub3QtY2hlY2tlZC1ieS1wb3BndWFyZA"
	enc := prRSAKey2().PublicJWK(map[string]any{"kid": "enc-1", "use": "enc", "alg": "RSA-OAEP"})
	return newPrProvider(t, kcIssuer, jtRSAKey(), kcKID, map[string]any{"typ": "JWT", "kid": kcKID}, sig, enc)
}

// kcClaims is a Keycloak access token for a user of the confidential
// client "myclient", as in the Keycloak server administration guide
// (https://www.keycloak.org/docs/latest/server_admin/#_oidc, "OIDC token
// and SAML assertion mappings") and the token Keycloak's token endpoint
// returns: typ Bearer, azp, realm_access and resource_access roles, scope.
func kcClaims(set map[string]any) map[string]any {
	c := map[string]any{
		"exp": prNow.Add(5 * time.Minute).Unix(), "iat": prNow.Add(-time.Minute).Unix(),
		"jti": "onrtac:1c8c2d2e-6c5f-4b3e-9d5b-1f7e0c2a9b44", "iss": kcIssuer, "aud": []string{"myapi", "account"},
		"sub": "f1d2a3b4-5c6d-7e8f-9a0b-1c2d3e4f5a6b", "typ": "Bearer", "azp": "myclient",
		"sid": "2f7b6c5d-4e3f-2a1b-0c9d-8e7f6a5b4c3d", "acr": "1",
		"allowed-origins": []string{"https://app.example.com"},
		"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization", "default-roles-myrealm", "admin"}},
		"resource_access": map[string]any{"myapi": map[string]any{"roles": []string{"items.write"}}, "account": map[string]any{"roles": []string{"manage-account"}}},
		"scope":           "openid email profile", "email_verified": true, "preferred_username": "alice",
	}
	return jtMerge(c, set)
}

func TestProfileKeycloak(t *testing.T) {
	p := newKeycloak(t)
	v := p.verifier(t, "myapi", validate.UseProfile(validate.Keycloak()))
	t.Run("user token", func(t *testing.T) {
		tok := jtAccept(t, v, p.sign(t, nil, kcClaims(nil)))
		if tok.ClientID != "myclient" {
			t.Errorf("ClientID = %q", tok.ClientID)
		}
		if !slices.Equal(tok.Scopes, []string{"openid", "email", "profile"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
		if !slices.Equal(tok.Roles, []string{"offline_access", "uma_authorization", "default-roles-myrealm", "admin"}) {
			t.Errorf("Roles = %q", tok.Roles)
		}
		if tok.Tenant != "" {
			t.Errorf("Tenant = %q", tok.Tenant)
		}
	})
	t.Run("client credentials", func(t *testing.T) {
		// A service account token carries client_id, which names the
		// client first.
		tok := jtAccept(t, v, p.sign(t, nil, kcClaims(map[string]any{"client_id": "svc", "azp": "svc", "preferred_username": "service-account-svc"})))
		if tok.ClientID != "svc" {
			t.Errorf("ClientID = %q", tok.ClientID)
		}
	})
	t.Run("RFC 9068 typ", func(t *testing.T) {
		jtAccept(t, v, p.sign(t, map[string]any{"typ": "at+jwt"}, kcClaims(nil)))
	})
	t.Run("DPoP-bound token (typ claim DPoP)", func(t *testing.T) {
		jtAccept(t, v, p.sign(t, nil, kcClaims(map[string]any{"typ": "DPoP", "cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})))
	})
	t.Run("client roles by path", func(t *testing.T) {
		prof := validate.Keycloak()
		prof.RoleClaims = append(prof.RoleClaims, "resource_access.myapi.roles")
		tok := jtAccept(t, p.verifier(t, "myapi", validate.UseProfile(prof)), p.sign(t, nil, kcClaims(nil)))
		if !slices.Contains(tok.Roles, "items.write") || !slices.Contains(tok.Roles, "admin") || slices.Contains(tok.Roles, "manage-account") {
			t.Errorf("Roles = %q", tok.Roles)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			hdr    map[string]any
			claims map[string]any
			reason popguard.Reason
		}{
			{"no azp", nil, kcClaims(map[string]any{"azp": nil}), popguard.ReasonTokenClaims},
			{"no jti", nil, kcClaims(map[string]any{"jti": nil}), popguard.ReasonTokenClaims},
			{"no typ", map[string]any{"typ": nil}, kcClaims(nil), popguard.ReasonTokenType},
			{"realm_access.roles not a list", nil, kcClaims(map[string]any{"realm_access": map[string]any{"roles": 7}}), popguard.ReasonTokenClaims},
			{"realm_access.roles with a number", nil, kcClaims(map[string]any{"realm_access": map[string]any{"roles": []any{"a", 1}}}), popguard.ReasonTokenClaims},
			{"scope as an array", nil, kcClaims(map[string]any{"scope": []string{"openid"}}), popguard.ReasonTokenClaims},
			{"another realm", nil, kcClaims(map[string]any{"iss": "https://keycloak.example.com/realms/other"}), popguard.ReasonTokenIssuer},
			{"another audience", nil, kcClaims(map[string]any{"aud": "account"}), popguard.ReasonTokenAudience},
			{"signed by the encryption key", nil, nil, popguard.ReasonTokenUnknownKey},
			// Keycloak's ID tokens share typ JWT with its access tokens;
			// the typ claim tells them apart.
			{"an ID token (typ claim ID)", nil, kcClaims(map[string]any{"typ": "ID", "nonce": "n-0S6_WzA2Mj", "at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}), popguard.ReasonTokenType},
			{"a refresh token (typ claim Refresh)", nil, kcClaims(map[string]any{"typ": "Refresh"}), popguard.ReasonTokenType},
			{"no typ claim", nil, kcClaims(map[string]any{"typ": nil}), popguard.ReasonTokenType},
			{"typ claim a number", nil, kcClaims(map[string]any{"typ": 1}), popguard.ReasonTokenType},
		} {
			t.Run(c.name, func(t *testing.T) {
				var tok string
				if c.claims == nil {
					tok = jtSign(t, prRSAKey2(), map[string]any{"typ": "JWT", "kid": "enc-1"}, kcClaims(nil))
				} else {
					tok = p.sign(t, c.hdr, c.claims)
				}
				_, err := jtVerify(t, v, tok)
				jtReject(t, err, c.reason)
			})
		}
	})
	t.Run("default profile refuses", func(t *testing.T) {
		def := p.verifier(t, "myapi")
		_, err := jtVerify(t, def, p.sign(t, nil, kcClaims(nil)))
		jtReject(t, err, popguard.ReasonTokenType)
		// Relabelled at+jwt, it still lacks RFC 9068's client_id.
		_, err = jtVerify(t, def, p.sign(t, map[string]any{"typ": "at+jwt"}, kcClaims(nil)))
		jtReject(t, err, popguard.ReasonTokenClaims)
	})
}

// ---- Okta ----

const (
	oktaIssuer = "https://dev-123456.okta.com/oauth2/default"
	oktaKID    = "3hH0DZ2Y5bGqWnW3Jw7jWZ0dSQ4Z5Rl6V0Qh6t3c8n0"
)

// newOkta publishes the key as /oauth2/default/v1/keys does: kty, alg
// RS256, kid, use sig, e, n. Okta's access tokens carry no typ header
// (https://developer.okta.com/docs/reference/api/oidc/#access-token).
func newOkta(t *testing.T) *prProvider {
	t.Helper()
	jwk := jtRSAKey().PublicJWK(map[string]any{"alg": "RS256", "kid": oktaKID, "use": "sig"})
	return newPrProvider(t, oktaIssuer, jtRSAKey(), oktaKID, map[string]any{"kid": oktaKID}, jwk)
}

// oktaClaims is the access token of the Okta OIDC reference
// (https://developer.okta.com/docs/reference/api/oidc/#access-token):
// ver 1 (a number), jti AT., cid, uid, scp an array, sub the user's login.
func oktaClaims(set map[string]any) map[string]any {
	c := map[string]any{
		"ver": 1, "jti": "AT.0mP4JKAZX1iACIT4vbEDF7LpvDVjxypPMf0D7uX39RE", "iss": oktaIssuer,
		"aud": "api://default", "iat": prNow.Add(-time.Minute).Unix(), "exp": prNow.Add(time.Hour).Unix(),
		"cid": "0oaoesxtxmPf08QHk0h7", "uid": "00uoesxtxmPf08QHk0h7",
		"scp": []string{"openid", "email", "flights"}, "auth_time": prNow.Add(-time.Hour).Unix(),
		"sub": "john.doe@example.com", "groups": []string{"Everyone", "Admins"},
	}
	return jtMerge(c, set)
}

func TestProfileOkta(t *testing.T) {
	p := newOkta(t)
	v := p.verifier(t, "api://default", validate.UseProfile(validate.Okta()))
	t.Run("access token", func(t *testing.T) {
		tok := jtAccept(t, v, p.sign(t, nil, oktaClaims(nil)))
		if tok.ClientID != "0oaoesxtxmPf08QHk0h7" {
			t.Errorf("ClientID = %q", tok.ClientID)
		}
		if !slices.Equal(tok.Scopes, []string{"openid", "email", "flights"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
		if len(tok.Roles) != 0 {
			t.Errorf("Roles = %q: groups are not roles", tok.Roles)
		}
	})
	t.Run("at+jwt", func(t *testing.T) {
		jtAccept(t, v, p.sign(t, map[string]any{"typ": "at+jwt"}, oktaClaims(nil)))
	})
	t.Run("groups as roles when asked", func(t *testing.T) {
		prof := validate.Okta()
		prof.RoleClaims = []string{"groups"}
		tok := jtAccept(t, p.verifier(t, "api://default", validate.UseProfile(prof)), p.sign(t, nil, oktaClaims(nil)))
		if !slices.Equal(tok.Roles, []string{"Everyone", "Admins"}) {
			t.Errorf("Roles = %q", tok.Roles)
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			hdr    map[string]any
			claims map[string]any
			reason popguard.Reason
		}{
			// An Okta ID token has no cid (it has aud = the client instead).
			{"ID token (no cid)", nil, oktaClaims(map[string]any{"cid": nil, "aud": "0oaoesxtxmPf08QHk0h7", "nonce": "n"}), popguard.ReasonTokenClaims},
			{"typ JWT", map[string]any{"typ": "JWT"}, oktaClaims(nil), popguard.ReasonTokenType},
			{"typ empty", map[string]any{"typ": ""}, oktaClaims(nil), popguard.ReasonTokenType},
			{"cid a number", nil, oktaClaims(map[string]any{"cid": 5}), popguard.ReasonTokenClaims},
			{"scp with a number", nil, oktaClaims(map[string]any{"scp": []any{"openid", 2}}), popguard.ReasonTokenClaims},
			{"org authorization server", nil, oktaClaims(map[string]any{"iss": "https://dev-123456.okta.com"}), popguard.ReasonTokenIssuer},
			{"another authorization server", nil, oktaClaims(map[string]any{"iss": "https://dev-123456.okta.com/oauth2/aus1"}), popguard.ReasonTokenIssuer},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := jtVerify(t, v, p.sign(t, c.hdr, c.claims))
				jtReject(t, err, c.reason)
			})
		}
	})
	t.Run("default profile refuses", func(t *testing.T) {
		def := p.verifier(t, "api://default")
		_, err := jtVerify(t, def, p.sign(t, nil, oktaClaims(nil)))
		jtReject(t, err, popguard.ReasonTokenType)
		_, err = jtVerify(t, def, p.sign(t, map[string]any{"typ": "at+jwt"}, oktaClaims(nil)))
		jtReject(t, err, popguard.ReasonTokenClaims) // no client_id
	})
	t.Run("numeric ver is not a version issuer", func(t *testing.T) {
		// Okta's ver is the number 1; under the Entra profile a "1.0"
		// string would select another issuer, a number never does.
		prof := validate.Okta()
		prof.VersionIssuers = map[string]string{"1": "https://elsewhere.example.com"}
		jtAccept(t, p.verifier(t, "api://default", validate.UseProfile(prof)), p.sign(t, nil, oktaClaims(nil)))
	})
}

// ---- Auth0 ----

const (
	auth0Issuer = "https://my-domain.auth0.com/"
	auth0KID    = "NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg"
	auth0API    = "https://example.com/health-api"
)

// newAuth0 publishes the key as /.well-known/jwks.json does: alg RS256,
// kty, use, n, e, kid, x5t, x5c.
func newAuth0(t *testing.T) *prProvider {
	t.Helper()
	jwk, _ := entraJWK(t, jtRSAKey(), "")
	jwk["kid"], jwk["alg"] = auth0KID, "RS256"
	return newPrProvider(t, auth0Issuer, jtRSAKey(), auth0KID, map[string]any{"typ": "at+jwt", "kid": auth0KID}, jwk)
}

// auth0Claims is the access token of an API with RBAC and "Add
// Permissions in the Access Token" on, in the Auth0 token profile
// (https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles):
// typ JWT, azp, no client_id and no jti, permissions.
func auth0Claims(set map[string]any) map[string]any {
	c := map[string]any{
		"iss": auth0Issuer, "sub": "auth0|123456", "aud": []string{auth0API, "https://my-domain.auth0.com/userinfo"},
		"azp": "my_client_id", "exp": prNow.Add(time.Hour).Unix(), "iat": prNow.Add(-time.Minute).Unix(),
		"scope": "openid profile read:patients read:admin", "permissions": []string{"read:patients", "read:admin"},
	}
	return jtMerge(c, set)
}

// auth0RFC9068Claims is the same token in the RFC 9068 token profile:
// typ at+jwt, client_id and jti instead of azp.
func auth0RFC9068Claims(set map[string]any) map[string]any {
	return auth0Claims(jtMerge(map[string]any{"azp": nil, "client_id": "my_client_id", "jti": "73WakrfVbNJBaAmhQtEeDv"}, set))
}

func TestProfileAuth0(t *testing.T) {
	p := newAuth0(t)
	v := p.verifier(t, auth0API, validate.UseProfile(validate.Auth0()))
	check := func(t *testing.T, tok *validate.Token) {
		t.Helper()
		if tok.ClientID != "my_client_id" {
			t.Errorf("ClientID = %q", tok.ClientID)
		}
		if !slices.Equal(tok.Scopes, []string{"openid", "profile", "read:patients", "read:admin"}) {
			t.Errorf("Scopes = %q", tok.Scopes)
		}
		if !slices.Equal(tok.Roles, []string{"read:patients", "read:admin"}) {
			t.Errorf("Roles = %q", tok.Roles)
		}
	}
	t.Run("Auth0 profile (typ JWT)", func(t *testing.T) {
		check(t, jtAccept(t, v, p.sign(t, map[string]any{"typ": "JWT"}, auth0Claims(nil))))
	})
	t.Run("RFC 9068 profile (typ at+jwt)", func(t *testing.T) {
		check(t, jtAccept(t, v, p.sign(t, nil, auth0RFC9068Claims(nil))))
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			name   string
			hdr    map[string]any
			claims map[string]any
			reason popguard.Reason
		}{
			{"no typ", map[string]any{"typ": nil}, auth0Claims(nil), popguard.ReasonTokenType},
			{"typ dpop+jwt", map[string]any{"typ": "dpop+jwt"}, auth0Claims(nil), popguard.ReasonTokenType},
			{"no sub", map[string]any{"typ": "JWT"}, auth0Claims(map[string]any{"sub": nil}), popguard.ReasonTokenClaims},
			{"permissions a number", map[string]any{"typ": "JWT"}, auth0Claims(map[string]any{"permissions": 1}), popguard.ReasonTokenClaims},
			{"iss without trailing slash", map[string]any{"typ": "JWT"}, auth0Claims(map[string]any{"iss": strings.TrimSuffix(auth0Issuer, "/")}), popguard.ReasonTokenIssuer},
			{"only the userinfo audience", map[string]any{"typ": "JWT"}, auth0Claims(map[string]any{"aud": "https://my-domain.auth0.com/userinfo"}), popguard.ReasonTokenAudience},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := jtVerify(t, v, p.sign(t, c.hdr, c.claims))
				jtReject(t, err, c.reason)
			})
		}
	})
	t.Run("default profile", func(t *testing.T) {
		def := p.verifier(t, auth0API)
		_, err := jtVerify(t, def, p.sign(t, map[string]any{"typ": "JWT"}, auth0Claims(nil)))
		jtReject(t, err, popguard.ReasonTokenType)
		_, err = jtVerify(t, def, p.sign(t, nil, auth0Claims(nil)))
		jtReject(t, err, popguard.ReasonTokenClaims) // at+jwt without client_id and jti
		// The RFC 9068 profile's tokens are RFC 9068 tokens; the default
		// profile reads no permissions.
		tok := jtAccept(t, def, p.sign(t, nil, auth0RFC9068Claims(nil)))
		if len(tok.Roles) != 0 || tok.ClientID != "my_client_id" {
			t.Errorf("Roles = %q, ClientID = %q", tok.Roles, tok.ClientID)
		}
	})
}

// ---- the default profile and the presets ----

// typ JWT is accepted only in a profile that asks for it, never by the
// default RFC 9068 profile.
func TestProfileDefaultRefusesJWT(t *testing.T) {
	f := newJTFixture(t)
	v := f.verifier(t)
	for _, typ := range []any{"JWT", "jwt", "application/jwt", nil, "", "at+JWT ", "application/at+jwt+jwt", "at-jwt", "at+jwt;v=1"} {
		t.Run(anyString(typ), func(t *testing.T) {
			_, err := jtVerify(t, v, f.sign(t, map[string]any{"typ": typ}, f.claims(nil)))
			jtReject(t, err, popguard.ReasonTokenType)
		})
	}
	for _, typ := range []string{"at+jwt", "AT+JWT", "Application/At+Jwt"} {
		t.Run("accept "+typ, func(t *testing.T) {
			jtAccept(t, v, f.sign(t, map[string]any{"typ": typ}, f.claims(nil)))
		})
	}
}

func TestProfileByName(t *testing.T) {
	for name, want := range map[string]string{
		"rfc9068": "rfc9068", "": "rfc9068", "entra": "entra", "ENTRA": "entra", "Keycloak": "keycloak",
		"okta": "okta", "auth0": "auth0",
	} {
		p, ok := validate.ProfileByName(name)
		if !ok || p.Name != want {
			t.Errorf("ProfileByName(%q) = %q, %v, want %q", name, p.Name, ok, want)
		}
	}
	for _, name := range []string{"azure", "entra ", "rfc-9068", "okta\x00", "cognito"} {
		if p, ok := validate.ProfileByName(name); ok {
			t.Errorf("ProfileByName(%q) = %q", name, p.Name)
		}
	}
	// Each call returns a fresh copy: changing one changes no other.
	a := validate.Entra()
	a.Types[0] = "at+jwt"
	a.VersionIssuers["1.0"] = "https://evil.example.com/{tenantid}/"
	b := validate.Entra()
	if b.Types[0] != "JWT" || b.VersionIssuers["1.0"] != entraV1Template {
		t.Errorf("a changed preset leaked into the next one: %+v", b)
	}
	// RFC9068 is the default: no tenant claim, no version issuers.
	if d := validate.RFC9068(); d.TenantClaim != "" || d.VersionIssuers != nil || !slices.Equal(d.Types, []string{"at+jwt"}) {
		t.Errorf("RFC9068() = %+v", d)
	}
}

// UseProfile copies the profile: changing it afterwards changes nothing.
func TestProfileCopiedByUseProfile(t *testing.T) {
	p := newOkta(t)
	prof := validate.Okta()
	v := p.verifier(t, "api://default", validate.UseProfile(prof))
	prof.Types[0] = "JWT"
	prof.Required[0] = "nonexistent"
	prof.ScopeClaims[0] = "groups"
	prof.ClientClaims[0] = "uid"
	tok := jtAccept(t, v, p.sign(t, nil, oktaClaims(nil)))
	if tok.ClientID != "0oaoesxtxmPf08QHk0h7" || !slices.Equal(tok.Scopes, []string{"openid", "email", "flights"}) {
		t.Errorf("ClientID = %q, Scopes = %q", tok.ClientID, tok.Scopes)
	}
	_, err := jtVerify(t, v, p.sign(t, map[string]any{"typ": "JWT"}, oktaClaims(nil)))
	jtReject(t, err, popguard.ReasonTokenType)

	e := newEntra(t, "")
	ep := validate.Entra()
	ev := e.verifier(t, entraV2Template, validate.UseProfile(ep), validate.Tenants(entraT1))
	ep.VersionIssuers["1.0"] = "https://evil.example.com/{tenantid}/"
	ep.TenantClaim = "oid"
	jtAccept(t, ev, e.sign(t, nil, entraV1(entraT1, nil)))
	_, err = jtVerify(t, ev, e.sign(t, nil, entraV1(entraT1, map[string]any{"iss": "https://evil.example.com/" + entraT1 + "/"})))
	jtReject(t, err, popguard.ReasonTokenIssuer)
}

// A profile of one's own: a profile without types is refused; an empty
// string in Types accepts a token without typ, not one with typ "".
func TestProfileCustom(t *testing.T) {
	f := newJTFixture(t)
	bad := validate.RFC9068()
	bad.Types = nil
	if _, err := validate.NewJWTVerifier(jtIssuer, f.keys, validate.Audience(jtAudience), validate.UseProfile(bad)); err == nil {
		t.Error("a profile accepting no typ was accepted")
	}
	mine := validate.Profile{
		Name: "mine", Types: []string{"", "application/vnd.example+jwt"},
		Required:     []string{"iss", "aud", "exp", "org"},
		ScopeClaims:  []string{"perms.scopes"},
		RoleClaims:   []string{"perms.roles", "groups"},
		ClientClaims: []string{"appid", "client_id"},
	}
	v := f.verifier(t, validate.UseProfile(mine))
	claims := f.claims(map[string]any{
		"org": "acme", "appid": "app-7",
		"perms":  map[string]any{"scopes": "a b", "roles": []string{"r1"}},
		"groups": "g1 g2",
	})
	for _, typ := range []any{nil, "vnd.example+jwt", "APPLICATION/VND.EXAMPLE+JWT"} {
		tok := jtAccept(t, v, f.sign(t, map[string]any{"typ": typ}, claims))
		if !slices.Equal(tok.Scopes, []string{"a", "b"}) || !slices.Equal(tok.Roles, []string{"r1", "g1", "g2"}) || tok.ClientID != "app-7" {
			t.Errorf("typ %v: Scopes %q Roles %q ClientID %q", typ, tok.Scopes, tok.Roles, tok.ClientID)
		}
	}
	for _, typ := range []any{"", "at+jwt", "JWT"} {
		_, err := jtVerify(t, v, f.sign(t, map[string]any{"typ": typ}, claims))
		jtReject(t, err, popguard.ReasonTokenType)
	}
	_, err := jtVerify(t, v, f.sign(t, map[string]any{"typ": nil}, jtMerge(claims, map[string]any{"org": nil})))
	jtReject(t, err, popguard.ReasonTokenClaims)
	// The profile never weakens the registered checks: exp and aud stay.
	_, err = jtVerify(t, v, f.sign(t, map[string]any{"typ": nil}, jtMerge(f.claims(nil), map[string]any{"org": "acme", "exp": f.now.Add(-time.Hour).Unix()})))
	jtReject(t, err, popguard.ReasonTokenExpired)
	_, err = jtVerify(t, v, f.sign(t, map[string]any{"typ": nil}, jtMerge(f.claims(nil), map[string]any{"org": "acme", "aud": "https://other.example.com"})))
	jtReject(t, err, popguard.ReasonTokenAudience)
}
