package middleware_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Entra ID tokens through the middleware: v1 and v2 tokens of the allowed
// tenants on every scheme, other tenants and mismatched tenant claims
// refused, and scopes (delegated) and roles (app-only) required per route.

const (
	entraTenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"
	otherTenant = "00000000-1111-2222-3333-444444444444"
	entraV2     = "https://login.microsoftonline.com/{tenantid}/v2.0"
	entraAPI    = "api://b7d3a7b5-5b62-4c5a-9a2e-0d2b2e1e3c11"
)

// entraHarness trusts the multi-tenant Entra issuer for entraTenant, with
// keys published as Entra ID publishes them (an issuer member per key).
func entraHarness(t *testing.T) (*harness, *poptest.Client, string) {
	t.Helper()
	issKey := newClient(t, "RS256")
	jwks := `{"keys":[` + mustJSON(t, jwkWith(issKey, map[string]any{"kid": "entra-1", "use": "sig", "issuer": entraV2})) + `]}`
	keys, err := validate.NewStaticKeySet([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(entraV2, keys, validate.Audience(entraAPI),
		validate.UseProfile(validate.Entra()), validate.Tenants(entraTenant))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.test"), middleware.WithPoP())
	return h, issKey, "entra-1"
}

// entraToken mints an Entra ID access token of tenant tid and version ver
// ("1.0" or "2.0"): delegated (scp) when scp is set, else app-only (roles).
func entraToken(t *testing.T, k *poptest.Client, kid, tid, ver, scp string, roles []string, cnf map[string]any, edit func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"aud": entraAPI, "sub": "sub-1", "oid": "oid-1", "tid": tid, "ver": ver,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
	if ver == "1.0" {
		c["iss"], c["appid"] = "https://sts.windows.net/"+tid+"/", "client-app"
	} else {
		c["iss"], c["azp"] = "https://login.microsoftonline.com/"+tid+"/v2.0", "client-app"
	}
	if scp != "" {
		c["scp"] = scp
	}
	if roles != nil {
		c["roles"] = roles
	}
	if cnf != nil {
		c["cnf"] = cnf
	}
	if edit != nil {
		edit(c)
	}
	return k.Sign([]byte(mustJSON(t, map[string]any{"alg": k.Key().Alg(), "typ": "JWT", "kid": kid})), []byte(mustJSON(t, c)))
}

// jwkWith is k's public JWK with extra members.
func jwkWith(k *poptest.Client, extra map[string]any) map[string]any {
	jwk := k.JWK()
	for n, v := range extra {
		jwk[n] = v
	}
	return jwk
}

// entraRequest builds an authenticated GET of https://api.test/items for
// scheme with tok, signing a proof or SHR with client.
func entraRequest(t *testing.T, h *harness, s popguard.Scheme, tok string, client *poptest.Client) *http.Request {
	t.Helper()
	switch s {
	case popguard.DPoP:
		return request("GET", "https://api.test/items", "Authorization", "DPoP "+tok, "DPoP", h.proofWith(client, "GET", "https://api.test/items", tok, poptest.ProofOptions{}))
	case popguard.PoP:
		shr := client.SHR("GET", "https://api.test/items", tok, poptest.SHROptions{})
		return request("GET", "https://api.test/items", "Authorization", "PoP "+shr)
	}
	return request("GET", "https://api.test/items", "Authorization", "Bearer "+tok)
}

// cnfFor is the binding of scheme to client (none for Bearer).
func cnfFor(s popguard.Scheme, client *poptest.Client) map[string]any {
	switch s {
	case popguard.DPoP:
		return map[string]any{"jkt": client.Thumbprint()}
	case popguard.PoP:
		return map[string]any{"kid": client.Thumbprint(), "xms_ksl": "sw"}
	}
	return nil
}

// expectRefused checks status, error code and reason, and that the handler
// never ran.
func (h *harness) expectRefused(t *testing.T, resp response, status int, code popguard.ErrorCode, reason popguard.Reason) {
	t.Helper()
	if resp.status != status {
		t.Errorf("status = %d, want %d", resp.status, status)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("protected handler called %d times on a refused request", n)
	}
	_, _, rejs := h.cap.snapshot()
	if len(rejs) != 1 || rejs[0].Err.Code != code || rejs[0].Err.Reason != reason {
		t.Fatalf("rejections = %v, want one %s (%s)", rejs, code, reason)
	}
}

func TestEntraTokensEveryScheme(t *testing.T) {
	h, issKey, kid := entraHarness(t)
	mixed := h.route(popguard.Mixed)
	for _, s := range []popguard.Scheme{popguard.Bearer, popguard.DPoP, popguard.PoP} {
		client := newClient(t, "ES256")
		if s == popguard.PoP {
			client = newClient(t, "PS256") // MSAL.NET's PoP key
		}
		for _, ver := range []string{"1.0", "2.0"} {
			t.Run(s.String()+" v"+ver, func(t *testing.T) {
				tok := entraToken(t, issKey, kid, entraTenant, ver, "Items.Read", nil, cnfFor(s, client), nil)
				resp := h.do(mixed, entraRequest(t, h, s, tok, client))
				if resp.status != http.StatusOK || h.calls.Load() != 1 {
					_, _, rejs := h.cap.snapshot()
					t.Fatalf("status %d, rejections %v", resp.status, rejs)
				}
				res := h.result.Load()
				if res.Scheme != s || res.ClientID != "client-app" || !slices.Equal(res.Scopes, []string{"Items.Read"}) {
					t.Errorf("result %+v", res)
				}
			})
			t.Run(s.String()+" v"+ver+" refused", func(t *testing.T) {
				cases := []struct {
					name   string
					tid    string
					edit   func(map[string]any)
					reason popguard.Reason
				}{
					{"another tenant", otherTenant, nil, popguard.ReasonTokenTenant},
					{"tid disagrees with iss", entraTenant, func(c map[string]any) { c["tid"] = otherTenant }, popguard.ReasonTokenTenant},
					{"iss of another tenant, tid allowed", entraTenant, func(c map[string]any) {
						c["iss"] = "https://login.microsoftonline.com/" + otherTenant + "/v2.0"
						if ver == "1.0" {
							c["iss"] = "https://sts.windows.net/" + otherTenant + "/"
						}
					}, popguard.ReasonTokenTenant},
					{"no tid", entraTenant, func(c map[string]any) { delete(c, "tid") }, popguard.ReasonTokenClaims},
				}
				for _, c := range cases {
					tok := entraToken(t, issKey, kid, c.tid, ver, "Items.Read", nil, cnfFor(s, client), c.edit)
					h.expectRefused(t, h.do(mixed, entraRequest(t, h, s, tok, client)), http.StatusUnauthorized, popguard.CodeInvalidToken, c.reason)
				}
			})
		}
	}
}

// A key the JWKS publishes for another tenant cannot sign this tenant's
// tokens, even though the tenant is allowed.
func TestEntraKeyOfAnotherTenant(t *testing.T) {
	good, rogue := newClient(t, "RS256"), newClient(t, "RS256")
	jwks := `{"keys":[` + mustJSON(t, jwkWith(good, map[string]any{"kid": "k1", "use": "sig", "issuer": entraV2})) + `,` +
		mustJSON(t, jwkWith(rogue, map[string]any{"kid": "k2", "use": "sig", "issuer": "https://login.microsoftonline.com/" + otherTenant + "/v2.0"})) + `]}`
	keys, err := validate.NewStaticKeySet([]byte(jwks))
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(entraV2, keys, validate.Audience(entraAPI),
		validate.UseProfile(validate.Entra()), validate.Tenants(entraTenant, otherTenant))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.test"))
	rt := h.route(popguard.BearerOnly)
	for _, ver := range []string{"1.0", "2.0"} {
		tok := entraToken(t, rogue, "k2", entraTenant, ver, "Items.Read", nil, nil, nil)
		h.expectRefused(t, h.do(rt, entraRequest(t, h, popguard.Bearer, tok, nil)), http.StatusUnauthorized, popguard.CodeInvalidToken, popguard.ReasonTokenKeyIssuer)
		// The same key signs its own tenant's tokens.
		tok = entraToken(t, rogue, "k2", otherTenant, ver, "Items.Read", nil, nil, nil)
		if resp := h.do(rt, entraRequest(t, h, popguard.Bearer, tok, nil)); resp.status != http.StatusOK {
			t.Errorf("v%s: its own tenant's token: status %d", ver, resp.status)
		}
	}
}

// Delegated tokens carry scp, app-only tokens roles: RequireScopes and
// RequireRoles each accept the right kind and refuse the other with 403.
func TestEntraScopesAndRoles(t *testing.T) {
	h, issKey, kid := entraHarness(t)
	scoped := h.route(popguard.BearerOnly, middleware.RequireScopes("Items.Read"))
	roled := h.route(popguard.BearerOnly, middleware.RequireRoles("Items.Read.All"))
	delegated := entraToken(t, issKey, kid, entraTenant, "2.0", "Items.Read User.Read", nil, nil, nil)
	appOnly := entraToken(t, issKey, kid, entraTenant, "2.0", "", []string{"Items.Read.All"}, nil, nil)

	if resp := h.do(scoped, entraRequest(t, h, popguard.Bearer, delegated, nil)); resp.status != http.StatusOK {
		t.Errorf("delegated token on a scope route: %d", resp.status)
	}
	if resp := h.do(roled, entraRequest(t, h, popguard.Bearer, appOnly, nil)); resp.status != http.StatusOK {
		t.Errorf("app-only token on a role route: %d", resp.status)
	} else if res := h.result.Load(); !res.HasRole("Items.Read.All") || len(res.Scopes) != 0 {
		t.Errorf("app-only result: roles %q scopes %q", res.Roles, res.Scopes)
	}

	resp := h.do(scoped, entraRequest(t, h, popguard.Bearer, appOnly, nil))
	h.expectRefused(t, resp, http.StatusForbidden, popguard.CodeInsufficientScope, popguard.ReasonInsufficientScope)
	if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="Items.Read"` {
		t.Errorf("challenge %q", got)
	}
	resp = h.do(roled, entraRequest(t, h, popguard.Bearer, delegated, nil))
	h.expectRefused(t, resp, http.StatusForbidden, popguard.CodeInsufficientScope, popguard.ReasonInsufficientRole)
	if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required role: Items.Read.All"` {
		t.Errorf("challenge %q", got)
	}
	// A role named in scp, or a scope named in roles, does not count.
	confused := entraToken(t, issKey, kid, entraTenant, "2.0", "Items.Read.All", []string{"Items.Read"}, nil, nil)
	h.expectRefused(t, h.do(roled, entraRequest(t, h, popguard.Bearer, confused, nil)), http.StatusForbidden, popguard.CodeInsufficientScope, popguard.ReasonInsufficientRole)
	h.expectRefused(t, h.do(scoped, entraRequest(t, h, popguard.Bearer, confused, nil)), http.StatusForbidden, popguard.CodeInsufficientScope, popguard.ReasonInsufficientScope)

	for _, bad := range []string{"", "a b", "a\"b", "é"} {
		if _, err := h.guard.Route(popguard.BearerOnly, middleware.RequireRoles(bad)); err == nil {
			t.Errorf("RequireRoles(%q) accepted", bad)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
