// Command prometheus shows popguard's metrics hook exported to Prometheus,
// next to the in-process migration view (middleware.MigrationStats).
//
// Every request a Guard checks becomes one increment of
//
//	popguard_requests_total{route, scheme, outcome, reason}
//
// route is the route's middleware.Name (default: its mode), scheme is none,
// Bearer, DPoP or PoP, outcome is accepted, rejected or reported (let through
// by a report-only route although its stricter mode would reject it), and
// reason is the stable rejection reason (empty unless rejected; see
// popguard.Reason). Route and reason names come from configuration and
// code, never from requests, so the series count stays bounded.
//
// Run it with a generated demo issuer (it logs a Bearer token to try):
//
//	go run . [-listen 127.0.0.1:8080] [-admin-listen 127.0.0.1:9090]
//
// or against a real issuer's keys, in a JWKS file:
//
//	go run . -issuer https://issuer.example -audience https://api.example.test -jwks jwks.json
//
// API routes (listen): GET /healthz; /transfers/ (DPoP only), /accounts/
// (report-only DPoP: Bearer still works and is counted as reported),
// /legacy/ (Bearer only). Admin routes (admin-listen, keep it private):
// /metrics (Prometheus) and /debug/popguard (MigrationStats: JSON, or a
// table with Accept: text/plain).
//
// It is its own module so that the core popguard module never depends on
// client_golang.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// promMetrics implements middleware.Metrics with a Prometheus counter.
type promMetrics struct {
	requests *prometheus.CounterVec
}

func newPromMetrics(reg prometheus.Registerer) (*promMetrics, error) {
	m := &promMetrics{requests: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "popguard_requests_total",
		Help: "Requests checked by popguard, by route, scheme (none, Bearer, Bearer+mTLS, DPoP, PoP, mtls_pop), outcome (accepted, rejected, reported) and rejection reason.",
	}, []string{"route", "scheme", "outcome", "reason"})}
	if err := reg.Register(m.requests); err != nil {
		return nil, err
	}
	return m, nil
}

// Observe implements middleware.Metrics.
func (m *promMetrics) Observe(e middleware.Event) {
	m.requests.WithLabelValues(e.Route, e.SchemeLabel(), string(e.Outcome), string(e.Reason)).Inc()
}

type config struct {
	listen, adminListen string
	issuer, audience    string
	jwks                string // a JWKS file; empty: generate a demo issuer
	publicURL           string
}

// app is the protected API and the admin endpoints.
type app struct {
	api, admin http.Handler
	guard      *middleware.Guard
	demo       *demoIssuer // nil with -jwks
}

func newApp(cfg config, log *slog.Logger) (*app, error) {
	a := &app{}
	var jwks []byte
	if cfg.jwks == "" {
		d, err := newDemoIssuer(cfg.issuer)
		if err != nil {
			return nil, err
		}
		a.demo, jwks = d, d.JWKS()
	} else {
		var err error
		if jwks, err = os.ReadFile(cfg.jwks); err != nil {
			return nil, err
		}
	}
	keys, err := validate.NewStaticKeySet(jwks)
	if err != nil {
		return nil, err
	}
	tokens, err := validate.NewJWTVerifier(cfg.issuer, keys, validate.Audience(cfg.audience))
	if err != nil {
		return nil, err
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	prom, err := newPromMetrics(reg)
	if err != nil {
		return nil, err
	}
	stats := middleware.NewMigrationStats()

	opts := []middleware.Option{middleware.WithTokens(tokens), middleware.WithLogger(log),
		middleware.WithMetrics(middleware.Tee(prom, stats))}
	// The origin clients sign comes from configuration, never from the
	// request's Host: -public-url, or else the API's listen address.
	if cfg.publicURL == "" {
		cfg.publicURL = "http://" + cfg.listen
	}
	opts = append(opts, middleware.WithPublicURL(cfg.publicURL))
	if a.guard, err = middleware.New(opts...); err != nil {
		return nil, err
	}

	api := http.NewServeMux()
	api.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	api.Handle("/transfers/", a.guard.Require(popguard.DPoPOnly, middleware.Name("transfers"))(http.HandlerFunc(whoAmI)))
	api.Handle("/accounts/", a.guard.Require(popguard.ReportOnly(popguard.DPoPOnly), middleware.Name("accounts"))(http.HandlerFunc(whoAmI)))
	api.Handle("/legacy/", a.guard.Require(popguard.BearerOnly, middleware.Name("legacy"))(http.HandlerFunc(whoAmI)))
	a.api = api

	admin := http.NewServeMux()
	admin.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	admin.Handle("GET /debug/popguard", stats.Handler())
	a.admin = admin
	return a, nil
}

// whoAmI answers with the authenticated caller.
func whoAmI(w http.ResponseWriter, r *http.Request) {
	c := popguard.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"scheme": c.Scheme.String(), "sub": c.Subject, "client_id": c.ClientID, "jkt": c.KeyThumbprint})
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "prometheus example:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("prometheus", flag.ContinueOnError)
	var cfg config
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:8080", "API address")
	fs.StringVar(&cfg.adminListen, "admin-listen", "127.0.0.1:9090", "address of /metrics and /debug/popguard (keep it private)")
	fs.StringVar(&cfg.issuer, "issuer", "https://issuer.example", "trusted token issuer (exact iss)")
	fs.StringVar(&cfg.audience, "audience", "https://api.example", "this API's audience (aud)")
	fs.StringVar(&cfg.jwks, "jwks", "", "issuer JWKS file (default: generate a demo issuer and log a token)")
	fs.StringVar(&cfg.publicURL, "public-url", "", "external origin clients sign DPoP proofs for (default http://<listen>)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	a, err := newApp(cfg, log)
	if err != nil {
		return err
	}
	defer a.guard.Close()
	if a.demo != nil {
		tok, err := a.demo.Token("alice", "demo-cli", cfg.audience, "", time.Hour)
		if err != nil {
			return err
		}
		log.Info("demo issuer: a Bearer token for alice, valid 1 h", "issuer", cfg.issuer, "audience", cfg.audience, "token", tok)
		fmt.Fprintf(os.Stderr, "\nTry:\n  TOKEN=%s\n  curl -i -H \"Authorization: Bearer $TOKEN\" http://%s/accounts/1\n  curl http://%s/metrics | grep popguard_\n  curl -H 'Accept: text/plain' http://%s/debug/popguard\n\n",
			tok, cfg.listen, cfg.adminListen, cfg.adminListen)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	servers := []*http.Server{
		{Addr: cfg.listen, Handler: a.api, ReadHeaderTimeout: 10 * time.Second},
		{Addr: cfg.adminListen, Handler: a.admin, ReadHeaderTimeout: 10 * time.Second},
	}
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		}()
	}
	log.Info("listening", "api", cfg.listen, "metrics", "http://"+cfg.adminListen+"/metrics",
		"migration", "http://"+cfg.adminListen+"/debug/popguard")
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(sctx)
	}
	return err
}

// demoIssuer plays the authorization server when no JWKS is given: an
// ES256 key, its JWKS and RFC 9068 access tokens. Real deployments verify
// tokens from their own authorization server.
type demoIssuer struct {
	url string
	kid string
	key *ecdsa.PrivateKey
}

var b64 = base64.RawURLEncoding

func newDemoIssuer(url string) (*demoIssuer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return &demoIssuer{url: url, kid: "demo-1", key: k}, nil
}

// publicJWK returns the members of an EC P-256 public JWK.
func publicJWK(k *ecdsa.PublicKey) map[string]any {
	var x, y [32]byte
	k.X.FillBytes(x[:])
	k.Y.FillBytes(y[:])
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(x[:]), "y": b64.EncodeToString(y[:])}
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of an EC P-256 key.
func thumbprint(k *ecdsa.PublicKey) string {
	j := publicJWK(k)
	sum := sha256.Sum256(fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":"%s","y":"%s"}`, j["x"], j["y"]))
	return b64.EncodeToString(sum[:])
}

// JWKS returns the issuer's public key set document.
func (d *demoIssuer) JWKS() []byte {
	jwk := publicJWK(&d.key.PublicKey)
	jwk["kid"], jwk["alg"], jwk["use"] = d.kid, "ES256", "sig"
	b, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	return b
}

// Token mints an access token; a non-empty jkt binds it to a DPoP key.
func (d *demoIssuer) Token(sub, clientID, aud, jkt string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := map[string]any{"iss": d.url, "sub": sub, "aud": aud, "client_id": clientID,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(), "jti": randomID()}
	if jkt != "" {
		claims["cnf"] = map[string]any{"jkt": jkt}
	}
	return signES256(d.key, map[string]any{"typ": "at+jwt", "alg": "ES256", "kid": d.kid}, claims)
}

// signES256 returns a compact JWS of claims under header.
func signES256(k *ecdsa.PrivateKey, header, claims map[string]any) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig), nil
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}
