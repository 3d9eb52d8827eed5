package validate

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/popguard/popguard/internal/jose"
)

// Defaults of NewTokenCache.
const (
	defaultTokenCacheSize   = 10_000
	defaultTokenCacheMaxAge = 5 * time.Minute
)

// TokenCache remembers verified access tokens so a repeated token costs a
// hash and a map lookup instead of a signature verification (or an
// introspection call). Entries are keyed by SHA-256 of the token, bounded in
// number (least recently used first out), and never outlive the token's exp
// nor the cache's max age. When the inner verifier is a JWTVerifier or an
// IssuerSet whose key sets can tell (RemoteKeySet, StaticKeySet, Provider), an entry is dropped as soon
// as its signing key leaves the set. Failures are never cached.
//
// Tokens returned from the cache are shared: treat them as read-only.
type TokenCache struct {
	inner  TokenVerifier
	cache  *lru.Cache[[sha256.Size]byte, *cachedToken]
	maxAge time.Duration
	keys   interface{ stillHasKey(*Token) bool }
	now    func() time.Time
}

type cachedToken struct {
	tok     *Token
	expires time.Time
}

// NewTokenCache wraps inner with a cache of verified tokens.
func NewTokenCache(inner TokenVerifier, opts ...Option) (*TokenCache, error) {
	if inner == nil {
		return nil, errors.New("validate: NewTokenCache(nil)")
	}
	c := &TokenCache{inner: inner, maxAge: defaultTokenCacheMaxAge, now: time.Now}
	if err := CacheSize(defaultTokenCacheSize).cache(c); err != nil {
		return nil, err
	}
	if err := applyCache(opts, c); err != nil {
		return nil, err
	}
	if kc, ok := inner.(interface{ stillHasKey(*Token) bool }); ok {
		c.keys = kc
	}
	return c, nil
}

// VerifyToken implements TokenVerifier.
func (c *TokenCache) VerifyToken(ctx context.Context, token string) (*Token, error) {
	key := jose.SHA256String(token)
	if tok, ok := c.lookup(key); ok {
		return tok, nil
	}
	return c.fill(ctx, key, token)
}

// lookup returns the cached token of key (SHA-256 of the token) while it is
// fresh and its signing key is still in the set; a stale entry is dropped.
func (c *TokenCache) lookup(key [sha256.Size]byte) (*Token, bool) {
	if e, ok := c.cache.Get(key); ok {
		if c.now().Before(e.expires) && (c.keys == nil || c.keys.stillHasKey(e.tok)) {
			return e.tok, true
		}
		c.cache.Remove(key)
	}
	return nil, false
}

// fill verifies token with the inner verifier and caches it under key.
func (c *TokenCache) fill(ctx context.Context, key [sha256.Size]byte, token string) (*Token, error) {
	now := c.now()
	tok, err := c.inner.VerifyToken(ctx, token)
	if err != nil {
		return nil, err
	}
	expires := now.Add(c.maxAge)
	if !tok.Expiry.IsZero() && tok.Expiry.Before(expires) {
		expires = tok.Expiry
	}
	if now.Before(expires) && (tok.NotBefore.IsZero() || !now.Before(tok.NotBefore)) {
		c.cache.Add(key, &cachedToken{tok: tok, expires: expires})
	}
	return tok, nil
}

// Len returns the number of cached tokens.
func (c *TokenCache) Len() int { return c.cache.Len() }
