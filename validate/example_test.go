package validate_test

import (
	"context"
	"fmt"
	"log"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/validate"
)

// A resource server validating RFC 9068 access tokens from one issuer whose
// keys are configured statically.
func ExampleNewJWTVerifier() {
	// The authorization server (normally elsewhere) and its JWKS document.
	as, err := sign.NewIssuer("https://as.example.com")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := validate.NewStaticKeySet(as.JWKS())
	if err != nil {
		log.Fatal(err)
	}

	verifier, err := validate.NewJWTVerifier("https://as.example.com", keys,
		validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}

	at, err := as.Token(sign.TokenOptions{
		Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com", Scope: "read write",
	})
	if err != nil {
		log.Fatal(err)
	}
	tok, err := verifier.VerifyToken(context.Background(), at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", tok.Subject)
	fmt.Println("client:", tok.ClientID)
	fmt.Println("scopes:", tok.Scopes)
	fmt.Println("bound:", tok.Cnf.Bound())

	// A token for another resource server is rejected.
	other, err := as.Token(sign.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://other.example.com"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = verifier.VerifyToken(context.Background(), other)
	pe := popguard.AsError(err)
	fmt.Println("rejected:", pe.Code, pe.Reason)

	// Output:
	// subject: alice
	// client: s6BhdRkqt3
	// scopes: [read write]
	// bound: false
	// rejected: invalid_token token_audience
}

// Checking a DPoP proof (RFC 9449 §4.3) and its binding to a DPoP-bound
// access token (cnf.jkt, §6).
func ExampleNewProofVerifier() {
	proofs, err := validate.NewProofVerifier()
	if err != nil {
		log.Fatal(err)
	}

	// The client's DPoP key, and an access token bound to it.
	client := sign.MustKey("ES256")
	as, err := sign.NewIssuer("https://as.example.com")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := validate.NewStaticKeySet(as.JWKS())
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier("https://as.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	at, err := as.Token(sign.TokenOptions{
		Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com",
		Cnf: map[string]any{"jkt": client.Thumbprint()},
	})
	if err != nil {
		log.Fatal(err)
	}

	// The request: GET https://api.example.com/orders?id=7 with
	// "Authorization: DPoP <at>" and "DPoP: <proof>".
	proof, err := client.Proof("GET", "https://api.example.com/orders", sign.ProofOptions{AccessToken: at})
	if err != nil {
		log.Fatal(err)
	}
	p, err := proofs.Verify(proof, validate.ProofRequest{
		Method:      "GET",
		Target:      "https://api.example.com/orders?id=7",
		AccessToken: at,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("proof:", p.Method, p.HTU, p.Alg)
	fmt.Println("key is the client's:", p.Thumbprint == client.Thumbprint())

	tok, err := tokens.VerifyToken(context.Background(), at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("binding:", validate.CheckDPoPBinding(tok, p))

	// The same proof for another method fails.
	_, err = proofs.Verify(proof, validate.ProofRequest{Method: "POST", Target: "https://api.example.com/orders", AccessToken: at})
	fmt.Println("POST:", popguard.ReasonOf(err))

	// Output:
	// proof: GET https://api.example.com/orders ES256
	// key is the client's: true
	// binding: <nil>
	// POST: proof_htm
}
