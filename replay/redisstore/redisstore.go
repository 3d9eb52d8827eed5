// Package redisstore is the Redis replay store, for a fleet of instances that
// must detect each other's replayed proofs: start from [New], which returns a
// [Store] implementing [replay.Store], to pass to middleware.WithReplay on
// every instance.
//
// Each check is a single command, SET <prefix><key> 1 NX PX <ttl ms>, atomic
// across every instance using the same server (Redis, or a compatible one
// such as Valkey) and prefix. When a check cannot be made (Redis down or
// slow), InsertIfAbsent returns an error and the caller must reject the
// proof.
//
// # Clients and topologies
//
// [New] takes any [redis.UniversalClient]: this package is the Redis package,
// so it names the go-redis client type on purpose, and a program that builds
// its client itself (TLS, credentials providers, hooks, a Redis Cluster, a
// Sentinel-managed failover) passes that client in. Four helpers build one
// from a URL in the forms go-redis documents, with ContextTimeoutEnabled set:
//
//   - [ParseURL]: one server, redis://, rediss:// or unix:// ([redis.ParseURL]).
//   - [ParseClusterURL]: a Redis Cluster, redis://h1:p1?addr=h2:p2&addr=h3:p3
//     (the host and each addr are seed nodes; [redis.ParseClusterURL]).
//   - [ParseFailoverURL]: a master behind Sentinel,
//     redis://s1:26379/0?master_name=mymaster&addr=s2:26379 (the host and each
//     addr are Sentinels; [redis.ParseFailoverURL]).
//   - [ParseUniversalURL]: one of the three, told apart by the rule of
//     [redis.NewUniversalClient]: a master_name parameter means Sentinel, an
//     addr parameter (two or more addresses) means Cluster, anything else one
//     server. For command-line flags and configuration files.
//
// On a Redis Cluster each key hashes to one slot, and so to one shard: SET NX
// PX stays a single atomic command on the master of that shard, and the keys
// of a fleet spread over every shard. No hash tag is used on purpose.
//
// # Faults, per topology
//
// Every error, a timeout included, fails closed: InsertIfAbsent returns an
// error wrapping [replay.ErrUnavailable] and the middleware answers 503 with
// Retry-After (unless the Guard was built with WithReplayFailOpen). Each call
// is bounded by [Timeout], redirects and retries included.
//
//   - One server down or slow: every check fails closed until it answers.
//   - Cluster, a shard down: checks whose keys hash to that shard's slots fail
//     closed; the others go on. With the server default
//     cluster-require-full-coverage yes, the whole cluster answers CLUSTERDOWN
//     once it marks the slots uncovered, and every check fails closed, until a
//     replica is promoted (after cluster-node-timeout) or the shard returns.
//   - Cluster, MOVED and ASK: the cluster client follows both (up to
//     max_redirects, default 3) and reloads its slot map on MOVED, all within
//     the same timeout. A redirect means the command did not run where it was
//     refused, so a redirected SET NX runs once; a client that does not speak
//     the cluster protocol (ParseURL on a cluster node) gets the redirect as an
//     error and fails closed.
//   - Sentinel, a failover in progress: writes to the old master fail
//     (connection refused, or READONLY once it is demoted) and fail closed
//     until the Sentinels name the new master and the client reconnects to it.
//   - Cluster and Sentinel, after a failover: Redis replicates asynchronously,
//     so the keys written to the old master in the last moments before it
//     failed may be missing on the new one, and a proof accepted there could be
//     accepted once more within its acceptance window. Narrow that window with
//     the server's min-replicas-to-write and min-replicas-max-lag, or require
//     server nonces (middleware.RequireNonce) on routes where a single replay
//     matters.
//   - A lost reply: if the client retries a SET whose reply was lost, the
//     retry finds the key and reports [replay.ErrReplayed], which also fails
//     closed.
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

// New returns a store backed by client, which the caller owns and closes:
// a *redis.Client for one server or a Sentinel-managed master
// ([redis.NewFailoverClient]), a *redis.ClusterClient for a Redis Cluster, or
// any other [redis.UniversalClient] the program built itself (see the package
// documentation for the URL helpers and the faults of each topology). It
// panics if client is nil.
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

// ParseURL returns a client for one server from a redis://, rediss:// or
// unix:// URL (see [redis.ParseURL] for the accepted query parameters). The
// client is created with ContextTimeoutEnabled, so that it honours the
// [Store] timeout without a helper goroutine. The caller owns the client and
// must close it. Errors wrap [replay.ErrInvalidConfig] and never contain the
// URL, which may hold a password.
func ParseURL(rawURL string) (*redis.Client, error) {
	if err := preParse(rawURL); err != nil {
		return nil, err
	}
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, invalidURL(err)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClient(opt), nil
}

// ParseClusterURL returns a Redis Cluster client from a URL in the form of
// [redis.ParseClusterURL]: redis://[user:password@]host:port, or rediss://,
// with one addr query parameter per further seed node, for example
// redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000. The seed
// nodes only bootstrap the slot map; the client discovers the rest of the
// cluster. Like [ParseURL], it sets ContextTimeoutEnabled, the caller owns
// and closes the client, and errors wrap [replay.ErrInvalidConfig] without
// the URL.
func ParseClusterURL(rawURL string) (*redis.ClusterClient, error) {
	if err := preParse(rawURL); err != nil {
		return nil, err
	}
	opt, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, invalidURL(err)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewClusterClient(opt), nil
}

// ParseFailoverURL returns a client for the master that Redis Sentinel
// manages, from a URL in the form of [redis.ParseFailoverURL]:
// redis://[user:password@]sentinel:port[/db]?master_name=NAME, or rediss://,
// with one addr query parameter per further Sentinel; the userinfo
// authenticates to the Sentinels, and the username and password query
// parameters to the master. master_name is required. The replica-routing
// parameters (replica_only, route_by_latency, route_randomly) are refused:
// every check is a write, which only the master takes. Like [ParseURL], it
// sets ContextTimeoutEnabled, the caller owns and closes the client, and
// errors wrap [replay.ErrInvalidConfig] without the URL.
func ParseFailoverURL(rawURL string) (*redis.Client, error) {
	if err := preParse(rawURL); err != nil {
		return nil, err
	}
	opt, err := redis.ParseFailoverURL(rawURL)
	if err != nil {
		return nil, invalidURL(err)
	}
	switch {
	case opt.MasterName == "":
		return nil, fmt.Errorf("%w: a Sentinel URL needs the master_name query parameter", replay.ErrInvalidConfig)
	case opt.ReplicaOnly, opt.RouteByLatency, opt.RouteRandomly:
		return nil, fmt.Errorf("%w: replica_only, route_by_latency and route_randomly do not apply to the replay store, which only writes", replay.ErrInvalidConfig)
	}
	opt.ContextTimeoutEnabled = true
	return redis.NewFailoverClient(opt), nil
}

// ParseUniversalURL returns the client a URL names, telling the forms apart
// by the rule of [redis.NewUniversalClient]:
//
//   - a master_name query parameter: a master behind Sentinel ([ParseFailoverURL]);
//   - otherwise, an addr query parameter (so two or more addresses): a Redis
//     Cluster ([ParseClusterURL]);
//   - otherwise: one server ([ParseURL]), including unix:// URLs.
//
// A cluster named by a single seed node needs [ParseClusterURL] (or the
// seed's address repeated in addr). The caller owns and closes the client;
// errors wrap [replay.ErrInvalidConfig] without the URL.
func ParseUniversalURL(rawURL string) (redis.UniversalClient, error) {
	if err := preParse(rawURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL) // checked by preParse
	q := u.Query()
	switch {
	case u.Scheme != "unix" && q.Has("master_name"):
		return ParseFailoverURL(rawURL)
	case u.Scheme != "unix" && q.Has("addr"):
		return ParseClusterURL(rawURL)
	}
	return ParseURL(rawURL)
}

// preParse checks that rawURL parses: the *url.Error that the go-redis
// parsers would return repeats the whole URL, password included.
func preParse(rawURL string) error {
	if _, err := url.Parse(rawURL); err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return invalidURL(err)
	}
	return nil
}

func invalidURL(err error) error {
	return fmt.Errorf("%w: invalid Redis URL: %w", replay.ErrInvalidConfig, err)
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
