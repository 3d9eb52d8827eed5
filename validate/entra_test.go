package validate_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/validate"
)

// Microsoft Entra ID access tokens, v1.0 and v2.0, shaped as documented at
// https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
// and https://learn.microsoft.com/entra/identity-platform/access-tokens,
// signed with keys published the way Entra publishes them
// (https://login.microsoftonline.com/common/discovery/v2.0/keys): RSA 2048
// RS256 keys with kty, use, kid, x5t, n, e, x5c and a per-key issuer, and no
// alg.

const (
	// The tenant of the v2.0 example in the claims reference.
	entraT1 = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	entraT2 = "fa15d692-e9c7-4460-a743-29f295222229"
	// The consumer (MSA) tenant: never one of the allowed tenants here.
	entraT3 = "9188040d-6c67-4c5b-b112-36a304b66dad"

	// An API's application (client) id, the aud of its v2.0 tokens, and its
	// App ID URI, the aud of v1.0 tokens requested for it.
	entraAppID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
	entraAPI   = "api://contoso-api"
	// The client application calling the API.
	entraClient = "ef1da9d4-ff77-4c3e-a005-840c3f830745"

	entraV2Template = "https://login.microsoftonline.com/{tenantid}/v2.0"
	entraV1Template = "https://sts.windows.net/{tenantid}/"
)

func entraV2Iss(tid string) string { return strings.Replace(entraV2Template, "{tenantid}", tid, 1) }
func entraV1Iss(tid string) string { return strings.Replace(entraV1Template, "{tenantid}", tid, 1) }

// entraNow is the fixed clock of the Entra tests.
var entraNow = time.Unix(1_750_000_000, 0)

// entraJWK returns k's public key as Entra's JWKS publishes it: a
// self-signed certificate in x5c, its SHA-1 thumbprint as x5t and kid, an
// issuer member (omitted when issuer is ""), no alg.
func entraJWK(t *testing.T, k *jwsKey, issuer string) (jwk map[string]any, kid string) {
	t.Helper()
	priv, ok := k.Signer.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("entraJWK needs an RSA key, got %T", k.Signer)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "accounts.accesscontrol.windows.net"},
		NotBefore:    entraNow.Add(-24 * time.Hour),
		NotAfter:     entraNow.Add(365 * 24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum(der)
	kid = base64.RawURLEncoding.EncodeToString(sum[:])
	jwk = k.PublicJWK(map[string]any{
		"use": "sig", "kid": kid, "x5t": kid,
		"x5c": []string{base64.StdEncoding.EncodeToString(der)},
	})
	if issuer != "" {
		jwk["issuer"] = issuer
	}
	return jwk, kid
}

// entraFixture is an Entra signing key published with a per-key issuer.
type entraFixture struct {
	key  *jwsKey
	kid  string
	keys *validate.StaticKeySet
}

// newEntra publishes jtRSAKey with the key issuer keyIssuer ("" for none).
func newEntra(t *testing.T, keyIssuer string) *entraFixture {
	t.Helper()
	k := jtRSAKey()
	jwk, kid := entraJWK(t, k, keyIssuer)
	keys, err := validate.NewStaticKeySet(ksJWKS(t, jwk))
	if err != nil {
		t.Fatal(err)
	}
	return &entraFixture{key: k, kid: kid, keys: keys}
}

// verifier returns an Entra verifier for issuer, answering to the API's
// App ID URI and client id, with opts appended.
func (f *entraFixture) verifier(t *testing.T, issuer string, opts ...validate.Option) *validate.JWTVerifier {
	t.Helper()
	all := append([]validate.Option{
		validate.UseProfile(validate.Entra()), validate.Audience(entraAPI, entraAppID),
		validate.Clock(func() time.Time { return entraNow }),
	}, opts...)
	v, err := validate.NewJWTVerifier(issuer, f.keys, all...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sign signs claims under Entra's header (typ JWT, RS256, kid and x5t),
// with hdr applied (a nil value deletes a member).
func (f *entraFixture) sign(t *testing.T, hdr, claims map[string]any) string {
	t.Helper()
	h := jtMerge(map[string]any{"typ": "JWT", "alg": "RS256", "kid": f.kid, "x5t": f.kid}, hdr)
	return jtSign(t, f.key, h, claims)
}

// entraV1 returns a delegated v1.0 access token's claims for tenant tid, as
// in the claims reference (aud the App ID URI; appid; scp), with set
// applied (a nil value deletes a claim).
func entraV1(tid string, set map[string]any) map[string]any {
	c := map[string]any{
		"aud": entraAPI, "iss": entraV1Iss(tid),
		"iat": entraNow.Add(-time.Minute).Unix(), "nbf": entraNow.Add(-time.Minute).Unix(), "exp": entraNow.Add(time.Hour).Unix(),
		"acr": "1", "aio": "AVQAq/8TAAAA", "amr": []string{"pwd", "mfa"},
		"appid": entraClient, "appidacr": "0",
		"family_name": "Lincoln", "given_name": "Abe", "ipaddr": "131.107.222.22", "name": "Abe Lincoln",
		"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "rh": "I",
		"scp": "user_impersonation Files.Read", "sub": "l3_roISQU222bULS9yi2k0XpqpOiMz5H3ZACo1GeXA",
		"tid": tid, "unique_name": "abeli@microsoft.com", "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "1.0",
	}
	return jtMerge(c, set)
}

// entraV2 returns a delegated v2.0 access token's claims for tenant tid, as
// in the claims reference (aud the API's client id; azp; scp).
func entraV2(tid string, set map[string]any) map[string]any {
	c := map[string]any{
		"aud": entraAppID, "iss": entraV2Iss(tid),
		"iat": entraNow.Add(-time.Minute).Unix(), "nbf": entraNow.Add(-time.Minute).Unix(), "exp": entraNow.Add(time.Hour).Unix(),
		"aio": "AVQAq/8TAAAA", "azp": entraClient, "azpacr": "0", "name": "Abe Lincoln",
		"oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474", "preferred_username": "abeli@microsoft.com",
		"rh": "I", "scp": "access_as_user", "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
		"tid": tid, "uti": "fqiBqXLPj0eQa82S-IYFAA", "ver": "2.0",
	}
	return jtMerge(c, set)
}

// entraAppOnly turns delegated claims into an app-only token's: roles
// instead of scp, sub the client's service principal, idtyp app.
func entraAppOnly(c map[string]any) map[string]any {
	return jtMerge(c, map[string]any{
		"scp": nil, "name": nil, "preferred_username": nil, "unique_name": nil, "family_name": nil, "given_name": nil, "amr": nil,
		"roles": []string{"Data.Read.All", "Data.Write.All"}, "idtyp": "app",
		"sub": "a0b1c2d3-1111-2222-3333-444455556666", "oid": "a0b1c2d3-1111-2222-3333-444455556666",
	})
}

func TestEntraAcceptsAllowedTenants(t *testing.T) {
	f := newEntra(t, entraV2Template)
	multi := f.verifier(t, entraV2Template, validate.Tenants(entraT1, entraT2))
	single := f.verifier(t, entraV2Iss(entraT1))

	type tc struct {
		name   string
		claims map[string]any
		client string
		scopes []string
		roles  []string
	}
	cases := func(tid string) []tc {
		return []tc{
			{"v1 delegated", entraV1(tid, nil), entraClient, []string{"user_impersonation", "Files.Read"}, nil},
			{"v1 delegated, GUID aud", entraV1(tid, map[string]any{"aud": entraAppID}), entraClient, []string{"user_impersonation", "Files.Read"}, nil},
			{"v1 app-only", entraAppOnly(entraV1(tid, nil)), entraClient, nil, []string{"Data.Read.All", "Data.Write.All"}},
			{"v2 delegated", entraV2(tid, nil), entraClient, []string{"access_as_user"}, nil},
			{"v2 delegated, aud array with App ID URI", entraV2(tid, map[string]any{"aud": []string{"https://graph.microsoft.com", entraAPI}}), entraClient, []string{"access_as_user"}, nil},
			{"v2 app-only", entraAppOnly(entraV2(tid, nil)), entraClient, nil, []string{"Data.Read.All", "Data.Write.All"}},
		}
	}
	check := func(t *testing.T, v *validate.JWTVerifier, tid string, c tc) {
		t.Helper()
		tok := jtAccept(t, v, f.sign(t, nil, c.claims))
		if tok.Tenant != tid {
			t.Errorf("Tenant = %q, want %q", tok.Tenant, tid)
		}
		if tok.ClientID != c.client {
			t.Errorf("ClientID = %q, want %q", tok.ClientID, c.client)
		}
		if !slices.Equal(tok.Scopes, c.scopes) {
			t.Errorf("Scopes = %q, want %q", tok.Scopes, c.scopes)
		}
		if !slices.Equal(tok.Roles, c.roles) {
			t.Errorf("Roles = %q, want %q", tok.Roles, c.roles)
		}
		if tok.Issuer != c.claims["iss"] {
			t.Errorf("Issuer = %q, want %q", tok.Issuer, c.claims["iss"])
		}
		if tok.SigningKeyID != f.kid {
			t.Errorf("SigningKeyID = %q, want %q", tok.SigningKeyID, f.kid)
		}
		if tok.Cnf.Bound() {
			t.Errorf("a Bearer token has Cnf %+v", tok.Cnf)
		}
	}
	for _, tid := range []string{entraT1, entraT2} {
		for _, c := range cases(tid) {
			t.Run("templated/"+tid[:8]+"/"+c.name, func(t *testing.T) { check(t, multi, tid, c) })
		}
	}
	for _, c := range cases(entraT1) {
		t.Run("single-tenant/"+c.name, func(t *testing.T) { check(t, single, entraT1, c) })
	}

	// A key set without per-key issuers (a tenant's own JWKS copied into a
	// static set) verifies the same tokens.
	bare := newEntra(t, "")
	v := bare.verifier(t, entraV2Template, validate.Tenants(entraT1))
	jtAccept(t, v, bare.sign(t, nil, entraV1(entraT1, nil)))
	jtAccept(t, v, bare.sign(t, nil, entraV2(entraT1, nil)))
}

// A PoP token (MSAL's AT-POP) carries cnf {"kid": <RFC 7638 thumbprint of
// the client key>, "xms_ksl": "sw"}.
func TestEntraPoPToken(t *testing.T) {
	f := newEntra(t, entraV2Template)
	v := f.verifier(t, entraV2Template, validate.Tenants(entraT1))
	client := newJWSKey("ES256")
	cnf := map[string]any{"kid": client.Thumbprint(), "xms_ksl": "sw"}
	for name, c := range map[string]map[string]any{
		"v1": entraV1(entraT1, map[string]any{"cnf": cnf}),
		"v2": entraV2(entraT1, map[string]any{"cnf": cnf}),
	} {
		t.Run(name, func(t *testing.T) {
			tok := jtAccept(t, v, f.sign(t, nil, c))
			if !tok.Cnf.Bound() || tok.Cnf.KID != client.Thumbprint() {
				t.Errorf("Cnf = %+v, want kid %q", tok.Cnf, client.Thumbprint())
			}
		})
	}
}

func TestEntraRefusesOtherTenant(t *testing.T) {
	f := newEntra(t, entraV2Template)
	multi := f.verifier(t, entraV2Template, validate.Tenants(entraT1, entraT2))
	single := f.verifier(t, entraV2Iss(entraT1))
	for _, c := range []struct {
		name   string
		v      *validate.JWTVerifier
		claims map[string]any
	}{
		{"templated v1 T3", multi, entraV1(entraT3, nil)},
		{"templated v2 T3", multi, entraV2(entraT3, nil)},
		{"templated v2 app-only T3", multi, entraAppOnly(entraV2(entraT3, nil))},
		{"single-tenant v1 T2", single, entraV1(entraT2, nil)},
		{"single-tenant v2 T2", single, entraV2(entraT2, nil)},
		// Tenant ids are compared exactly: the upper-case spelling of an
		// allowed GUID is another tenant.
		{"templated v2 upper-case T1", multi, entraV2(strings.ToUpper(entraT1), nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := jtVerify(t, c.v, f.sign(t, nil, c.claims))
			jtReject(t, err, popguard.ReasonTokenTenant)
		})
	}
}

// A tid that disagrees with the tenant in iss is refused with token_tenant
// (reasons.go: "disagrees with iss"), whether both tenants are allowed or
// not, on a templated and on a single-tenant verifier, and whether or not
// the key set publishes an issuer per key.
func TestEntraRefusesTidDisagreeingWithIss(t *testing.T) {
	t.Run("key issuer", func(t *testing.T) { entraTidDisagrees(t, newEntra(t, entraV2Template)) })
	t.Run("no key issuer", func(t *testing.T) { entraTidDisagrees(t, newEntra(t, "")) })
}

func entraTidDisagrees(t *testing.T, f *entraFixture) {
	multi := f.verifier(t, entraV2Template, validate.Tenants(entraT1, entraT2))
	anyT := f.verifier(t, entraV2Template, validate.AnyTenant())
	single := f.verifier(t, entraV2Iss(entraT1))
	for _, c := range []struct {
		name   string
		v      *validate.JWTVerifier
		claims map[string]any
	}{
		{"templated v1 iss T1 tid T2", multi, entraV1(entraT1, map[string]any{"tid": entraT2})},
		{"templated v2 iss T1 tid T2", multi, entraV2(entraT1, map[string]any{"tid": entraT2})},
		{"templated v2 iss T2 tid T1", multi, entraV2(entraT2, map[string]any{"tid": entraT1})},
		{"templated v2 iss T3 tid T1", multi, entraV2(entraT3, map[string]any{"tid": entraT1})},
		{"templated v2 iss T1 tid T3", multi, entraV2(entraT1, map[string]any{"tid": entraT3})},
		{"any-tenant v1 iss T3 tid T1", anyT, entraV1(entraT3, map[string]any{"tid": entraT1})},
		{"any-tenant v2 iss T1 tid T3", anyT, entraV2(entraT1, map[string]any{"tid": entraT3})},
		{"single-tenant v2 iss T1 tid T2", single, entraV2(entraT1, map[string]any{"tid": entraT2})},
		{"single-tenant v1 iss T1 tid T2", single, entraV1(entraT1, map[string]any{"tid": entraT2})},
		// Words of the single-tenant issuer that are not its tenant.
		{"single-tenant v2 tid v2.0", single, entraV2(entraT1, map[string]any{"tid": "v2.0"})},
		{"single-tenant v2 tid host", single, entraV2(entraT1, map[string]any{"tid": "login.microsoftonline.com"})},
		{"single-tenant v1 of tenant v2.0", single, entraV1("v2.0", nil)},
		{"single-tenant v1 of tenant host", single, entraV1("login.microsoftonline.com", nil)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := jtVerify(t, c.v, f.sign(t, nil, c.claims))
			jtReject(t, err, popguard.ReasonTokenTenant)
		})
	}
}

func TestEntraTenantClaimShape(t *testing.T) {
	f := newEntra(t, entraV2Template)
	multi := f.verifier(t, entraV2Template, validate.Tenants(entraT1))
	anyT := f.verifier(t, entraV2Template, validate.AnyTenant())
	for _, v := range []struct {
		name string
		v    *validate.JWTVerifier
	}{{"tenants", multi}, {"any", anyT}} {
		for _, c := range []struct {
			name   string
			tid    any
			reason popguard.Reason
		}{
			// Entra always sends tid, so the profile requires it.
			{"missing", nil, popguard.ReasonTokenClaims},
			{"number", 42, popguard.ReasonTokenClaims},
			{"array", []string{entraT1}, popguard.ReasonTokenClaims},
			{"object", map[string]any{"id": entraT1}, popguard.ReasonTokenClaims},
			{"null", jsonNull{}, popguard.ReasonTokenClaims},
			{"empty", "", popguard.ReasonTokenTenant},
			{"slash", entraT1 + "/x", popguard.ReasonTokenTenant},
			{"percent", "a%2Fb", popguard.ReasonTokenTenant},
			{"space", entraT1 + " ", popguard.ReasonTokenTenant},
			{"65 chars", strings.Repeat("a", 65), popguard.ReasonTokenTenant},
			{"dot", ".", popguard.ReasonTokenTenant},
			{"dot-dot", "..", popguard.ReasonTokenTenant},
			{"placeholder", "{tenantid}", popguard.ReasonTokenTenant},
		} {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				claims := entraV2(entraT1, map[string]any{"tid": nil})
				if c.tid != nil {
					claims["tid"] = c.tid
					if s, ok := c.tid.(string); ok {
						claims["iss"] = entraV2Iss(s) // iss agrees with tid
					}
				}
				_, err := jtVerify(t, v.v, f.sign(t, nil, claims))
				jtReject(t, err, c.reason)
			})
		}
	}
	// 64 characters is the longest tenant the verifier accepts.
	long := strings.Repeat("a", 64)
	jtAccept(t, anyT, f.sign(t, nil, entraV2(long, nil)))
}

// jsonNull marshals as JSON null (a nil map value deletes a claim).
type jsonNull struct{}

func (jsonNull) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

// An iss whose tenant part is not a well-formed tenant id is refused, even
// when the tid is an allowed tenant.
func TestEntraIssuerTenantShapes(t *testing.T) {
	f := newEntra(t, entraV2Template)
	multi := f.verifier(t, entraV2Template, validate.Tenants(entraT1))
	anyT := f.verifier(t, entraV2Template, validate.AnyTenant())
	single := f.verifier(t, entraV2Iss(entraT1))
	for _, tenant := range []string{
		entraT1 + "/" + entraT1, entraT1 + "%2F" + entraT1, "%2F", "..", ".", "", strings.Repeat("a", 65),
		entraT1 + "/..", "../" + entraT1, entraT1 + "?x", entraT1 + "#x", " " + entraT1,
	} {
		for _, v := range []struct {
			name string
			v    *validate.JWTVerifier
		}{{"tenants", multi}, {"any", anyT}, {"single", single}} {
			for _, ver := range []string{"v1", "v2"} {
				t.Run(v.name+"/"+ver+"/"+tenant, func(t *testing.T) {
					var claims map[string]any
					if ver == "v1" {
						claims = entraV1(entraT1, map[string]any{"iss": entraV1Iss(tenant)})
					} else {
						claims = entraV2(entraT1, map[string]any{"iss": entraV2Iss(tenant)})
					}
					_, err := jtVerify(t, v.v, f.sign(t, nil, claims))
					jtRejectOneOf(t, err, popguard.ReasonTokenIssuer, popguard.ReasonTokenTenant)
				})
			}
		}
	}
	// With the tid set to the same malformed tenant, AnyTenant refuses too:
	// the tenant is malformed, whatever iss says.
	for _, tenant := range []string{"..", ".", "a/b", "%2F", ""} {
		t.Run("any/tid="+tenant, func(t *testing.T) {
			_, err := jtVerify(t, anyT, f.sign(t, nil, entraV2(tenant, nil)))
			jtReject(t, err, popguard.ReasonTokenTenant)
			_, err = jtVerify(t, anyT, f.sign(t, nil, entraV1(tenant, nil)))
			jtReject(t, err, popguard.ReasonTokenTenant)
		})
	}
}

// jtRejectOneOf asserts an invalid_token rejection with one of reasons.
func jtRejectOneOf(t *testing.T, err error, reasons ...popguard.Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want one of %q", reasons)
	}
	jtWant(t, err, popguard.CodeInvalidToken, popguard.ReasonOf(err))
	if !slices.Contains(reasons, popguard.ReasonOf(err)) {
		t.Fatalf("reason %s (%v), want one of %q", popguard.ReasonOf(err), err, reasons)
	}
}

// The version claim selects the expected issuer: a v1.0 issuer with ver
// "2.0", or a v2.0 issuer with ver "1.0", is refused.
func TestEntraVersionMismatch(t *testing.T) {
	f := newEntra(t, entraV2Template)
	for _, v := range []struct {
		name string
		v    *validate.JWTVerifier
	}{
		{"templated", f.verifier(t, entraV2Template, validate.Tenants(entraT1))},
		{"any", f.verifier(t, entraV2Template, validate.AnyTenant())},
		{"single", f.verifier(t, entraV2Iss(entraT1))},
	} {
		for _, c := range []struct {
			name   string
			claims map[string]any
			reason popguard.Reason
		}{
			{"v1 iss, ver 2.0", entraV1(entraT1, map[string]any{"ver": "2.0"}), popguard.ReasonTokenIssuer},
			{"v2 iss, ver 1.0", entraV2(entraT1, map[string]any{"ver": "1.0"}), popguard.ReasonTokenIssuer},
			{"v1 iss, ver 1", entraV1(entraT1, map[string]any{"ver": "1"}), popguard.ReasonTokenIssuer},
			{"v1 iss, ver number", entraV1(entraT1, map[string]any{"ver": 1.0}), popguard.ReasonTokenIssuer},
			{"v1 iss, no ver", entraV1(entraT1, map[string]any{"ver": nil}), popguard.ReasonTokenClaims},
			{"v2 iss, no ver", entraV2(entraT1, map[string]any{"ver": nil}), popguard.ReasonTokenClaims},
			// Another cloud's issuer, of an allowed tenant.
			{"v2 iss of another cloud", entraV2(entraT1, map[string]any{"iss": "https://login.microsoftonline.us/" + entraT1 + "/v2.0"}), popguard.ReasonTokenIssuer},
			{"v1 iss of another cloud", entraV1(entraT1, map[string]any{"iss": "https://sts.chinacloudapi.cn/" + entraT1 + "/"}), popguard.ReasonTokenIssuer},
			{"v1 iss without trailing slash", entraV1(entraT1, map[string]any{"iss": "https://sts.windows.net/" + entraT1}), popguard.ReasonTokenIssuer},
			{"v2 iss with trailing slash", entraV2(entraT1, map[string]any{"iss": entraV2Iss(entraT1) + "/"}), popguard.ReasonTokenIssuer},
			{"v2 iss, template itself", entraV2(entraT1, map[string]any{"iss": entraV2Template}), popguard.ReasonTokenIssuer},
		} {
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				_, err := jtVerify(t, v.v, f.sign(t, nil, c.claims))
				jtReject(t, err, c.reason)
			})
		}
	}
}

// The issuer Entra publishes with each key must agree with the token.
func TestEntraKeyIssuer(t *testing.T) {
	for _, c := range []struct {
		name      string
		keyIssuer string
		ok        bool
	}{
		{"template", entraV2Template, true},
		{"the token's tenant", entraV2Iss(entraT1), true},
		{"v1 template", entraV1Template, false}, // only for v1 tokens: see below
		{"another tenant", entraV2Iss(entraT2), false},
		{"another cloud", "https://login.microsoftonline.us/{tenantid}/v2.0", false},
		{"another cloud, the tenant", "https://login.chinacloudapi.cn/" + entraT1 + "/v2.0", false},
		{"template with trailing slash", entraV2Template + "/", false},
		{"B2C-like", "https://contoso.b2clogin.com/{tenantid}/v2.0/", false},
		{"common", entraV2Iss("common"), false},
	} {
		f := newEntra(t, c.keyIssuer)
		verifiers := []struct {
			name string
			v    *validate.JWTVerifier
		}{
			{"templated", f.verifier(t, entraV2Template, validate.Tenants(entraT1, entraT2))},
			{"any", f.verifier(t, entraV2Template, validate.AnyTenant())},
			{"single", f.verifier(t, entraV2Iss(entraT1))},
		}
		for _, v := range verifiers {
			t.Run(c.name+"/"+v.name, func(t *testing.T) {
				v2 := f.sign(t, nil, entraV2(entraT1, nil))
				_, err := jtVerify(t, v.v, v2)
				switch {
				case c.ok:
					if err != nil {
						t.Fatalf("v2 token refused: %v", err)
					}
				default:
					jtReject(t, err, popguard.ReasonTokenKeyIssuer)
				}
				v1 := f.sign(t, nil, entraV1(entraT1, nil))
				_, err = jtVerify(t, v.v, v1)
				switch {
				case c.ok || c.keyIssuer == entraV1Template:
					if err != nil {
						t.Fatalf("v1 token refused: %v", err)
					}
				default:
					jtReject(t, err, popguard.ReasonTokenKeyIssuer)
				}
			})
		}
	}

	// A key published for T1 signs only T1's tokens, even for a verifier
	// that trusts T2 as well.
	t.Run("key of T1, token of T2", func(t *testing.T) {
		f := newEntra(t, entraV2Iss(entraT1))
		for _, v := range []*validate.JWTVerifier{
			f.verifier(t, entraV2Template, validate.Tenants(entraT1, entraT2)),
			f.verifier(t, entraV2Template, validate.AnyTenant()),
		} {
			_, err := jtVerify(t, v, f.sign(t, nil, entraV2(entraT2, nil)))
			jtReject(t, err, popguard.ReasonTokenKeyIssuer)
			_, err = jtVerify(t, v, f.sign(t, nil, entraV1(entraT2, nil)))
			jtReject(t, err, popguard.ReasonTokenKeyIssuer)
		}
	})

	// A key whose issuer member is not a string is never used: the token it
	// signed finds no key.
	t.Run("issuer member not a string", func(t *testing.T) {
		bad, badKID := entraJWK(t, jtRSAKey(), "")
		bad["issuer"] = 42
		other := newJWSKey("ES256").PublicJWK(map[string]any{"kid": "ec-1", "use": "sig", "issuer": entraV2Template})
		keys, err := validate.NewStaticKeySet(ksJWKS(t, bad, other))
		if err != nil {
			t.Fatal(err)
		}
		v, err := validate.NewJWTVerifier(entraV2Template, keys, validate.UseProfile(validate.Entra()),
			validate.Audience(entraAppID), validate.Tenants(entraT1), validate.Clock(func() time.Time { return entraNow }))
		if err != nil {
			t.Fatal(err)
		}
		f := &entraFixture{key: jtRSAKey(), kid: badKID, keys: keys}
		_, err = jtVerify(t, v, f.sign(t, nil, entraV2(entraT1, nil)))
		jtReject(t, err, popguard.ReasonTokenUnknownKey)
	})
}

func TestEntraTenantConfiguration(t *testing.T) {
	f := newEntra(t, entraV2Template)
	for _, c := range []struct {
		name   string
		issuer string
		opts   []validate.Option
	}{
		{"template without Tenants or AnyTenant", entraV2Template, nil},
		{"Tenants and AnyTenant", entraV2Template, []validate.Option{validate.Tenants(entraT1), validate.AnyTenant()}},
		{"AnyTenant and Tenants", entraV2Template, []validate.Option{validate.AnyTenant(), validate.Tenants(entraT1)}},
		{"Tenants()", entraV2Template, []validate.Option{validate.Tenants()}},
		{"Tenants with a slash", entraV2Template, []validate.Option{validate.Tenants(entraT1 + "/x")}},
		{"Tenants with an empty id", entraV2Template, []validate.Option{validate.Tenants(entraT1, "")}},
		{"Tenants with ..", entraV2Template, []validate.Option{validate.Tenants("..")}},
		{"Tenants with 65 chars", entraV2Template, []validate.Option{validate.Tenants(strings.Repeat("a", 65))}},
		{"two placeholders", "https://login.microsoftonline.com/{tenantid}/{tenantid}/v2.0", []validate.Option{validate.Tenants(entraT1)}},
		{"template with a profile naming no tenant claim", entraV2Template, []validate.Option{validate.UseProfile(validate.RFC9068()), validate.Tenants(entraT1)}},
		{"AnyTenant with a profile naming no tenant claim", entraV2Iss(entraT1), []validate.Option{validate.UseProfile(validate.Okta()), validate.AnyTenant()}},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]validate.Option{validate.UseProfile(validate.Entra()), validate.Audience(entraAppID)}, c.opts...)
			if v, err := validate.NewJWTVerifier(c.issuer, f.keys, opts...); err == nil {
				t.Fatalf("NewJWTVerifier accepted the configuration: %v", v.Issuer())
			}
		})
	}
	// A profile whose version issuer holds {tenantid} twice is refused.
	p := validate.Entra()
	p.VersionIssuers = map[string]string{"1.0": "https://sts.windows.net/{tenantid}/{tenantid}/"}
	if _, err := validate.NewJWTVerifier(entraV2Iss(entraT1), f.keys, validate.UseProfile(p), validate.Audience(entraAppID)); err == nil {
		t.Error("a version issuer with two placeholders was accepted")
	}
}

// AnyTenant accepts every well-formed tenant but still ties tid, iss and
// the key's issuer together.
func TestEntraAnyTenant(t *testing.T) {
	f := newEntra(t, entraV2Template)
	v := f.verifier(t, entraV2Template, validate.AnyTenant())
	for _, tid := range []string{entraT1, entraT2, entraT3} {
		tok := jtAccept(t, v, f.sign(t, nil, entraV2(tid, nil)))
		if tok.Tenant != tid {
			t.Errorf("Tenant = %q, want %q", tok.Tenant, tid)
		}
		jtAccept(t, v, f.sign(t, nil, entraV1(tid, nil)))
	}
	_, err := jtVerify(t, v, f.sign(t, nil, entraV2(entraT3, map[string]any{"tid": entraT2})))
	jtReject(t, err, popguard.ReasonTokenTenant)
	_, err = jtVerify(t, v, f.sign(t, nil, entraV2(entraT3, map[string]any{"tid": nil})))
	jtReject(t, err, popguard.ReasonTokenClaims)

	other := newEntra(t, entraV2Iss(entraT2))
	ov := other.verifier(t, entraV2Template, validate.AnyTenant())
	_, err = jtVerify(t, ov, other.sign(t, nil, entraV2(entraT3, nil)))
	jtReject(t, err, popguard.ReasonTokenKeyIssuer)
	cloud := newEntra(t, "https://login.microsoftonline.us/{tenantid}/v2.0")
	cv := cloud.verifier(t, entraV2Template, validate.AnyTenant())
	_, err = jtVerify(t, cv, cloud.sign(t, nil, entraV2(entraT3, nil)))
	jtReject(t, err, popguard.ReasonTokenKeyIssuer)
}

// typ: Entra sends "JWT"; the profile accepts it in any case, with or
// without "application/", and nothing else.
func TestEntraTyp(t *testing.T) {
	f := newEntra(t, entraV2Template)
	v := f.verifier(t, entraV2Template, validate.Tenants(entraT1))
	claims := entraV2(entraT1, nil)
	for _, typ := range []string{"JWT", "jwt", "Jwt", "application/JWT", "APPLICATION/jwt", "Application/Jwt"} {
		t.Run("accept "+typ, func(t *testing.T) {
			jtAccept(t, v, f.sign(t, map[string]any{"typ": typ}, claims))
		})
	}
	for _, typ := range []any{
		nil, "", " JWT", "JWT ", "JWT\x00", "at+jwt", "application/at+jwt", "dpop+jwt", "pop", "JWS", "JWE",
		"application/application/JWT", "applicationJWT", "application/", "x-JWT", "JWT+at", "text/JWT", "ＪＷＴ", 1, true,
	} {
		t.Run("refuse "+strings.ToValidUTF8(anyString(typ), "?"), func(t *testing.T) {
			_, err := jtVerify(t, v, f.sign(t, map[string]any{"typ": typ}, claims))
			if typ == 1 || typ == true {
				jtRejectOneOf(t, err, popguard.ReasonTokenType, popguard.ReasonTokenMalformed)
				return
			}
			jtReject(t, err, popguard.ReasonTokenType)
		})
	}
}

func anyString(v any) string {
	switch v := v.(type) {
	case nil:
		return "<absent>"
	case string:
		if v == "" {
			return "<empty>"
		}
		return v
	case int:
		return "<number>"
	case bool:
		return "<bool>"
	}
	return "<other>"
}

// An Entra ID token (no scp, no roles) for the API's own client id is not
// an access token: Entra()'s RequiredAny refuses it, as
// Microsoft.Identity.Web does.
func TestEntraRefusesIDToken(t *testing.T) {
	f := newEntra(t, entraV2Template)
	v := f.verifier(t, entraV2Template, validate.Tenants(entraT1))
	id := entraV2(entraT1, map[string]any{"aud": entraAppID, "scp": nil, "roles": nil, "nonce": "n-0S6_WzA2Mj",
		"name": "Alice", "preferred_username": "alice@contoso.com"})
	_, err := jtVerify(t, v, f.sign(t, nil, id))
	jtReject(t, err, popguard.ReasonTokenClaims)
	// The same claims with roles (an app-only access token) are accepted.
	jtAccept(t, v, f.sign(t, nil, jtMerge(id, map[string]any{"roles": []string{"Items.Read.All"}})))
}
