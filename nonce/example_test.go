package nonce_test

import (
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/popguard/popguard/nonce"
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
