// Package popguard holds the vocabulary shared by the popguard packages: the
// credential schemes (Bearer, DPoP, PoP), the per-route modes, the result of a
// successful check and the typed errors with their RFC error codes.
//
// popguard protects OAuth 2.0 resource servers against stolen access tokens.
// The work is split into small packages:
//
//   - validate: pure validation of access tokens (RFC 9068 JWTs), DPoP proofs
//     (RFC 9449) and Microsoft PoP signed HTTP requests, against a request view.
//   - middleware: net/http glue: credential extraction, per-route modes,
//     RFC 6750 / RFC 9449 challenges, context accessors.
//   - nonce: stateless server nonces (RFC 9449 §8, §9) a fleet can share.
//   - replay: proof replay detection, in memory or in Redis.
//
// The root package does no I/O.
package popguard
