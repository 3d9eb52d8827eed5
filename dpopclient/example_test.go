package dpopclient_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// A service calls a DPoP-protected API with tokens from the client
// credentials grant. Here poptest plays the authorization server and
// popguard the API; real code discovers its issuer's token endpoint.
func ExampleTransport() {
	as := poptest.NewIssuer() // metadata, JWKS and a token endpoint on loopback
	defer as.Close()
	api := exampleAPI(as)
	defer api.Close()

	ctx := context.Background()
	md, err := dpopclient.Discover(ctx, nil, as.URL)
	if err != nil {
		log.Fatal(err)
	}
	key, err := dpopclient.GenerateKey("ES256")
	if err != nil {
		log.Fatal(err)
	}
	cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: "billing", ClientSecret: "s3cret"}
	client := (&dpopclient.Transport{Key: key, Tokens: cfg.ClientCredentials(key)}).Client()

	res, err := client.Get(api.URL + "/invoices/42")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	fmt.Println(res.Status)
	fmt.Print(string(body))
	// Output:
	// 200 OK
	// DPoP call by billing
}

func exampleAPI(as *poptest.Issuer) *httptest.Server {
	tokens, err := validate.NewJWTVerifier(as.URL, as.KeySet(), validate.Audience(poptest.DefaultAudience))
	if err != nil {
		log.Fatal(err)
	}
	api := httptest.NewUnstartedServer(nil)
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("http://"+api.Listener.Addr().String()))
	if err != nil {
		log.Fatal(err)
	}
	api.Config.Handler = guard.Require(popguard.DPoPOnly)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		caller := popguard.FromContext(r.Context())
		fmt.Fprintf(w, "%s call by %s\n", caller.Scheme, caller.ClientID)
	}))
	api.Start()
	return api
}

// A proof for a request the program sends itself.
func ExampleKey_NewProof() {
	key, err := dpopclient.GenerateKey("") // ES256
	if err != nil {
		log.Fatal(err)
	}
	proof, err := key.NewProof("POST", "https://api.example.com/transfers?dry=1", "ACCESS-TOKEN", "")
	if err != nil {
		log.Fatal(err)
	}
	pv, _ := validate.NewProofVerifier()
	p, err := pv.Verify(proof, validate.ProofRequest{Method: "POST",
		Target: "https://api.example.com/transfers", AccessToken: "ACCESS-TOKEN"})
	fmt.Println(err == nil, p.HTU, p.Thumbprint == key.Thumbprint())
	// Output: true https://api.example.com/transfers true
}
