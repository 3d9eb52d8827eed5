package middleware_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// exampleSetup plays the authorization server (an issuer and its JWKS) and
// the client (a DPoP key). Real code gets tokens from its AS and keys from
// validate.NewRemoteKeySet.
func exampleSetup() (*poptest.Issuer, *validate.JWTVerifier, *poptest.Client) {
	iss := poptest.NewStaticIssuer("https://issuer.example")
	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience("https://api.example"))
	if err != nil {
		log.Fatal(err)
	}
	return iss, tokens, poptest.NewClient()
}

// send serves one request and prints the status and challenges.
func send(h http.Handler, what string, req *http.Request) {
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	fmt.Printf("%s: %d\n", what, rr.Code)
	for _, c := range rr.Header().Values("WWW-Authenticate") {
		fmt.Printf("  WWW-Authenticate: %s\n", c)
	}
}

// A DPoP-only route for money movements and a Mixed route still accepting
// Bearer tokens during a migration.
func ExampleNew() {
	iss, tokens, key := exampleSetup()
	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example"), // what clients sign in htu
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly)(ok))
	mux.Handle("/accounts/", guard.Require(popguard.Mixed)(ok))

	bearer := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "legacy", Audience: "https://api.example"})
	bound := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example", DPoP: key})
	dpop := func(path string) *http.Request {
		r := httptest.NewRequest("POST", path, nil)
		proof := key.Proof("POST", "https://api.example"+path, bound, poptest.ProofOptions{})
		r.Header.Set("Authorization", "DPoP "+bound)
		r.Header.Set("DPoP", proof)
		return r
	}
	withBearer := func(path string) *http.Request {
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		return r
	}

	send(mux, "DPoP to /transfers/", dpop("/transfers/1"))
	send(mux, "Bearer to /transfers/", withBearer("/transfers/1"))
	send(mux, "DPoP to /accounts/", dpop("/accounts/1"))
	send(mux, "Bearer to /accounts/", withBearer("/accounts/1"))
	send(mux, "nothing to /accounts/", httptest.NewRequest("GET", "/accounts/1", nil))
	// Output:
	// DPoP to /transfers/: 200
	// Bearer to /transfers/: 401
	//   WWW-Authenticate: DPoP algs="ES256 PS256 RS256 EdDSA"
	// DPoP to /accounts/: 200
	// Bearer to /accounts/: 200
	// nothing to /accounts/: 401
	//   WWW-Authenticate: Bearer realm="api"
	//   WWW-Authenticate: DPoP algs="ES256 PS256 RS256 EdDSA"
}

// The handler finds the caller in the request context: scheme, subject,
// client, scopes and, for DPoP, the thumbprint of the proof key.
func ExampleGuard_Require() {
	iss, tokens, key := exampleSetup()
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	transfers := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := popguard.FromContext(r.Context())
		fmt.Println("scheme:", caller.Scheme, "subject:", caller.Subject, "client:", caller.ClientID,
			"scopes:", caller.Scopes, "key matches:", caller.KeyThumbprint == key.Thumbprint())
	})
	h := guard.Require(popguard.DPoPOnly, middleware.RequireScopes("transfers:write"))(transfers)

	tok := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example",
		Scope: "accounts:read transfers:write", DPoP: key})
	r := httptest.NewRequest("POST", "/transfers", nil)
	proof := key.Proof("POST", "https://api.example/transfers", tok, poptest.ProofOptions{})
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	send(h, "DPoP with transfers:write", r)

	// The same proof again is a replay.
	r = httptest.NewRequest("POST", "/transfers", nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	send(h, "replayed proof", r)
	// Output:
	// scheme: DPoP subject: alice client: app scopes: [accounts:read transfers:write] key matches: true
	// DPoP with transfers:write: 200
	// replayed proof: 401
	//   WWW-Authenticate: DPoP error="invalid_dpop_proof", error_description="The proof has already been used", scope="transfers:write", algs="ES256 PS256 RS256 EdDSA"
}

// Guard.Route prepares a route once, when routes are set up, and returns a
// configuration mistake as an error where Guard.Require would panic. The
// Route then wraps handlers (Route.Handler) or serves other frameworks
// (Route.Check).
func ExampleGuard_Route() {
	iss, tokens, key := exampleSetup()
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	// This Guard has no nonce source (WithNonces), so RequireNonce is refused.
	_, err = guard.Route(popguard.DPoPOnly, middleware.RequireNonce())
	fmt.Println("error:", err)

	transfers, err := guard.Route(popguard.DPoPOnly, middleware.Name("transfers"),
		middleware.RequireScopes("transfers:write"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /transfers", transfers.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Println("transfer by", popguard.FromContext(r.Context()).Subject)
	})))

	request := func(scope string) *http.Request {
		at := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example",
			Scope: scope, DPoP: key})
		proof := key.Proof("POST", "https://api.example/transfers", at, poptest.ProofOptions{})
		r := httptest.NewRequest("POST", "/transfers", nil)
		r.Header.Set("Authorization", "DPoP "+at)
		r.Header.Set("DPoP", proof)
		return r
	}
	send(mux, "token with accounts:read", request("accounts:read"))
	send(mux, "token with transfers:write", request("transfers:write"))
	// Output:
	// error: middleware: RequireNonce needs WithNonces on the Guard
	// token with accounts:read: 403
	//   WWW-Authenticate: DPoP error="insufficient_scope", error_description="The access token does not grant the required scope", scope="transfers:write", algs="ES256 PS256 RS256 EdDSA"
	// transfer by alice
	// token with transfers:write: 200
}

// Route.Check serves frameworks that write the response themselves, as
// adapters/ginpop and adapters/echopop do: it authenticates the request
// without touching the response, returns the caller and the headers to add
// on success, and a *Rejection on failure, which Route.WriteRejection answers
// with the route's error handler.
func ExampleRoute_Check() {
	iss, tokens, key := exampleSetup()
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	accounts, err := guard.Route(popguard.Mixed, middleware.Name("accounts"))
	if err != nil {
		log.Fatal(err)
	}

	// serve stands for a framework's middleware around its own handler.
	serve := func(w http.ResponseWriter, r *http.Request) {
		caller, header, err := accounts.Check(r)
		if err != nil {
			var rej *middleware.Rejection
			if errors.As(err, &rej) {
				fmt.Println("rejected:", rej.Status, rej.Err.Reason)
			}
			accounts.WriteRejection(w, r, err) // status, challenges, JSON body
			return
		}
		for name, values := range header {
			w.Header()[name] = values
		}
		fmt.Println("accepted:", caller.Scheme, caller.Subject)
	}

	bearer := iss.Token(poptest.TokenOptions{Subject: "bob", ClientID: "legacy", Audience: "https://api.example"})
	bound := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example", DPoP: key})
	proof := key.Proof("GET", "https://api.example/accounts", bound, poptest.ProofOptions{})

	r := httptest.NewRequest("GET", "/accounts", nil)
	r.Header.Set("Authorization", "Bearer "+bearer)
	serve(httptest.NewRecorder(), r)

	r = httptest.NewRequest("GET", "/accounts", nil)
	r.Header.Set("Authorization", "DPoP "+bound)
	r.Header.Set("DPoP", proof)
	serve(httptest.NewRecorder(), r)

	// A DPoP-bound token without its proof: whoever stole it cannot use it.
	r = httptest.NewRequest("GET", "/accounts", nil)
	r.Header.Set("Authorization", "Bearer "+bound)
	w := httptest.NewRecorder()
	serve(w, r)
	fmt.Print(w.Body.String())
	// Output:
	// accepted: Bearer bob
	// accepted: DPoP alice
	// rejected: 401 token_bound_used_as_bearer
	// {"error":"invalid_token","error_description":"The access token is bound to a key and cannot be used as a Bearer token"}
}

// A resource server that clients discover (RFC 9728): the document is
// derived from the Guard (issuer, audience, routes, proof algorithms), and
// every challenge points to it.
func ExampleWithResourceMetadata() {
	_, tokens, _ := exampleSetup()
	guard, err := middleware.New(
		middleware.WithTokens(tokens), // trusts https://issuer.example, audience https://api.example
		middleware.WithPublicURL("https://api.example"),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Name: "Example API"}),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())
	mux.Handle("/transfers", guard.Require(popguard.DPoPOnly, middleware.RequireScopes("transfers:write"))(http.NotFoundHandler()))

	send(mux, "no token", httptest.NewRequest("POST", "/transfers", nil))
	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	fmt.Print(rr.Body.String())
	// Output:
	// no token: 401
	//   WWW-Authenticate: DPoP scope="transfers:write", resource_metadata="https://api.example/.well-known/oauth-protected-resource", algs="ES256 PS256 RS256 EdDSA"
	// {"resource":"https://api.example","authorization_servers":["https://issuer.example"],"scopes_supported":["transfers:write"],"bearer_methods_supported":["header"],"resource_name":"Example API","dpop_signing_alg_values_supported":["ES256","PS256","RS256","EdDSA"],"dpop_bound_access_tokens_required":true}
}
