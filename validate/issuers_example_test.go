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
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/validate"
)

// An authorization server configured from its issuer identifier alone: the
// metadata names the JWKS, and the Provider is the verifier's key set.
func ExampleDiscover() {
	mux := http.NewServeMux()
	as := httptest.NewServer(mux) // stands for https://as.example.com
	defer as.Close()
	iss, err := sign.NewIssuer(as.URL)
	if err != nil {
		log.Fatal(err)
	}
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
	at, err := iss.Token(sign.TokenOptions{Subject: "alice", ClientID: "cli", Audience: "https://api.example.com"})
	if err != nil {
		log.Fatal(err)
	}
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
	a, err := sign.NewIssuer("https://a.example.com")
	if err != nil {
		log.Fatal(err)
	}
	b, err := sign.NewIssuer("https://b.example.com")
	if err != nil {
		log.Fatal(err)
	}
	verifier := func(iss *sign.Issuer) *validate.JWTVerifier {
		keys, err := validate.NewStaticKeySet(iss.JWKS())
		if err != nil {
			log.Fatal(err)
		}
		v, err := validate.NewJWTVerifier(iss.URL, keys, validate.Audience("https://api.example.com"))
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
	fromB, _ := b.Token(sign.TokenOptions{Subject: "bob", ClientID: "cli", Audience: "https://api.example.com"})
	tok, err := set.VerifyToken(ctx, fromB)
	fmt.Println(tok.Issuer, tok.Subject, err)

	// Issuer b's key signing a token that claims issuer a.
	forger := &sign.Issuer{URL: a.URL, KID: b.KID, Key: b.Key}
	forged, _ := forger.Token(sign.TokenOptions{Subject: "mallory", ClientID: "cli", Audience: "https://api.example.com"})
	_, err = set.VerifyToken(ctx, forged)
	fmt.Println("forged:", popguard.ReasonOf(err))
	// Output:
	// https://b.example.com bob <nil>
	// forged: token_unknown_key
}

// Entra ID's multi-tenant issuer, with an allow-list of tenants. App-only
// tokens carry app roles; delegated tokens carry scopes (scp).
func ExampleEntra() {
	entra := &sign.Issuer{URL: "https://login.microsoftonline.com/{tenantid}/v2.0", KID: "k1", Key: sign.MustKey("RS256")}
	jwk := entra.Key.PublicJWK(map[string]any{"kid": "k1", "use": "sig", "issuer": entra.URL})
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
		at, _ := entra.Key.JWS(map[string]any{"typ": "JWT", "kid": "k1"}, map[string]any{
			"iss": iss, "aud": "api://orders", "sub": "daemon", "tid": tid, "ver": ver, "appid": "app-1",
			"roles": []string{"Orders.Sync"}, "iat": 1700000000, "nbf": 1700000000, "exp": 4000000000,
		})
		return at
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
