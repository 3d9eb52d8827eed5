// Package poptest is a test kit for APIs protected by popguard (or by any
// DPoP or Microsoft PoP resource server), in the spirit of net/http/httptest:
// an Issuer that mints RFC 9068 access tokens, DPoP-bound or not, and serves
// its key set, metadata and a token endpoint on loopback; and a Client that
// signs DPoP proofs and Microsoft PoP signed HTTP requests.
//
//	iss := poptest.NewIssuer()
//	defer iss.Close()
//	client := poptest.NewClient()
//	tok := iss.Token(poptest.TokenOptions{DPoP: client, Scope: "read"})
//	req := httptest.NewRequest("GET", "https://api.example.test/accounts/", nil)
//	client.DPoP(req, tok, poptest.ProofOptions{})
//
// TokenOptions and ProofOptions change any claim or header member, so tests
// of what a server must refuse take one line each. Nothing here belongs in
// production code: use package dpopclient there.
package poptest
