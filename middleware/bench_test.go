package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/benchutil"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// benchGuard builds a Guard with a static key set and an in-memory replay
// store, as a single instance would run.
func benchGuard(b *testing.B, opts ...middleware.Option) (*middleware.Guard, *poptest.Issuer) {
	b.Helper()
	iss := poptest.NewStaticIssuer("https://issuer.test")
	iss.Audience = "https://api.test"
	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience("https://api.test"))
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
func BenchmarkServeDPoPCachedToken(b *testing.B) {
	g, iss := benchGuard(b)
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	serveProofs(b, g.Require(popguard.DPoPOnly)(okHandler), dpopHeaders(tok), func() string {
		return key.Proof("GET", "https://api.test/x", tok, poptest.ProofOptions{})
	})
}

// dpopHeaders sets the DPoP scheme with tok and the proof, reusing its
// slices so the benchmark itself allocates nothing per request.
func dpopHeaders(tok string) func(*http.Request, string) {
	auth, dpop := []string{"DPoP " + tok}, make([]string, 1)
	return func(r *http.Request, proof string) {
		dpop[0] = proof
		r.Header["Authorization"], r.Header["Dpop"] = auth, dpop
	}
}

// bearerHeader sets the Bearer scheme with tok.
func bearerHeader(tok string) func(*http.Request, string) {
	auth := []string{"Bearer " + tok}
	return func(r *http.Request, _ string) { r.Header["Authorization"] = auth }
}

// BenchmarkServeBearerCachedToken: a repeated Bearer token.
func BenchmarkServeBearerCachedToken(b *testing.B) {
	g, iss := benchGuard(b)
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c"})
	serveProofs(b, g.Require(popguard.BearerOnly)(okHandler), bearerHeader(tok), func() string { return tok })
}

// BenchmarkServeBearerFirstSight: the token cache is off, so every request
// costs one ES256 token verification.
func BenchmarkServeBearerFirstSight(b *testing.B) {
	g, iss := benchGuard(b, middleware.WithoutTokenCache())
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c"})
	serveProofs(b, g.Require(popguard.BearerOnly)(okHandler), bearerHeader(tok), func() string { return tok })
}

// BenchmarkRawPS256Verify is the floor of a PoP request: one RSA-2048 PSS
// verification of the signed request.
func BenchmarkRawPS256Verify(b *testing.B) {
	priv, _ := rsa.GenerateKey(rand.Reader, 2048)
	digest := sha256.Sum256([]byte("header.payload"))
	opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
	sig, _ := rsa.SignPSS(rand.Reader, priv, crypto.SHA256, digest[:], opts)
	b.ReportAllocs()
	for b.Loop() {
		if err := rsa.VerifyPSS(&priv.PublicKey, crypto.SHA256, digest[:], sig, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// serveProofs runs h over b.N requests, each with a fresh credential from
// mk (generated in batches outside the timer), after one untimed request
// that warms the token cache, and fails on any status but 204.
func serveProofs(b *testing.B, h http.Handler, set func(*http.Request, string), mk func() string) {
	const batch = 512
	creds := make([]string, batch)
	fill := func() {
		for i := range creds {
			creds[i] = mk()
		}
	}
	req := httptest.NewRequest("GET", "/x", nil)
	w := newStatusWriter()
	fill()
	set(req, creds[0])
	if h.ServeHTTP(w, req); w.Code != http.StatusNoContent {
		b.Fatalf("warm-up: status %d", w.Code)
	}
	// The warm-up used creds[0]: Batched fills a new batch first.
	benchutil.Batched(b, batch, fill, func(i int) {
		set(req, creds[i])
		w.Code = 0
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	})
}

// BenchmarkServeDPoPNonce: as BenchmarkServeDPoPCachedToken on a route that
// requires server nonces (the client holds a current one).
func BenchmarkServeDPoPNonce(b *testing.B) {
	src, err := nonce.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	g, iss := benchGuard(b, middleware.WithNonces(src))
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	h := g.Require(popguard.DPoPOnly, middleware.RequireNonce())(okHandler)
	serveProofs(b, h, dpopHeaders(tok), func() string {
		return key.Proof("GET", "https://api.test/x", tok, poptest.ProofOptions{Nonce: src.Issue()})
	})
}

// BenchmarkServeDPoPNonceFreshness: as BenchmarkServeDPoPNonce on a route
// that dates proofs by their nonce (validate.FreshnessNonce), from a
// client whose clock runs ten minutes fast.
func BenchmarkServeDPoPNonceFreshness(b *testing.B) {
	src, err := nonce.New(make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	g, iss := benchGuard(b, middleware.WithNonces(src))
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	h := g.Require(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessNonce))(okHandler)
	serveProofs(b, h, dpopHeaders(tok), func() string {
		return key.Proof("GET", "https://api.test/x", tok, poptest.ProofOptions{Nonce: src.Issue(),
			IssuedAt: time.Now().Add(10 * time.Minute)})
	})
}

// BenchmarkServeDPoPClientClaims: as BenchmarkServeDPoPCachedToken with two
// claims of the client's own in every proof, decoded for the handler.
func BenchmarkServeDPoPClientClaims(b *testing.B) {
	g, iss := benchGuard(b)
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	h := g.Require(popguard.DPoPOnly)(okHandler)
	serveProofs(b, h, dpopHeaders(tok), func() string {
		return key.Proof("GET", "https://api.test/x", tok, poptest.ProofOptions{
			Claims: map[string]any{"purpose": "transfer", "device": map[string]any{"id": "d-42"}}})
	})
}

// BenchmarkServeDPoPFirstSight: a new token with every proof (token cache
// off): two P-256 verifications, the proof's and the token's.
func BenchmarkServeDPoPFirstSight(b *testing.B) {
	g, iss := benchGuard(b, middleware.WithoutTokenCache())
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	h := g.Require(popguard.DPoPOnly)(okHandler)
	serveProofs(b, h, dpopHeaders(tok), func() string {
		return key.Proof("GET", "https://api.test/x", tok, poptest.ProofOptions{})
	})
}

// BenchmarkServePoPCachedToken: an MSAL.NET-format signed request (PS256,
// RSA-2048) per request, the token inside it already verified once.
func BenchmarkServePoPCachedToken(b *testing.B) {
	g, iss := benchGuard(b, middleware.WithPoP())
	pk, err := dpopclient.GenerateKey("PS256")
	if err != nil {
		b.Fatal(err)
	}
	key := poptest.NewClientWithKey(pk)
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", PoP: key})
	h := g.Require(popguard.PoPOnly)(okHandler)
	auth := make([]string, 1)
	serveProofs(b, h, func(r *http.Request, v string) {
		auth[0] = v
		r.Header["Authorization"] = auth
	}, func() string {
		return "PoP " + key.SHR("GET", "https://api.test/x", tok, poptest.SHROptions{}) // built with the credential, outside the timer
	})
}

// BenchmarkServeRatios runs every whole-request path beside the signature
// verifications it cannot avoid, in one run, and reports each path's cost
// in units of its floor (x-floor): DPoP and Bearer with a cached token
// against one P-256 verify, first sight against two, PoP against one
// RSA-PSS verify. Its "ratio/..." sub-benchmarks carry the metrics; their
// ns/op means nothing.
//
//	go test -run '^$' -bench ServeRatios -count 5 ./middleware/
func BenchmarkServeRatios(b *testing.B) {
	paths := []struct {
		name   string
		f      func(*testing.B)
		floors float64 // how many floor verifications the path cannot avoid
		rsa    bool    // the floor is RSA-PSS rather than P-256
	}{
		{"dpop-cached-token", BenchmarkServeDPoPCachedToken, 1, false},
		{"dpop-nonce", BenchmarkServeDPoPNonce, 1, false},
		{"dpop-nonce-freshness", BenchmarkServeDPoPNonceFreshness, 1, false},
		{"dpop-client-claims", BenchmarkServeDPoPClientClaims, 1, false},
		{"dpop-first-sight", BenchmarkServeDPoPFirstSight, 2, false},
		{"bearer-first-sight", BenchmarkServeBearerFirstSight, 1, false},
		{"bearer-cached-token", BenchmarkServeBearerCachedToken, 1, false},
		{"pop-cached-token", BenchmarkServePoPCachedToken, 1, true},
	}
	// Each path is measured right after its own floor, so a machine whose
	// load drifts during the run skews the ratio as little as possible.
	for _, p := range paths {
		floorName, floorF := "floor-p256/"+p.name, BenchmarkRawP256Verify
		if p.rsa {
			floorName, floorF = "floor-ps256/"+p.name, BenchmarkRawPS256Verify
		}
		floor := benchutil.Measure(b, floorName, floorF)
		ns := benchutil.Measure(b, p.name, p.f)
		b.Run("ratio/"+p.name, func(b *testing.B) {
			if ns == 0 || floor == 0 {
				b.Skip("a sub-benchmark did not run (filtered out)")
			}
			b.ReportMetric(ns/(p.floors*floor), "x-floor")
			b.ReportMetric(ns, "path-ns/op")
		})
	}
}
