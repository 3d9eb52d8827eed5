package middleware_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/sign"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// benchGuard builds a Guard with a static key set and an in-memory replay
// store, as a single instance would run.
func benchGuard(b *testing.B, opts ...middleware.Option) (*middleware.Guard, *sign.Issuer) {
	b.Helper()
	iss, err := sign.NewIssuer("https://issuer.test")
	if err != nil {
		b.Fatal(err)
	}
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		b.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(iss.URL, keys, validate.Audience("https://api.test"))
	if err != nil {
		b.Fatal(err)
	}
	base := []middleware.Option{middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.test"),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	return g, iss
}

// statusWriter is a reusable ResponseWriter that records each status.
type statusWriter struct {
	h    http.Header
	Code int
}

func (w *statusWriter) Header() http.Header         { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *statusWriter) WriteHeader(code int)        { w.Code = code }

func newStatusWriter() *statusWriter { return &statusWriter{h: http.Header{}} }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

// BenchmarkRawP256Verify is the floor: the one ECDSA P-256 verification a
// DPoP request cannot avoid.
func BenchmarkRawP256Verify(b *testing.B) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&priv.PublicKey, digest[:], sig) {
			b.Fatal("verify failed")
		}
	}
}

// BenchmarkServeDPoPCachedToken: a fresh proof per request (as a real client
// sends), the access token already verified once, memory replay store.
// Proof generation happens outside the timer.
func BenchmarkServeDPoPCachedToken(b *testing.B) {
	g, iss := benchGuard(b)
	key := sign.MustKey("ES256")
	tok, _ := iss.Token(sign.TokenOptions{Subject: "s", ClientID: "c", Audience: "https://api.test", Cnf: map[string]any{"jkt": key.Thumbprint()}})
	h := g.Require(popguard.DPoPOnly)(okHandler)
	const batch = 1024
	proofs := make([]string, batch)
	fill := func() {
		for i := range proofs {
			proofs[i], _ = key.Proof("GET", "https://api.test/x", sign.ProofOptions{AccessToken: tok})
		}
	}
	fill()
	warm := httptest.NewRequest("GET", "/x", nil)
	warm.Header.Set("Authorization", "DPoP "+tok)
	warm.Header.Set("DPoP", proofs[0])
	h.ServeHTTP(httptest.NewRecorder(), warm) // caches the token
	fill()
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Authorization", "DPoP "+tok)
	w := newStatusWriter()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%batch == 0 && i > 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		req.Header["Dpop"] = []string{proofs[i%batch]}
		w.Code = 0
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkServeBearerCachedToken: a repeated Bearer token.
func BenchmarkServeBearerCachedToken(b *testing.B) {
	g, iss := benchGuard(b)
	tok, _ := iss.Token(sign.TokenOptions{Subject: "s", ClientID: "c", Audience: "https://api.test"})
	h := g.Require(popguard.BearerOnly)(okHandler)
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := newStatusWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.Code = 0
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkServeBearerFirstSight: every token is new (no cache hit): one
// ES256 token verification per request.
func BenchmarkServeBearerFirstSight(b *testing.B) {
	g, iss := benchGuard(b, middleware.WithoutTokenCache())
	tok, _ := iss.Token(sign.TokenOptions{Subject: "s", ClientID: "c", Audience: "https://api.test"})
	h := g.Require(popguard.BearerOnly)(okHandler)
	req := httptest.NewRequest("GET", "/x", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	w := newStatusWriter()
	b.ReportAllocs()
	for b.Loop() {
		w.Code = 0
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}
