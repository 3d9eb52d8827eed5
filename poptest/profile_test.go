package poptest_test

import (
	"context"
	"slices"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Each profile's token is what validate's profile of the same name accepts,
// with the client, scopes and roles where that profile reads them; the
// default RFC 9068 verifier refuses the shapes that differ from it.
func TestTokenProfiles(t *testing.T) {
	const tid = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	for _, c := range []struct {
		profile, issuer, version string
		roles                    []string
		rfc9068                  popguard.Reason
	}{
		{"rfc9068", "https://as.example.test", "", []string{"admin"}, ""},
		{"entra", "https://login.microsoftonline.com/{tenantid}/v2.0", "2.0", []string{"admin"}, popguard.ReasonTokenType},
		{"entra", "https://login.microsoftonline.com/{tenantid}/v2.0", "1.0", []string{"admin"}, popguard.ReasonTokenType},
		{"keycloak", "https://kc.example.test/realms/r1", "", []string{"admin"}, popguard.ReasonTokenType},
		{"okta", "https://example.okta.test/oauth2/default", "", nil, popguard.ReasonTokenType},
		{"auth0", "https://tenant.auth0.test/", "", []string{"admin"}, ""},
	} {
		t.Run(c.profile+c.version, func(t *testing.T) {
			iss := poptest.NewStaticIssuer(c.issuer)
			client := poptest.NewClient()
			tok := iss.Token(poptest.TokenOptions{Profile: c.profile, Tenant: tid, Version: c.version,
				Scope: "read write", Roles: c.roles, ClientID: "app", DPoP: client})
			p, _ := validate.ProfileByName(c.profile)
			opts := []validate.Option{validate.Audience(poptest.DefaultAudience), validate.UseProfile(p)}
			if p.TenantClaim != "" {
				opts = append(opts, validate.Tenants(tid))
			}
			v, err := validate.NewJWTVerifier(c.issuer, iss.KeySet(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.VerifyToken(context.Background(), tok)
			if err != nil {
				t.Fatalf("validate's %s profile refused poptest's %s token: %v", c.profile, c.profile, err)
			}
			if got.ClientID != "app" || !slices.Equal(got.Scopes, []string{"read", "write"}) || !slices.Equal(got.Roles, c.roles) ||
				got.Cnf.JKT != client.Thumbprint() {
				t.Errorf("client %q scopes %q roles %q jkt %q", got.ClientID, got.Scopes, got.Roles, got.Cnf.JKT)
			}
			if p.TenantClaim == "" {
				def, err := validate.NewJWTVerifier(c.issuer, iss.KeySet(), validate.Audience(poptest.DefaultAudience))
				if err != nil {
					t.Fatal(err)
				}
				_, err = def.VerifyToken(context.Background(), tok)
				if (c.rfc9068 == "") != (err == nil) || (err != nil && popguard.ReasonOf(err) != c.rfc9068) {
					t.Errorf("the RFC 9068 verifier: %v, want %q", err, c.rfc9068)
				}
			}
		})
	}
	t.Run("unknown profile", func(t *testing.T) {
		defer func() {
			if recover() == nil {
				t.Error("no panic for an unknown profile")
			}
		}()
		poptest.NewStaticIssuer("https://as.example.test").Token(poptest.TokenOptions{Profile: "nope"})
	})
}
