package validate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// An authorization server configured from its issuer identifier alone: the
// metadata names the JWKS, and the Provider is the verifier's key set.
func ExampleDiscover() {
	mux := http.NewServeMux()
	as := httptest.NewServer(mux) // stands for https://as.example.com
	defer as.Close()
	iss := poptest.NewStaticIssuer(as.URL)
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{
			"issuer": as.URL, "jwks_uri": as.URL + "/jwks", "introspection_endpoint": as.URL + "/introspect",
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	})

	p, err := validate.Discover(context.Background(), as.URL, validate.KeySetLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	v, err := validate.NewJWTVerifier(as.URL, p, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	at := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "cli", Audience: "https://api.example.com"})
	tok, err := v.VerifyToken(context.Background(), at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", tok.Subject)
	fmt.Println("introspection endpoint found:", p.IntrospectionEndpoint() == as.URL+"/introspect")
	// Output:
	// subject: alice
	// introspection endpoint found: true
}

// Two issuers, each with its own keys: a token is checked only against the
// keys of the issuer it names.
func ExampleNewIssuerSet() {
	a := poptest.NewStaticIssuer("https://a.example.com")
	b := poptest.NewStaticIssuer("https://b.example.com")
	verifier := func(iss *poptest.Issuer) *validate.JWTVerifier {
		v, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience("https://api.example.com"))
		if err != nil {
			log.Fatal(err)
		}
		return v
	}
	set, err := validate.NewIssuerSet(verifier(a), verifier(b))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	fromB := b.Token(poptest.TokenOptions{Subject: "bob", ClientID: "cli", Audience: "https://api.example.com"})
	tok, err := set.VerifyToken(ctx, fromB)
	fmt.Println(tok.Issuer, tok.Subject, err)

	// Issuer b's key signing a token that claims issuer a.
	forged := b.Token(poptest.TokenOptions{Subject: "mallory", ClientID: "cli", Audience: "https://api.example.com",
		Claims: map[string]any{"iss": a.URL}})
	_, err = set.VerifyToken(ctx, forged)
	fmt.Println("forged:", popguard.ReasonOf(err))
	// Output:
	// https://b.example.com bob <nil>
	// forged: token_unknown_key
}

// Entra ID's multi-tenant issuer, with an allow-list of tenants. App-only
// tokens carry app roles; delegated tokens carry scopes (scp).
func ExampleEntra() {
	key, err := dpopclient.GenerateKey("RS256")
	if err != nil {
		log.Fatal(err)
	}
	entra := poptest.NewStaticIssuerWithKey("https://login.microsoftonline.com/{tenantid}/v2.0", key)
	// Entra ID publishes each key with the issuer it signs for.
	jwk := poptest.NewClientWithKey(key).JWK()
	jwk["kid"], jwk["use"], jwk["issuer"] = "k1", "sig", entra.URL
	jwks, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	keys, err := validate.NewStaticKeySet(jwks)
	if err != nil {
		log.Fatal(err)
	}
	v, err := validate.NewJWTVerifier(entra.URL, keys, validate.Audience("api://orders"),
		validate.UseProfile(validate.Entra()), validate.Tenants("contoso-tid"))
	if err != nil {
		log.Fatal(err)
	}
	token := func(tid, ver, iss string) string {
		return entra.Token(poptest.TokenOptions{Profile: "entra", Tenant: tid, Version: ver, Subject: "daemon",
			Audience: "api://orders", ClientID: "app-1", Roles: []string{"Orders.Sync"},
			Header: map[string]any{"kid": "k1"}, Claims: map[string]any{"iss": iss}})
	}
	ctx := context.Background()
	tok, err := v.VerifyToken(ctx, token("contoso-tid", "1.0", "https://sts.windows.net/contoso-tid/"))
	fmt.Println(tok.Tenant, tok.ClientID, tok.Roles, err)
	_, err = v.VerifyToken(ctx, token("fabrikam-tid", "2.0", "https://login.microsoftonline.com/fabrikam-tid/v2.0"))
	fmt.Println("another tenant:", popguard.ReasonOf(err))
	_, err = v.VerifyToken(ctx, token("contoso-tid", "2.0", "https://login.microsoftonline.com/fabrikam-tid/v2.0"))
	fmt.Println("iss of another tenant:", popguard.ReasonOf(err))
	// Output:
	// contoso-tid app-1 [Orders.Sync] <nil>
	// another tenant: token_tenant
	// iss of another tenant: token_tenant
}
