package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	jwtmiddleware "github.com/auth0/go-jwt-middleware/v3"
	"github.com/auth0/go-jwt-middleware/v3/validator"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/bench/internal/client"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Both middlewares see the same request: GET https://api.test/x.
const (
	issuerURL = "https://issuer.test/"
	audience  = "https://api.test"
	publicURL = "https://api.test"
	targetURL = "https://api.test/x"
	// proofBatch proofs are signed (outside the timer) per refill.
	proofBatch = 1024
)

// fixture is shared by every benchmark so that both libraries check the
// very same issuer key, access tokens and DPoP key.
type fixture struct {
	iss         *client.Issuer
	dpopKey     *client.Key
	dpopToken   string // at+jwt with cnf.jkt = dpopKey's thumbprint
	bearerToken string // at+jwt without cnf
}

var (
	fixOnce sync.Once
	fix     *fixture
	fixErr  error
)

func getFixture(tb testing.TB) *fixture {
	tb.Helper()
	fixOnce.Do(func() {
		f := &fixture{}
		if f.iss, fixErr = client.NewIssuer(issuerURL); fixErr != nil {
			return
		}
		if f.dpopKey, fixErr = client.NewKey(); fixErr != nil {
			return
		}
		base := client.TokenOptions{Subject: "user-1", ClientID: "client-1", Audience: audience, Scope: "read write", TTL: 2 * time.Hour}
		dp := base
		dp.JKT = f.dpopKey.Thumbprint
		if f.dpopToken, fixErr = f.iss.Token(dp); fixErr != nil {
			return
		}
		f.bearerToken, fixErr = f.iss.Token(base)
		fix = f
	})
	if fixErr != nil {
		tb.Fatal(fixErr)
	}
	return fix
}

// statusWriter is a reusable ResponseWriter that records the status.
type statusWriter struct {
	h    http.Header
	Code int
	body strings.Builder
}

func (w *statusWriter) Header() http.Header { return w.h }
func (w *statusWriter) Write(b []byte) (int, error) {
	if w.Code == 0 {
		w.Code = http.StatusOK
	}
	if w.body.Len() < 512 {
		w.body.Write(b)
	}
	return len(b), nil
}
func (w *statusWriter) WriteHeader(code int) { w.Code = code }
func (w *statusWriter) reset() {
	w.Code = 0
	w.body.Reset()
	clear(w.h)
}

func newStatusWriter() *statusWriter { return &statusWriter{h: http.Header{}} }

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })

func accepted(code int) bool { return code == http.StatusOK || code == http.StatusNoContent }

// --- popguard ---------------------------------------------------------------

// popguardHandler protects okHandler with popguard as a single instance
// runs it: static key set, the default verified-token cache (unless opts turn
// it off), the default in-memory replay store (100 000 entries; detection ON),
// logs discarded.
func popguardHandler(tb testing.TB, f *fixture, mode popguard.Mode, opts ...middleware.Option) http.Handler {
	tb.Helper()
	keys, err := validate.NewStaticKeySet(f.iss.JWKS())
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(issuerURL, keys, validate.Audience(audience))
	if err != nil {
		tb.Fatal(err)
	}
	base := []middleware.Option{
		middleware.WithTokens(tokens),
		middleware.WithPublicURL(publicURL),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = g.Close() })
	return g.Require(mode)(okHandler)
}

// --- auth0 go-jwt-middleware v3.1.0 --------------------------------------------

// auth0Handler protects okHandler with auth0's middleware configured as its
// README recommends, with the JWKS provider replaced by a key func that
// returns the issuer's JWK Set parsed once (no network; jwks.Provider.KeyFunc
// also returns a jwk.Set from its cache). ES256 only, same issuer, audience
// and 30 s clock skew as popguard's default leeway. DPoP proofs: max age 60 s
// (popguard's default; auth0's is 300 s). auth0 has no replay detection and
// no verified-token cache: every request verifies the access token.
func auth0Handler(tb testing.TB, f *fixture, mode jwtmiddleware.DPoPMode) http.Handler {
	tb.Helper()
	set, err := jwk.Parse(f.iss.JWKS())
	if err != nil {
		tb.Fatal(err)
	}
	keyFunc := func(context.Context) (any, error) { return set, nil }
	v, err := validator.New(
		validator.WithKeyFunc(keyFunc),
		validator.WithAlgorithm(validator.ES256),
		validator.WithIssuer(issuerURL),
		validator.WithAudience(audience),
		validator.WithAllowedClockSkew(30*time.Second),
	)
	if err != nil {
		tb.Fatal(err)
	}
	mw, err := jwtmiddleware.New(
		jwtmiddleware.WithValidator(v),
		jwtmiddleware.WithDPoPMode(mode),
		jwtmiddleware.WithDPoPProofOffset(60*time.Second),
	)
	if err != nil {
		tb.Fatal(err)
	}
	return mw.CheckJWT(okHandler)
}

// --- the benchmark bodies --------------------------------------------------------

// BenchmarkPeerRawP256Verify is the floor: the one ECDSA P-256 verification
// of a proof signature that a DPoP request cannot avoid (digest precomputed,
// as in middleware.BenchmarkRawP256Verify).
func BenchmarkPeerRawP256Verify(b *testing.B) { benchRawVerify(b) }

func benchRawVerify(b *testing.B) {
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

// BenchmarkPeerDPoP: a fresh DPoP proof per request (new jti, fresh iat) as
// a real client sends, signed outside the timer in batches; the same
// DPoP-bound access token every time.
//
//   - popguard: token cache on (verified once, before the timer), memory
//     replay detection on.
//   - popguard-nocache: WithoutTokenCache: the token is verified on every
//     request (first-sight cost), replay detection on.
//   - auth0: DPoPRequired; verifies the token on every request (it has no
//     token cache) and has no replay detection.
func BenchmarkPeerDPoP(b *testing.B) {
	b.Run("popguard", benchDPoPPopguard)
	b.Run("popguard-nocache", benchDPoPPopguardNoCache)
	b.Run("auth0", benchDPoPAuth0)
}

func benchDPoPPopguard(b *testing.B) {
	f := getFixture(b)
	benchDPoP(b, f, popguardHandler(b, f, popguard.DPoPOnly))
}

func benchDPoPPopguardNoCache(b *testing.B) {
	f := getFixture(b)
	benchDPoP(b, f, popguardHandler(b, f, popguard.DPoPOnly, middleware.WithoutTokenCache()))
}

func benchDPoPAuth0(b *testing.B) {
	f := getFixture(b)
	benchDPoP(b, f, auth0Handler(b, f, jwtmiddleware.DPoPRequired))
}

func benchDPoP(b *testing.B, f *fixture, h http.Handler) {
	prover := client.NewProver(f.dpopKey, http.MethodGet, targetURL, f.dpopToken)
	proofs := make([]string, proofBatch)
	fill := func() {
		if err := prover.Fill(proofs); err != nil {
			b.Fatal(err)
		}
	}
	req := httptest.NewRequest(http.MethodGet, targetURL, nil)
	req.Header.Set("Authorization", "DPoP "+f.dpopToken)
	w := newStatusWriter()

	// First sight, before the timer: must be accepted (this also fills
	// popguard's token cache).
	fill()
	req.Header["Dpop"] = []string{proofs[0]}
	h.ServeHTTP(w, req)
	if !accepted(w.Code) {
		b.Fatalf("first request rejected: %d %s %q", w.Code, w.h.Get("WWW-Authenticate"), w.body.String())
	}
	fill()

	rejected := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%proofBatch == 0 && i > 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		req.Header["Dpop"] = []string{proofs[i%proofBatch]}
		w.reset()
		h.ServeHTTP(w, req)
		if !accepted(w.Code) {
			rejected++
		}
	}
	b.StopTimer()
	if rejected > 0 {
		b.Fatalf("%d of %d requests rejected (last: %d %s)", rejected, b.N, w.Code, w.h.Get("WWW-Authenticate"))
	}
}

// BenchmarkPeerBearer: the same Bearer token on every request.
//
//   - popguard: the default verified-token cache: no signature check after
//     the first request.
//   - popguard-nocache: WithoutTokenCache: one ES256 verify per request,
//     like for like with auth0.
//   - auth0: default DPoPAllowed mode; verifies on every request (no cache).
func BenchmarkPeerBearer(b *testing.B) {
	b.Run("popguard", benchBearerPopguard)
	b.Run("popguard-nocache", benchBearerPopguardNoCache)
	b.Run("auth0", benchBearerAuth0)
}

func benchBearerPopguard(b *testing.B) {
	f := getFixture(b)
	benchBearer(b, f, popguardHandler(b, f, popguard.BearerOnly))
}

func benchBearerPopguardNoCache(b *testing.B) {
	f := getFixture(b)
	benchBearer(b, f, popguardHandler(b, f, popguard.BearerOnly, middleware.WithoutTokenCache()))
}

func benchBearerAuth0(b *testing.B) {
	f := getFixture(b)
	benchBearer(b, f, auth0Handler(b, f, jwtmiddleware.DPoPAllowed))
}

func benchBearer(b *testing.B, f *fixture, h http.Handler) {
	req := httptest.NewRequest(http.MethodGet, targetURL, nil)
	req.Header.Set("Authorization", "Bearer "+f.bearerToken)
	w := newStatusWriter()
	h.ServeHTTP(w, req)
	if !accepted(w.Code) {
		b.Fatalf("first request rejected: %d %s %q", w.Code, w.h.Get("WWW-Authenticate"), w.body.String())
	}
	rejected := 0
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		h.ServeHTTP(w, req)
		if !accepted(w.Code) {
			rejected++
		}
	}
	if rejected > 0 {
		b.Fatalf("%d of %d requests rejected (last: %d)", rejected, b.N, w.Code)
	}
}

// --- the ratio table -------------------------------------------------------------

// TestPeerRatio runs every benchmark with testing.Benchmark, interleaved,
// several rounds (POPGUARD_BENCH_ROUNDS, default 5), and prints the median
// ns/op, B/op and allocs/op of each with the ratios auth0/popguard and x raw
// P-256 verify. Ratios are paired: computed within each round, where both
// sides ran seconds apart, then the median (and range) over rounds is shown,
// which is what survives a shared, noisy machine. It fails when the median
// paired DPoP ratio auth0/popguard is below 3 (the claim of the comparison).
// Skipped unless POPGUARD_BENCH_PEER=1:
//
//	POPGUARD_BENCH_PEER=1 go test -run TestPeerRatio -v .
func TestPeerRatio(t *testing.T) {
	if os.Getenv("POPGUARD_BENCH_PEER") != "1" {
		t.Skip("set POPGUARD_BENCH_PEER=1 to run the peer comparison")
	}
	rounds := 5
	if v := os.Getenv("POPGUARD_BENCH_ROUNDS"); v != "" {
		if _, err := fmt.Sscan(v, &rounds); err != nil || rounds < 1 {
			t.Fatalf("POPGUARD_BENCH_ROUNDS=%q: want a positive integer", v)
		}
	}
	type entry struct {
		name string
		fn   func(*testing.B)
		ns   []float64 // per round
		last testing.BenchmarkResult
	}
	entries := []*entry{
		{name: "RawP256Verify", fn: benchRawVerify},
		{name: "DPoP/popguard", fn: benchDPoPPopguard},
		{name: "DPoP/popguard-nocache", fn: benchDPoPPopguardNoCache},
		{name: "DPoP/auth0", fn: benchDPoPAuth0},
		{name: "Bearer/popguard", fn: benchBearerPopguard},
		{name: "Bearer/popguard-nocache", fn: benchBearerPopguardNoCache},
		{name: "Bearer/auth0", fn: benchBearerAuth0},
	}
	byName := map[string]*entry{}
	for _, e := range entries {
		byName[e.name] = e
	}
	for r := 0; r < rounds; r++ {
		for _, e := range entries {
			res := testing.Benchmark(e.fn)
			if res.N == 0 {
				t.Fatalf("%s failed (see log above)", e.name)
			}
			e.ns = append(e.ns, float64(res.T.Nanoseconds())/float64(res.N))
			e.last = res
		}
	}
	med := func(xs []float64) float64 {
		c := slices.Clone(xs)
		slices.Sort(c)
		if len(c)%2 == 1 {
			return c[len(c)/2]
		}
		return (c[len(c)/2-1] + c[len(c)/2]) / 2
	}
	// paired returns the median, min and max over rounds of a/b.
	paired := func(a, b string) (float64, float64, float64) {
		rs := make([]float64, rounds)
		for i := range rs {
			rs[i] = byName[a].ns[i] / byName[b].ns[i]
		}
		return med(rs), slices.Min(rs), slices.Max(rs)
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\n%-24s %10s %9s %9s  %-22s %-22s\n", "benchmark", "ns/op", "B/op", "allocs/op", "auth0/popguard", "x raw verify")
	for _, e := range entries {
		vs := ""
		group, lib, _ := strings.Cut(e.name, "/")
		if strings.HasPrefix(lib, "popguard") {
			m, lo, hi := paired(group+"/auth0", e.name)
			vs = fmt.Sprintf("%.2fx (%.2f..%.2f)", m, lo, hi)
		}
		m, lo, hi := paired(e.name, "RawP256Verify")
		raw := fmt.Sprintf("%.2fx (%.2f..%.2f)", m, lo, hi)
		fmt.Fprintf(&out, "%-24s %10.0f %9d %9d  %-22s %-22s\n", e.name, med(e.ns), e.last.AllocedBytesPerOp(), e.last.AllocsPerOp(), vs, raw)
	}
	fmt.Fprintf(&out, "ns/op: median of %d interleaved rounds; ratios: median (min..max) of the per-round paired ratios;\n", rounds)
	fmt.Fprintf(&out, "auth0/popguard > 1 means popguard is faster.\n")
	t.Log(out.String())
	if m, _, _ := paired("DPoP/auth0", "DPoP/popguard"); m < 3 {
		t.Errorf("popguard is only %.2fx faster than auth0 on DPoP (median paired ratio); the comparison claims at least 3x", m)
	}
}
