package validate

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/popguard/popguard/internal/ascii"
	"github.com/popguard/popguard/internal/jose"
)

// Option configures one of the package's constructors: NewJWTVerifier,
// NewIntrospector, NewProofVerifier, NewSHRVerifier, NewTokenCache and
// NewRemoteKeySet. Options that mean the same thing for several of them
// share one name (Clock, Algs, MaxSize, MaxAge, FutureSkew, RSAKeySize,
// Audience, HTTPClient); each option's doc says where it applies, and a
// constructor given an option that does not apply to it fails.
type Option struct {
	name   string
	jwt    func(*JWTVerifier) error
	intro  func(*Introspector) error
	proof  func(*ProofVerifier) error
	shr    func(*SHRVerifier) error
	cache  func(*TokenCache) error
	remote func(*remoteConfig) error
}

// apply runs the part of o that fits target, or says that o does not apply.
func apply[T any](opts []Option, target *T, part func(Option) func(*T) error, kind string) error {
	for _, o := range opts {
		if o.name == "" {
			return errors.New("validate: zero Option")
		}
		f := part(o)
		if f == nil {
			return fmt.Errorf("validate: %s does not apply to a %s", o.name, kind)
		}
		if err := f(target); err != nil {
			return err
		}
	}
	return nil
}

func applyJWT(opts []Option, v *JWTVerifier) error {
	return apply(opts, v, func(o Option) func(*JWTVerifier) error { return o.jwt }, "JWTVerifier")
}

func applyIntrospect(opts []Option, v *Introspector) error {
	return apply(opts, v, func(o Option) func(*Introspector) error { return o.intro }, "Introspector")
}

func applyProof(opts []Option, v *ProofVerifier) error {
	return apply(opts, v, func(o Option) func(*ProofVerifier) error { return o.proof }, "ProofVerifier")
}

func applySHR(opts []Option, v *SHRVerifier) error {
	return apply(opts, v, func(o Option) func(*SHRVerifier) error { return o.shr }, "SHRVerifier")
}

func applyCache(opts []Option, v *TokenCache) error {
	return apply(opts, v, func(o Option) func(*TokenCache) error { return o.cache }, "TokenCache")
}

func applyRemote(opts []Option, c *remoteConfig) error {
	return apply(opts, c, func(o Option) func(*remoteConfig) error { return o.remote }, "RemoteKeySet")
}

// ---- shared options ----

// Clock sets the clock (default time.Now) of a JWTVerifier, Introspector,
// ProofVerifier, SHRVerifier or TokenCache: for tests and replays of
// recorded traffic.
func Clock(now func() time.Time) Option {
	set := func(dst *func() time.Time) error {
		if now == nil {
			return errors.New("validate: Clock(nil)")
		}
		*dst = now
		return nil
	}
	return Option{name: "Clock",
		jwt:   func(v *JWTVerifier) error { return set(&v.now) },
		intro: func(v *Introspector) error { return set(&v.now) },
		proof: func(v *ProofVerifier) error { return set(&v.now) },
		shr:   func(v *SHRVerifier) error { return set(&v.now) },
		cache: func(v *TokenCache) error { return set(&v.now) },
	}
}

// Algs replaces the signature algorithm allow-list of a JWTVerifier
// (default DefaultTokenAlgs), a ProofVerifier (default DefaultProofAlgs) or
// an SHRVerifier (default DefaultSHRAlgs). Only asymmetric algorithms are
// allowed: "none" and HMAC are refused (see HMACSecret for access tokens).
// "Ed25519" (RFC 9864) is accepted as a synonym of EdDSA.
func Algs(algs ...string) Option {
	return Option{name: "Algs",
		jwt: func(v *JWTVerifier) error {
			set, err := algSet("Algs", algs)
			v.algs = set
			return err
		},
		proof: func(v *ProofVerifier) error {
			set, err := algSet("Algs", algs)
			v.algs, v.algSet = slices.Clone(algs), set
			return err
		},
		shr: func(v *SHRVerifier) error {
			set, err := algSet("Algs", algs)
			v.algs, v.algSet = slices.Clone(algs), set
			return err
		},
	}
}

// MaxSize caps, in bytes, what a verifier parses: an access token for a
// JWTVerifier (default 16 KiB, at least 512), a proof for a ProofVerifier
// (default 8 KiB, at least 256), a signed request with its access token for
// an SHRVerifier (default 16 KiB, at least 1024), an introspection response
// for an Introspector (default 64 KiB, at least 512; a larger one counts as
// an unavailable endpoint).
func MaxSize(n int) Option {
	atLeast := func(min int) error {
		if n < min {
			return fmt.Errorf("validate: MaxSize(%d) must be at least %d here", n, min)
		}
		return nil
	}
	return Option{name: "MaxSize",
		jwt:   func(v *JWTVerifier) error { v.maxSize = n; return atLeast(512) },
		proof: func(v *ProofVerifier) error { v.maxSize = n; return atLeast(256) },
		shr:   func(v *SHRVerifier) error { v.maxSize = n; return atLeast(1024) },
		intro: func(v *Introspector) error { v.maxSize = int64(n); return atLeast(512) },
	}
}

// MaxAge bounds how old a proof's iat may be for a ProofVerifier (default
// 60s), how old an SHR's ts may be for an SHRVerifier (default 5 minutes,
// Microsoft.IdentityModel's lifetime), and how long a TokenCache keeps a
// token, whatever its exp (default 5 minutes; for introspected tokens this
// bounds how long a revoked token can still be accepted). d must be
// positive.
func MaxAge(d time.Duration) Option {
	check := func() error {
		if d <= 0 {
			return errors.New("validate: MaxAge must be positive")
		}
		return nil
	}
	return Option{name: "MaxAge",
		proof: func(v *ProofVerifier) error { v.maxAge = d; return check() },
		shr:   func(v *SHRVerifier) error { v.maxAge = d; return check() },
		cache: func(v *TokenCache) error { v.maxAge = d; return check() },
	}
}

// FutureSkew bounds how far in the future a proof's iat (ProofVerifier,
// default 10s) or an SHR's ts (SHRVerifier, default 30s; IdentityModel
// accepts any future ts, popguard does not) may be, for client clocks that
// run ahead. d must not be negative.
func FutureSkew(d time.Duration) Option {
	check := func() error {
		if d < 0 {
			return errors.New("validate: FutureSkew must not be negative")
		}
		return nil
	}
	return Option{name: "FutureSkew",
		proof: func(v *ProofVerifier) error { v.futureSkew = d; return check() },
		shr:   func(v *SHRVerifier) error { v.futureSkew = d; return check() },
	}
}

// RSAKeySize bounds the modulus of RSA keys a ProofVerifier or an
// SHRVerifier accepts (default 2048..4096 bits; MSAL uses 2048).
// Verification cost grows with the key size, which the client chooses.
func RSAKeySize(minBits, maxBits int) Option {
	set := func(p *jose.KeyPolicy) error {
		if minBits < 2048 || maxBits < minBits || maxBits > 16384 {
			return errors.New("validate: RSAKeySize needs 2048 <= min <= max <= 16384")
		}
		*p = jose.KeyPolicy{MinRSABits: minBits, MaxRSABits: maxBits}
		return nil
	}
	return Option{name: "RSAKeySize",
		proof: func(v *ProofVerifier) error { return set(&v.keyPolicy) },
		shr:   func(v *SHRVerifier) error { return set(&v.keyPolicy) },
	}
}

// Audience sets the audiences this resource server answers to. For a
// JWTVerifier the token's aud must contain one of them (RFC 9068 §4); it is
// required unless SkipAudienceCheck is given. For an Introspector, when the
// response carries aud (a string or an array), it must contain one of them.
//
// A resource server that publishes RFC 9728 metadata
// (middleware.WithResourceMetadata) announces a resource identifier, and
// clients ask for tokens for it (RFC 8707 resource indicators), so their aud
// is that identifier, character for character: it must be among these
// audiences, which the middleware checks at startup (AcceptsAudience).
func Audience(aud ...string) Option {
	check := func() error {
		if len(aud) == 0 {
			return errors.New("validate: Audience needs an audience")
		}
		if slices.Contains(aud, "") {
			return errors.New("validate: empty audience")
		}
		return nil
	}
	return Option{name: "Audience",
		jwt:   func(v *JWTVerifier) error { v.audiences = append(v.audiences, aud...); return check() },
		intro: func(v *Introspector) error { v.audiences = append(v.audiences, aud...); return check() },
	}
}

// HTTPClient sets the HTTP client of an Introspector (default: a client
// with a 5s timeout), a RemoteKeySet or Discover (default
// http.DefaultClient, bounded by the startup and refresh timeouts). An Introspector never follows
// redirects, whatever c says: it uses a shallow copy of c whose
// CheckRedirect refuses them, so the token and the credentials go nowhere
// but the configured endpoint.
func HTTPClient(c *http.Client) Option {
	check := func() error {
		if c == nil {
			return errors.New("validate: HTTPClient(nil)")
		}
		return nil
	}
	return Option{name: "HTTPClient",
		intro: func(v *Introspector) error {
			if err := check(); err != nil {
				return err
			}
			cp := *c
			cp.CheckRedirect = noRedirect
			v.client = &cp
			return nil
		},
		remote: func(r *remoteConfig) error { r.client, r.httpc = c, c; return check() },
	}
}

// ---- JWTVerifier ----

// SkipAudienceCheck makes a JWTVerifier accept any aud. Only for issuers
// whose tokens are meant for every resource server that trusts them; prefer
// Audience.
func SkipAudienceCheck() Option {
	return Option{name: "SkipAudienceCheck", jwt: func(v *JWTVerifier) error { v.anyAud = true; return nil }}
}

// HMACSecret makes a JWTVerifier accept tokens signed with HS256 (or the
// given HS384/HS512) under secret, for issuers that share a secret with the
// resource server. The secret must be at least 32 bytes. Asymmetric keys are
// still used for the asymmetric algorithms; a public key is never used as an
// HMAC secret.
func HMACSecret(secret []byte, algs ...string) Option {
	return Option{name: "HMACSecret", jwt: func(v *JWTVerifier) error {
		if len(secret) < 32 {
			return errors.New("validate: HMACSecret needs at least 32 bytes")
		}
		if len(algs) == 0 {
			algs = []string{"HS256"}
		}
		for _, a := range algs {
			if _, ok := jose.HMACHash(a); !ok {
				return fmt.Errorf("validate: %q is not an HMAC algorithm", a)
			}
		}
		v.hmac, v.hmacAlgs = slices.Clone(secret), slices.Clone(algs)
		return nil
	}}
}

// UseProfile makes a JWTVerifier read tokens as p describes them: accepted
// typ values, required claims, and where scopes, roles, the client and the
// tenant are (default RFC9068()).
func UseProfile(p Profile) Option {
	return Option{name: "UseProfile", jwt: func(v *JWTVerifier) error {
		if len(p.Types) == 0 {
			return fmt.Errorf("validate: profile %q accepts no typ", p.Name)
		}
		p.Types, p.Required, p.RequiredAny = slices.Clone(p.Types), slices.Clone(p.Required), slices.Clone(p.RequiredAny)
		p.ScopeClaims, p.RoleClaims, p.ClientClaims = slices.Clone(p.ScopeClaims), slices.Clone(p.RoleClaims), slices.Clone(p.ClientClaims)
		p.VersionIssuers = maps.Clone(p.VersionIssuers)
		cv := make(map[string][]string, len(p.ClaimValues))
		for k, v := range p.ClaimValues {
			cv[k] = slices.Clone(v)
		}
		p.ClaimValues = cv
		v.profile = p
		return nil
	}}
}

// Tenants lists the tenants a JWTVerifier accepts from a multi-tenant
// issuer (one holding {tenantid}), or from the version issuers of its
// profile: the token's tenant claim must be one of them, and its iss the
// issuer with that tenant in place of {tenantid}.
func Tenants(ids ...string) Option {
	return Option{name: "Tenants", jwt: func(v *JWTVerifier) error {
		if len(ids) == 0 {
			return errors.New("validate: Tenants needs at least one tenant")
		}
		v.tenants = make(map[string]bool, len(ids))
		for _, id := range ids {
			if !validTenant(id) {
				return fmt.Errorf("validate: invalid tenant id %q", id)
			}
			v.tenants[id] = true
		}
		return nil
	}}
}

// AnyTenant makes a JWTVerifier for a multi-tenant issuer accept tokens of
// every tenant. The token's iss must still agree with its tenant claim and
// with the issuer of its signing key; authorize callers by tenant in the
// handler (Token.Tenant, Result.Claims) if not every tenant may call.
func AnyTenant() Option {
	return Option{name: "AnyTenant", jwt: func(v *JWTVerifier) error { v.anyTenant = true; return nil }}
}

// Leeway sets the clock skew a JWTVerifier allows on exp, nbf and iat
// (default 30s, at most 5 minutes).
func Leeway(d time.Duration) Option {
	return Option{name: "Leeway", jwt: func(v *JWTVerifier) error {
		if d < 0 || d > 5*time.Minute {
			return errors.New("validate: Leeway must be within [0, 5m]")
		}
		v.leeway = d
		return nil
	}}
}

// MaxClaims caps the members of any one JSON object in an access token a
// JWTVerifier parses (default 256, at least 16): issuers that add many
// claims need more than the 64 that JOSE headers, proofs and signed
// requests are held to. Duplicate names are refused whatever the cap.
func MaxClaims(n int) Option {
	return Option{name: "MaxClaims", jwt: func(v *JWTVerifier) error {
		if n < 16 {
			return errors.New("validate: MaxClaims must be at least 16")
		}
		v.maxClaims = n
		return nil
	}}
}

// ---- Introspector ----

// ClientSecretBasic authenticates an Introspector to the introspection
// endpoint with HTTP Basic (RFC 6749 §2.3.1, RFC 7662 §2.1). As RFC 6749
// §2.3.1 requires, the client identifier and secret are each encoded with
// application/x-www-form-urlencoded before being joined with ":" and
// base64-encoded, so a secret holding ":" or "+" reaches a conforming server
// intact. (Some servers skip the decoding step; they only agree with this
// when the credentials consist of unreserved characters.)
func ClientSecretBasic(clientID, secret string) Option {
	return Option{name: "ClientSecretBasic", intro: func(i *Introspector) error { return i.basicAuth(clientID, secret) }}
}

// ClientSecretPost authenticates an Introspector with client_id and
// client_secret in the request body (RFC 6749 §2.3.1). Prefer
// ClientSecretBasic where the server supports it.
func ClientSecretPost(clientID, secret string) Option {
	return Option{name: "ClientSecretPost", intro: func(i *Introspector) error { return i.postAuth(clientID, secret) }}
}

// BearerAuth authenticates an Introspector with a bearer access token of its
// own (RFC 7662 §2.1 allows "a separate OAuth 2.0 access token"). token
// must be an RFC 6750 b64token.
func BearerAuth(token string) Option {
	return Option{name: "BearerAuth", intro: func(i *Introspector) error { return i.bearerAuth(token) }}
}

// Timeout bounds each call of an Introspector (default 3s), on top of the
// caller's context.
func Timeout(d time.Duration) Option {
	return Option{name: "Timeout", intro: func(i *Introspector) error {
		if d <= 0 {
			return errors.New("validate: Timeout must be positive")
		}
		i.timeout = d
		return nil
	}}
}

// ExpectIssuer sets the issuer identifier of an Introspector's
// authorization server: when the response carries iss, it must match
// exactly. With required, the response must carry it.
func ExpectIssuer(iss string, required bool) Option {
	return Option{name: "ExpectIssuer", intro: func(i *Introspector) error {
		if iss == "" {
			return errors.New("validate: empty issuer")
		}
		i.issuer, i.requireIs = iss, required
		return nil
	}}
}

// ---- ProofVerifier ----

// MaxJTILength caps the length of a proof's jti for a ProofVerifier
// (default 256 bytes, at least 16).
func MaxJTILength(n int) Option {
	return Option{name: "MaxJTILength", proof: func(v *ProofVerifier) error {
		if n < 16 {
			return errors.New("validate: MaxJTILength must be at least 16")
		}
		v.maxJTI = n
		return nil
	}}
}

// ProofKeyCache sets how many client keys a ProofVerifier (DPoP proof
// keys) or an SHRVerifier (PoP cnf keys, of the token and of the signed
// request) remembers after their first import (default 4096; 0 turns the
// cache off). Clients sign every request with the same key, so a hit skips
// decoding and validating the jwk and computing its thumbprint. Keys are
// cached by a hash of the exact jwk JSON and only after passing every key
// check.
func ProofKeyCache(n int) Option {
	set := func(size *int) error {
		if n < 0 {
			return errors.New("validate: ProofKeyCache must not be negative")
		}
		*size = n
		return nil
	}
	return Option{name: "ProofKeyCache",
		proof: func(v *ProofVerifier) error { return set(&v.keyCache) },
		shr:   func(v *SHRVerifier) error { return set(&v.keyCache) },
	}
}

// ---- SHRVerifier ----

// SHRRequireQuery makes an SHRVerifier require the whole query to be
// signed: a request with a non-empty query needs a q claim, and every
// '&'-separated piece of the query must be a name=value pair covered by q
// (so repeated names, names without '=' and empty values, which q cannot
// cover, are refused too). msal-browser's raw form q = [[], "<query>"]
// covers the whole query. MSAL.NET sends no q: with this option its requests
// with a query fail.
func SHRRequireQuery() Option {
	return Option{name: "SHRRequireQuery", shr: func(v *SHRVerifier) error { v.requireQuery = true; return nil }}
}

// SHRRequireHeaders makes an SHRVerifier require the named headers to be
// signed: each of them that the request carries must be listed in the h
// claim (names compare ASCII case-insensitively). A header the request does
// not carry needs no coverage: its absence cannot be forged, since removing
// a covered header fails the h check. Authorization cannot be required
// (draft-03 §4.1).
func SHRRequireHeaders(names ...string) Option {
	return Option{name: "SHRRequireHeaders", shr: func(v *SHRVerifier) error {
		if len(names) == 0 {
			return errors.New("validate: SHRRequireHeaders needs at least one name")
		}
		for _, n := range names {
			if n == "" || strings.ContainsFunc(n, func(r rune) bool { return r <= ' ' || r >= 0x7f || r == ':' }) {
				return fmt.Errorf("validate: %q is not a header name", n)
			}
			if ascii.EqualFold(n, "authorization") {
				return errors.New("validate: the Authorization header cannot be covered by an SHR (draft-03 §4.1)")
			}
			v.requireHeaders = append(v.requireHeaders, strings.ToLower(n))
		}
		return nil
	}}
}

// SHRRequireBody makes an SHRVerifier require the b claim: on requests with
// one of methods (exact match, e.g. "POST", "PUT", "PATCH"), or on every
// request when no method is given.
func SHRRequireBody(methods ...string) Option {
	return Option{name: "SHRRequireBody", shr: func(v *SHRVerifier) error {
		if len(methods) == 0 {
			v.requireBody = true
			return nil
		}
		if slices.Contains(methods, "") {
			return errors.New("validate: SHRRequireBody: empty method")
		}
		v.bodyMethods = append(v.bodyMethods, methods...)
		return nil
	}}
}

// MSALBrowserCompat makes an SHRVerifier accept the URL form msal-browser
// signs. msal-common lower-cases the whole resource URL and, when it has no
// fragment, appends a '/' (which ends up on the path when there is no query,
// and is stripped from the query otherwise). So with this option, besides
// the exact match:
//
//   - p also matches when p has no upper-case letter at all and equals the
//     request path lower-cased (percent-encoding hex case aside), or, for a
//     request without a query whose path does not end in '/', the request
//     path lower-cased plus one '/';
//   - the raw-form q = [[], "<query>"] also matches the request's raw query
//     lower-cased.
//
// Trade-off: for such SHRs, paths (and queries) that differ only in ASCII
// case, and a path with or without one trailing '/', become
// indistinguishable: an SHR made for /a/b/ is accepted on /A/B. Routes whose
// meaning depends on path case or on a trailing slash should not use this
// option. Upper-case p values are still compared exactly, so MSAL.NET and
// IdentityModel SHRs keep the strict comparison.
func MSALBrowserCompat() Option {
	return Option{name: "MSALBrowserCompat", shr: func(v *SHRVerifier) error { v.browserCompat = true; return nil }}
}

// ---- TokenCache ----

// CacheSize bounds the number of tokens a TokenCache holds (default
// 10 000).
func CacheSize(n int) Option {
	return Option{name: "CacheSize", cache: func(c *TokenCache) error {
		if n < 1 {
			return errors.New("validate: CacheSize must be at least 1")
		}
		var err error
		c.cache, err = lru.New[[32]byte, *cachedToken](n)
		return err
	}}
}

// ---- RemoteKeySet (named KeySet..., except WaitForKeys and HTTPClient) ----

// KeySetRefresh bounds a RemoteKeySet's background refresh interval; it
// also sets the minimum gap between forced refreshes on unknown kids
// (defaults 1 minute and 1 hour). It needs 0 < minGap <= maxGap.
func KeySetRefresh(minGap, maxGap time.Duration) Option {
	return Option{name: "KeySetRefresh", remote: func(c *remoteConfig) error {
		if minGap <= 0 || maxGap < minGap {
			return errors.New("validate: KeySetRefresh needs 0 < min <= max")
		}
		c.min, c.max = minGap, maxGap
		return nil
	}}
}

// KeySetLogger sets the logger a RemoteKeySet reports fetch failures to (default
// slog.Default()); nil turns them off.
func KeySetLogger(l *slog.Logger) Option {
	return Option{name: "KeySetLogger", remote: func(c *remoteConfig) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		c.log = l
		return nil
	}}
}

// WaitForKeys sets whether NewRemoteKeySet waits for the first fetch
// (default true). While it waits, a failed first fetch fails construction at
// once, and so does a fetch that has not completed when the startup timeout
// (see KeySetStartupTimeout) passes or ctx ends: construction never blocks past
// that bound. With false, NewRemoteKeySet returns at once and the keys load
// in the background: a failed fetch is retried on the refresh schedule, and
// when a token needs the keys (at most once per minimum refresh interval).
// Until they arrive, tokens are rejected as temporarily unavailable.
func WaitForKeys(wait bool) Option {
	return Option{name: "WaitForKeys", remote: func(c *remoteConfig) error { c.wait = wait; return nil }}
}

// KeySetStartupTimeout bounds how long NewRemoteKeySet waits for the first fetch
// (WaitForKeys). Without it, the bound is ctx's deadline or, when ctx has
// none, 30 seconds. With it, the bound is d, or ctx's deadline if that comes
// first. d must be positive. It does not limit the background refresh.
func KeySetStartupTimeout(d time.Duration) Option {
	return Option{name: "KeySetStartupTimeout", remote: func(c *remoteConfig) error {
		if d <= 0 {
			return errors.New("validate: KeySetStartupTimeout needs a positive duration")
		}
		c.startup, c.startupSet = d, true
		return nil
	}}
}
