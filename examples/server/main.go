// Command server is a runnable API protected by popguard. Client developers
// use it to test their DPoP and PoP clients.
//
//	go run ./examples/server -listen 127.0.0.1:8080 -issuer ISS -audience AUD -jwks URL|FILE \
//	    [-public-url https://api.example.test (default http://<listen address>)] [-nonce] [-replay memory|redis://127.0.0.1:6379/0] \
//	    [-freshness iat|nonce|both]
//
// Routes: GET /healthz (no auth); /bearer/ (Bearer only), /mixed/ (Bearer,
// DPoP or PoP), /dpop/ (DPoP only), /pop/ (PoP only), any method and
// sub-path. Success is 200 with JSON: scheme, sub, client_id, scope, jkt,
// and client_claims when the proof carried the client's own claims
// (msal-browser's client_claims, or a DPoP proof's claims beyond RFC 9449's).
//
// -freshness says how the proof routes judge that a proof is recent: by the
// client's iat (DPoP) or ts (PoP), the default; by the server nonce it
// carries, so clients with wrong clocks still succeed; or both. nonce and
// both require server nonces, as -nonce does.
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

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	issuer := flag.String("issuer", "", "trusted token issuer (exact iss)")
	audience := flag.String("audience", "", "this API's audience (aud)")
	jwks := flag.String("jwks", "", "issuer JWKS: an http(s) URL or a file")
	publicURL := flag.String("public-url", "", "external origin (and optional path prefix) clients sign")
	useNonce := flag.Bool("nonce", false, "require server nonces on DPoP and PoP routes (secret from POPGUARD_NONCE_SECRET, else random)")
	replayStore := flag.String("replay", "memory", "replay store: memory or redis://host:port/db")
	replayCap := flag.Int("replay-capacity", 100_000, "memory replay store entries (>= peak proofs/s x 70 s)")
	acceptJWT := flag.Bool("accept-jwt-typ", false, `also accept access tokens with typ "JWT" (Microsoft Entra ID)`)
	freshnessFlag := flag.String("freshness", "iat", "how DPoP and PoP routes judge a proof recent: iat (the client's clock), nonce (the server nonce) or both")
	flag.Parse()
	freshness, err := parseFreshness(*freshnessFlag)
	if err != nil {
		return err
	}
	if *issuer == "" || *audience == "" || *jwks == "" {
		flag.Usage()
		return errors.New("-issuer, -audience and -jwks are required")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var keys validate.KeySet
	if strings.HasPrefix(*jwks, "http://") || strings.HasPrefix(*jwks, "https://") {
		rks, err := validate.NewRemoteKeySet(ctx, *jwks, validate.KeySetLogger(log))
		if err != nil {
			return err
		}
		defer rks.Close()
		keys = rks
	} else {
		doc, err := os.ReadFile(*jwks)
		if err != nil {
			return err
		}
		sks, err := validate.NewStaticKeySet(doc)
		if err != nil {
			return err
		}
		keys = sks
	}
	topts := []validate.Option{validate.Audience(*audience)}
	if *acceptJWT {
		topts = append(topts, validate.AcceptJWTType())
		log.Info("accepting access tokens with typ JWT (Microsoft Entra ID compatibility)")
	}
	tokens, err := validate.NewJWTVerifier(*issuer, keys, topts...)
	if err != nil {
		return err
	}
	// PoP as MSAL sends it. msal-browser lower-cases the whole URL it signs,
	// so its compatibility form is accepted too (see validate.MSALBrowserCompat
	// for the trade-off); /pop/ and /mixed/ are the only PoP routes here.
	opts := []middleware.Option{middleware.WithTokens(tokens), middleware.WithLogger(log),
		middleware.WithPoP(validate.MSALBrowserCompat())}
	log.Info("PoP enabled on /pop/ and /mixed/ with msal-browser compatibility (lower-cased u/p accepted)")
	// The origin clients sign comes from configuration, never from the
	// request's Host: -public-url, or else the address the server listens on.
	if *publicURL == "" {
		u, err := listenURL(*listen)
		if err != nil {
			return err
		}
		*publicURL = u
	}
	opts = append(opts, middleware.WithPublicURL(*publicURL))
	switch {
	case *replayStore == "memory":
		store, err := replay.NewMemory(replay.Capacity(*replayCap))
		if err != nil {
			return err
		}
		defer store.Close()
		opts = append(opts, middleware.WithReplay(store))
	case strings.HasPrefix(*replayStore, "redis://"), strings.HasPrefix(*replayStore, "rediss://"):
		client, err := redisstore.ParseURL(*replayStore)
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
		return errors.New("-replay must be memory or a redis:// URL")
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

	srv := &http.Server{Addr: *listen, Handler: api.Routes(guard, routeOpts...), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	log.Info("popguard example server listening", "addr", *listen, "issuer", *issuer, "audience", *audience,
		"public_url", *publicURL, "nonce", *useNonce, "freshness", *freshnessFlag, "replay", redactURL(*replayStore))
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
