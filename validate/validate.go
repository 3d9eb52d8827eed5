// Package validate checks access tokens, DPoP proofs (RFC 9449) and Microsoft
// PoP signed HTTP requests against a view of an HTTP request. It holds no HTTP
// server code: package middleware builds the view and turns errors into
// challenges.
//
// Every error returned is a *popguard.Error carrying the RFC error code, a
// stable reason and a description that is safe to send to a client.
//
// Checks run cheapest first: sizes and syntax, then header and claim checks,
// then the signature, so that garbage costs little.
package validate

import (
	"time"

	"github.com/popguard/popguard"
)

// Clock returns the current time. Tests and replays of recorded traffic set
// their own.
type Clock func() time.Time

func fail(code popguard.ErrorCode, reason popguard.Reason, desc string, cause error) error {
	return popguard.NewError(code, reason, desc, cause)
}

func proofErr(reason popguard.Reason, desc string, cause error) error {
	return fail(popguard.CodeInvalidDPoPProof, reason, desc, cause)
}

func tokenErr(reason popguard.Reason, desc string, cause error) error {
	return fail(popguard.CodeInvalidToken, reason, desc, cause)
}
