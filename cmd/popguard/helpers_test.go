package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard/poptest"
)

// The public origin every test configures: clients sign it, whatever
// loopback port the gateway listens on.
const testPublicURL = "https://api.example.test"

// fixture is an issuer, a client key and the JWKS file popguard reads.
type fixture struct {
	iss  *poptest.Issuer
	key  *poptest.Client // the client's DPoP key
	jwks string          // file
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fixture{iss: iss, key: poptest.NewClient(), jwks: jwks}
}

// boundToken is a DPoP-bound token for the fixture's key.
func (f *fixture) boundToken(t testing.TB) string {
	t.Helper()
	return f.iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "cli", Audience: "https://api.example.test",
		Scope: "read write", DPoP: f.key})
}

// bearerToken is an unbound token.
func (f *fixture) bearerToken(t testing.TB) string {
	t.Helper()
	return f.iss.Token(poptest.TokenOptions{Subject: "bob", ClientID: "legacy", Audience: "https://api.example.test", Scope: "read"})
}

// proof is a DPoP proof for method and path under the public URL.
func (f *fixture) proof(t testing.TB, method, path, at, nonce string) string {
	t.Helper()
	// htu is the URL as given, query included when a test gives one.
	return f.key.Proof(method, testPublicURL+path, at, poptest.ProofOptions{Nonce: nonce,
		Claims: map[string]any{"htu": testPublicURL + path}})
}

// config is the configuration the tests run popguard with.
func (f *fixture) config(gateways ...string) *Config {
	no := false
	return &Config{
		Listen:    "127.0.0.1:0",
		PublicURL: testPublicURL,
		Issuers:   []IssuerConfig{{Issuer: f.iss.URL, Audience: "https://api.example.test", JWKS: f.jwks}},
		Routes: []RouteConfig{
			{Prefix: "/dpop/", Mode: "dpop"},
			{Prefix: "/mixed/", Mode: "mixed"},
			{Prefix: "/bearer/", Mode: "bearer"},
			{Prefix: "/nonce/", Mode: "dpop", Nonce: ptr(true)},
			{Prefix: "/report/", Mode: "report:dpop", Nonce: &no},
			{Prefix: "/admin/", Mode: "dpop", Scopes: []string{"admin"}},
		},
		TrustedGateways: gateways,
	}
}

func ptr[T any](v T) *T { return &v }

// startPopguard runs the service in this process until the test ends and
// returns it once its keys are loaded.
func startPopguard(t testing.TB, c *Config) *service {
	t.Helper()
	s, err := c.validate()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *service, 1)
	done := make(chan error, 1)
	log := slog.New(slog.NewJSONHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { done <- serve(ctx, s, log, ready) }()
	var sv *service
	select {
	case sv = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("popguard: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("popguard shutdown: %v", err)
		}
	})
	for i := 0; sv.engine.Load() == nil; i++ {
		if i > 500 {
			t.Fatal("popguard never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return sv
}

// testWriter sends logs to t.Log while the test runs.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	defer func() { _ = recover() }() // a log line after the test ended
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// echo is the upstream API: it answers 200 with what it received and
// remembers every request.
type echo struct {
	mu   sync.Mutex
	seen []echoed
	srv  *http.Server
	addr string
}

type echoed struct {
	Method string      `json:"method"`
	URI    string      `json:"uri"`
	Header http.Header `json:"header"`
}

func (e *echo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	got := echoed{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()}
	e.mu.Lock()
	e.seen = append(e.seen, got)
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(got)
}

// count is the number of requests that reached the upstream.
func (e *echo) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.seen)
}

// last is the last request that reached the upstream.
func (e *echo) last() echoed {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		return echoed{}
	}
	return e.seen[len(e.seen)-1]
}
