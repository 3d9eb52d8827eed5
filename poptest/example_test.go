package poptest_test

import (
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

// A test of a protected handler: a DPoP-bound token and its proof are
// accepted; the same token sent as Bearer is refused.
func ExampleIssuer() {
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	client := poptest.NewClient()

	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience(poptest.DefaultAudience))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.test"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	h := guard.Require(popguard.Mixed)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, popguard.FromContext(r.Context()).Subject)
	}))

	tok := iss.Token(poptest.TokenOptions{Subject: "alice", DPoP: client})

	req := httptest.NewRequest("GET", "https://api.example.test/accounts/", nil)
	client.DPoP(req, tok, poptest.ProofOptions{})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	fmt.Println(rr.Code, rr.Body.String())

	req = httptest.NewRequest("GET", "https://api.example.test/accounts/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	fmt.Println(rr.Code)
	// Output:
	// 200 alice
	// 401
}

// Negative tests change one claim each.
func ExampleClient_Proof() {
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	client := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{DPoP: client})
	pv, _ := validate.NewProofVerifier()
	for _, claims := range []map[string]any{nil, {"htm": "POST"}, {"ath": nil}} {
		proof := client.Proof("GET", "https://api.example.test/x", tok, poptest.ProofOptions{Claims: claims})
		_, err := pv.Verify(proof, validate.ProofRequest{Method: "GET", Target: "https://api.example.test/x", AccessToken: tok})
		fmt.Println(err == nil)
	}
	// Output:
	// true
	// false
	// false
}
