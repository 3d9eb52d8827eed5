package validate

import (
	"errors"
	"fmt"
	"strings"

	"github.com/popguard/popguard"
)

// introspectionProfile reads an RFC 7662 introspection response: scope
// (§2.2) and client_id.
var introspectionProfile = Profile{Name: "rfc7662", ScopeClaims: []string{"scope"}, ClientClaims: []string{"client_id"}}

// templated reports whether an issuer holds the tenant placeholder.
func templated(issuer string) bool { return strings.Contains(issuer, tenantTemplate) }

// checkTemplates refuses a configuration whose tenant rules cannot hold.
func (v *JWTVerifier) checkTemplates() error {
	if strings.Count(v.issuer, tenantTemplate) > 1 {
		return errors.New("validate: the issuer holds {tenantid} more than once")
	}
	for ver, iss := range v.profile.VersionIssuers {
		if strings.Count(iss, tenantTemplate) > 1 {
			return fmt.Errorf("validate: profile %q: the issuer for version %q holds {tenantid} more than once", v.profile.Name, ver)
		}
	}
	multi := templated(v.issuer)
	if (v.tenants != nil || v.anyTenant || multi) && v.profile.TenantClaim == "" {
		return fmt.Errorf("validate: profile %q names no tenant claim, so a multi-tenant issuer cannot be checked", v.profile.Name)
	}
	if v.tenants != nil && v.anyTenant {
		return errors.New("validate: Tenants and AnyTenant contradict each other")
	}
	if multi && v.tenants == nil && !v.anyTenant {
		return fmt.Errorf("validate: the issuer %q holds {tenantid}: list the tenants with Tenants, or accept every tenant with AnyTenant", v.issuer)
	}
	return nil
}

// validTenant reports whether t can stand in for {tenantid}: a non-empty
// string of letters, digits, '-', '.' and '_' (Entra tenant ids are GUIDs;
// no '/', '%' or other byte that would change the issuer's structure), and
// not the dot segment "." or "..", which URL resolution removes.
func validTenant(t string) bool {
	if t == "" || len(t) > 64 || t == "." || t == ".." {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(isAlpha(c) || isDigit(c) || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// issuerTenant returns the tenant a single-tenant issuer names: its first
// path segment, where every Entra ID issuer puts it
// (https://login.microsoftonline.com/{tid}/v2.0, https://sts.windows.net/{tid}/,
// https://{name}.b2clogin.com/{tid}/v2.0/). Any other segment, or the host,
// is not a tenant: "v2.0" in the first example is not one.
func issuerTenant(issuer string) string {
	_, rest, ok := strings.Cut(issuer, "://")
	if !ok {
		return ""
	}
	_, path, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	seg, _, _ := strings.Cut(path, "/")
	return seg
}

// tenantErr is the error of a token whose tenant is refused.
func tenantErr(desc string) error { return tokenErr(popguard.ReasonTokenTenant, desc, nil) }

// expectedIssuer returns the iss the token must carry: the verifier's
// issuer, or the profile's issuer for the token's version, with the token's
// tenant in place of {tenantid} once the tenant is found acceptable.
func (v *JWTVerifier) expectedIssuer(c *tokenClaims) (string, error) {
	want := v.issuer
	if iss, ok := v.profile.VersionIssuers[c.ver]; ok && c.present["ver"] {
		want = iss
	}
	if v.profile.TenantClaim == "" || !c.present[v.profile.TenantClaim] {
		if templated(want) {
			return "", tenantErr("The access token names no tenant")
		}
		return want, nil
	}
	t := c.tenant
	if !validTenant(t) {
		return "", tenantErr("The access token tenant is malformed")
	}
	if it, ok := tenantOf(want, c.iss); ok && it != t {
		// iss has the expected form, with another tenant than the claim.
		return "", tenantErr("The access token tenant does not match its issuer")
	}
	switch {
	case v.tenants != nil:
		if !v.tenants[t] {
			return "", tenantErr("The access token tenant is not trusted")
		}
	case v.anyTenant:
	case issuerTenant(v.issuer) != t:
		// A single-tenant issuer: the token's tenant must be the one the
		// issuer names, whichever version issued the token.
		return "", tenantErr("The access token tenant does not match its issuer")
	}
	if !templated(want) && issuerTenant(want) != t {
		return "", tenantErr("The access token tenant does not match its issuer")
	}
	return strings.Replace(want, tenantTemplate, t, 1), nil
}

// checkKeyIssuer applies the issuer a key set publishes with a key (Entra
// ID's JWKS has an "issuer" member per key): with the token's tenant in
// place of {tenantid}, it must be the token's iss or the verifier's issuer
// for that tenant (a v1.0 token is signed by keys published for v2.0
// issuers).
func (v *JWTVerifier) checkKeyIssuer(k PublicKey, c *tokenClaims) error {
	if k.Issuer == "" {
		return nil
	}
	tr := v.tr
	fail := func() error {
		err := tokenErr(popguard.ReasonTokenKeyIssuer, "The access token was signed by a key of another issuer", nil)
		if tr != nil {
			tr.Fail("key issuer", fmt.Sprintf("key %q is published for %q, token iss %q", k.KeyID, k.Issuer, c.iss), err)
		}
		return err
	}
	eff, own := k.Issuer, v.issuer
	if templated(eff) || templated(own) {
		if !validTenant(c.tenant) {
			return fail()
		}
		eff = strings.Replace(eff, tenantTemplate, c.tenant, 1)
		own = strings.Replace(own, tenantTemplate, c.tenant, 1)
	}
	if eff != c.iss && eff != own {
		return fail()
	}
	if tr != nil {
		tr.Pass("key issuer", fmt.Sprintf("key %q is published for %q", k.KeyID, k.Issuer))
	}
	return nil
}
