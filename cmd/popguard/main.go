// Command popguard is a forward-auth decision service: it puts popguard's
// DPoP, Microsoft PoP and Bearer checks in front of any API, written in any
// language, behind nginx (auth_request), Caddy (forward_auth), Traefik
// (forwardAuth) or Envoy (ext_authz over HTTP).
//
//	popguard serve -listen ADDR -issuer ISS -audience AUD -jwks URL|FILE -public-url URL \
//	    -route PREFIX=MODE ... -trusted-gateway CIDR ... [-nonce] [-replay memory|redis://...] [-config FILE]
//	popguard check-config [the same flags]
//
// The gateway asks GET /check (any method) with the original method and URI
// in X-Original-Method and X-Original-URI (nginx) or X-Forwarded-Method and
// X-Forwarded-Uri (Traefik, Caddy); Envoy's ext_authz HTTP service sends the
// original method to the envoy prefix (default /envoy) followed by the
// original path. These headers are read only from -trusted-gateway peers;
// any other peer is refused. An allowed request gets 200 with X-Auth-Subject,
// X-Auth-Client-Id, X-Auth-Scheme, X-Auth-Scopes, X-Auth-Jkt (bound tokens)
// and a DPoP-Nonce when the nonce rotates; a refused one the library's
// status, WWW-Authenticate and DPoP-Nonce. GET /healthz answers while the
// process runs, GET /readyz once the issuer's keys are loaded (and the Redis
// replay store answers), GET /metrics in the Prometheus text format.
//
// The configuration file is JSON (read with the standard library); see
// Config. Secrets come from the environment: POPGUARD_NONCE_SECRET and
// POPGUARD_NONCE_SECRET_PREVIOUS (base64url, at least 32 bytes each) and
// POPGUARD_REDIS_URL (overrides the replay store URL). Logs are JSON lines
// (log/slog) on standard error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
	"github.com/popguard/popguard/validate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  popguard serve -listen ADDR -issuer ISS -audience AUD -jwks URL|FILE -public-url URL \
      -route PREFIX=MODE ... -trusted-gateway CIDR ... [-nonce] [-replay memory|redis://...] [-config FILE]
  popguard check-config [the same flags]   validate the configuration and print the effective routes

MODE is bearer, mixed, dpop, pop, proof or report:<mode>; the longest matching PREFIX wins and a
path no route covers is refused. Environment: POPGUARD_NONCE_SECRET, POPGUARD_NONCE_SECRET_PREVIOUS,
POPGUARD_REDIS_URL.
`

// run is the command; it returns the exit status: 0, 1 (failure) or 2 (usage).
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve", "check-config":
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "popguard: unknown command %q\n%s", cmd, usage)
		return 2
	}
	cfg, logLevel, err := parseFlags(cmd, args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "popguard:", err)
		return 2
	}
	s, err := cfg.validate()
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cmd == "check-config" {
		if err := checkKeys(s); err != nil {
			fmt.Fprintln(stderr, err)
			return 1
		}
		s.describe(stdout)
		return 0
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, s, log, nil); err != nil {
		log.Error("popguard: stopped", "error", err.Error())
		return 1
	}
	return 0
}

// multiFlag collects a repeatable flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// parseFlags reads the flags and the optional file they name, flags over
// the file: -listen, -public-url and -replay replace the file's values;
// -issuer, -audience and -jwks together replace its issuers; -route adds a
// route or replaces the file's route with the same prefix; -trusted-gateway
// adds a gateway; -nonce turns nonces on.
func parseFlags(cmd string, args []string, stderr io.Writer) (*Config, slog.Level, error) {
	fs := flag.NewFlagSet("popguard "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", "", "JSON configuration file (flags override it)")
	listen := fs.String("listen", "", "address to listen on (default 127.0.0.1:9180)")
	issuer := fs.String("issuer", "", "trusted token issuer (exact iss)")
	audience := fs.String("audience", "", "this API's audience (aud)")
	jwks := fs.String("jwks", "", "issuer JWKS: an http(s) URL or a file (default: discovered from -issuer)")
	profile := fs.String("profile", "", "the issuer's token profile: rfc9068, entra, keycloak, okta or auth0")
	var tenants multiFlag
	fs.Var(&tenants, "tenant", "with -profile entra: a tenant id accepted (repeatable)")
	acceptJWT := fs.Bool("accept-jwt-typ", false, `also accept access tokens with typ "JWT" (Microsoft Entra ID)`)
	publicURL := fs.String("public-url", "", "the origin clients address (proofs are checked against it)")
	certForm := fs.String("client-cert-header", "", "the form in which the gateway forwards the client certificate: nginx, rfc9440 or envoy (certificate-bound tokens)")
	var routes, gateways multiFlag
	fs.Var(&routes, "route", "PREFIX=MODE (repeatable); MODE: bearer, mixed, dpop, pop, proof, report:<mode>")
	fs.Var(&gateways, "trusted-gateway", "CIDR or address of a gateway allowed to ask (repeatable)")
	useNonce := fs.Bool("nonce", false, "require server nonces on DPoP and PoP routes")
	replayStore := fs.String("replay", "", "replay store: memory or redis://host:port/db (default memory)")
	level := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, 0, err
	}
	if fs.NArg() > 0 {
		return nil, 0, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*level)); err != nil {
		return nil, 0, fmt.Errorf("-log-level %q: %w", *level, err)
	}
	cfg := &Config{}
	if *configFile != "" {
		c, err := loadConfigFile(*configFile)
		if err != nil {
			return nil, 0, err
		}
		cfg = c
	}
	if *listen != "" {
		cfg.Listen = *listen
	}
	if *publicURL != "" {
		cfg.PublicURL = *publicURL
	}
	if *certForm != "" {
		cfg.ClientCert.Form = *certForm
	}
	if *issuer != "" || *audience != "" || *jwks != "" || *profile != "" || len(tenants) > 0 {
		if *issuer == "" || *audience == "" {
			return nil, 0, errors.New("-issuer and -audience go together (with -jwks, -profile and -tenant)")
		}
		cfg.Issuers = []IssuerConfig{{Issuer: *issuer, Audience: *audience, JWKS: *jwks, Profile: *profile, Tenants: tenants, AcceptJWTType: *acceptJWT}}
	} else if *acceptJWT {
		if len(cfg.Issuers) == 0 {
			return nil, 0, errors.New("-accept-jwt-typ needs an issuer")
		}
		for i := range cfg.Issuers {
			cfg.Issuers[i].AcceptJWTType = true
		}
	}
	for _, r := range routes {
		prefix, mode, ok := strings.Cut(r, "=")
		if !ok {
			return nil, 0, fmt.Errorf("-route %q: want PREFIX=MODE", r)
		}
		rc := RouteConfig{Prefix: prefix, Mode: mode}
		replaced := false
		for i := range cfg.Routes {
			if strings.TrimRight(cfg.Routes[i].Prefix, "/") == strings.TrimRight(prefix, "/") {
				cfg.Routes[i], replaced = rc, true
			}
		}
		if !replaced {
			cfg.Routes = append(cfg.Routes, rc)
		}
	}
	cfg.TrustedGateways = append(cfg.TrustedGateways, gateways...)
	if *useNonce {
		cfg.Nonce = true
	}
	if *replayStore != "" {
		cfg.Replay.Store = *replayStore
	}
	if u := os.Getenv("POPGUARD_REDIS_URL"); u != "" {
		cfg.Replay.Store = u
	}
	return cfg, lvl, nil
}

// isRemote reports whether a jwks setting is a URL.
func isRemote(jwks string) bool {
	return strings.HasPrefix(jwks, "https://") || strings.HasPrefix(jwks, "http://")
}

// checkKeys reads a JWKS file, so check-config catches a bad one; a URL is
// not fetched.
func checkKeys(s *settings) error {
	for _, ic := range s.issuers {
		if ic.JWKS == "" || isRemote(ic.JWKS) {
			continue
		}
		doc, err := os.ReadFile(ic.JWKS)
		if err != nil {
			return configErr("jwks: %v", err)
		}
		if _, err := validate.NewStaticKeySet(doc); err != nil {
			return configErr("jwks %s: %v", ic.JWKS, err)
		}
	}
	return nil
}

// nonceSecrets reads the nonce secrets from the environment; without one,
// a random secret is drawn (fine for one instance, not for a fleet).
func nonceSecrets(log *slog.Logger) (current []byte, previous [][]byte, err error) {
	read := func(name string) ([]byte, error) {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(os.Getenv(name), "="))
		if err != nil || len(b) < 32 {
			return nil, fmt.Errorf("%w: %s must be base64url of at least 32 bytes", ErrConfig, name)
		}
		return b, nil
	}
	if os.Getenv("POPGUARD_NONCE_SECRET") == "" {
		log.Warn("popguard: POPGUARD_NONCE_SECRET is not set; using a random nonce secret, which other instances will not accept")
		current = make([]byte, 32)
		_, err = rand.Read(current)
		return current, nil, err
	}
	if current, err = read("POPGUARD_NONCE_SECRET"); err != nil {
		return nil, nil, err
	}
	if os.Getenv("POPGUARD_NONCE_SECRET_PREVIOUS") != "" {
		p, err := read("POPGUARD_NONCE_SECRET_PREVIOUS")
		if err != nil {
			return nil, nil, err
		}
		previous = append(previous, p)
	}
	return current, previous, nil
}

// serve runs the service until ctx ends, then shuts down gracefully. When
// ready is not nil, the service is sent on it once listening (its addr is
// the listener's address: tests listen on port 0).
func serve(ctx context.Context, s *settings, log *slog.Logger, ready chan<- *service) error {
	sv, opts, closers, err := prepare(ctx, s, log)
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
	}()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: sv, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("popguard: listening", "addr", ln.Addr().String(), "public_url", s.publicURL,
		"issuers", len(s.issuers), "replay", redactURL(s.replay.Store), "routes", len(s.routes))
	if ready != nil {
		sv.addr = ln.Addr().String()
		ready <- sv
	}

	// The keys, then the Guard and its routes.
	keyCloser, err := loadEngine(ctx, s, sv, opts, log)
	if keyCloser != nil {
		closers = append(closers, keyCloser)
	}
	if err != nil && ctx.Err() == nil {
		_ = srv.Close()
		return err
	}
	select {
	case <-ctx.Done():
	case err := <-served:
		return err
	}
	log.Info("popguard: shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), s.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	return nil
}

// prepare builds the service and the Guard options, except the issuer's
// keys, which may take a while to load: the listener answers /healthz (and
// refuses decisions with 503) meanwhile. closers are to be called at
// shutdown, last first, even when err is not nil.
func prepare(ctx context.Context, s *settings, log *slog.Logger) (sv *service, opts []middleware.Option, closers []func() error, err error) {
	m := newMetrics()
	sv = newService(s, log, m)
	opts = []middleware.Option{middleware.WithPublicURL(s.publicURL), middleware.WithLogger(log),
		middleware.WithMetrics(m), middleware.WithErrorHandler(middleware.WriteRejection)}
	var popOpts []validate.Option
	if s.msalCompat {
		popOpts = append(popOpts, validate.MSALBrowserCompat())
	}
	opts = append(opts, middleware.WithPoP(popOpts...))
	certOpt, err := s.clientCert.option(s.gatewayList)
	if err != nil {
		return sv, nil, closers, err
	}
	if certOpt != nil {
		opts = append(opts, certOpt)
	}
	if s.replay.Store == "memory" {
		var mo []replay.MemoryOption
		if s.replay.Capacity > 0 {
			mo = append(mo, replay.Capacity(s.replay.Capacity))
		}
		store, err := replay.NewMemory(mo...)
		if err != nil {
			return nil, nil, closers, err
		}
		closers = append(closers, store.Close)
		opts = append(opts, middleware.WithReplay(store))
	} else {
		client, err := redisstore.ParseURL(s.replay.Store)
		if err != nil {
			return nil, nil, closers, fmt.Errorf("%w: replay store: %v", ErrConfig, err)
		}
		closers = append(closers, client.Close)
		var ro []redisstore.Option
		if s.replay.Prefix != "" {
			ro = append(ro, redisstore.Prefix(s.replay.Prefix))
		}
		store := redisstore.New(client, ro...)
		sv.ping = store.Ping
		opts = append(opts, middleware.WithReplay(store))
		// Redis down at startup is not fatal: decisions on proofs fail
		// closed (503) until it answers, and /readyz says so.
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := store.Ping(pctx); err != nil {
			log.Error("popguard: Redis replay store does not answer; proofs are refused until it does", "error", err.Error())
		}
		cancel()
	}
	if s.replay.FailOpen {
		opts = append(opts, middleware.WithReplayFailOpen())
		log.Warn("popguard: replay store FAIL-OPEN: while it is down, proofs are accepted without the replay check")
	}
	anyNonce := false
	for _, r := range s.routes {
		anyNonce = anyNonce || r.nonce
	}
	if anyNonce {
		cur, prev, err := nonceSecrets(log)
		if err != nil {
			return nil, nil, closers, err
		}
		no := []nonce.Option{nonce.Scope(s.publicURL)}
		if len(prev) > 0 {
			no = append(no, nonce.Previous(prev...))
		}
		src, err := nonce.New(cur, no...)
		if err != nil {
			return nil, nil, closers, err
		}
		opts = append(opts, middleware.WithNonces(src))
	}
	return sv, opts, closers, nil
}

// loadEngine loads the issuer's keys (retrying a remote JWKS until it
// answers or ctx ends), builds the Guard and its routes, and publishes them
// to the service. It returns what to close at shutdown.
func loadEngine(ctx context.Context, s *settings, sv *service, opts []middleware.Option, log *slog.Logger) (func() error, error) {
	var closers []func() error
	closer := func() error {
		var err error
		for _, c := range closers {
			err = errors.Join(err, c())
		}
		return err
	}
	var verifiers []*validate.JWTVerifier
	for _, ic := range s.issuers {
		keys, c, err := loadKeys(ctx, ic, log)
		if err != nil {
			return closer, err
		}
		if c != nil {
			closers = append(closers, c)
		}
		p, err := ic.profile()
		if err != nil {
			return closer, err
		}
		topts := []validate.Option{validate.Audience(ic.Audience), validate.UseProfile(p)}
		if len(ic.Tenants) > 0 {
			topts = append(topts, validate.Tenants(ic.Tenants...))
		}
		v, err := validate.NewJWTVerifier(ic.Issuer, keys, topts...)
		if err != nil {
			return closer, configErr("issuer %q: %v", ic.Issuer, err)
		}
		verifiers = append(verifiers, v)
	}
	tokens, err := validate.NewIssuerSet(verifiers...)
	if err != nil {
		return closer, err
	}
	guard, err := middleware.New(append(opts, middleware.WithTokens(tokens))...)
	if err != nil {
		return closer, err
	}
	eng := &engine{guard: guard}
	for _, r := range s.routes {
		ro := []middleware.RouteOption{middleware.Name(r.name)}
		if len(r.scopes) > 0 {
			ro = append(ro, middleware.RequireScopes(r.scopes...))
		}
		if r.nonce {
			ro = append(ro, middleware.RequireNonce())
		}
		if r.bound {
			ro = append(ro, middleware.RequireBoundToken())
		}
		rt, err := guard.Route(r.mode, ro...)
		if err != nil {
			_ = guard.Close()
			return closer, fmt.Errorf("route %s: %w", r.prefix, err)
		}
		eng.routes = append(eng.routes, boundRoute{route: r, check: rt})
	}
	sv.engine.Store(eng)
	log.Info("popguard: ready", "issuers", len(s.issuers))
	return func() error {
		err := guard.Close()
		if closer != nil {
			err = errors.Join(err, closer())
		}
		return err
	}, nil
}

// loadKeys returns the key set of one issuer: a JWKS file, a JWKS URL, or
// the issuer's discovered metadata. A remote set is retried until it
// answers or ctx ends, so the service starts (not ready) while the issuer
// is down.
func loadKeys(ctx context.Context, ic IssuerConfig, log *slog.Logger) (validate.KeySet, func() error, error) {
	if ic.JWKS != "" && !isRemote(ic.JWKS) {
		doc, err := os.ReadFile(ic.JWKS)
		if err != nil {
			return nil, nil, configErr("jwks: %v", err)
		}
		sks, err := validate.NewStaticKeySet(doc)
		if err != nil {
			return nil, nil, configErr("jwks %s: %v", ic.JWKS, err)
		}
		return sks, nil, nil
	}
	backoff := time.Second
	for {
		var (
			ks    validate.KeySet
			close func() error
			err   error
		)
		ropts := []validate.Option{validate.KeySetLogger(log), validate.KeySetStartupTimeout(10 * time.Second)}
		if ic.JWKS != "" {
			var rks *validate.RemoteKeySet
			if rks, err = validate.NewRemoteKeySet(ctx, ic.JWKS, ropts...); err == nil {
				ks, close = rks, rks.Close
			}
		} else {
			var p *validate.Provider
			if p, err = validate.Discover(ctx, ic.Issuer, ropts...); err == nil {
				ks, close = p, p.Close
			}
		}
		if err == nil {
			return ks, close, nil
		}
		log.Error("popguard: issuer keys not loaded; retrying", "issuer", ic.Issuer, "jwks", ic.JWKS, "error", err.Error(), "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}
