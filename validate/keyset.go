package validate

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/httprc/v3"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
)

// PublicKey is an issuer signing key.
type PublicKey struct {
	// KeyID is the JWK kid; may be empty.
	KeyID string
	// Algorithm is the JWK alg, if the key set pins one; may be empty.
	Algorithm string
	// Key is *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey.
	Key crypto.PublicKey
	// Issuer is the issuer the key set publishes the key for, if any (the
	// "issuer" member of Entra ID's JWKS keys, which may hold {tenantid}).
	// A token signed with the key must agree with it.
	Issuer string
}

// KeySet supplies an issuer's signing keys, like go-oidc's KeySet: a small
// interface so keys can come from a JWKS URL, a file, or a secret store.
type KeySet interface {
	// Keys returns the keys that may have signed a token with the given kid
	// (every key when kid is empty). An empty result means the key is
	// unknown. ctx bounds any I/O.
	Keys(ctx context.Context, kid string) ([]PublicKey, error)
}

// ErrUnknownKey is returned (wrapped) when no key matches a token's kid.
var ErrUnknownKey = errors.New("validate: no issuer key matches the token's kid")

// keySnapshot is an immutable index of a key set.
type keySnapshot struct {
	byKID map[string][]PublicKey
	all   []PublicKey
}

func (s *keySnapshot) keys(kid string) []PublicKey {
	if kid == "" {
		return s.all
	}
	return s.byKID[kid]
}

func snapshotOf(set jwk.Set) (*keySnapshot, error) {
	s := &keySnapshot{byKID: map[string][]PublicKey{}}
	for i := 0; i < set.Len(); i++ {
		k, _ := set.Key(i)
		if u, ok := k.KeyUsage(); ok && u != "" && u != "sig" {
			continue
		}
		var raw any
		if err := jwk.Export(k, &raw); err != nil {
			continue // unsupported key types are skipped, not fatal
		}
		pub, err := jwk.PublicRawKeyOf(raw)
		if err != nil {
			continue
		}
		if _, err := jose.FromCrypto(pub); err != nil {
			continue // symmetric or unsupported: never used to verify
		}
		if jose.IssuerKeys.Check(pub) != nil {
			continue // RSA outside 2048..8192 bits or a bad exponent: never used
		}
		pk := PublicKey{Key: pub}
		pk.KeyID, _ = k.KeyID()
		if a, ok := k.Algorithm(); ok {
			pk.Algorithm = a.String()
		}
		if k.Has("issuer") {
			if err := k.Get("issuer", &pk.Issuer); err != nil || pk.Issuer == "" {
				continue // an issuer member that is not a string: never used
			}
		}
		s.all = append(s.all, pk)
		if pk.KeyID != "" {
			s.byKID[pk.KeyID] = append(s.byKID[pk.KeyID], pk)
		}
	}
	if len(s.all) == 0 {
		return nil, errors.New("validate: the key set holds no usable public signing key")
	}
	return s, nil
}

// StaticKeySet is a fixed key set, for keys that come from configuration
// rather than a JWKS URL: NewStaticKeySet reads a JWKS document, StaticKeys
// takes public keys. Its keys never change: to rotate keys without a
// restart, use a RemoteKeySet or a KeySet of your own.
type StaticKeySet struct{ snap *keySnapshot }

// NewStaticKeySet parses a JWKS document (RFC 7517 §5) or a single JWK.
func NewStaticKeySet(jwks []byte) (*StaticKeySet, error) {
	set, err := jwk.Parse(jwks)
	if err != nil {
		return nil, fmt.Errorf("validate: parse key set: %w", err)
	}
	snap, err := snapshotOf(set)
	if err != nil {
		return nil, err
	}
	return &StaticKeySet{snap: snap}, nil
}

// StaticKeys returns a key set holding keys.
func StaticKeys(keys ...PublicKey) (*StaticKeySet, error) {
	s := &keySnapshot{byKID: map[string][]PublicKey{}}
	for _, k := range keys {
		if _, err := jose.FromCrypto(k.Key); err != nil {
			return nil, fmt.Errorf("validate: key %q: %w", k.KeyID, err)
		}
		if err := jose.IssuerKeys.Check(k.Key); err != nil {
			return nil, fmt.Errorf("validate: key %q: %w", k.KeyID, err)
		}
		s.all = append(s.all, k)
		if k.KeyID != "" {
			s.byKID[k.KeyID] = append(s.byKID[k.KeyID], k)
		}
	}
	if len(s.all) == 0 {
		return nil, errors.New("validate: StaticKeys needs at least one key")
	}
	return &StaticKeySet{snap: s}, nil
}

// Has reports whether a key with kid is in the set.
func (s *StaticKeySet) Has(kid string) bool { return len(s.snap.byKID[kid]) > 0 }

// Keys implements KeySet.
func (s *StaticKeySet) Keys(_ context.Context, kid string) ([]PublicKey, error) {
	return s.snap.keys(kid), nil
}

// RemoteKeySet fetches a JWKS URL in the background and keeps it fresh: it
// refreshes on the server's cache headers within [MinRefresh, MaxRefresh],
// and when a token names an unknown kid (a rotated key) it refreshes at once,
// at most once per MinRefresh, so a storm of unknown kids cannot hammer the
// issuer. While the issuer is down, the last good keys keep serving. The
// background refresh runs from NewRemoteKeySet until Close.
type RemoteKeySet struct {
	url      string
	cache    *jwk.Cache
	res      *httprc.ResourceBase[jwk.Set]
	minGap   time.Duration
	log      *slog.Logger
	snap     atomic.Pointer[remoteSnap]
	mu       sync.Mutex // serializes forced refreshes
	lastPull atomic.Int64
	life     context.Context // the refresher's; ends at Close, never with the construction context
	stop     context.CancelFunc
	closed   sync.Once
}

type remoteSnap struct {
	set  jwk.Set
	snap *keySnapshot
}

type remoteConfig struct {
	min, max   time.Duration
	client     jwk.HTTPClient
	httpc      *http.Client // the same client, for Discover
	log        *slog.Logger
	wait       bool
	startup    time.Duration
	startupSet bool
}

// defaultStartupTimeout bounds construction when ctx has no deadline and no
// KeySetStartupTimeout is given.
const defaultStartupTimeout = 30 * time.Second

// closeTimeout bounds how long Close waits for the refresher's goroutines.
const closeTimeout = 5 * time.Second

// NewRemoteKeySet starts fetching jwksURL and, unless WaitForKeys(false),
// waits for the first fetch to succeed.
//
// ctx bounds construction only. The wait ends when ctx ends or the startup
// timeout passes: the one set with KeySetStartupTimeout, else 30 seconds when ctx
// has no deadline. If the first fetch fails, or has not succeeded by then,
// NewRemoteKeySet stops everything it started and returns an error that
// names the URL and wraps the cause (the fetch error, or
// context.DeadlineExceeded or context.Canceled).
//
// The background refresh, including the forced refresh on an unknown kid,
// then runs until Close, independently of ctx: it keeps ctx's values but not
// its deadline or cancellation, so a construction context that times out or
// is cancelled after NewRemoteKeySet returns does not stop it. Call Close
// to stop it.
func NewRemoteKeySet(ctx context.Context, jwksURL string, opts ...Option) (*RemoteKeySet, error) {
	cfg := remoteConfig{min: time.Minute, max: time.Hour, wait: true, log: slog.Default()}
	if err := applyRemote(opts, &cfg); err != nil {
		return nil, err
	}

	// The startup bound: ctx, cut short by the startup timeout.
	startCtx, cancelStart := ctx, context.CancelFunc(func() {})
	if cfg.startupSet {
		startCtx, cancelStart = context.WithTimeout(ctx, cfg.startup)
	} else if _, ok := ctx.Deadline(); !ok {
		startCtx, cancelStart = context.WithTimeout(ctx, defaultStartupTimeout)
	}
	defer cancelStart()
	bound := time.Duration(-1)
	if dl, ok := startCtx.Deadline(); ok {
		bound = time.Until(dl).Round(time.Millisecond)
	}
	// A failed fetch during the wait ends it at once, with the fetch error
	// as the cause; after construction, failFirst is a no-op.
	waitCtx, failFirst := context.WithCancelCause(startCtx)
	defer failFirst(nil)

	// The refresher's lifetime: until Close, detached from ctx.
	life, stop := context.WithCancel(context.WithoutCancel(ctx))
	sink := errSink{log: cfg.log, url: jwksURL, fail: failFirst}
	cache, err := jwk.NewCache(life, httprc.NewClient(httprc.WithErrorSink(sink)))
	if err != nil {
		stop()
		return nil, fmt.Errorf("validate: start key set cache: %w", err)
	}
	ks := &RemoteKeySet{url: jwksURL, cache: cache, minGap: cfg.min, log: cfg.log, life: life, stop: stop}

	// The cache's own wait (WithWaitReady) would only end with waitCtx and
	// hide the fetch error: wait here instead.
	ropts := []jwk.RegisterOption{jwk.WithMinInterval(cfg.min), jwk.WithMaxInterval(cfg.max), jwk.WithWaitReady(false)}
	if cfg.client != nil {
		ropts = append(ropts, jwk.WithHTTPClient(cfg.client))
	}
	if err := cache.Register(startCtx, jwksURL, ropts...); err != nil {
		_ = ks.Close()
		return nil, fmt.Errorf("validate: register key set %s: %w", jwksURL, err)
	}
	if ks.res, err = cache.LookupResource(startCtx, jwksURL); err != nil {
		_ = ks.Close()
		return nil, fmt.Errorf("validate: register key set %s: %w", jwksURL, err)
	}
	if cfg.wait {
		if err := ks.res.Ready(waitCtx); err != nil && ks.res.Resource() == nil {
			_ = ks.Close()
			cause := context.Cause(waitCtx)
			if errors.Is(cause, context.DeadlineExceeded) && bound >= 0 {
				return nil, fmt.Errorf("validate: could not fetch the key set %s within the startup timeout (%v): %w", jwksURL, bound, cause)
			}
			return nil, fmt.Errorf("validate: could not fetch the key set %s: %w", jwksURL, cause)
		}
	}
	ks.lastPull.Store(time.Now().UnixNano())
	return ks, nil
}

type errSink struct {
	log  *slog.Logger
	url  string
	fail context.CancelCauseFunc // ends NewRemoteKeySet's wait
}

func (s errSink) Put(ctx context.Context, err error) {
	s.fail(err)
	s.log.WarnContext(ctx, "popguard: key set refresh failed", "jwks", s.url, "error", err)
}

func (k *RemoteKeySet) current() (*keySnapshot, error) {
	set := k.res.Resource()
	if set == nil {
		return nil, errors.New("validate: key set not fetched yet")
	}
	if prev := k.snap.Load(); prev != nil && prev.set == set {
		return prev.snap, nil
	}
	// A well-formed set is authoritative even when it holds no usable key
	// (an issuer may withdraw every key): tokens are then refused. Fetch
	// failures (errors, garbage) never get here: the last good set stays.
	snap, err := snapshotOf(set)
	if err != nil {
		return nil, err
	}
	k.snap.Store(&remoteSnap{set: set, snap: snap})
	return snap, nil
}

// Keys implements KeySet.
func (k *RemoteKeySet) Keys(ctx context.Context, kid string) ([]PublicKey, error) {
	snap, err := k.current()
	if err == nil {
		if keys := snap.keys(kid); len(keys) > 0 {
			return keys, nil
		}
	}
	// Unknown kid (or nothing fetched yet): refresh, rate-limited.
	if !k.refresh(ctx) {
		if err != nil {
			return nil, popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable, "The issuer keys are not available", err)
		}
		return nil, nil
	}
	snap, err = k.current()
	if err != nil {
		return nil, popguard.NewError(popguard.CodeTemporarilyUnavailable, popguard.ReasonTokenKeySetUnavailable, "The issuer keys are not available", err)
	}
	return snap.keys(kid), nil
}

// refresh fetches the set now unless one was fetched within minGap. It
// reports whether a fetch happened (successfully).
func (k *RemoteKeySet) refresh(ctx context.Context) bool {
	if k.life.Err() != nil {
		return false // closed: the fetcher no longer answers
	}
	if time.Since(time.Unix(0, k.lastPull.Load())) < k.minGap {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if time.Since(time.Unix(0, k.lastPull.Load())) < k.minGap {
		return true // another request just refreshed
	}
	k.lastPull.Store(time.Now().UnixNano())
	// Bounded by the caller, by Close, and by a fetch timeout, so a request
	// never waits on a stopped or stuck fetcher.
	rctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	stop := context.AfterFunc(k.life, cancel)
	defer stop()
	if _, err := k.cache.Refresh(rctx, k.url); err != nil {
		k.log.WarnContext(ctx, "popguard: key set refresh failed", "jwks", k.url, "error", err)
		return false
	}
	return true
}

// Has reports whether a key with kid is in the current set; the token cache
// uses it to drop tokens whose signing key left the set.
func (k *RemoteKeySet) Has(kid string) bool {
	snap, err := k.current()
	return err == nil && len(snap.keys(kid)) > 0
}

// refreshTimeout bounds a forced refresh.
const refreshTimeout = 10 * time.Second

// Close stops the background refresh, and waits (a few seconds at most) for
// its goroutines to end. Keys fetched before keep verifying, but no fetch
// happens any more: a token with an unknown kid finds no key. Close is
// idempotent; later calls return nil.
func (k *RemoteKeySet) Close() error {
	var err error
	k.closed.Do(func() {
		k.stop()
		ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
		defer cancel()
		if serr := k.cache.Shutdown(ctx); serr != nil {
			err = fmt.Errorf("validate: stop key set refresh: %w", serr)
		}
	})
	return err
}
