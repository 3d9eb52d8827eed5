package otelpop_test

// Module-specific setup on top of poptest: the Guard under test and the
// caller's token.

import (
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
