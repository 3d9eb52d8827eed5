package nonce_test

import (
	"errors"
	"fmt"
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

func Example() {
	// In production the secret comes from a secret store and is shared by the
	// fleet; the clock is fixed here only to make the output reproducible.
	secret := []byte("example secret, 32 bytes or more, random in production")
	now := time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)
	src, err := nonce.New(secret,
		nonce.Scope("https://api.example.com"),
		nonce.Clock(func() time.Time { return now }),
	)
	if err != nil {
		log.Fatal(err)
	}

	// Sent in the DPoP-Nonce header of a 401 use_dpop_nonce response.
	n := src.Issue()
	fmt.Println(n)

	// The client's next proof carries it in its "nonce" claim.
	fresh, err := src.Check(n)
	fmt.Println(fresh, err)

	// Two minutes later it is still accepted, but the server should send a new one.
	now = now.Add(2 * time.Minute)
	fresh, err = src.Check(n)
	fmt.Println(fresh, err)

	// After the window it is rejected; the client must retry with a new nonce.
	now = now.Add(time.Minute)
	if _, err := src.Check(n); errors.Is(err, nonce.ErrRejected) {
		fmt.Println(err, "- send", src.Issue() != n)
	}
	// Output:
	// AAAAAAG8vNDPEATthOwQWgGihow30G3v
	// true <nil>
	// false <nil>
	// nonce: expired - send true
}

// A Guard whose sensitive routes require server nonces (RFC 9449 §9): the
// first proof, made without a nonce, gets 401 use_dpop_nonce with a nonce in
// the DPoP-Nonce header, and the client signs a new proof with it.
func ExampleNew() {
	// Every instance of the fleet is given the same secret.
	src, err := nonce.New([]byte("example secret, 32 bytes or more, random in production"),
		nonce.Scope("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}

	as := poptest.NewStaticIssuer("https://as.example.com")
	keys := as.KeySet()
	tokens, err := validate.NewJWTVerifier(as.URL, keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example.com"),
		middleware.WithNonces(src), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	h := guard.Require(popguard.DPoPOnly, middleware.RequireNonce())(ok)

	// The client: a DPoP key and a token bound to it.
	client := poptest.NewClient()
	at := as.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Audience: "https://api.example.com", DPoP: client})
	call := func(serverNonce string) *httptest.ResponseRecorder {
		proof := client.Proof("POST", "https://api.example.com/payments", at, poptest.ProofOptions{Nonce: serverNonce})
		r := httptest.NewRequest("POST", "/payments", nil)
		r.Header.Set("Authorization", "DPoP "+at)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := call("")
	fmt.Println("without nonce:", w.Code, w.Header().Get("WWW-Authenticate"))
	n := w.Header().Get("DPoP-Nonce") // the client keeps it for its next proofs
	fmt.Println("DPoP-Nonce sent:", n != "")
	fmt.Println("with nonce:", call(n).Code)
	// Output:
	// without nonce: 401 DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof", algs="ES256 PS256 RS256 EdDSA"
	// DPoP-Nonce sent: true
	// with nonce: 200
}

// A nonce records its time step, so the server knows its age to one step.
// Lifetime is the longest a nonce is accepted after it was issued, across a
// fleet whose clocks differ by at most FleetSkew: how long a route that
// dates proofs by their nonce must remember them for replay detection.
func ExampleSource_Lifetime() {
	secret := []byte("example secret, 32 bytes or more, random in production")
	for _, opts := range [][]nonce.Option{
		nil, // 60 s steps, 2 steps back, clocks within one step
		{nonce.Step(10 * time.Second), nonce.Window(3), nonce.FleetSkew(2 * time.Second)},
	} {
		src, err := nonce.New(secret, opts...)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(src.Lifetime())
	}
	// Output:
	// 4m0s
	// 50s
}
