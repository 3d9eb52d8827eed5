package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popguard/popguard/poptest"
)

// Several issuers, each with its own keys and profile: tokens of each are
// allowed, a token claiming one issuer signed with the other's key and a
// token of an unknown issuer are refused.
func TestSeveralIssuers(t *testing.T) {
	f := newFixture(t)
	kc := poptest.NewStaticIssuer("https://keycloak.example.test/realms/r1")
	kcJWKS := filepath.Join(t.TempDir(), "kc.json")
	if err := os.WriteFile(kcJWKS, kc.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := f.config("10.0.0.0/24")
	cfg.Issuers = append(cfg.Issuers, IssuerConfig{Issuer: kc.URL, Audience: "https://api.example.test", JWKS: kcJWKS, Profile: "keycloak"})
	sv := startPopguard(t, cfg)

	kcToken := func(iss *poptest.Issuer, url string) string {
		at := iss.Token(poptest.TokenOptions{Subject: "carol", ClientID: "kc-app", Audience: "https://api.example.test", Scope: "read", Typ: "JWT",
			DPoP: f.key, Claims: map[string]any{"iss": url, "azp": "kc-app", "typ": "DPoP"}})
		return strings.TrimSpace(at)
	}
	decide := func(at string) *http.Response {
		w := ask(sv, gatewayPeer, nginxShape(at, f.proof(t, "POST", "/dpop/orders", at, "")))
		return w.Result()
	}
	if res := decide(f.boundToken(t)); res.StatusCode != 200 || res.Header.Get("X-Auth-Subject") != "alice" {
		t.Errorf("RFC 9068 issuer: %d", res.StatusCode)
	}
	if res := decide(kcToken(kc, kc.URL)); res.StatusCode != 200 || res.Header.Get("X-Auth-Client-Id") != "kc-app" {
		t.Errorf("Keycloak issuer: %d %q", res.StatusCode, res.Header.Get("X-Auth-Client-Id"))
	}
	for name, at := range map[string]string{
		"the Keycloak key signing for the other issuer": kcToken(kc, f.iss.URL),
		"an unknown issuer":                             kcToken(kc, "https://evil.example.test"),
	} {
		res := decide(at)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: %d %q", name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	if got := sv.metrics.count("/dpop", "DPoP", "rejected", "token_issuer"); got != 1 {
		t.Errorf("token_issuer count %d, want 1 (the unknown issuer)", got)
	}
}
