// Package replay detects replayed proof-of-possession proofs.
//
// RFC 9449 §11.1 asks a resource server to remember the identity of every
// DPoP proof (its jti, or a hash of it) for as long as the proof could still
// be accepted, and to reject a second use. A [Store] does that bookkeeping:
//
//   - [Memory] is a bounded, sharded in-memory store for a single instance.
//   - [Redis] is a shared store for a fleet of instances: one SET NX PX round
//     trip per check, so two instances never both accept the same proof.
//
// Both fail closed: when a check cannot be made (store full, Redis down or
// slow), InsertIfAbsent returns an error and the caller must reject the proof.
package replay

import (
	"context"
	"errors"
	"time"
)

// Store records proof identities for the time they could be accepted.
//
// Implementations in this package are safe for concurrent use.
type Store interface {
	// InsertIfAbsent atomically records key for ttl. It returns nil when the key was absent and is
	// now recorded, ErrReplayed when it is already recorded and not expired, and another error
	// (wrapping ErrFull or ErrUnavailable) when the check could not be done. Callers fail closed.
	InsertIfAbsent(ctx context.Context, key string, ttl time.Duration) error
}

var (
	// ErrReplayed reports that the key is already recorded and has not expired:
	// the proof was used before and must be rejected.
	ErrReplayed = errors.New("replay: proof already used")

	// ErrFull reports that a [Memory] store cannot record a new key because
	// every slot holds an entry that is still inside its TTL. Entries are never
	// evicted early, so the store fails closed instead.
	ErrFull = errors.New("replay: store is full")

	// ErrUnavailable reports that a remote store could not be consulted
	// (connection error, timeout, unexpected reply). Errors returned by
	// [Redis] wrap both ErrUnavailable and the underlying cause.
	ErrUnavailable = errors.New("replay: store unavailable")

	// ErrInvalidConfig reports an invalid option passed to a constructor.
	ErrInvalidConfig = errors.New("replay: invalid configuration")
)

// minTTL is the shortest time a key is recorded for. Shorter (including zero
// and negative) TTLs are raised to it, matching the 1ms resolution of Redis.
const minTTL = time.Millisecond

// Compile-time interface checks.
var (
	_ Store = (*Memory)(nil)
	_ Store = (*Redis)(nil)
)
