package validate_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Issuer keys fetched from the issuer's JWKS URL and kept fresh in the
// background. A token whose kid is unknown forces a refresh, at most once
// per minimum refresh interval (1 minute by default).
func ExampleNewRemoteKeySet() {
	// The authorization server and its JWKS endpoint (normally
	// https://issuer/.well-known/jwks.json, or jwks_uri of its metadata).
	as := poptest.NewStaticIssuer("https://as.example.com")
	var fetches atomic.Int64
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(as.JWKS())
	}))
	defer jwks.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := validate.NewRemoteKeySet(ctx, jwks.URL+"/.well-known/jwks.json",
		validate.HTTPClient(jwks.Client()),
		validate.KeySetLogger(slog.New(slog.DiscardHandler))) // fetch failures are logged at Warn
	if err != nil {
		log.Fatal(err) // the first fetch failed (WaitForKeys(true), the default)
	}
	defer keys.Close()

	verifier, err := validate.NewJWTVerifier("https://as.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com"})
	for range 3 {
		if _, err := verifier.VerifyToken(context.Background(), at); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("issuer key known:", keys.Has(as.KeyID()))
	fmt.Println("fetches after 3 tokens:", fetches.Load())

	// A token signed by a key the set does not hold: rejected, and no new
	// fetch within a minute of the last one.
	rogue := poptest.NewStaticIssuer(as.URL) // another key, another kid
	forged := rogue.Token(poptest.TokenOptions{Subject: "mallory", ClientID: "x", Audience: "https://api.example.com"})
	_, err = verifier.VerifyToken(context.Background(), forged)
	fmt.Println("unknown kid:", popguard.ReasonOf(err))
	fmt.Println("fetches:", fetches.Load())
	// Output:
	// issuer key known: true
	// fetches after 3 tokens: 1
	// unknown kid: token_unknown_key
	// fetches: 1
}

// Microsoft PoP: a signed HTTP request (SHR) as MSAL.NET sends it in
// "Authorization: PoP <shr>", carrying an Entra ID style access token bound
// to the client's key by cnf.kid.
func ExampleNewSHRVerifier() {
	as := poptest.NewStaticIssuer("https://login.example.com/tenant/v2.0")
	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("api://contoso-api"),
		validate.UseProfile(validate.Entra())) // Entra ID access tokens: typ JWT, scp, tid, ver
	if err != nil {
		log.Fatal(err)
	}
	shrs, err := validate.NewSHRVerifier(tokens, validate.SHRRequireBody("POST", "PUT", "PATCH"))
	if err != nil {
		log.Fatal(err)
	}

	// The client's PoP key (MSAL.NET: RSA, PS256) and a token bound to it
	// (cnf.kid = its RFC 7638 thumbprint).
	key, err := dpopclient.GenerateKey("PS256")
	if err != nil {
		log.Fatal(err)
	}
	client := poptest.NewClientWithKey(key)
	at := as.Token(poptest.TokenOptions{Subject: "alice", Audience: "api://contoso-api", Typ: "JWT", PoP: client,
		Claims: map[string]any{"scp": "items.read", "azp": "client-1", "client_id": nil, "jti": nil,
			"tid": "tenant", "ver": "2.0", "nbf": time.Now().Unix()}})
	shr := client.SHR("GET", "https://api.contoso.com/v1/items/42", at, poptest.SHROptions{})

	// The request as the client sent it: GET https://api.contoso.com/v1/items/42.
	req := validate.SHRRequest{Method: "GET", Scheme: "https", Host: "api.contoso.com", Path: "/v1/items/42"}
	v, err := shrs.Verify(context.Background(), shr, req)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", v.Token.Subject, "scopes:", v.Token.Scopes)
	fmt.Println("key is the client's:", v.Thumbprint == client.Thumbprint())
	fmt.Println("replay key set:", v.ReplayKey() != "") // insert into a replay store for shrs.Window()

	// The same SHR for another path fails.
	req.Path = "/v1/items/43"
	_, err = shrs.Verify(context.Background(), shr, req)
	pe := popguard.AsError(err)
	fmt.Println("other path:", pe.Code, pe.Reason)
	// Output:
	// subject: alice scopes: [items.read]
	// key is the client's: true
	// replay key set: true
	// other path: invalid_token shr_p
}

// countingVerifier counts the calls that reach the wrapped verifier.
type countingVerifier struct {
	inner validate.TokenVerifier
	calls atomic.Int64
}

func (c *countingVerifier) VerifyToken(ctx context.Context, token string) (*validate.Token, error) {
	c.calls.Add(1)
	return c.inner.VerifyToken(ctx, token)
}

// A cache of verified tokens in front of a verifier: a repeated token costs
// a hash and a lookup. middleware.New adds one by default; build your own to
// size it or to bound how long an introspected token may stay accepted.
func ExampleNewTokenCache() {
	as := poptest.NewStaticIssuer("https://as.example.com")
	keys := as.KeySet()
	jwt, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	inner := &countingVerifier{inner: jwt}
	cache, err := validate.NewTokenCache(inner, validate.CacheSize(50_000), validate.MaxAge(5*time.Minute))
	if err != nil {
		log.Fatal(err)
	}

	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com"})
	for range 5 {
		if _, err := cache.VerifyToken(context.Background(), at); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("5 requests, verifications:", inner.calls.Load(), "cached:", cache.Len())

	// Failures are never cached: each one is checked again.
	other := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://other.example.com"})
	for range 2 {
		_, err = cache.VerifyToken(context.Background(), other)
	}
	fmt.Println("rejected:", popguard.ReasonOf(err), "verifications:", inner.calls.Load(), "cached:", cache.Len())
	// Output:
	// 5 requests, verifications: 1 cached: 1
	// rejected: token_audience verifications: 3 cached: 1
}
