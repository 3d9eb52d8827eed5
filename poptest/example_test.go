package poptest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
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

// An SHR in Microsoft.IdentityModel's format covering a query parameter and
// a header; the same SHR fails once the covered header changes.
func ExampleClient_SHR() {
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	client := poptest.NewClientWithKey(mustKey("PS256"))
	tok := iss.Token(poptest.TokenOptions{PoP: client})
	tokens, _ := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience(poptest.DefaultAudience))
	v, _ := validate.NewSHRVerifier(tokens)

	hdr := http.Header{"X-Client-Id": {"abc"}}
	shr := client.SHR("GET", "https://api.example.test/x?a=1", tok, poptest.SHROptions{
		Format: poptest.IdentityModel, Query: []string{"a"}, Headers: hdr})
	for _, id := range []string{"abc", "xyz"} {
		_, err := v.Verify(context.Background(), shr, validate.SHRRequest{Method: "GET", Scheme: "https",
			Host: "api.example.test", Path: "/x", RawQuery: "a=1", Header: http.Header{"X-Client-Id": {id}}})
		fmt.Println(err == nil)
	}
	// Output:
	// true
	// false
}

// Sign signs what Proof never writes: here a proof whose header names its
// key twice, which a verifier must refuse.
func ExampleClient_Sign() {
	client := poptest.NewClient()
	jwk, _ := json.Marshal(client.JWK())
	header := `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(jwk) + `,"jwk":` + string(jwk) + `}`
	payload := fmt.Sprintf(`{"jti":"j1","htm":"GET","htu":"https://api.example.test/x","iat":%d}`, time.Now().Unix())
	proof := client.Sign([]byte(header), []byte(payload))

	pv, _ := validate.NewProofVerifier()
	_, err := pv.Verify(proof, validate.ProofRequest{Method: "GET", Target: "https://api.example.test/x"})
	fmt.Println(popguard.ReasonOf(err))
	// Output:
	// proof_malformed
}

func mustKey(alg string) *dpopclient.Key {
	k, err := dpopclient.GenerateKey(alg)
	if err != nil {
		log.Fatal(err)
	}
	return k
}
