// Package middleware protects net/http handlers with popguard: build one
// [Guard] with [New], then wrap each route with [Guard.Require] (net/http,
// chi) or prepare a [Route] with [Guard.Route] and call [Route.Check] (other
// frameworks).
//
// For each request the Guard extracts the credentials, checks the Bearer
// token (with its client certificate when it is certificate-bound, RFC 8705:
// from the TLS connection or, with [WithForwardedClientCert], a trusted
// proxy), DPoP proof or PoP signed request the route's mode accepts, answers a
// rejection with RFC 6750 / RFC 9449 challenges, and hands the accepted
// caller to the handler through the request context (popguard.FromContext):
//
//	guard, err := middleware.New(
//		middleware.WithTokens(tokens), // a *validate.JWTVerifier or *validate.Introspector
//		middleware.WithPublicURL("https://api.example.com"),
//	)
//	if err != nil { log.Fatal(err) }
//	defer guard.Close()
//	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly)(http.HandlerFunc(transfers)))
//	mux.Handle("/accounts/", guard.Require(popguard.Mixed)(http.HandlerFunc(accounts)))
//
// chi and echo have a package named middleware too (the import paths
// github.com/go-chi/chi/v5/middleware and github.com/labstack/echo/v4/middleware):
// a program that imports one of them imports this package under another
// name, by convention popmw:
//
//	import (
//		chimw "github.com/go-chi/chi/v5/middleware"
//		popmw "github.com/popguard/popguard/middleware"
//	)
//
//	guard, err := popmw.New(popmw.WithTokens(tokens), popmw.WithPublicURL("https://api.example.com"))
//	if err != nil { log.Fatal(err) }
//	r := chi.NewRouter()
//	r.Use(chimw.RequestID)
//	r.With(guard.Require(popguard.DPoPOnly, popmw.Name("transfers"))).Post("/transfers", transfer)
//
// Gin and Echo applications use the adapter modules
// github.com/popguard/popguard/adapters/ginpop and
// github.com/popguard/popguard/adapters/echopop, built on [Route.Check].
package middleware

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

// Guard holds the configuration shared by all routes. Build one with New,
// then wrap each net/http route with Require, or prepare a Route with Route
// for other frameworks. Close it at shutdown. A Guard is safe for concurrent
// use.
type Guard struct {
	tokens      validate.TokenVerifier
	proofs      *validate.ProofVerifier
	shr         *validate.SHRVerifier
	shrOpts     []validate.Option
	popOn       bool
	maxBody     int64
	public      *publicBase
	hosts       []string // WithPublicHosts, lower case
	anyHost     bool     // WithInsecureHostFromRequest
	trusted     []netip.Prefix
	proxyHdrs   ProxyHeaders
	certFwd     *certForwarding // WithForwardedClientCert
	replay      replay.Store
	ownReplay   bool
	failOpen    bool
	nonces      validate.Nonces
	realm       string
	algs        string
	onError     ErrorHandler
	log         *slog.Logger
	metrics     Metrics
	maxAuth     int
	queryTokens bool
	retryAfter  int
	noCache     bool
	metaCfg     *ResourceMetadata // WithResourceMetadata, resolved into meta by New
	meta        *metadata
}

// Option configures a Guard.
type Option func(*Guard) error

// WithTokens sets the access-token verifier (required): a
// *validate.JWTVerifier, a *validate.Introspector, or a *validate.TokenCache
// wrapping either (the Guard then adds no cache of its own; see
// WithoutTokenCache).
func WithTokens(v validate.TokenVerifier) Option {
	return func(g *Guard) error {
		if isNil(v) {
			return errors.New("middleware: WithTokens(nil)")
		}
		g.tokens = v
		return nil
	}
}

// WithPoP accepts Microsoft PoP signed HTTP requests (Authorization: PoP
// <shr>, as MSAL sends them) on routes whose mode allows PoP. The SHR's at
// claim is checked with the Guard's token verifier. opts tune the SHR checks
// (validate.Algs, validate.SHRRequireBody, validate.MSALBrowserCompat ...).
func WithPoP(opts ...validate.Option) Option {
	return func(g *Guard) error {
		g.shrOpts = append(g.shrOpts, opts...)
		g.popOn = true // the verifier is built in New, on the cached token verifier
		return nil
	}
}

// WithPoPBodyLimit caps the request body read to check an SHR's b claim
// (default 1 MiB); a larger body gets 400 invalid_request (reason shr_b).
// The size of the SHR itself is capped by validate.MaxSize among WithPoP's
// options.
func WithPoPBodyLimit(n int64) Option {
	return func(g *Guard) error {
		if n < 1 {
			return errors.New("middleware: WithPoPBodyLimit needs at least 1 byte")
		}
		g.maxBody = n
		return nil
	}
}

// WithoutTokenCache turns off the verified-token cache. By default the
// Guard wraps the token verifier in validate.NewTokenCache (10 000 tokens,
// at most 5 minutes, never past exp), so a repeated token costs no signature
// check; pass your own *validate.TokenCache to WithTokens to size it.
func WithoutTokenCache() Option {
	return func(g *Guard) error { g.noCache = true; return nil }
}

// WithProofVerifier sets the DPoP proof verifier (default
// validate.NewProofVerifier() with its defaults).
func WithProofVerifier(v *validate.ProofVerifier) Option {
	return func(g *Guard) error {
		if isNil(v) {
			return errors.New("middleware: WithProofVerifier(nil)")
		}
		g.proofs = v
		return nil
	}
}

// WithPublicURL sets the external origin clients address, with an optional
// path prefix ("https://api.example.com/v1"): the target URI that DPoP htu
// and PoP u/p are checked against is this origin plus the request path.
// The request's Host header and any forwarding header are then ignored.
//
// New needs one source for the origin: WithPublicURL (the simplest and
// safest), WithPublicHosts, or WithInsecureHostFromRequest.
func WithPublicURL(u string) Option {
	return func(g *Guard) error {
		b, err := parsePublicURL(u)
		if err != nil {
			return err
		}
		g.public = b
		return nil
	}
}

// ProxyHeaders names the one header family a trusted proxy uses to pass the
// scheme, host and path prefix the client addressed. The proxy must
// overwrite (or clear) the headers of its family that a client sent, and the
// other family is never read, so a client cannot pick one the proxy left
// untouched.
type ProxyHeaders int

const (
	// XForwarded reads X-Forwarded-Proto, X-Forwarded-Host and
	// X-Forwarded-Prefix (nginx, Traefik, Caddy, Envoy, most load balancers).
	XForwarded ProxyHeaders = iota + 1
	// Forwarded reads the proto and host parameters of RFC 7239's Forwarded
	// header. It has no path prefix.
	Forwarded
)

// WithTrustedProxies lets requests from these peers (CIDRs or addresses)
// set the scheme, host and path prefix of the target URI with the header
// family named by headers; the last element of the last field line is used
// (the one the nearest proxy wrote). Headers from any other peer are
// ignored. The host a proxy passes must still be one of WithPublicHosts.
// WithPublicURL makes this option pointless, and New refuses the two
// together.
func WithTrustedProxies(headers ProxyHeaders, cidrs ...string) Option {
	return func(g *Guard) error {
		if headers != XForwarded && headers != Forwarded {
			return errors.New("middleware: WithTrustedProxies needs middleware.XForwarded or middleware.Forwarded")
		}
		if len(cidrs) == 0 {
			return errors.New("middleware: WithTrustedProxies needs at least one address or CIDR")
		}
		g.proxyHdrs = headers
		ps, err := parsePrefixes(cidrs)
		if err != nil {
			return err
		}
		g.trusted = append(g.trusted, ps...)
		return nil
	}
}

// WithPublicHosts lists the hosts (host or host:port; a default port may be
// left out, and an empty port is the default port) that clients may address
// when the origin is not fixed by WithPublicURL: the scheme comes from the
// TLS connection or a trusted proxy, the host from the request or a trusted
// proxy, and a request for any other host is refused with 400 (reason
// request_host_not_allowed) before a proof is looked at. A host that is not
// a host at all (a trailing dot, "127.1", a port with a leading zero) is
// refused here and, in a request, with 400 (reason request_bad_target). Use
// it for a server reached under several names.
func WithPublicHosts(hosts ...string) Option {
	return func(g *Guard) error {
		if len(hosts) == 0 {
			return errors.New("middleware: WithPublicHosts needs at least one host")
		}
		for _, h := range hosts {
			if !validHost(h) {
				return fmt.Errorf("middleware: public host %q is not host or host:port", h)
			}
			g.hosts = append(g.hosts, strings.ToLower(h))
		}
		return nil
	}
}

// WithInsecureHostFromRequest takes the host of the target URI from the
// request (its Host header, absolute-form target or HTTP/2 :authority, or a
// trusted proxy's header) without an allow-list. A proof or signed request
// made for another server is then accepted here whenever its access token's
// audience is: only for development and tests, never in production.
func WithInsecureHostFromRequest() Option {
	return func(g *Guard) error { g.anyHost = true; return nil }
}

// WithReplay sets the store that detects replayed proofs (default: an
// in-memory store of 100 000 entries, fine for one instance; use a shared
// store such as [github.com/popguard/popguard/replay/redisstore.New] for a
// fleet).
func WithReplay(s replay.Store) Option {
	return func(g *Guard) error {
		if isNil(s) {
			return errors.New("middleware: WithReplay(nil); use WithoutReplayDetection to opt out")
		}
		g.replay = s
		return nil
	}
}

// WithoutReplayDetection turns replay detection off. Proofs can then be
// replayed within their acceptance window: only for routes that require
// server nonces with a short lifetime, or for tests.
func WithoutReplayDetection() Option {
	return func(g *Guard) error { g.replay = nil; g.ownReplay = false; return nil }
}

// WithReplayFailOpen lets requests through when the replay store cannot
// answer (every skipped check is logged at error level). The default fails
// closed: 503 with Retry-After.
func WithReplayFailOpen() Option {
	return func(g *Guard) error { g.failOpen = true; return nil }
}

// WithNonces sets the server nonce source used by routes with
// RequireNonce. nonce.New builds one.
func WithNonces(n validate.Nonces) Option {
	return func(g *Guard) error {
		if isNil(n) {
			return errors.New("middleware: WithNonces(nil)")
		}
		g.nonces = n
		return nil
	}
}

// WithRealm sets the realm of Bearer and PoP challenges (default "api").
func WithRealm(realm string) Option {
	return func(g *Guard) error {
		if realm == "" || sanitize(realm) != realm {
			return errors.New("middleware: realm must be non-empty printable ASCII without quotes or backslashes")
		}
		g.realm = realm
		return nil
	}
}

// WithErrorHandler sets how every route writes a rejection (default
// WriteRejection); RouteErrorHandler overrides it for one route.
func WithErrorHandler(h ErrorHandler) Option {
	return func(g *Guard) error {
		if h == nil {
			return errors.New("middleware: WithErrorHandler(nil)")
		}
		g.onError = h
		return nil
	}
}

// WithLogger sets the logger (default slog.Default()); nil turns logging
// off. Rejections are logged at Info with their reason, report-only
// findings at Warn, replay-store failures at Error.
func WithLogger(l *slog.Logger) Option {
	return func(g *Guard) error {
		if l == nil {
			l = slog.New(slog.DiscardHandler)
		}
		g.log = l
		return nil
	}
}

// WithMetrics sets a metrics hook called once per request.
func WithMetrics(m Metrics) Option {
	return func(g *Guard) error {
		if isNil(m) {
			return errors.New("middleware: WithMetrics(nil)")
		}
		g.metrics = m
		return nil
	}
}

// WithAuthorizationLimit caps the Authorization field line before anything
// in it is parsed (default 16384 bytes, room for a Microsoft PoP signed
// request, which carries a whole access token); a larger one gets 431
// (reason request_header_too_large). n must be at least 1024. The artifacts
// inside have their own limits, set with the validate.MaxSize option of
// their verifiers: the JWTVerifier for access tokens, the ProofVerifier of
// WithProofVerifier for the DPoP header's proof (401 proof_too_large), and
// WithPoP's options for PoP signed requests.
func WithAuthorizationLimit(n int) Option {
	return func(g *Guard) error {
		if n < 1024 {
			return errors.New("middleware: WithAuthorizationLimit needs at least 1024 bytes")
		}
		g.maxAuth = n
		return nil
	}
}

// WithQueryTokens accepts Bearer tokens in the access_token URI query
// parameter (RFC 6750 §2.3). Off by default: URIs end up in logs.
func WithQueryTokens() Option {
	return func(g *Guard) error { g.queryTokens = true; return nil }
}

// New builds a Guard. It fails on incomplete or contradictory
// configuration, so mistakes surface at startup, not at the first request.
func New(opts ...Option) (*Guard, error) {
	g := &Guard{realm: "api", onError: WriteRejection, log: slog.Default(), maxAuth: 16384, maxBody: 1 << 20, retryAfter: 1, ownReplay: true}
	for _, o := range opts {
		if err := o(g); err != nil {
			return nil, err
		}
	}
	if g.tokens == nil {
		return nil, errors.New("middleware: WithTokens is required")
	}
	if err := g.checkOrigin(); err != nil {
		return nil, err
	}
	if err := g.setupMetadata(g.tokens); err != nil {
		return nil, err
	}
	if _, cached := g.tokens.(*validate.TokenCache); !cached && !g.noCache {
		c, err := validate.NewTokenCache(g.tokens)
		if err != nil {
			return nil, err
		}
		g.tokens = c
	}
	if g.popOn {
		v, err := validate.NewSHRVerifier(g.tokens, g.shrOpts...)
		if err != nil {
			return nil, err
		}
		g.shr = v
	}
	if g.proofs == nil {
		v, err := validate.NewProofVerifier()
		if err != nil {
			return nil, err
		}
		g.proofs = v
	}
	if g.replay == nil && g.ownReplay {
		m, err := replay.NewMemory()
		if err != nil {
			return nil, err
		}
		g.replay = m
	} else {
		g.ownReplay = false
	}
	g.algs = strings.Join(g.proofs.Algs(), " ")
	if g.meta != nil {
		g.meta.algs = g.proofs.Algs()
	}
	return g, nil
}

// checkOrigin makes sure the origin that proofs are checked against comes
// from one source of configuration.
func (g *Guard) checkOrigin() error {
	sources := 0
	for _, set := range []bool{g.public != nil, len(g.hosts) > 0, g.anyHost} {
		if set {
			sources++
		}
	}
	switch {
	case sources == 0:
		return errors.New("middleware: the origin that DPoP htu and PoP u are checked against must come from configuration: " +
			"use WithPublicURL, or WithPublicHosts (with WithTrustedProxies behind a proxy), or WithInsecureHostFromRequest for development")
	case sources > 1:
		return errors.New("middleware: WithPublicURL, WithPublicHosts and WithInsecureHostFromRequest are alternatives: use one")
	case g.public != nil && len(g.trusted) > 0:
		return errors.New("middleware: WithTrustedProxies has no effect with WithPublicURL, which fixes the origin and prefix: use one")
	}
	return nil
}

// Close releases what the Guard created itself (the default replay store).
func (g *Guard) Close() error {
	if c, ok := g.replay.(interface{ Close() error }); ok && g.ownReplay {
		return c.Close()
	}
	return nil
}

// RouteOption refines one route's policy: RequireNonce, Freshness,
// RequireScopes, RequireRoles, RequireBoundToken, Name, RouteErrorHandler.
type RouteOption struct {
	apply func(*policy) error
}

// RequireNonce makes the route require a server nonce in DPoP proofs and
// PoP requests (RFC 9449 §9). The Guard needs WithNonces.
func RequireNonce() RouteOption {
	return RouteOption{func(p *policy) error { p.needNonce = true; return nil }}
}

// Freshness chooses how the route judges that a DPoP proof or a PoP signed
// request is recent (default validate.FreshnessIAT: by its iat or ts,
// within the verifier's MaxAge and FutureSkew, so the client's clock must be
// right). validate.FreshnessNonce judges by the server nonce the proof
// carries, whatever the client's clock says, and validate.FreshnessBoth
// requires both. Either implies RequireNonce and needs a Guard nonce source
// that states how long its nonces live, with a Lifetime() time.Duration
// method as *nonce.Source has: the replay store then remembers each proof
// for that long (the shorter of the two windows under FreshnessBoth), so a
// proof is never accepted again once its replay entry has expired.
func Freshness(f validate.Freshness) RouteOption {
	return RouteOption{func(p *policy) error {
		if f > validate.FreshnessBoth {
			return fmt.Errorf("middleware: unknown freshness %d", f)
		}
		p.freshness = f
		return nil
	}}
}

// RequireScopes makes the route require every one of scopes; otherwise it
// answers 403 insufficient_scope.
func RequireScopes(scopes ...string) RouteOption {
	return RouteOption{func(p *policy) error {
		for _, s := range scopes {
			if !validScope(s) {
				return fmt.Errorf("middleware: invalid scope %q", s)
			}
		}
		p.scopes = append(p.scopes, scopes...)
		return nil
	}}
}

// RequireRoles makes the route require every one of roles among the
// token's application roles (Result.Roles: the claims its issuer's profile
// names, such as Entra ID's roles for app-only tokens); otherwise it answers
// 403 insufficient_scope with reason insufficient_role, and the error
// description names the roles the route needs. To accept either a scope or
// a role, use two routes or check Result in the handler.
func RequireRoles(roles ...string) RouteOption {
	return RouteOption{func(p *policy) error {
		for _, s := range roles {
			if s == "" || strings.ContainsAny(s, " \"\\") || !isPrintableASCII(s) {
				return fmt.Errorf("middleware: invalid role %q", s)
			}
		}
		p.roles = append(p.roles, roles...)
		return nil
	}}
}

// RequireBoundToken makes the route accept only access tokens bound to the
// caller (sender-constrained, RFC 9700 §2.2): DPoP and PoP tokens, which
// are always bound to their proof's key, and on the Bearer or mtls_pop
// scheme only certificate-bound tokens (RFC 8705) presented with their
// client certificate. An unbound token gets 401 invalid_token with reason
// token_not_bound, on BearerOnly and Mixed routes too, so a stolen unbound
// token is refused while clients move to mutual TLS or DPoP. On a
// report-only route, a request the route only reports is still let
// through.
func RequireBoundToken() RouteOption {
	return RouteOption{func(p *policy) error { p.boundOnly = true; return nil }}
}

// isPrintableASCII reports whether s holds only printable ASCII, so that it
// can appear in a challenge's error description.
func isPrintableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Name names the route in logs and metrics (default: the mode).
func Name(name string) RouteOption {
	return RouteOption{func(p *policy) error { p.name = name; return nil }}
}

// RouteErrorHandler writes this route's rejections with h instead of the
// Guard's error handler (WithErrorHandler, by default WriteRejection).
func RouteErrorHandler(h ErrorHandler) RouteOption {
	return RouteOption{func(p *policy) error {
		if h == nil {
			return errors.New("middleware: RouteErrorHandler(nil)")
		}
		p.onError = h
		return nil
	}}
}

type policy struct {
	mode      popguard.Mode
	schemes   []popguard.Scheme // accepted and supported by the Guard
	name      string
	scopes    []string
	roles     []string
	needNonce bool
	boundOnly bool            // RequireBoundToken
	nonces    validate.Nonces // set when needNonce
	freshness validate.Freshness
	// How long the replay store remembers an accepted DPoP proof or SHR:
	// the longest the route may accept it (see replayTTL).
	dpopTTL, popTTL time.Duration
	onError         ErrorHandler
}

func (g *Guard) newPolicy(mode popguard.Mode, opts []RouteOption) (*policy, error) {
	p := &policy{mode: mode, name: mode.String(), onError: g.onError}
	for _, o := range opts {
		if o.apply == nil {
			return nil, errors.New("middleware: zero RouteOption")
		}
		if err := o.apply(p); err != nil {
			return nil, err
		}
	}
	for _, s := range mode.Schemes() {
		if g.supports(s) {
			p.schemes = append(p.schemes, s)
		}
	}
	if len(p.schemes) == 0 {
		return nil, fmt.Errorf("middleware: mode %s accepts no scheme this Guard supports", mode)
	}
	if p.freshness != validate.FreshnessIAT {
		if g.nonces == nil {
			return nil, errors.New("middleware: Freshness by nonce needs WithNonces on the Guard")
		}
		p.needNonce = true
	}
	if p.needNonce {
		if g.nonces == nil {
			return nil, errors.New("middleware: RequireNonce needs WithNonces on the Guard")
		}
		p.nonces = g.nonces
	}
	var nonceLife time.Duration
	if p.freshness != validate.FreshnessIAT {
		lt, ok := g.nonces.(interface{ Lifetime() time.Duration })
		if !ok {
			return nil, errors.New("middleware: Freshness by nonce needs a nonce source with a Lifetime() time.Duration method (nonce.Source has one)")
		}
		if nonceLife = lt.Lifetime(); nonceLife <= 0 {
			return nil, errors.New("middleware: the nonce source's Lifetime must be positive")
		}
	}
	p.dpopTTL = replayTTL(p.freshness, g.proofs.Window(), nonceLife)
	if g.shr != nil {
		p.popTTL = replayTTL(p.freshness, g.shr.Window(), nonceLife)
	}
	return p, nil
}

// replayTTL is how long the replay store must remember a proof the route
// accepted: as long as the route could accept it again. Judged by iat (or
// ts), that is the verifier's window (max age plus future skew); by nonce,
// the nonce's lifetime; by both, the shorter. A proof dated the full skew
// ahead is still acceptable at exactly iat+maxAge, the instant a store
// keeping it for the window forgets it; a second on top closes that
// boundary (and sub-second iats).
func replayTTL(f validate.Freshness, window, nonceLife time.Duration) time.Duration {
	ttl := window
	switch f {
	case validate.FreshnessNonce:
		ttl = nonceLife
	case validate.FreshnessBoth:
		ttl = min(window, nonceLife)
	}
	if ttl > math.MaxInt64-time.Second {
		return math.MaxInt64
	}
	return ttl + time.Second
}

// Supports reports whether the Guard can check scheme s: PoP needs WithPoP.
func (g *Guard) Supports(s popguard.Scheme) bool { return g.supports(s) }

func (g *Guard) supports(s popguard.Scheme) bool {
	return s != popguard.PoP || g.shr != nil
}

func (p *policy) accepts(s popguard.Scheme) bool {
	if s == popguard.MTLSPoP {
		s = popguard.Bearer // Microsoft's name for Bearer with a certificate-bound token
	}
	for _, a := range p.schemes {
		if a == s {
			return true
		}
	}
	return false
}

// Route is one route's policy (mode, scopes, nonces, error handler),
// prepared once by Guard.Route when routes are set up. It is safe for
// concurrent use.
type Route struct {
	g *Guard
	p *policy
}

// Route prepares the policy of a route: mode plus opts. It fails on invalid
// options (for example RequireNonce on a Guard without WithNonces), so a
// configuration mistake surfaces at startup, never as a client error. With
// WithResourceMetadata, every route made shapes the document: its scopes
// join scopes_supported, and a route accepting Bearer makes
// dpop_bound_access_tokens_required false.
func (g *Guard) Route(mode popguard.Mode, opts ...RouteOption) (*Route, error) {
	p, err := g.newPolicy(mode, opts)
	if err != nil {
		return nil, err
	}
	if g.meta != nil {
		g.meta.noteRoute(p)
	}
	return &Route{g: g, p: p}, nil
}

// Require is Route(mode, opts...).Handler for net/http routers. It panics on
// invalid route options, like http.ServeMux on a bad pattern.
func (g *Guard) Require(mode popguard.Mode, opts ...RouteOption) func(http.Handler) http.Handler {
	rt, err := g.Route(mode, opts...)
	if err != nil {
		panic(err)
	}
	return rt.Handler
}

// Handler wraps next: an accepted request reaches next with its
// *popguard.Result in the request context (popguard.FromContext) and the
// response headers the route asks for (a rotated DPoP-Nonce); a rejected
// one is answered by the route's error handler and never reaches next.
//
// A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
// carries no credentials by definition (Fetch standard), so it is never
// answered 401; it never reaches next either, since anyone can send one and
// next must only ever see authenticated requests. The guard answers it 204
// No Content, keeping the headers already set on w. Put a CORS middleware
// in front of the guard: it answers preflights itself (or sets
// Access-Control-Allow-Origin, -Methods and -Headers, with Authorization
// and DPoP, before passing them on), and the browser then sends the real
// request, which the guard checks.
func (rt *Route) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isPreflight(r) {
			WriteRejection(w, r, preflight()) // not the error handler: a 204, not a refusal
			return
		}
		res, hdr, rej := rt.g.authenticate(rt.p, r)
		if rej != nil {
			rt.p.onError(w, r, rej)
			return
		}
		AddHeaders(w.Header(), hdr)
		next.ServeHTTP(w, r.WithContext(popguard.NewContext(r.Context(), res)))
	})
}

// AddHeaders copies the headers Check returns for an accepted request into
// dst: each field replaces dst's, except Access-Control-Expose-Headers,
// whose names are added to those a CORS middleware may have set.
func AddHeaders(dst, hdr http.Header) {
	for k, v := range hdr {
		if k == "Access-Control-Expose-Headers" && len(dst[k]) > 0 {
			dst[k] = append(dst[k], v...)
			continue
		}
		dst[k] = v
	}
}

// preflight is the answer to a CORS preflight: 204, no challenge, no body.
func preflight() *Rejection {
	return &Rejection{Status: http.StatusNoContent, Header: http.Header{},
		Err: popguard.NewError(popguard.CodeNone, popguard.ReasonCORSPreflight, "", nil)}
}

// isPreflight reports whether r is a CORS preflight request.
func isPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Check authenticates r without writing a response, for frameworks that
// drive the response themselves (see adapters/ginpop and adapters/echopop).
// On success it returns the result and the headers to add to the response
// (with AddHeaders); on failure an error that is a *Rejection, to be
// written with WriteRejection. A CORS preflight gets a *Rejection with
// status 204 and reason cors_preflight: write it as any other, and never
// pass the request to the handler.
func (rt *Route) Check(r *http.Request) (*popguard.Result, http.Header, error) {
	if isPreflight(r) {
		return nil, nil, preflight()
	}
	res, hdr, rej := rt.g.authenticate(rt.p, r)
	if rej != nil {
		return nil, nil, rej
	}
	return res, hdr, nil
}

// WriteRejection writes err, as returned by Check, with the route's error
// handler. An error that is not a *Rejection is answered as an internal
// invalid_token rejection.
func (rt *Route) WriteRejection(w http.ResponseWriter, r *http.Request, err error) {
	var rej *Rejection
	if !errors.As(err, &rej) {
		rej = rt.g.reject(rt.p, 0, err)
	}
	if rej.Err != nil && rej.Err.Reason == popguard.ReasonCORSPreflight {
		WriteRejection(w, r, rej) // 204, whatever the error handler would write
		return
	}
	rt.p.onError(w, r, rej)
}

// isNil catches nil interfaces and typed nils (a nil *T in an interface),
// which would otherwise crash at the first request instead of at startup.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface, reflect.Chan:
		return rv.IsNil()
	}
	return false
}
