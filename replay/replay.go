// Package replay detects replayed DPoP proofs and PoP signed requests: start
// from [NewMemory], a bounded in-memory [Store] for one instance (what the
// middleware uses unless given another store with middleware.WithReplay),
// or use package redisstore for a fleet.
//
// RFC 9449 §11.1 asks a resource server to remember the identity of every
// DPoP proof (its jti, or a hash of it) for as long as the proof could still
// be accepted, and to reject a second use. A [Store] does that bookkeeping:
//
//   - [Memory] is a bounded, sharded in-memory store for a single instance.
//   - Package [github.com/popguard/popguard/replay/redisstore] is a shared
//     store for a fleet of instances: one SET NX PX round trip per check, so
//     two instances never both accept the same proof. It is a package of its
//     own so that only programs that use Redis link the Redis client.
//
// Both fail closed: when a check cannot be made (store full, Redis down or
// slow), InsertIfAbsent returns an error and the caller must reject the proof.
// Both report errors with the sentinels defined here ([ErrReplayed],
// [ErrFull], [ErrUnavailable], [ErrQuota]): match them with [errors.Is],
// whichever store is used.
//
// Because a bounded store fails closed, one client sending many unique proofs
// could fill it and lock every other client out. [Memory] therefore also
// implements [OwnedStore]: with the [OwnerQuota] option it caps how many live
// entries one owner (the proof key's thumbprint) may hold.
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

// OwnedStore is a [Store] that can also account entries to an owner and cap
// how many live entries one owner holds, so that a single client cannot fill
// a bounded store and make every other client's proofs fail closed.
//
// The owner is the thumbprint (jkt) of the proof key. Callers should insert
// only after the access token, the proof signature and the binding between
// the two have been verified, so that every owner is a key bound to a valid
// access token and a client cannot mint owners for free.
//
// [Memory] implements OwnedStore. The Redis store
// ([github.com/popguard/popguard/replay/redisstore.Store]) does not: a
// shared Redis is sized with its own maxmemory setting rather than a fixed
// entry count, and per-owner accounting would cost another round trip per
// proof.
type OwnedStore interface {
	Store
	// InsertOwned is InsertIfAbsent with key accounted to owner. Checks run in
	// this order: a key that is already recorded and not expired returns
	// ErrReplayed (whoever owns it, and even when owner is at its quota); then,
	// when owner already holds its quota of live entries, it returns an error
	// wrapping ErrQuota without recording key or counting it; then the other
	// failures of InsertIfAbsent apply.
	InsertOwned(ctx context.Context, owner, key string, ttl time.Duration) error
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
	// (connection error, timeout, unexpected reply). Errors returned by the
	// Redis store ([github.com/popguard/popguard/replay/redisstore.Store])
	// wrap both ErrUnavailable and the underlying cause.
	ErrUnavailable = errors.New("replay: store unavailable")

	// ErrQuota reports that the owner of a key already holds its maximum
	// number of live entries (see [OwnerQuota]); the key was not recorded.
	// Errors returned by [OwnedStore.InsertOwned] wrap it. Like the other
	// errors, it means the proof must be rejected; unlike [ErrFull], it
	// affects only that owner.
	ErrQuota = errors.New("replay: owner quota exceeded")

	// ErrInvalidConfig reports an invalid option passed to a constructor.
	ErrInvalidConfig = errors.New("replay: invalid configuration")
)

// minTTL is the shortest time a key is recorded for. Shorter (including zero
// and negative) TTLs are raised to it, matching the 1ms resolution of Redis
// (and the minimum of package redisstore).
const minTTL = time.Millisecond

// Compile-time interface checks.
var (
	_ Store      = (*Memory)(nil)
	_ OwnedStore = (*Memory)(nil)
)
