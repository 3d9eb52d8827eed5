package replay

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for [NewRedis].
const (
	// DefaultRedisPrefix is the default prefix of the Redis keys written by [Redis].
	DefaultRedisPrefix = "popguard:replay:"
	// DefaultRedisTimeout is the default bound on each Redis call.
	DefaultRedisTimeout = 200 * time.Millisecond
)

// Redis is a [Store] shared by a fleet of instances through Redis (or a
// compatible server such as Valkey).
//
// Each check is a single command, SET <prefix><key> 1 NX PX <ttl ms>, so it
// is atomic across all instances using the same server and prefix: exactly
// one of them sees the key as absent. Keys expire on the server; nothing has
// to be cleaned up.
//
// Every error, including a timeout, wraps [ErrUnavailable] and its cause, and
// callers must then reject the proof. If the client retries a SET whose reply
// was lost, the retry finds the key and reports [ErrReplayed]: that also
// fails closed.
//
// The caller owns the client: Redis never closes it. A Redis is safe for
// concurrent use.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	// direct is true when the client aborts socket I/O at the context
	// deadline (ContextTimeoutEnabled); otherwise calls are raced against
	// the deadline so that the timeout holds regardless of client settings.
	direct bool
}

// RedisOption configures [NewRedis].
type RedisOption func(*Redis)

// Prefix sets the prefix of the Redis keys (default [DefaultRedisPrefix]).
// Instances that must detect each other's replays need the same prefix;
// distinct resource servers sharing a Redis should use distinct prefixes.
func Prefix(p string) RedisOption {
	return func(r *Redis) { r.prefix = p }
}

// Timeout bounds each Redis call (default [DefaultRedisTimeout]), on top of
// any deadline of the caller's context. Non-positive values are ignored.
func Timeout(d time.Duration) RedisOption {
	return func(r *Redis) {
		if d > 0 {
			r.timeout = d
		}
	}
}

// NewRedis returns a store backed by client, which the caller owns and
// closes. It panics if client is nil.
//
// The Timeout option is enforced even when the client was created without
// ContextTimeoutEnabled (go-redis then ignores context deadlines on socket
// I/O): the call is abandoned at the deadline and finishes in the background
// within the client's own read/write timeouts. Setting ContextTimeoutEnabled
// on the client (as [ParseRedisURL] does) avoids that extra goroutine.
func NewRedis(client redis.UniversalClient, opts ...RedisOption) *Redis {
	if client == nil {
		panic("replay: NewRedis called with a nil client")
	}
	r := &Redis{
		client:  client,
		prefix:  DefaultRedisPrefix,
		timeout: DefaultRedisTimeout,
		direct:  honoursDeadlines(client),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(r)
		}
	}
	return r
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

// ParseRedisURL returns a client for a redis://, rediss:// or unix:// URL
// (see [redis.ParseURL] for the accepted query parameters). The client is
// created with ContextTimeoutEnabled, so that it honours the [Redis] timeout
// without a helper goroutine. The caller owns the client and must close it.
// Errors wrap [ErrInvalidConfig] and never contain the URL, which may hold a
// password.
func ParseRedisURL(rawURL string) (*redis.Client, error) {
	// Parse first: the *url.Error that redis.ParseURL would return repeats
	// the whole URL, password included.
	if _, err := url.Parse(rawURL); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%w: invalid Redis URL: %w", ErrInvalidConfig, err)
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w: invalid Redis URL: %w", ErrInvalidConfig, err)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// InsertIfAbsent implements [Store] with one SET NX PX command. The TTL is
// rounded up to whole milliseconds, and is at least one millisecond. Errors
// other than [ErrReplayed] wrap [ErrUnavailable] and the cause.
func (r *Redis) InsertIfAbsent(ctx context.Context, key string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := redis.NewStatusCmd(ctx, "set", r.prefix+key, "1", "px", ttlMillis(ttl), "nx")
	err := r.process(ctx, cmd)
	switch {
	case err == nil:
		if v := cmd.Val(); v != "OK" {
			return fmt.Errorf("%w: unexpected reply %q to SET NX", ErrUnavailable, v)
		}
		return nil
	case errors.Is(err, redis.Nil):
		return ErrReplayed
	default:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
}

// Ping checks that the server answers within the timeout. Errors wrap
// [ErrUnavailable] and the cause.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.process(ctx, redis.NewStatusCmd(ctx, "ping")); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close does nothing and returns nil: the caller owns the client and closes
// it. It is safe to call more than once.
func (r *Redis) Close() error { return nil }

// process runs cmd, returning no later than ctx's deadline.
func (r *Redis) process(ctx context.Context, cmd redis.Cmder) error {
	if r.direct {
		return r.client.Process(ctx, cmd)
	}
	done := make(chan error, 1)
	go func() { done <- r.client.Process(ctx, cmd) }()
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
