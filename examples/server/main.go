// Command server is a runnable API protected by popguard. Client developers
// use it to test their DPoP and PoP clients.
//
//	go run ./examples/server -listen 127.0.0.1:8080 -issuer ISS -audience AUD [-jwks URL|FILE] \
//	    [-profile rfc9068|entra|keycloak|okta|auth0] [-tenant TID ...] \
//	    [-public-url https://api.example.test (default http://<listen address>)] [-nonce] [-replay memory|redis://127.0.0.1:6379/0] \
//	    [-tls-cert FILE -tls-key FILE [-client-ca FILE]] [-client-cert-header rfc9440|nginx|envoy -trusted-proxy CIDR ...] \
//	    [-freshness iat|nonce|both] \
//	    [-resource URL (default the public URL)] [-scopes "read,write"]
//
// Without -jwks the issuer's keys are discovered from its metadata
// (validate.Discover); -issuer may repeat. With -profile entra, -issuer may
// hold {tenantid}, and -tenant lists the tenants accepted.
//
// -replay also takes a Redis Cluster (redis://h1:p1?addr=h2:p2&addr=h3:p3)
// or a master behind Sentinel (redis://s1:26379/0?master_name=NAME), told
// apart as redisstore.ParseUniversalURL says.
//
// Routes: GET /healthz (no auth); /bearer/ (Bearer only), /mixed/ (Bearer,
// DPoP or PoP), /dpop/ (DPoP only), /pop/ (PoP only), any method and
// sub-path. Success is 200 with JSON: scheme, sub, client_id, scope, jkt,
// and x5t#S256 for a certificate-bound token (RFC 8705), accepted on /bearer/
// and /mixed/ with its certificate: the TLS client certificate (-tls-cert,
// -tls-key, -client-ca), or the one a trusted proxy forwards
// (-client-cert-header with -trusted-proxy); and client_claims when the proof carried the client's own claims
// (msal-browser's client_claims, or a DPoP proof's claims beyond RFC 9449's).
//
// -freshness says how the proof routes judge that a proof is recent: by the
// client's iat (DPoP) or ts (PoP), the default; by the server nonce it
// carries, so clients with wrong clocks still succeed; or both. nonce and
// both require server nonces, as -nonce does.
//
// The OAuth 2.0 Protected Resource Metadata (RFC 9728) of the resource is at
// /.well-known/oauth-protected-resource followed by the resource's path
// (public URL https://api.example.test/v1: /.well-known/oauth-protected-resource/v1,
// which a proxy forwards unchanged), and every challenge points to it with
// resource_metadata. The resource identifier is the public URL, or -resource;
// tokens issued for it (RFC 8707) carry it as their audience, so it is
// accepted as an audience besides -audience. -scopes adds to scopes_supported.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/popguard/popguard/examples/internal/api"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
	"github.com/popguard/popguard/validate"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// keySetFor returns the key set of issuer: jwks (a URL or a file) when
// given, else the issuer's discovered metadata.
func keySetFor(ctx context.Context, issuer, jwks string, log *slog.Logger) (validate.KeySet, func(), error) {
	switch {
	case jwks == "":
		p, err := validate.Discover(ctx, issuer, validate.KeySetLogger(log))
		if err != nil {
			return nil, nil, err
		}
		log.Info("discovered issuer metadata", "issuer", issuer)
		return p, func() { _ = p.Close() }, nil
	case strings.HasPrefix(jwks, "http://") || strings.HasPrefix(jwks, "https://"):
		rks, err := validate.NewRemoteKeySet(ctx, jwks, validate.KeySetLogger(log))
		if err != nil {
			return nil, nil, err
		}
		return rks, func() { _ = rks.Close() }, nil
	}
	doc, err := os.ReadFile(jwks)
	if err != nil {
		return nil, nil, err
	}
	sks, err := validate.NewStaticKeySet(doc)
	if err != nil {
		return nil, nil, err
	}
	return sks, func() {}, nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	var issuers, tenants stringList
	flag.Var(&issuers, "issuer", "trusted token issuer (exact iss; repeatable; may hold {tenantid} with -profile entra)")
	audience := flag.String("audience", "", "this API's audience (aud)")
	jwks := flag.String("jwks", "", "issuer JWKS: an http(s) URL or a file (default: discovered from -issuer)")
	profileName := flag.String("profile", "rfc9068", "token profile of the issuers: rfc9068, entra, keycloak, okta or auth0")
	flag.Var(&tenants, "tenant", "with -profile entra: a tenant id whose v1 and v2 tokens are accepted (repeatable)")
	publicURL := flag.String("public-url", "", "external origin (and optional path prefix) clients sign")
	useNonce := flag.Bool("nonce", false, "require server nonces on DPoP and PoP routes (secret from POPGUARD_NONCE_SECRET, else random)")
	replayStore := flag.String("replay", "memory", "replay store: memory, redis://host:port/db, a cluster redis://h1:p1?addr=h2:p2, or Sentinel redis://s1:p1/db?master_name=NAME")
	replayCap := flag.Int("replay-capacity", 100_000, "memory replay store entries (>= peak proofs/s x 70 s)")
	tlsCert := flag.String("tls-cert", "", "serve HTTPS with this PEM certificate (with -tls-key)")
	tlsKey := flag.String("tls-key", "", "the PEM private key of -tls-cert")
	clientCA := flag.String("client-ca", "", "with -tls-cert: ask clients for a certificate and verify one given against this PEM CA (certificate-bound tokens)")
	certHeader := flag.String("client-cert-header", "", "read forwarded client certificates from a TLS-terminating proxy: rfc9440, nginx or envoy (with -trusted-proxy)")
	var trustedProxies stringList
	flag.Var(&trustedProxies, "trusted-proxy", "address or CIDR of a proxy whose -client-cert-header is believed (repeatable)")
	resource := flag.String("resource", "", "resource identifier of the RFC 9728 metadata (default: the public URL); accepted as an audience too")
	scopes := flag.String("scopes", "", "scopes added to the metadata's scopes_supported (comma or space separated)")
	acceptJWT := flag.Bool("accept-jwt-typ", false, `also accept access tokens with typ "JWT" or none, the client in azp or appid (kept for compatibility; prefer -profile)`)
	freshnessFlag := flag.String("freshness", "iat", "how DPoP and PoP routes judge a proof recent: iat (the client's clock), nonce (the server nonce) or both")
	flag.Parse()
	freshness, err := parseFreshness(*freshnessFlag)
	if err != nil {
		return err
	}
	if len(issuers) == 0 || *audience == "" {
		flag.Usage()
		return errors.New("-issuer and -audience are required")
	}
	if *jwks != "" && len(issuers) > 1 {
		return errors.New("-jwks serves one -issuer; several issuers are discovered")
	}
	profile, ok := validate.ProfileByName(*profileName)
	if !ok {
		return fmt.Errorf("unknown -profile %q", *profileName)
	}
	if *acceptJWT {
		profile.Types = append(profile.Types, "JWT", "")
		profile.Required = []string{"iss", "sub", "aud", "exp", "iat"}
		profile.ClientClaims = append(profile.ClientClaims, "azp", "appid")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	// The origin clients sign comes from configuration, never from the
	// request's Host: -public-url, or else the address the server listens on.
	if *publicURL == "" {
		u, err := listenURL(*listen)
		if err != nil {
			return err
		}
		if *tlsCert != "" {
			u = "https" + strings.TrimPrefix(u, "http")
		}
		*publicURL = u
	}
	if *resource == "" {
		*resource = strings.TrimRight(*publicURL, "/")
	}
	audiences := []string{*audience}
	if *resource != *audience {
		audiences = append(audiences, *resource)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var verifiers []*validate.JWTVerifier
	for _, iss := range issuers {
		keys, closeKeys, err := keySetFor(ctx, iss, *jwks, log)
		if err != nil {
			return err
		}
		defer closeKeys()
		topts := []validate.Option{validate.Audience(audiences...), validate.UseProfile(profile)}
		if len(tenants) > 0 {
			topts = append(topts, validate.Tenants(tenants...))
		}
		v, err := validate.NewJWTVerifier(iss, keys, topts...)
		if err != nil {
			return err
		}
		verifiers = append(verifiers, v)
		log.Info("trusting issuer", "issuer", iss, "profile", profile.Name, "tenants", []string(tenants))
	}
	tokens, err := validate.NewIssuerSet(verifiers...)
	if err != nil {
		return err
	}
	// PoP as MSAL sends it. msal-browser lower-cases the whole URL it signs,
	// so its compatibility form is accepted too (see validate.MSALBrowserCompat
	// for the trade-off); /pop/ and /mixed/ are the only PoP routes here.
	opts := []middleware.Option{middleware.WithTokens(tokens), middleware.WithLogger(log),
		middleware.WithPoP(validate.MSALBrowserCompat())}
	log.Info("PoP enabled on /pop/ and /mixed/ with msal-browser compatibility (lower-cased u/p accepted)")
	opts = append(opts, middleware.WithPublicURL(*publicURL),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: *resource, Scopes: splitScopes(*scopes)}))
	tlsConfig, err := serverTLS(*tlsCert, *tlsKey, *clientCA)
	if err != nil {
		return err
	}
	certOpt, err := clientCertOption(*certHeader, trustedProxies)
	if err != nil {
		return err
	}
	if certOpt != nil {
		opts = append(opts, certOpt)
		log.Info("client certificates forwarded by trusted proxies", "form", *certHeader, "proxies", []string(trustedProxies))
	}
	switch {
	case *replayStore == "memory":
		store, err := replay.NewMemory(replay.Capacity(*replayCap))
		if err != nil {
			return err
		}
		defer store.Close()
		opts = append(opts, middleware.WithReplay(store))
	case strings.HasPrefix(*replayStore, "redis://"), strings.HasPrefix(*replayStore, "rediss://"):
		client, err := redisstore.ParseUniversalURL(*replayStore)
		if err != nil {
			return err
		}
		defer client.Close()
		store := redisstore.New(client)
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = store.Ping(pctx)
		cancel()
		if err != nil {
			return fmt.Errorf("redis replay store: %w", err)
		}
		opts = append(opts, middleware.WithReplay(store))
	default:
		return errors.New("-replay must be memory or a redis:// or rediss:// URL (one server, a cluster or Sentinel)")
	}
	var routeOpts []middleware.RouteOption
	if freshness != validate.FreshnessIAT {
		*useNonce = true // freshness by nonce needs nonces
		routeOpts = append(routeOpts, middleware.Freshness(freshness))
	}
	if *useNonce {
		secret, err := nonceSecret()
		if err != nil {
			return err
		}
		src, err := nonce.New(secret, nonce.Scope(*audience))
		if err != nil {
			return err
		}
		opts = append(opts, middleware.WithNonces(src))
		routeOpts = append(routeOpts, middleware.RequireNonce())
	}
	guard, err := middleware.New(opts...)
	if err != nil {
		return err
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.Handle("/", api.Routes(guard, routeOpts...))
	mux.Handle(guard.MetadataPath(), guard.MetadataHandler())
	log.Info("serving the protected resource metadata (RFC 9728)", "resource", guard.Resource(), "url", guard.MetadataURL(), "path", guard.MetadataPath())
	srv := &http.Server{Addr: *listen, Handler: mux, ReadHeaderTimeout: 10 * time.Second, TLSConfig: tlsConfig}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("popguard example server listening", "addr", *listen, "issuers", []string(issuers), "audience", *audience,
		"public_url", *publicURL, "nonce", *useNonce, "freshness", *freshnessFlag, "replay", redactURL(*replayStore))
	serve := srv.ListenAndServe
	if tlsConfig != nil {
		serve = func() error { return srv.ListenAndServeTLS("", "") }
	}
	if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// listenURL is the public URL of a server without -public-url:
// http://<the -listen address>. A listen address without a host clients can
// address (":8080", "0.0.0.0:8080") needs -public-url.
func listenURL(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("-listen %q: %w", listen, err)
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		return "", fmt.Errorf("-listen %q names no host clients can address: set -public-url to the URL they use", listen)
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// parseFreshness reads -freshness.
func parseFreshness(s string) (validate.Freshness, error) {
	switch s {
	case "iat":
		return validate.FreshnessIAT, nil
	case "nonce":
		return validate.FreshnessNonce, nil
	case "both":
		return validate.FreshnessBoth, nil
	}
	return 0, fmt.Errorf("-freshness must be iat, nonce or both, not %q", s)
}

// splitScopes splits a -scopes value at commas and spaces.
func splitScopes(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func nonceSecret() ([]byte, error) {
	if s := os.Getenv("POPGUARD_NONCE_SECRET"); s != "" {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
		if err != nil || len(b) < 32 {
			return nil, errors.New("POPGUARD_NONCE_SECRET must be base64url of at least 32 bytes")
		}
		return b, nil
	}
	b := make([]byte, 32)
	_, err := rand.Read(b)
	return b, err
}

func redactURL(u string) string {
	if i := strings.Index(u, "@"); i >= 0 {
		if j := strings.Index(u, "://"); j >= 0 && j < i {
			return u[:j+3] + "***" + u[i:]
		}
	}
	return u
}
