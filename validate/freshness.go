package validate

import (
	"errors"

	"github.com/popguard/popguard"
)

// Freshness says how a verifier judges that a DPoP proof or a PoP signed
// request is recent: RFC 9449 §4.3 check 11 lets the creation time come
// "either [from] the iat claim or a server managed timestamp via the nonce
// claim". Set it per request in ProofRequest.Freshness or
// SHRRequest.Freshness (the middleware sets it per route).
type Freshness uint8

const (
	// FreshnessIAT, the default, trusts the client's clock: the proof's iat
	// (an SHR's ts) must lie within [now-MaxAge, now+FutureSkew] of this
	// server's clock (by default 60 s back and 10 s ahead for DPoP, 5
	// minutes back and 30 s ahead for an SHR). A client whose clock is off
	// by more than that is refused, whatever it sends.
	FreshnessIAT Freshness = iota
	// FreshnessNonce uses only the servers' clocks: the proof is as old as
	// the server nonce it carries, and it is accepted as long as the nonce
	// source accepts that nonce (for a nonce.Source: from the nonce's time
	// step and Window steps back, so between Window and Window+1 steps after
	// it was issued). iat (ts) must still be present and a valid NumericDate
	// (a JSON number from 0 to 1e11; an integer for ts) but may be
	// anywhere: a client whose clock is minutes or years off succeeds. The
	// request needs Nonces.
	FreshnessNonce
	// FreshnessBoth requires both: the iat window and an accepted nonce.
	FreshnessBoth
)

// byIAT reports whether the proof's own time is checked against the
// server's clock.
func (f Freshness) byIAT() bool { return f != FreshnessNonce }

// check refuses a freshness the request cannot honour: a server's
// configuration mistake, never the client's.
func (f Freshness) check(nonces Nonces) error {
	switch {
	case f > FreshnessBoth:
		return popguard.AsError(errors.New("validate: unknown Freshness"))
	case f != FreshnessIAT && nonces == nil:
		return popguard.AsError(errors.New("validate: freshness by nonce without Nonces"))
	}
	return nil
}
