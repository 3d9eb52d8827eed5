package middleware_test

import (
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// A client whose clock runs ten minutes fast: refused where freshness is
// judged by iat, accepted where it is judged by the server nonce, and the
// handler reads the claims the client added to its proof.
func ExampleFreshness() {
	iss, tokens, key := exampleSetup()
	nonces, err := nonce.New([]byte("an example secret of 32 bytes!!!"), nonce.Scope("https://api.example"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example"),
		middleware.WithNonces(nonces), middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := popguard.FromContext(r.Context())
		fmt.Println("handler: device", caller.ClientClaims["device"], "(the client's word, not the issuer's)")
	})
	mux := http.NewServeMux()
	mux.Handle("/by-iat/", guard.Require(popguard.DPoPOnly)(handler))
	mux.Handle("/by-nonce/", guard.Require(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessNonce))(handler))

	tok := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example", DPoP: key})
	clientClock := time.Now().Add(10 * time.Minute)
	call := func(path, n string) *httptest.ResponseRecorder {
		proof := key.Proof("POST", "https://api.example"+path, tok, poptest.ProofOptions{Nonce: n,
			IssuedAt: clientClock, Claims: map[string]any{"device": "kiosk-7"}})
		r := httptest.NewRequest("POST", path, nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof)
		rr := httptest.NewRecorder()
		mux.ServeHTTP(rr, r)
		fmt.Printf("%s: %d %s\n", path, rr.Code, rr.Header().Get("WWW-Authenticate"))
		return rr
	}
	call("/by-iat/pay", "")
	first := call("/by-nonce/pay", "") // no nonce yet: the answer carries one
	call("/by-nonce/pay", first.Header().Get("DPoP-Nonce"))
	// Output:
	// /by-iat/pay: 401 DPoP error="invalid_dpop_proof", error_description="The DPoP proof iat is in the future", algs="ES256 PS256 RS256 EdDSA"
	// /by-nonce/pay: 401 DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 PS256 RS256 EdDSA"
	// handler: device kiosk-7 (the client's word, not the issuer's)
	// /by-nonce/pay: 200
}
