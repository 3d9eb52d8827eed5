package middleware_test

// The client's own claims reach the handler on the Result, apart from the
// access token's: msal-browser's client_claims (shrClaims) and a DPoP
// proof's claims beyond RFC 9449's.

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// claimsHandler is what an application writes: it reads the caller's
// claims from the Result and answers with both sets.
func claimsHandler(calls *int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*calls++
		caller := popguard.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"sub":           caller.Subject,
			"token_claims":  caller.Claims,
			"client_claims": caller.ClientClaims,
		})
	})
}

type claimsAnswer struct {
	Sub          string         `json:"sub"`
	TokenClaims  map[string]any `json:"token_claims"`
	ClientClaims map[string]any `json:"client_claims"`
}

func decodeClaims(t *testing.T, resp response) claimsAnswer {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("status %d, WWW-Authenticate %q, body %s", resp.status, resp.header.Values("WWW-Authenticate"), resp.body)
	}
	var a claimsAnswer
	if err := json.Unmarshal(resp.body, &a); err != nil {
		t.Fatalf("body %s: %v", resp.body, err)
	}
	return a
}

func TestClientClaimsMSALBrowser(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL("https://api.test"), middleware.WithPoP(validate.MSALBrowserCompat()))
	k := newClient(t, "RS256") // msal-browser signs with RS256
	tok := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "spa", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}}})
	calls := 0
	rt, err := h.guard.Route(popguard.PoPOnly)
	if err != nil {
		t.Fatal(err)
	}
	handler := rt.Handler(claimsHandler(&calls))
	// msal-browser's documented request: shrClaims is a stringified object.
	shr := k.SHR("POST", "https://api.test/transfers", tok, poptest.SHROptions{Format: poptest.MSALBrowser,
		Claims: map[string]any{"client_claims": msalShrClaims}})
	a := decodeClaims(t, h.do(handler, request("POST", "https://api.test/transfers", "Authorization", "PoP "+shr)))
	if want := map[string]any{"nonce": "AQAA123456", "local_nonce": "AQAA7890"}; !reflect.DeepEqual(a.ClientClaims, want) {
		t.Errorf("client claims = %#v, want %#v", a.ClientClaims, want)
	}
	if a.Sub != "carol" || a.TokenClaims["sub"] != "carol" || a.TokenClaims["client_id"] != "spa" {
		t.Errorf("token claims = %#v", a.TokenClaims)
	}
	for _, name := range []string{"client_claims", "nonce", "local_nonce"} {
		if _, ok := a.TokenClaims[name]; ok {
			t.Errorf("token claims hold the client's %q", name)
		}
	}

	t.Run("invalid client_claims: 401, handler never runs", func(t *testing.T) {
		for name, cc := range map[string]string{
			"not JSON":         `evil"<script>`,
			"duplicate member": `{"role":"user","role":"admin"}`,
			"an array":         `["admin"]`,
		} {
			t.Run(name, func(t *testing.T) {
				calls = 0
				shr := k.SHR("GET", "https://api.test/transfers", tok, poptest.SHROptions{Format: poptest.MSALBrowser,
					Claims: map[string]any{"client_claims": cc}})
				resp := h.do(handler, request("GET", "https://api.test/transfers", "Authorization", "PoP "+shr))
				h.expectRejected(t, resp, rejectWant{status: 401,
					challenges: []string{popErr(descClientClaims)},
					code:       popguard.CodeInvalidToken, reason: popguard.ReasonSHRClientClaims, scheme: popguard.PoP})
				if calls != 0 {
					t.Errorf("handler ran %d times", calls)
				}
			})
		}
	})
}

// msalShrClaims is the shrClaims value of msal-browser's "Custom SHR Claims"
// documentation (lib/msal-browser/docs/shr-client-claims.md), byte for byte.
const msalShrClaims = `{"nonce": "AQAA123456","local_nonce": "AQAA7890"}`

const descClientClaims = "The PoP signed request client_claims is not a JSON object"

func TestClientClaimsDPoP(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	tok := h.bound()
	calls := 0
	rt, err := h.guard.Route(popguard.DPoPOnly)
	if err != nil {
		t.Fatal(err)
	}
	handler := rt.Handler(claimsHandler(&calls))
	proof := h.proofWith(h.key, "POST", target, tok, poptest.ProofOptions{
		Claims: map[string]any{"purpose": "transfer", "device": map[string]any{"attested": true}}})
	a := decodeClaims(t, h.do(handler, request("POST", target, "Authorization", "DPoP "+tok, "DPoP", proof)))
	if want := map[string]any{"purpose": "transfer", "device": map[string]any{"attested": true}}; !reflect.DeepEqual(a.ClientClaims, want) {
		t.Errorf("client claims = %#v, want %#v", a.ClientClaims, want)
	}
	if _, ok := a.TokenClaims["purpose"]; ok || a.TokenClaims["sub"] != "bob" {
		t.Errorf("token claims = %#v", a.TokenClaims)
	}

	// A proof with only RFC 9449 claims, and Bearer: no client claims.
	calls = 0
	plain := h.proof("GET", target, tok)
	if a := decodeClaims(t, h.do(handler, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", plain))); a.ClientClaims != nil {
		t.Errorf("client claims = %#v, want none", a.ClientClaims)
	}
	brt, err := h.guard.Route(popguard.BearerOnly)
	if err != nil {
		t.Fatal(err)
	}
	if a := decodeClaims(t, h.do(brt.Handler(claimsHandler(&calls)), request("GET", target, "Authorization", "Bearer "+h.unbound()))); a.ClientClaims != nil {
		t.Errorf("Bearer: client claims = %#v, want none", a.ClientClaims)
	}
}
