package echopop_test

// Module-specific setup on top of poptest: the Guard under test, the
// caller's token and a nonce source.

import (
	"fmt"

	"github.com/popguard/popguard/poptest"
)

const (
	testIssuer   = "https://issuer.example.test"
	testAudience = poptest.DefaultAudience
)

// accessToken mints alice's RFC 9068 at+jwt; client, when not nil, binds it
// to the client's key for DPoP.
func accessToken(iss *poptest.Issuer, client *poptest.Client) string {
	return iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app",
		Scope: "accounts:read transfers:write", DPoP: client})
}

// staleNonces accepts "old" but asks for rotation, so an accepted request
// carries a DPoP-Nonce response header.
type staleNonces struct{}

func (staleNonces) Issue() string { return "new" }
func (staleNonces) Check(n string) (bool, error) {
	if n == "old" {
		return false, nil
	}
	if n == "new" {
		return true, nil
	}
	return false, fmt.Errorf("unknown nonce")
}
