// Package redisstore is the Redis replay store, for a fleet of instances that
// must detect each other's replayed proofs: start from [New], which returns a
// [Store] implementing [replay.Store], to pass to middleware.WithReplay on
// every instance; [ParseURL] makes the client from a redis:// URL.
//
// Each check is a single command, SET <prefix><key> 1 NX PX <ttl ms>, atomic
// across every instance using the same server (Redis, or a compatible one
// such as Valkey) and prefix. When a check cannot be made (Redis down or
// slow), InsertIfAbsent returns an error and the caller must reject the
// proof.
//
// The store is a package of its own so that only programs that use Redis
// link the go-redis client. Its errors are those of package replay
// ([replay.ErrReplayed], or errors wrapping [replay.ErrUnavailable] or
// [replay.ErrInvalidConfig]), so callers match them the same way whichever
// store they use.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/popguard/popguard/replay"
)

// Defaults for [New].
const (
	// DefaultPrefix is the default prefix of the Redis keys written by a [Store].
	DefaultPrefix = "popguard:replay:"
	// DefaultTimeout is the default bound on each Redis call.
	DefaultTimeout = 200 * time.Millisecond
)

// minTTL is the shortest time a key is recorded for: the 1ms resolution of
// Redis, which is also the minimum of the replay package's memory store.
const minTTL = time.Millisecond

// Store is a [replay.Store] shared by a fleet of instances through Redis (or
// a compatible server such as Valkey).
//
// Each check is a single command, SET <prefix><key> 1 NX PX <ttl ms>, so it
// is atomic across all instances using the same server and prefix: exactly
// one of them sees the key as absent. Keys expire on the server; nothing has
// to be cleaned up.
//
// Every error, including a timeout, wraps [replay.ErrUnavailable] and its
// cause, and callers must then reject the proof. If the client retries a SET
// whose reply was lost, the retry finds the key and reports
// [replay.ErrReplayed]: that also fails closed.
//
// Store does not implement [replay.OwnedStore]: a shared Redis is sized with
// its own maxmemory setting rather than a fixed entry count, and per-owner
// accounting would cost another round trip per proof.
//
// The caller owns the client: a Store never closes it. A Store is safe for
// concurrent use.
type Store struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	// direct is true when the client aborts socket I/O at the context
	// deadline (ContextTimeoutEnabled); otherwise calls are raced against
	// the deadline so that the timeout holds regardless of client settings.
	direct bool
}

// Compile-time interface check.
var _ replay.Store = (*Store)(nil)

// Option configures [New].
type Option func(*Store)

// Prefix sets the prefix of the Redis keys (default [DefaultPrefix]).
// Instances that must detect each other's replays need the same prefix;
// distinct resource servers sharing a Redis should use distinct prefixes.
func Prefix(p string) Option {
	return func(s *Store) { s.prefix = p }
}

// Timeout bounds each Redis call (default [DefaultTimeout]), on top of any
// deadline of the caller's context. Non-positive values are ignored.
func Timeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// New returns a store backed by client, which the caller owns and closes.
// It panics if client is nil.
//
// The [Timeout] option is enforced even when the client was created without
// ContextTimeoutEnabled (go-redis then ignores context deadlines on socket
// I/O): the call is abandoned at the deadline and finishes in the background
// within the client's own read/write timeouts. Setting ContextTimeoutEnabled
// on the client (as [ParseURL] does) avoids that extra goroutine.
func New(client redis.UniversalClient, opts ...Option) *Store {
	if client == nil {
		panic("redisstore: New called with a nil client")
	}
	s := &Store{
		client:  client,
		prefix:  DefaultPrefix,
		timeout: DefaultTimeout,
		direct:  honoursDeadlines(client),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(s)
		}
	}
	return s
}

// honoursDeadlines reports whether client aborts network I/O when the
// context's deadline passes.
func honoursDeadlines(client redis.UniversalClient) bool {
	switch c := client.(type) {
	case *redis.Client:
		return c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return c.Options().ContextTimeoutEnabled
	}
	return false
}

// ParseURL returns a client for a redis://, rediss:// or unix:// URL (see
// [redis.ParseURL] for the accepted query parameters). The client is created
// with ContextTimeoutEnabled, so that it honours the [Store] timeout without
// a helper goroutine. The caller owns the client and must close it. Errors
// wrap [replay.ErrInvalidConfig] and never contain the URL, which may hold a
// password.
func ParseURL(rawURL string) (*redis.Client, error) {
	// Parse first: the *url.Error that redis.ParseURL would return repeats
	// the whole URL, password included.
	if _, err := url.Parse(rawURL); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: invalid Redis URL: %w", replay.ErrInvalidConfig, err)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid Redis URL: %w", replay.ErrInvalidConfig, err)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// InsertIfAbsent implements [replay.Store] with one SET NX PX command. The
// TTL is rounded up to whole milliseconds, and is at least one millisecond.
// Errors other than [replay.ErrReplayed] wrap [replay.ErrUnavailable] and the
// cause.
func (s *Store) InsertIfAbsent(ctx context.Context, key string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := redis.NewStatusCmd(ctx, "set", s.prefix+key, "1", "px", ttlMillis(ttl), "nx")
	err := s.process(ctx, cmd)
	switch {
	case err == nil:
		if v := cmd.Val(); v != "OK" {
			return fmt.Errorf("%w: unexpected reply %q to SET NX", replay.ErrUnavailable, v)
		}
		return nil
	case errors.Is(err, redis.Nil):
		return replay.ErrReplayed
	default:
		return fmt.Errorf("%w: %w", replay.ErrUnavailable, err)
	}
}

// Ping checks that the server answers within the timeout. Errors wrap
// [replay.ErrUnavailable] and the cause.
func (s *Store) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := s.process(ctx, redis.NewStatusCmd(ctx, "ping")); err != nil {
		return fmt.Errorf("%w: %w", replay.ErrUnavailable, err)
	}
	return nil
}

// Close does nothing and returns nil: the caller owns the client and closes
// it. It is safe to call more than once.
func (s *Store) Close() error { return nil }

// process runs cmd, returning no later than ctx's deadline.
func (s *Store) process(ctx context.Context, cmd redis.Cmder) error {
	if s.direct {
		return s.client.Process(ctx, cmd)
	}
	done := make(chan error, 1)
	go func() { done <- s.client.Process(ctx, cmd) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// cmd is abandoned to the goroutine and never read here.
		return ctx.Err()
	}
}

// ttlMillis converts ttl to whole milliseconds, rounding up, minimum 1.
func ttlMillis(ttl time.Duration) int64 {
	if ttl <= minTTL {
		return 1
	}
	ms := int64(ttl / time.Millisecond)
	if ttl%time.Millisecond != 0 {
		ms++
	}
	return ms
}
