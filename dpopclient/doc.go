// Package dpopclient is the client side of DPoP (RFC 9449) and Microsoft
// PoP: it gets DPoP-bound access tokens and calls protected APIs with them.
//
// Start from a Key (GenerateKey, or LoadKey for a PEM or JWK file), a
// TokenSource (Config.ClientCredentials or Config.RefreshToken, which ask a
// token endpoint for DPoP-bound tokens and renew them before they expire;
// Discover finds the endpoint from an issuer) and a Transport, the
// http.RoundTripper that signs a fresh proof for every request:
//
//	key, err := dpopclient.GenerateKey("ES256")
//	if err != nil { ... }
//	md, err := dpopclient.Discover(ctx, nil, "https://login.example.com")
//	if err != nil { ... }
//	cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: "svc", ClientSecret: secret}
//	client := (&dpopclient.Transport{Key: key, Tokens: cfg.ClientCredentials(key)}).Client()
//	res, err := client.Get("https://api.example.com/accounts/")
//
// Server nonces are handled at both ends: a token endpoint's 400
// use_dpop_nonce and a resource server's 401 use_dpop_nonce each cause one
// retry with the nonce the server sent, and nonces are remembered per origin.
// With Transport.MicrosoftPoP the same Transport signs MSAL.NET-style PoP
// requests (Authorization: PoP) for APIs protected the Microsoft way.
//
// The private key never leaves the process: nothing here serializes it, and
// NewKey takes any crypto.Signer, so it may live in a hardware or KMS key.
// Token requests go to https URLs, or to http ones on loopback addresses
// only. For tests of servers, package poptest mints tokens and signs proofs
// without a token endpoint.
package dpopclient
