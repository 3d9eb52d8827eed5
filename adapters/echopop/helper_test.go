package echopop_test

// A tiny token issuer and DPoP client for the tests. popguard's own signer
// lives in an internal package that other modules cannot import.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

const (
	testIssuer   = "https://issuer.example.test"
	testAudience = "https://api.example.test"
	testKID      = "k1"
)

var b64 = base64.RawURLEncoding

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func publicJWK(k *ecdsa.PrivateKey) map[string]any {
	x, y := k.X.FillBytes(make([]byte, 32)), k.Y.FillBytes(make([]byte, 32))
	return map[string]any{"kty": "EC", "crv": "P-256", "x": b64.EncodeToString(x), "y": b64.EncodeToString(y)}
}

// thumbprint is the RFC 7638 SHA-256 JWK thumbprint of k's public key.
func thumbprint(k *ecdsa.PrivateKey) string {
	j := publicJWK(k)
	sum := sha256.Sum256(fmt.Appendf(nil, `{"crv":"P-256","kty":"EC","x":%q,"y":%q}`, j["x"], j["y"]))
	return b64.EncodeToString(sum[:])
}

// jws signs header and claims with ES256 as a compact JWS.
func jws(t testing.TB, k *ecdsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	header["alg"] = "ES256"
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(c)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}

// accessToken mints an RFC 9068 at+jwt; jkt, when set, binds it to a DPoP key.
func accessToken(t testing.TB, issuerKey *ecdsa.PrivateKey, jkt string) string {
	now := time.Now()
	claims := map[string]any{
		"iss": testIssuer, "sub": "alice", "aud": testAudience, "client_id": "app",
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "jti": randomID(),
		"scope": "accounts:read transfers:write",
	}
	if jkt != "" {
		claims["cnf"] = map[string]any{"jkt": jkt}
	}
	return jws(t, issuerKey, map[string]any{"typ": "at+jwt", "kid": testKID}, claims)
}

// dpopProof makes an RFC 9449 proof for method and htu, bound to token.
func dpopProof(t testing.TB, k *ecdsa.PrivateKey, method, htu, token, nonce string) string {
	ath := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": time.Now().Unix(), "ath": b64.EncodeToString(ath[:])}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	return jws(t, k, map[string]any{"typ": "dpop+jwt", "jwk": publicJWK(k)}, claims)
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// newGuard builds a real Guard trusting issuerKey through a static JWKS.
func newGuard(t testing.TB, issuerKey *ecdsa.PrivateKey, opts ...middleware.Option) *middleware.Guard {
	t.Helper()
	jwk := publicJWK(issuerKey)
	jwk["kid"], jwk["alg"], jwk["use"] = testKID, "ES256", "sig"
	doc, _ := json.Marshal(map[string]any{"keys": []any{jwk}})
	keys, err := validate.NewStaticKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(testIssuer, keys, validate.Audience(testAudience))
	if err != nil {
		t.Fatal(err)
	}
	base := []middleware.Option{
		middleware.WithTokens(tokens),
		middleware.WithPublicURL(testAudience),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g
}

// staleNonces accepts "old" but asks for rotation, so an accepted request
// carries a DPoP-Nonce response header.
type staleNonces struct{}

func (staleNonces) Issue() string { return "new" }
func (staleNonces) Check(n string) (bool, error) {
	if n == "old" {
		return false, nil
	}
	if n == "new" {
		return true, nil
	}
	return false, fmt.Errorf("unknown nonce")
}

// ---- route confusion probes (dot-segments), over HTTP/1.1 and HTTP/2 ----

// probe records what a Guard refused and how often the handlers ran.
type probe struct {
	mu      sync.Mutex
	reasons []popguard.Reason
	handled atomic.Int64
}

// guardOption captures each rejection's reason through the metrics hook,
// which every adapter reaches.
func (p *probe) guardOption() middleware.Option { return middleware.WithMetrics(p) }

// Observe implements middleware.Metrics.
func (p *probe) Observe(e middleware.Event) {
	if e.Outcome == middleware.Rejected {
		p.mu.Lock()
		p.reasons = append(p.reasons, e.Reason)
		p.mu.Unlock()
	}
}

func (p *probe) reset() (reasons []popguard.Reason, handled int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	reasons, p.reasons = p.reasons, nil
	return reasons, p.handled.Swap(0)
}

// serveBoth serves h over HTTP/1.1 and unencrypted HTTP/2.
func serveBoth(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// sendPath sends GET rawPath exactly as written, over HTTP/2 when h2.
func sendPath(t *testing.T, srv *httptest.Server, h2 bool, rawPath, auth, proof string) int {
	t.Helper()
	u, err := url.Parse(srv.URL + rawPath)
	if err != nil || u.EscapedPath() != rawPath {
		t.Fatalf("cannot send %q as is (%v)", rawPath, err)
	}
	req, err := http.NewRequest("GET", u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	req.Header.Set("Authorization", auth)
	req.Header.Set("DPoP", proof)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(!h2)
	tr.Protocols.SetUnencryptedHTTP2(h2)
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want {
		t.Fatalf("answered over HTTP/%d, want HTTP/%d", res.ProtoMajor, want)
	}
	return res.StatusCode
}

// dotSegmentCases are requests whose dot-segments resolve to a route other
// than the one the router picks, each with the path its proof is made for.
var dotSegmentCases = []struct{ sent, signed string }{
	{"/dpop/%2E%2E/mixed/profile", "/mixed/profile"},
	{"/dpop/%2e%2e/mixed/profile", "/mixed/profile"},
	{"/dpop/.%2E/mixed/profile", "/mixed/profile"},
	{"/dpop/../mixed/profile", "/mixed/profile"},
	{"/dpop/a/./../../mixed/profile", "/mixed/profile"},
	{"/dpop/a%2F..%2F..%2Fmixed/profile", "/mixed/profile"},
	{"/mixed/x/%2E%2E/profile", "/mixed/profile"},
}

// checkDotSegments sends every case with a proof for the path it resolves
// to and for itself, over both protocols, and expects 400
// request_dot_segment with no handler run; then a control request.
func checkDotSegments(t *testing.T, srv *httptest.Server, p *probe, client *ecdsa.PrivateKey, tok string) {
	t.Helper()
	for _, h2 := range []bool{false, true} {
		for _, c := range dotSegmentCases {
			for _, signed := range []string{c.signed, c.sent} {
				status := sendPath(t, srv, h2, c.sent, "DPoP "+tok, dpopProof(t, client, "GET", testAudience+signed, tok, ""))
				reasons, handled := p.reset()
				if status != http.StatusBadRequest || handled != 0 || len(reasons) != 1 || reasons[0] != popguard.ReasonDotSegment {
					t.Errorf("HTTP/2 %v, GET %s with a proof for %s: status %d, handler ran %d times, reasons %v; want 400 request_dot_segment, none",
						h2, c.sent, signed, status, handled, reasons)
				}
			}
		}
		status := sendPath(t, srv, h2, "/mixed/profile", "DPoP "+tok, dpopProof(t, client, "GET", testAudience+"/mixed/profile", tok, ""))
		if _, handled := p.reset(); status != http.StatusOK || handled != 1 {
			t.Errorf("HTTP/2 %v, control: status %d, handler ran %d times", h2, status, handled)
		}
	}
}
