package validate_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

// A resource server validating RFC 9068 access tokens from one issuer whose
// keys are configured statically.
func ExampleNewJWTVerifier() {
	// The authorization server (normally elsewhere) and its JWKS document.
	as := poptest.NewStaticIssuer("https://as.example.com")
	keys := as.KeySet()

	verifier, err := validate.NewJWTVerifier("https://as.example.com", keys,
		validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}

	at := as.Token(poptest.TokenOptions{
		Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com", Scope: "read write",
	})
	tok, err := verifier.VerifyToken(context.Background(), at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", tok.Subject)
	fmt.Println("client:", tok.ClientID)
	fmt.Println("scopes:", tok.Scopes)
	fmt.Println("bound:", tok.Cnf.Bound())

	// A token for another resource server is rejected.
	other := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://other.example.com"})
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
	client := poptest.NewClient()
	as := poptest.NewStaticIssuer("https://as.example.com")
	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier("https://as.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	at := as.Token(poptest.TokenOptions{
		Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com", DPoP: client,
	})

	// The request: GET https://api.example.com/orders?id=7 with
	// "Authorization: DPoP <at>" and "DPoP: <proof>".
	proof := client.Proof("GET", "https://api.example.com/orders", at, poptest.ProofOptions{})
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

// A server that does not use package middleware checks a DPoP request in one
// call: the proof, the access token and the binding between the two. The
// caller then records the proof in a replay store, for the proof's window.
func ExampleProofVerifier_VerifyRequest() {
	as := poptest.NewStaticIssuer("https://as.example.com")
	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	proofs, err := validate.NewProofVerifier()
	if err != nil {
		log.Fatal(err)
	}
	seen, err := replay.NewMemory()
	if err != nil {
		log.Fatal(err)
	}

	// check plays the server: the request is POST https://api.example.com/orders
	// with "Authorization: DPoP <at>" and "DPoP: <proof>".
	check := func(at, proof string) {
		p, tok, err := proofs.VerifyRequest(context.Background(), tokens, proof, validate.ProofRequest{
			Method:      "POST",
			Target:      "https://api.example.com/orders",
			AccessToken: at,
		})
		if err != nil {
			pe := popguard.AsError(err) // send pe.Code and pe.Description in the challenge
			fmt.Println("rejected:", pe.Code, pe.Reason)
			return
		}
		if err := seen.InsertIfAbsent(context.Background(), p.ReplayKey(), proofs.Window()); err != nil {
			fmt.Println("rejected:", err) // replayed, or the store could not tell: fail closed
			return
		}
		fmt.Println("accepted:", tok.Subject, tok.ClientID)
	}

	client := poptest.NewClient()
	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "shop-app", Audience: "https://api.example.com", DPoP: client})
	proof := client.Proof("POST", "https://api.example.com/orders", at, poptest.ProofOptions{})
	check(at, proof)
	check(at, proof) // the same proof again

	// A thief with the token but another key signs a valid proof of its own.
	thief := poptest.NewClient()
	forged := thief.Proof("POST", "https://api.example.com/orders", at, poptest.ProofOptions{})
	check(at, forged)
	// Output:
	// accepted: alice shop-app
	// rejected: replay: proof already used
	// rejected: invalid_token token_key_binding
}

// Issuer keys from configuration (a PEM file, a secret store) instead of a
// JWKS URL. StaticKeys takes crypto public keys; NewStaticKeySet takes a JWKS
// document.
func ExampleStaticKeys() {
	// The issuer's signing key, generated here; a real server loads only its
	// public half.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := validate.StaticKeys(validate.PublicKey{KeyID: "2025-06", Algorithm: "ES256", Key: priv.Public()})
	if err != nil {
		log.Fatal(err)
	}
	verifier, err := validate.NewJWTVerifier("https://as.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}

	// The authorization server signs with the private key, under kid 2025-06.
	signer, err := dpopclient.NewKey(priv, "ES256")
	if err != nil {
		log.Fatal(err)
	}
	as := poptest.NewStaticIssuerWithKey("https://as.example.com", signer)
	kid := map[string]any{"kid": "2025-06"}
	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "s6BhdRkqt3", Audience: "https://api.example.com", Header: kid})
	tok, err := verifier.VerifyToken(context.Background(), at)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subject:", tok.Subject, "signed by:", tok.SigningKeyID)

	// A key the set does not hold, even under a known kid, is refused.
	rogue := poptest.NewStaticIssuer(as.URL)
	forged := rogue.Token(poptest.TokenOptions{Subject: "mallory", ClientID: "x", Audience: "https://api.example.com", Header: kid})
	_, err = verifier.VerifyToken(context.Background(), forged)
	fmt.Println("forged:", popguard.ReasonOf(err))
	fmt.Println("has 2025-06:", keys.Has("2025-06"), "has 2024-12:", keys.Has("2024-12"))
	// Output:
	// subject: alice signed by: 2025-06
	// forged: token_signature
	// has 2025-06: true has 2024-12: false
}
