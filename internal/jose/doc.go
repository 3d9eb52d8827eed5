// Package jose is popguard's JOSE layer for what clients send: strict
// compact-JWS parsing, strict JSON (duplicate members rejected), public-JWK
// import, RFC 7638 thumbprints and signature verification with the standard
// library. It is internal so that it can change without touching the public
// API.
//
// # Which parser is used for what
//
// popguard parses JOSE objects in three places, on purpose. A fourth JWK
// parser is not wanted: a new need goes to one of these three.
//
// JWKS documents and issuer keys: github.com/lestrrat-go/jwx/v3, in package
// validate (NewStaticKeySet, NewRemoteKeySet). jwx fetches and refreshes the
// JWKS (jwk.Cache on httprc: cache headers, background refresh) and knows
// every key type and its parameters. A JWKS comes from an issuer the server is configured to trust
// and is read once per refresh, never on a request's path; validate only
// filters what jwx returns (use "sig", public keys only, the IssuerKeys
// bounds).
//
// What clients send: this package. It parses every compact JWS that arrives
// with a request (DPoP proofs, Microsoft PoP signed HTTP requests, JWT
// access tokens) and the public JWKs embedded in them (a proof's jwk header,
// the cnf.jwk of an SHR or of a token). These come from unauthenticated
// clients, on every request, and jwx is not used for them, for two reasons:
//
//   - Strictness. Duplicate member names are rejected in every object at any
//     depth (RFC 7515 §4, RFC 7519 §4: no parser differential between
//     first-wins and last-wins readers is possible; jwx, like encoding/json,
//     keeps the last). Private members (d, p, q, dp, dq, qi, oth, k) are
//     detected on the raw JSON, before any key object exists, so a parser
//     that drops members cannot hide them. base64url is exactly RFC 7515
//     §2's: unpadded, URL alphabet, canonical trailing bits, nothing ignored,
//     where jwx guesses among padded, unpadded, standard and URL encodings.
//     Nesting and member counts are bounded; crit and b64 are refused.
//   - Cost. A DPoP proof is parsed and verified in about 1.1 times its one
//     P-256 signature verification, which keeps a whole DPoP request within
//     the project's budget of 1.25 times. jwx's generic JWS and JWT parsing
//     is heavier: the DPoP middleware built on jwx in BENCHMARKS.md's peer
//     comparison spends about one more raw verification's worth of time and
//     some 700 more allocations per request beyond its two signature checks.
//
// Private keys: package internal/sign, for the tests, the demo and popctl.
// It generates keys, signs proofs, tokens and SHRs, and writes private JWKs.
// Reading a private JWK file (popctl's -key) is jwx's job again:
// sign.ParsePrivateJWK calls jwk.Parse and jwk.Export and adds only the
// checks jwx leaves to its caller (an EC public point must be d·G, an RSA
// key must pass rsa.PrivateKey.Validate).
//
// # A small DER encoder, no unsafe
//
// ECDSA signatures (RFC 7518 §3.4: fixed-size R||S, R and S checked to be in
// [1, n-1]) are re-encoded as DER for ecdsa.VerifyASN1 by a 20-line encoder.
// It is kept for allocations, not time: the standard-library alternatives
// (R and S as big.Ints for ecdsa.Verify, or cryptobyte) cost 1 µs more (1%
// of a proof verification) and 10 or 6 more allocations per verification,
// which would take a DPoP request through the middleware from 49 to 59
// allocations (BENCHMARKS.md, "The JOSE layer"; bench/rawsig_test.go).
//
// Strings become bytes by plain conversion. The compiler makes a conversion
// zero-copy where it can prove the bytes are only read (the base64url
// decoding of JWS segments and JWK coordinates). Where it cannot, as when
// hashing a signing input or an access token, SHA256String hashes the string
// through a stack buffer instead of copying it to the heap. The unsafe string
// view this package once had is gone.
//
// Parsing allocates little without unsafe: member names are compared as
// bytes of the input, well-known names and values (alg, typ, jti, ES256,
// dpop+jwt, GET, ...) are interned, and a JWS keeps its header and payload
// members in one array. A DPoP proof is parsed in two allocations, the JWS
// and its decode buffer.
package jose
