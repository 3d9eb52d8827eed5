package middleware_test

// Adversarial end-to-end suite: every request goes through a real HTTP
// server (httptest.NewServer, Go's HTTP/1.1 parser in front of the Guard),
// or through a raw TCP connection where a client library would normalize
// what is sent (duplicate or folded lines, header-name case, huge fields,
// absolute-form request-targets, dot segments and '#' in the path). Each
// case asserts the status, the error code and reason of the captured
// Rejection and of the metrics event, that every response header is safe
// printable ASCII, and that the protected handler never ran. Accepted cases
// (what the RFCs allow and the tests pin down) assert the caller.
//
// Already covered elsewhere, not repeated here:
//
//	| conformance item                                         | existing test                                        |
//	|----------------------------------------------------------|------------------------------------------------------|
//	| §7.4 two DPoP lines, folded proofA, proofB, empty DPoP    | TestFramingRejected, TestRawFraming                  |
//	| §7.4 two Authorization lines (Bearer + DPoP)             | TestFramingRejected, TestRawFraming, TestChallengeShapes |
//	| §7.4 Bearer + ?access_token=                             | TestFramingRejected, TestQueryTokens                 |
//	| §7.4 DPoP-bound token via Bearer (with/without proof)    | TestModeMatrix                                       |
//	| §7.4 unbound token with DPoP scheme                      | TestModeMatrix                                       |
//	| §7.4 dpop / DPOP / dPoP scheme accepted                  | TestSchemeCaseInsensitive, TestRawFraming            |
//	| §7.4 full-width scheme, NBSP/TAB after scheme            | TestFramingRejected, TestRawFraming                  |
//	| §7.4 DPoP a b / a, b / token=abc                         | TestFramingRejected                                  |
//	| §7.4 Proxy-Authorization                                 | TestFramingRejected, TestRawFraming                  |
//	| §7.4 proof as access token, access token as proof        | TestFramingRejected                                  |
//	| §7.4 DPoP proof as SHR                                   | TestPoPRejected                                      |
//	| §7.5 p differing in case                                 | TestPoPRejected                                      |
//	| §7.5 stale ts                                            | TestPoPRejected                                      |
//	| key substitution: attacker's proof key + victim's token  | TestModeMatrix ("DPoP, proof by another key")        |
//	| downgrade: PoP-bound token via Bearer and via DPoP       | TestPoPRejected                                      |
//	| downgrade: x5t#S256 / cnf.kid token via DPoP             | TestModeMatrix                                       |
//	| x5t#S256 token without / with another client certificate | TestModeMatrix, TestCertBoundOverMutualTLS            |
//	| forged client-certificate header, untrusted peer, proxy's | TestForwardedClientCert, TestForwardedClientCertNginx,|
//	|   own TLS certificate, malformed header (400, no echo)    |   FuzzForwardedClientCert                            |
//	| Host: api.test/admin? (Auth0 v1.9.1), untrusted and       | TestTargetFromRequest, TestTargetTrustedProxies,     |
//	|   trusted-but-invalid X-Forwarded-Host, Forwarded quoted  |   TestTargetRawHost                                  |
//	| replay with malleated ECDSA DPoP proof (r, n-s)           | TestReplay                                           |
//	| attacker bytes never echoed in headers                   | TestNoAttackerBytesInHeaders                         |

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

var advB64 = base64.RawURLEncoding

// ---- sending ----

// advServer serves handler on a real HTTP server; the handler sees what
// Go's HTTP/1.1 parser makes of the bytes on the wire.
func advServer(t *testing.T, handler http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv
}

// advReset clears what the harness captured before a request.
func (h *harness) advReset() {
	h.cap.reset()
	h.calls.Store(0)
	h.result.Store(nil)
}

// advHTTP sends method path through srv with an http.Client; hdr are
// name/value pairs added in order (the same name twice gives two lines).
func (h *harness) advHTTP(t *testing.T, srv *httptest.Server, method, path string, hdr ...string) response {
	t.Helper()
	h.advReset()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// advRaw writes the request line and header lines (no final empty line) to
// srv over TCP and reads the answer. A server that closes the connection
// before answering (huge headers) reports status 0.
func (h *harness) advRaw(t *testing.T, srv *httptest.Server, head ...string) response {
	t.Helper()
	h.advReset()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() { _, _ = io.WriteString(conn, strings.Join(head, "\r\n")+"\r\nConnection: close\r\n\r\n") }()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return response{}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

// ---- assertions ----

// advReject asserts a rejection by the Guard: status, code and reason of
// the Rejection and of the metrics event, the error on a challenge, safe
// headers, and a handler that never ran.
func advReject(t *testing.T, h *harness, resp response, status int, code popguard.ErrorCode, reason popguard.Reason) {
	t.Helper()
	if resp.status != status {
		t.Errorf("status = %d, want %d (WWW-Authenticate %q, body %s)", resp.status, status, resp.header.Values("WWW-Authenticate"), resp.body)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("protected handler ran %d times", n)
	}
	_, events, rejs := h.cap.snapshot()
	if len(rejs) != 1 {
		t.Fatalf("%d rejections captured, want 1", len(rejs))
	}
	if r := rejs[0]; r.Status != status || r.Err.Code != code || r.Err.Reason != reason {
		t.Errorf("Rejection = {%d %q %q}, want {%d %q %q} (%v)", r.Status, r.Err.Code, r.Err.Reason, status, code, reason, r.Err)
	}
	if len(events) != 1 || events[0].Outcome != middleware.Rejected || events[0].Reason != reason {
		t.Errorf("metrics events = %+v, want one rejection with reason %q", events, reason)
	}
	if code != popguard.CodeNone && code != popguard.CodeTemporarilyUnavailable {
		if !strings.Contains(strings.Join(resp.header.Values("WWW-Authenticate"), "\n"), `error="`+string(code)+`"`) {
			t.Errorf("no challenge carries error=%q: %q", code, resp.header.Values("WWW-Authenticate"))
		}
	}
	checkHeadersSafe(t, resp.header)
}

// advServerReject asserts that Go's server refused the request before the
// Guard saw it (status 0: connection closed without an answer).
func advServerReject(t *testing.T, h *harness, resp response, statuses ...int) {
	t.Helper()
	ok := false
	for _, s := range statuses {
		ok = ok || resp.status == s
	}
	if !ok {
		t.Errorf("status = %d, want one of %v from the HTTP server", resp.status, statuses)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("protected handler ran %d times", n)
	}
	if _, events, rejs := h.cap.snapshot(); len(rejs) != 0 || len(events) != 0 {
		t.Errorf("the Guard saw a request the server should have refused: %d rejections, %d events", len(rejs), len(events))
	}
}

// advAccept asserts an accepted request by subject and scheme.
func advAccept(t *testing.T, h *harness, resp response, subject string, scheme popguard.Scheme) {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (WWW-Authenticate %q, body %s)", resp.status, resp.header.Values("WWW-Authenticate"), resp.body)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("protected handler ran %d times, want 1", n)
	}
	if res := h.result.Load(); res == nil || res.Subject != subject || res.Scheme != scheme {
		t.Errorf("result = %+v, want subject %q scheme %v", res, subject, scheme)
	}
	checkHeadersSafe(t, resp.header)
}

// ---- building proofs, tokens and signed requests ----

// advProofParts returns the header and claims of a valid DPoP proof by k
// for GET htu over tok, with set applied to the claims and hset to the
// header (a nil value deletes the member).
func advProofParts(k *poptest.Client, htu, tok string, hset, set map[string]any) (map[string]any, map[string]any) {
	hdr := map[string]any{"typ": "dpop+jwt", "alg": k.Key().Alg(), "jwk": k.JWK()}
	claims := map[string]any{"jti": advRandomID(), "htm": "GET", "htu": htu, "iat": time.Now().Unix(), "ath": advHash(tok)}
	for n, v := range hset {
		if v == nil {
			delete(hdr, n)
		} else {
			hdr[n] = v
		}
	}
	for n, v := range set {
		if v == nil {
			delete(claims, n)
		} else {
			claims[n] = v
		}
	}
	return hdr, claims
}

func advJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advSigned signs header and claims with k (the header's alg is kept).
func advSigned(t *testing.T, k *poptest.Client, hdr, claims map[string]any) string {
	t.Helper()
	return k.Sign(advJSON(t, hdr), advJSON(t, claims))
}

// advRawSigned signs exact header and payload JSON with k.
func advRawSigned(t *testing.T, k *poptest.Client, hdr, payload string) string {
	t.Helper()
	return k.Sign([]byte(hdr), []byte(payload))
}

// advParts returns the decoded header and payload of a compact JWS, for
// tests that alter what poptest wrote before signing it again.
func advParts(t *testing.T, jws string) (header, payload []byte) {
	t.Helper()
	seg := strings.Split(jws, ".")
	if len(seg) != 3 {
		t.Fatalf("%d segments in a compact JWS", len(seg))
	}
	header, err := advB64.DecodeString(seg[0])
	if err != nil {
		t.Fatal(err)
	}
	payload, err = advB64.DecodeString(seg[1])
	if err != nil {
		t.Fatal(err)
	}
	return header, payload
}

// advECDSA returns the JWS signature (r || s) of input under SHA-256 with
// priv, whatever its curve: for signing input poptest will not sign (a raw
// payload) or with a key the alg does not fit.
func advECDSA(t *testing.T, priv *ecdsa.PrivateKey, input []byte) []byte {
	t.Helper()
	digest := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	size := (priv.Curve.Params().BitSize + 7) / 8
	out := make([]byte, 2*size)
	r.FillBytes(out[:size])
	s.FillBytes(out[size:])
	return out
}

// advRandomID is a random 128-bit base64url identifier (a jti).
func advRandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return advB64.EncodeToString(b[:])
}

// advHash is base64url(SHA-256(s)): ath, and the q and h hashes.
func advHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return advB64.EncodeToString(sum[:])
}

// advHClaim is an h claim covering names in the given order (lower-cased),
// hashed over "name: value" lines joined by "\n".
func advHClaim(hdr http.Header, names ...string) []any {
	lower := make([]string, len(names))
	lines := make([]string, len(names))
	for i, n := range names {
		lower[i] = strings.ToLower(n)
		lines[i] = lower[i] + ": " + hdr.Get(n)
	}
	return []any{lower, advHash(strings.Join(lines, "\n"))}
}

// advHMAC returns the compact JWS of hdr.claims under HMAC-SHA256(key).
func advHMAC(t *testing.T, key []byte, hdr, claims map[string]any) string {
	t.Helper()
	in := advB64.EncodeToString(advJSON(t, hdr)) + "." + advB64.EncodeToString(advJSON(t, claims))
	m := hmac.New(sha256.New, key)
	m.Write([]byte(in))
	return in + "." + advB64.EncodeToString(m.Sum(nil))
}

// advReplaceSig swaps the signature segment of a compact JWS.
func advReplaceSig(jws string, sig []byte) string {
	return jws[:strings.LastIndexByte(jws, '.')+1] + advB64.EncodeToString(sig)
}

// advSig returns the decoded signature of a compact JWS.
func advSig(t *testing.T, jws string) []byte {
	t.Helper()
	b, err := advB64.DecodeString(jws[strings.LastIndexByte(jws, '.')+1:])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// advFakeRSA is an RSA public JWK with a random modulus of bits bits (not a
// real key: the checks that refuse it run before any signature check).
func advFakeRSA(bits int, e string) map[string]any {
	n := make([]byte, bits/8)
	_, _ = rand.Read(n)
	n[0] |= 0x80
	n[len(n)-1] |= 1
	return map[string]any{"kty": "RSA", "n": advB64.EncodeToString(n), "e": e}
}

// advTokenClaims are the claims of a valid access token for the harness.
func advTokenClaims(sub string, cnf map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{"iss": issuerURL, "sub": sub, "aud": audience, "client_id": "app", "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "jti": advRandomID(), "scope": "read"}
	if cnf != nil {
		c["cnf"] = cnf
	}
	return c
}

// advPoP is a Guard with PoP enabled and an ES256 PoP key bound to carol's
// token as Microsoft Entra ID binds it (cnf.kid = RFC 7638 thumbprint).
type advPoP struct {
	*harness
	pk    *poptest.Client
	token string
	srv   *httptest.Server
}

func newAdvPoP(t *testing.T, public string, mode popguard.Mode, opts ...middleware.Option) *advPoP {
	t.Helper()
	h := newHarness(t, append([]middleware.Option{middleware.WithPublicURL(public), middleware.WithPoP()}, opts...)...)
	k := poptest.NewClient()
	tok := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}}})
	return &advPoP{harness: h, pk: k, token: tok, srv: advServer(t, h.route(mode))}
}

// advSHRTarget is what the SHRs of the PoP tests sign by default: GET
// api.test /r (in MSAL.NET form unless the options say otherwise).
const advSHRTarget = "https://api.test/r"

// shr signs an SHR for the PoP token with the PoP key for GET advSHRTarget.
func (p *advPoP) shr(t *testing.T, o poptest.SHROptions) string {
	t.Helper()
	return p.shrTo(t, "GET", advSHRTarget, o)
}

// shrTo signs an SHR for the PoP token with the PoP key for method and
// target (u and p; the query only where o covers it).
func (p *advPoP) shrTo(t *testing.T, method, target string, o poptest.SHROptions) string {
	t.Helper()
	return p.pk.SHR(method, target, p.token, o)
}

// shrBy signs an SHR for tok with k for GET advSHRTarget.
func (p *advPoP) shrBy(t *testing.T, k *poptest.Client, tok string, o poptest.SHROptions) string {
	t.Helper()
	return k.SHR("GET", advSHRTarget, tok, o)
}

// shrEdit signs the SHR after edit rewrote its payload JSON.
func (p *advPoP) shrEdit(t *testing.T, o poptest.SHROptions, edit func(payload string) string) string {
	t.Helper()
	hdr, pl := advParts(t, p.shr(t, o))
	return advRawSigned(t, p.pk, string(hdr), edit(string(pl)))
}

// ---- §7.1: proof / JWS structure ----

func TestAdversarialProofStructure(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	srv := advServer(t, h.route(popguard.DPoPOnly))
	tok := h.bound()
	send := func(t *testing.T, proof string) response {
		return h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", proof)
	}
	proofReject := func(t *testing.T, proof string, reason popguard.Reason) {
		t.Helper()
		advReject(t, h, send(t, proof), 401, popguard.CodeInvalidDPoPProof, reason)
	}
	signed := func(t *testing.T, k *poptest.Client, hset, set map[string]any) string {
		hdr, claims := advProofParts(k, target, tok, hset, set)
		return advSigned(t, k, hdr, claims)
	}
	valid := func(t *testing.T) string { return signed(t, h.key, nil, nil) }

	t.Run("control: a valid proof is accepted", func(t *testing.T) {
		advAccept(t, h, send(t, valid(t)), bob.Subject, popguard.DPoP)
	})
	t.Run("alg none, empty signature", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, map[string]any{"alg": "none"}, nil)
		p := advB64.EncodeToString(advJSON(t, hdr)) + "." + advB64.EncodeToString(advJSON(t, claims)) + "."
		proofReject(t, p, popguard.ReasonProofMalformed)
	})
	t.Run("alg none with a signature", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"alg": "none"}, nil), popguard.ReasonProofAlg)
	})
	t.Run("alg HS256 keyed with the jwk JSON", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, map[string]any{"alg": "HS256"}, nil)
		proofReject(t, advHMAC(t, advJSON(t, h.key.JWK()), hdr, claims), popguard.ReasonProofAlg)
	})
	t.Run("alg HS256 keyed with the jwk x", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, map[string]any{"alg": "HS256"}, nil)
		x, _ := advB64.DecodeString(h.key.JWK()["x"].(string))
		proofReject(t, advHMAC(t, x, hdr, claims), popguard.ReasonProofAlg)
	})
	for _, c := range []struct {
		name string
		jwk  map[string]any
		alg  string
	}{
		{"RS256 with a 1024-bit jwk", advFakeRSA(1024, "AQAB"), "RS256"},
		{"PS256 with a 1024-bit jwk", advFakeRSA(1024, "AQAB"), "PS256"},
		{"RS256 with a 16384-bit jwk", advFakeRSA(16384, "AQAB"), "RS256"},
		{"RS256 with a huge e", advFakeRSA(2048, advB64.EncodeToString([]byte{1, 0, 0, 0, 0, 1})), "RS256"},
		{"RS256 with e = 1", advFakeRSA(2048, "AQ"), "RS256"},
		{"jwk kty oct with k", map[string]any{"kty": "oct", "k": advB64.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))}, "ES256"},
		{"jwk without kty", map[string]any{"crv": "P-256", "x": h.key.JWK()["x"], "y": h.key.JWK()["y"]}, "ES256"},
		{"jwk point not on the curve", map[string]any{"kty": "EC", "crv": "P-256", "x": h.key.JWK()["x"], "y": h.key.JWK()["x"]}, "ES256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			proofReject(t, signed(t, h.key, map[string]any{"alg": c.alg, "jwk": c.jwk}, nil), popguard.ReasonProofJWK)
		})
	}
	priv := h.priv
	for _, member := range []string{"d", "p", "q", "dp", "dq", "qi", "oth"} {
		t.Run("jwk with private member "+member, func(t *testing.T) {
			jwk := h.key.JWK()
			jwk[member] = advB64.EncodeToString(priv.D.Bytes())
			proofReject(t, signed(t, h.key, map[string]any{"jwk": jwk}, nil), popguard.ReasonProofJWK)
		})
	}
	t.Run("ES256 alg with a P-384 key", func(t *testing.T) {
		priv384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k384, err := dpopclient.NewKey(priv384, "ES384")
		if err != nil {
			t.Fatal(err)
		}
		// The header says ES256 (h.key's alg) over the P-384 jwk; the
		// signature is SHA-256 signed with the P-384 key.
		hdr, claims := advProofParts(h.key, target, tok, map[string]any{"jwk": poptest.NewClientWithKey(k384).JWK()}, nil)
		in := advB64.EncodeToString(advJSON(t, hdr)) + "." + advB64.EncodeToString(advJSON(t, claims))
		proofReject(t, in+"."+advB64.EncodeToString(advECDSA(t, priv384, []byte(in))), popguard.ReasonProofAlg)
	})
	t.Run("ES256 alg with an RSA jwk", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"jwk": advFakeRSA(2048, "AQAB")}, nil), popguard.ReasonProofAlg)
	})
	t.Run("RS256 alg with an EC jwk", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"alg": "RS256"}, nil), popguard.ReasonProofAlg)
	})
	t.Run("EdDSA alg with an EC jwk", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"alg": "EdDSA"}, nil), popguard.ReasonProofAlg)
	})
	t.Run("ES256 signature DER-encoded", func(t *testing.T) {
		p := valid(t)
		sig := advSig(t, p)
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
		if err != nil {
			t.Fatal(err)
		}
		proofReject(t, advReplaceSig(p, der), popguard.ReasonProofSignature)
	})
	for _, c := range []struct {
		name string
		sig  func(sig []byte) []byte
	}{
		{"ES256 signature r = 0", func(s []byte) []byte { return append(make([]byte, 32), s[32:]...) }},
		{"ES256 signature s = 0", func(s []byte) []byte { return append(append([]byte{}, s[:32]...), make([]byte, 32)...) }},
		{"ES256 signature r = s = 0", func(s []byte) []byte { return make([]byte, 64) }},
		{"ES256 signature s = n", func(s []byte) []byte {
			return append(append([]byte{}, s[:32]...), elliptic.P256().Params().N.FillBytes(make([]byte, 32))...)
		}},
		{"ES256 signature of 63 bytes", func(s []byte) []byte { return s[:63] }},
		{"ES256 signature of 65 bytes", func(s []byte) []byte { return append(append([]byte{}, s...), 0) }},
		{"ES256 signature with a leading zero octet", func(s []byte) []byte { return append([]byte{0}, s...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := valid(t)
			proofReject(t, advReplaceSig(p, c.sig(advSig(t, p))), popguard.ReasonProofSignature)
		})
	}
	for _, typ := range []any{nil, "JWT", "at+jwt", "pop", "DPOP+JWT", "application/dpop+jwt", 1} {
		name := "typ missing"
		if typ != nil {
			name = "typ " + string(advJSON(t, typ))
		}
		t.Run(name, func(t *testing.T) {
			want := popguard.ReasonProofTyp
			if _, isNum := typ.(int); isNum {
				want = popguard.ReasonProofMalformed // a non-string typ is a malformed header
			}
			hset := map[string]any{"typ": typ}
			if typ == nil {
				hset = map[string]any{"typ": nil}
			}
			proofReject(t, signed(t, h.key, hset, nil), want)
		})
	}
	t.Run("crit with an unknown extension", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"crit": []string{"x-ext"}, "x-ext": true}, nil), popguard.ReasonProofCrit)
	})
	t.Run("b64 false with crit b64 and a raw JSON payload", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, map[string]any{"b64": false, "crit": []string{"b64"}}, nil)
		hb, cb := advJSON(t, hdr), advJSON(t, claims)
		in := advB64.EncodeToString(hb) + "." + string(cb)
		sig := advECDSA(t, h.priv, []byte(in))
		// The raw payload holds commas: a proxy-folded header to the Guard.
		proofReject(t, in+"."+advB64.EncodeToString(sig), popguard.ReasonProofMultiple)
	})
	t.Run("b64 false, payload still encoded", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"b64": false, "crit": []string{"b64"}}, nil), popguard.ReasonProofMalformed)
	})
	t.Run("JWS JSON serialization without spaces", func(t *testing.T) {
		seg := strings.Split(valid(t), ".")
		proofReject(t, `{"protected":"`+seg[0]+`","payload":"`+seg[1]+`","signature":"`+seg[2]+`"}`, popguard.ReasonProofMultiple)
	})
	t.Run("JWS JSON flattened, one member", func(t *testing.T) {
		proofReject(t, `{"payload":"`+strings.Split(valid(t), ".")[1]+`"}`, popguard.ReasonProofMalformed)
	})
	t.Run("JWE compact (5 segments)", func(t *testing.T) {
		jwe := advB64.EncodeToString([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM","typ":"dpop+jwt"}`)) + ".AAAA.BBBB.CCCC.DDDD"
		proofReject(t, jwe, popguard.ReasonProofMalformed)
	})
	for _, member := range []string{"jku", "x5u"} {
		t.Run(member+" pointing elsewhere", func(t *testing.T) {
			proofReject(t, signed(t, h.key, map[string]any{member: "https://evil.test/keys"}, nil), popguard.ReasonProofJWK)
		})
	}
	t.Run("x5c with a certificate chain", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"x5c": []string{"MIIB"}}, nil), popguard.ReasonProofJWK)
	})
	t.Run("x5t#S256 header", func(t *testing.T) {
		proofReject(t, signed(t, h.key, map[string]any{"x5t#S256": h.key.Thumbprint()}, nil), popguard.ReasonProofJWK)
	})
	t.Run("kid pointing elsewhere is ignored: the key is the jwk", func(t *testing.T) {
		advAccept(t, h, send(t, signed(t, h.key, map[string]any{"kid": "https://evil.test/keys#1"}, nil)), bob.Subject, popguard.DPoP)
	})
	t.Run("kid pointing elsewhere does not rescue a foreign jwk", func(t *testing.T) {
		thief := poptest.NewClient()
		p := signed(t, thief, map[string]any{"kid": h.key.Thumbprint()}, nil)
		advReject(t, h, send(t, p), 401, popguard.CodeInvalidToken, popguard.ReasonTokenKeyBinding)
	})
	jwkJSON := string(advJSON(t, h.key.JWK()))
	rawClaims := func() map[string]any {
		_, c := advProofParts(h.key, target, tok, nil, nil)
		return c
	}
	dup := []struct {
		name, hdr, payload string
	}{
		{"typ twice", `{"typ":"JWT","alg":"ES256","typ":"dpop+jwt","jwk":` + jwkJSON + `}`, ""},
		{"alg twice", `{"typ":"dpop+jwt","alg":"none","alg":"ES256","jwk":` + jwkJSON + `}`, ""},
		{"jwk twice", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + string(advJSON(t, poptest.NewClient().JWK())) + `,"jwk":` + jwkJSON + `}`, ""},
		{"htu twice", "", `"htu":"https://evil.test/r"`},
		{"jti twice", "", `"jti":"fixed-jti"`},
		{"duplicate in nested jwk", `{"typ":"dpop+jwt","alg":"ES256","jwk":` + strings.Replace(jwkJSON, `{`, `{"crv":"P-384",`, 1) + `}`, ""},
		{"escaped duplicate name h\\u0074u", "", `"h\u0074u":"https://evil.test/r"`},
	}
	for _, c := range dup {
		t.Run("duplicate member: "+c.name, func(t *testing.T) {
			hdr := c.hdr
			if hdr == "" {
				hdr = `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwkJSON + `}`
			}
			payload := string(advJSON(t, rawClaims()))
			if c.payload != "" {
				payload = "{" + c.payload + "," + payload[1:]
			}
			proofReject(t, advRawSigned(t, h.key, hdr, payload), popguard.ReasonProofMalformed)
		})
	}
	t.Run("padded base64url header", func(t *testing.T) {
		p := valid(t)
		i := strings.IndexByte(p, '.')
		proofReject(t, p[:i]+"="+p[i:], popguard.ReasonProofMalformed)
	})
	t.Run("padded base64url signature", func(t *testing.T) {
		proofReject(t, valid(t)+"==", popguard.ReasonProofMalformed)
	})
	t.Run("base64 (+) instead of base64url", func(t *testing.T) {
		p := valid(t)
		proofReject(t, p[:len(p)-1]+"+", popguard.ReasonProofMalformed)
	})
	t.Run("base64 (/) instead of base64url", func(t *testing.T) {
		p := valid(t)
		proofReject(t, p[:len(p)-1]+"/", popguard.ReasonProofMalformed)
	})
	for _, c := range []struct{ name, hdr, payload string }{
		{"header []", `[]`, ""}, {"header string", `"dpop+jwt"`, ""}, {"header null", `null`, ""},
		{"payload []", "", `[]`}, {"payload string", "", `"x"`}, {"payload null", "", `null`}, {"payload 1", "", `1`},
		{"payload two objects", "", `{}{}`}, {"payload trailing garbage", "", `{"jti":"a"} x`},
	} {
		t.Run("non-object "+c.name, func(t *testing.T) {
			hdr := c.hdr
			if hdr == "" {
				hdr = `{"typ":"dpop+jwt","alg":"ES256","jwk":` + jwkJSON + `}`
			}
			payload := c.payload
			if payload == "" {
				payload = string(advJSON(t, rawClaims()))
			}
			proofReject(t, advRawSigned(t, h.key, hdr, payload), popguard.ReasonProofMalformed)
		})
	}
	t.Run("8 KB jti: proof over the header cap", func(t *testing.T) {
		proofReject(t, signed(t, h.key, nil, map[string]any{"jti": strings.Repeat("j", 8192)}), popguard.ReasonProofTooLarge)
	})
	t.Run("jti over MaxJTILength", func(t *testing.T) {
		proofReject(t, signed(t, h.key, nil, map[string]any{"jti": strings.Repeat("j", 257)}), popguard.ReasonProofJTI)
	})
	t.Run("1 MB jwk: refused by the HTTP server", func(t *testing.T) {
		jwk := h.key.JWK()
		jwk["pad"] = strings.Repeat("A", 1<<20)
		p := signed(t, h.key, map[string]any{"jwk": jwk}, nil)
		resp := h.advRaw(t, srv, "GET /r HTTP/1.1", "Host: api.test", "Authorization: DPoP "+tok, "DPoP: "+p)
		advServerReject(t, h, resp, 431, 0)
	})
	t.Run("deeply nested JSON in the payload", func(t *testing.T) {
		c := rawClaims()
		c["x"] = json.RawMessage(strings.Repeat("[", 40) + strings.Repeat("]", 40))
		proofReject(t, advSigned(t, h.key, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": h.key.JWK()}, c), popguard.ReasonProofMalformed)
	})
	t.Run("deeply nested JSON in the header", func(t *testing.T) {
		hdr := map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": h.key.JWK(),
			"x": json.RawMessage(strings.Repeat(`{"a":`, 30) + "1" + strings.Repeat("}", 30))}
		proofReject(t, advSigned(t, h.key, hdr, rawClaims()), popguard.ReasonProofMalformed)
	})
	for _, iat := range []string{"1e999", "-1e999", "1e300", "-1", "1.5e10", `"1562262618"`, "true", "[1]", "null"} {
		t.Run("iat "+iat, func(t *testing.T) {
			c := rawClaims()
			c["iat"] = json.RawMessage(iat)
			want := popguard.ReasonProofClaims
			if iat == "1.5e10" {
				want = popguard.ReasonProofIAT // a number, far in the future
			}
			proofReject(t, advSigned(t, h.key, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": h.key.JWK()}, c), want)
		})
	}
	t.Run("invalid UTF-8 in a claim", func(t *testing.T) {
		c := string(advJSON(t, rawClaims()))
		proofReject(t, advRawSigned(t, h.key, `{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwkJSON+`}`, `{"x":"`+"\xff\xfe"+`",`+c[1:]), popguard.ReasonProofMalformed)
	})
}

// ---- §7.4: HTTP framing and scheme ----

func TestAdversarialFraming(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	srv := advServer(t, h.route(mixed))
	tok := h.bound()
	proof := func() string { return h.proof("GET", target, tok) }
	raw := func(t *testing.T, lines ...string) response {
		return h.advRaw(t, srv, append([]string{"GET /r HTTP/1.1", "Host: api.test"}, lines...)...)
	}
	t.Run("DPoP scheme plus ?access_token=", func(t *testing.T) {
		resp := h.advHTTP(t, srv, "GET", "/r?access_token="+tok, "Authorization", "DPoP "+tok, "DPoP", proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleMethods)
	})
	t.Run("DPoP scheme plus ?access%5Ftoken=", func(t *testing.T) {
		resp := h.advHTTP(t, srv, "GET", "/r?access%5Ftoken="+tok, "Authorization", "DPoP "+tok, "DPoP", proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleMethods)
	})
	t.Run("Authorization lines in three casings", func(t *testing.T) {
		resp := raw(t, "AUTHORIZATION: DPoP "+tok, "authorization: DPoP "+tok, "AuThOrIzAtIoN: DPoP "+tok, "DPoP: "+proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleAuthorization)
	})
	t.Run("empty second Authorization line", func(t *testing.T) {
		resp := raw(t, "Authorization: DPoP "+tok, "Authorization:", "DPoP: "+proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMultipleAuthorization)
	})
	t.Run("folded Authorization (obs-fold) is one credential", func(t *testing.T) {
		// RFC 9112 §5.2: Go replaces obs-fold with SP; "DPoP <token>" is a
		// single well-formed credential.
		resp := raw(t, "Authorization: DPoP", " "+tok, "DPoP: "+proof())
		advAccept(t, h, resp, bob.Subject, popguard.DPoP)
	})
	t.Run("folded DPoP value", func(t *testing.T) {
		p := proof()
		resp := raw(t, "Authorization: DPoP "+tok, "DPoP: "+p[:30], " "+p[30:])
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofMultiple)
	})
	t.Run("DPoP header names in three casings", func(t *testing.T) {
		p := proof()
		resp := raw(t, "Authorization: DPoP "+tok, "DPOP: "+p, "dpop: "+p, "Dpop: "+p)
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofMultiple)
	})
	t.Run("DPoP header present, whitespace only", func(t *testing.T) {
		resp := raw(t, "Authorization: DPoP "+tok, "DPoP: \t \t")
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofMissing)
	})
	t.Run("homoglyph scheme DＰoP", func(t *testing.T) {
		resp := raw(t, "Authorization: DＰoP "+tok, "DPoP: "+proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization)
	})
	t.Run("Cyrillic homoglyph Веаrer", func(t *testing.T) {
		resp := raw(t, "Authorization: Веаrer "+h.unbound())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization)
	})
	t.Run("DPoP token followed by a second token", func(t *testing.T) {
		resp := raw(t, "Authorization: DPoP "+tok+" "+tok, "DPoP: "+proof())
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestMalformedAuthorization)
	})
	t.Run("huge Authorization line refused by the server", func(t *testing.T) {
		resp := raw(t, "Authorization: Bearer "+strings.Repeat("A", 2<<20))
		advServerReject(t, h, resp, 431, 0)
	})
	t.Run("many header lines refused by the server", func(t *testing.T) {
		lines := []string{"Authorization: DPoP " + tok, "DPoP: " + proof()}
		for i := 0; i < 20000; i++ {
			lines = append(lines, "X-Filler: "+strings.Repeat("f", 60))
		}
		advServerReject(t, h, raw(t, lines...), 431, 0)
	})
	t.Run("ID-token-like JWT (typ JWT) as a Bearer access token", func(t *testing.T) {
		id := h.token(poptest.TokenOptions{Subject: "alice", ClientID: "legacy-app", Typ: "JWT", Claims: map[string]any{"nonce": "n", "azp": "legacy-app"}})
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+id)
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("ID-token-like JWT without typ as a Bearer access token", func(t *testing.T) {
		// The issuer's key, header {"alg","kid"}, exactly these claims.
		id := h.token(poptest.TokenOptions{Typ: "-", Claims: advTokenClaims("alice", nil)})
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+id)
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
}

// ---- §7.5: signed HTTP requests ----

func TestAdversarialSHR(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.PoPOnly)
	send := func(t *testing.T, path, shr string, hdr ...string) response {
		return p.advHTTP(t, p.srv, "GET", path, append([]string{"Authorization", "PoP " + shr}, hdr...)...)
	}
	reject := func(t *testing.T, resp response, reason popguard.Reason) {
		t.Helper()
		advReject(t, p.harness, resp, 401, popguard.CodeInvalidToken, reason)
	}
	t.Run("control: a valid SHR is accepted", func(t *testing.T) {
		advAccept(t, p.harness, send(t, "/r", p.shr(t, poptest.SHROptions{})), "carol", popguard.PoP)
	})
	t.Run("attacker's cnf.jwk with the victim's token", func(t *testing.T) {
		thief := poptest.NewClient()
		reject(t, send(t, "/r", p.shrBy(t, thief, p.token, poptest.SHROptions{})), popguard.ReasonTokenKeyBinding)
	})
	t.Run("victim's cnf.jwk copied, signed by the attacker", func(t *testing.T) {
		thief := poptest.NewClient()
		hdr, pl := advParts(t, p.shr(t, poptest.SHROptions{}))
		reject(t, send(t, "/r", advRawSigned(t, thief, string(hdr), string(pl))), popguard.ReasonSHRSignature)
	})
	t.Run("ts one hour in the future", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Time: time.Now().Add(time.Hour)})), popguard.ReasonSHRTs)
	})
	t.Run("ts missing", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrEdit(t, poptest.SHROptions{}, func(pl string) string {
			i := strings.Index(pl, `"ts":`)
			j := i + strings.IndexByte(pl[i:], ',')
			return pl[:i] + pl[j+1:]
		})), popguard.ReasonSHRTs)
	})
	for _, ts := range []string{`1.5`, `"%d"`, `%d.0`, `%de0`, `-1`, `1e10`, `null`} {
		t.Run("ts "+ts, func(t *testing.T) {
			now := time.Now().Unix()
			v := ts
			if strings.Contains(ts, "%d") {
				v = strings.Replace(ts, "%d", big.NewInt(now).String(), 1)
			}
			reject(t, send(t, "/r", p.shrEdit(t, poptest.SHROptions{Time: time.Unix(now, 0)}, func(pl string) string {
				return strings.Replace(pl, `"ts":`+big.NewInt(now).String(), `"ts":`+v, 1)
			})), popguard.ReasonSHRTs)
		})
	}
	t.Run("m lowercase", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrTo(t, "get", advSHRTarget, poptest.SHROptions{})), popguard.ReasonSHRM)
	})
	t.Run("m with spaces", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrTo(t, " GET ", advSHRTarget, poptest.SHROptions{})), popguard.ReasonSHRM)
	})
	t.Run("p with a trailing slash", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrTo(t, "GET", "https://api.test/r/", poptest.SHROptions{})), popguard.ReasonSHRP)
	})
	t.Run("p without its leading slash", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Claims: map[string]any{"p": "r"}})), popguard.ReasonSHRP)
	})
	t.Run("u of another host", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrTo(t, "GET", "https://evil.test/r", poptest.SHROptions{})), popguard.ReasonSHRU)
	})
	t.Run("u with a wrong port", func(t *testing.T) {
		reject(t, send(t, "/r", p.shrTo(t, "GET", "https://api.test:8443/r", poptest.SHROptions{})), popguard.ReasonSHRU)
	})
	t.Run("u with userinfo", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Claims: map[string]any{"u": "evil@api.test"}})), popguard.ReasonSHRU)
	})
	t.Run("q listing a parameter the request lacks", func(t *testing.T) {
		reject(t, send(t, "/r?a=1", p.shrTo(t, "GET", advSHRTarget+"?a=1&b=2", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a", "b"}})), popguard.ReasonSHRQ)
	})
	t.Run("q listing a repeated parameter", func(t *testing.T) {
		shr := p.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})
		reject(t, send(t, "/r?a=1&a=2", shr), popguard.ReasonSHRQ)
	})
	t.Run("q listing a parameter twice", func(t *testing.T) {
		q := []any{[]string{"a", "a"}, advHash("a=1")}
		shr := p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{}, Claims: map[string]any{"q": q}})
		reject(t, send(t, "/r?a=1", shr), popguard.ReasonSHRQ)
	})
	t.Run("q covering another value", func(t *testing.T) {
		reject(t, send(t, "/r?a=2", p.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})), popguard.ReasonSHRQ)
	})
	t.Run("msal-browser raw q of another query", func(t *testing.T) {
		reject(t, send(t, "/r?a=2", p.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, QueryRaw: true})), popguard.ReasonSHRQ)
	})
	hdr := http.Header{"X-A": {"1"}}
	t.Run("h listing a header the request lacks", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Headers: hdr})), popguard.ReasonSHRH)
	})
	t.Run("h listing a repeated header", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Headers: hdr}), "X-A", "1", "X-A", "2"), popguard.ReasonSHRH)
	})
	t.Run("h listing a header twice in different case", func(t *testing.T) {
		hh := []any{[]string{"x-a", "X-A"}, advHash("x-a: 1")}
		shr := p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Headers: hdr, Claims: map[string]any{"h": hh}})
		reject(t, send(t, "/r", shr, "X-A", "1"), popguard.ReasonSHRH)
	})
	t.Run("h listing authorization", func(t *testing.T) {
		hh := []any{[]string{"authorization"}, "x"}
		shr := p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Headers: http.Header{}, Claims: map[string]any{"h": hh}})
		reject(t, send(t, "/r", shr), popguard.ReasonSHRH)
	})
	t.Run("h covering another value", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Headers: hdr}), "X-A", "2"), popguard.ReasonSHRH)
	})
	t.Run("b over another body", func(t *testing.T) {
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{Format: poptest.IdentityModel, Body: []byte("x")})), popguard.ReasonSHRB)
	})
	t.Run("token bound by cnf.jku", func(t *testing.T) {
		tok := p.token
		p.token = p.harness.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Scope: "read",
			Claims: map[string]any{"cnf": map[string]any{"jku": "https://evil.test/jwks"}}})
		defer func() { p.token = tok }()
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{})), popguard.ReasonSHRKey)
	})
	t.Run("token bound by a symmetric cnf.jwe", func(t *testing.T) {
		tok := p.token
		p.token = p.harness.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Scope: "read",
			Claims: map[string]any{"cnf": map[string]any{"jwe": "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"}}})
		defer func() { p.token = tok }()
		reject(t, send(t, "/r", p.shr(t, poptest.SHROptions{})), popguard.ReasonTokenKeyBinding)
	})
	for _, member := range []string{"jwk", "jku", "x5c", "x5u"} {
		t.Run("SHR with a "+member+" header naming the attacker's key", func(t *testing.T) {
			thief := poptest.NewClient()
			hdr, pl := advParts(t, p.shrBy(t, thief, p.token, poptest.SHROptions{}))
			v := string(advJSON(t, thief.JWK()))
			if member != "jwk" {
				v = `"https://evil.test/k"`
			}
			h := strings.Replace(string(hdr), "{", `{"`+member+`":`+v+",", 1)
			reject(t, send(t, "/r", advRawSigned(t, thief, h, string(pl))), popguard.ReasonSHRKey)
		})
	}
	t.Run("SHR alg HS256 keyed with the cnf.jwk JSON", func(t *testing.T) {
		hdr, pl := advParts(t, p.shr(t, poptest.SHROptions{}))
		h := strings.Replace(string(hdr), `"ES256"`, `"HS256"`, 1)
		in := advB64.EncodeToString([]byte(h)) + "." + advB64.EncodeToString(pl)
		m := hmac.New(sha256.New, advJSON(t, p.pk.JWK()))
		m.Write([]byte(in))
		reject(t, send(t, "/r", in+"."+advB64.EncodeToString(m.Sum(nil))), popguard.ReasonSHRAlg)
	})
	t.Run("SHR alg none", func(t *testing.T) {
		hdr, pl := advParts(t, p.shr(t, poptest.SHROptions{}))
		h := strings.Replace(string(hdr), `"ES256"`, `"none"`, 1)
		reject(t, send(t, "/r", advB64.EncodeToString([]byte(h))+"."+advB64.EncodeToString(pl)+".AAAA"), popguard.ReasonSHRAlg)
	})

	t.Run("u without the port on a non-default port", func(t *testing.T) {
		q := newAdvPoP(t, "https://api.test:8443", popguard.PoPOnly)
		resp := q.advHTTP(t, q.srv, "GET", "/r", "Authorization", "PoP "+q.shr(t, poptest.SHROptions{}))
		advReject(t, q.harness, resp, 401, popguard.CodeInvalidToken, popguard.ReasonSHRU)
		resp = q.advHTTP(t, q.srv, "GET", "/r", "Authorization", "PoP "+q.shrTo(t, "GET", "https://api.test:8443/r", poptest.SHROptions{}))
		advAccept(t, q.harness, resp, "carol", popguard.PoP)
	})
	t.Run("uncovered query parameter with SHRRequireQuery", func(t *testing.T) {
		q := newAdvPoP(t, publicURL, popguard.PoPOnly, middleware.WithPoP(validate.SHRRequireQuery(), validate.SHRRequireHeaders("x-a")))
		shr := q.shrTo(t, "GET", advSHRTarget+"?a=1&b=2", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})
		advReject(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r?a=1&b=2", "Authorization", "PoP "+shr), 401, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
		shr = q.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})
		advReject(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r?a=1&%61=2", "Authorization", "PoP "+shr), 401, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
		shr = q.shr(t, poptest.SHROptions{Format: poptest.IdentityModel})
		advReject(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r", "Authorization", "PoP "+shr, "X-A", "1"), 401, popguard.CodeInvalidToken, popguard.ReasonSHRH)
		shr = q.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}, Headers: hdr})
		advAccept(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r?a=1", "Authorization", "PoP "+shr, "X-A", "1"), "carol", popguard.PoP)
	})
}

// ---- algorithm confusion at the token layer ----

func TestAdversarialTokenAlgConfusion(t *testing.T) {
	iss := newIssuer()
	secret := []byte("0123456789abcdef0123456789abcdef-shared")
	ks, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	withHMAC, err := validate.NewJWTVerifier(issuerURL, ks, validate.Audience(audience), validate.HMACSecret(secret, "HS256"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS: %v", err)
	}
	published := []byte(doc.Keys[0])
	// The issuer's public key, read back from its published JWK.
	var pub struct{ Kty, Crv, X, Y string }
	if err := json.Unmarshal(published, &pub); err != nil || pub.Kty != "EC" || pub.Crv != "P-256" {
		t.Fatalf("published JWK %s: %v", published, err)
	}
	x, errX := advB64.DecodeString(pub.X)
	y, errY := advB64.DecodeString(pub.Y)
	if errX != nil || errY != nil {
		t.Fatalf("published JWK %s: %v %v", published, errX, errY)
	}
	issPub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(x), Y: new(big.Int).SetBytes(y)}
	der, err := x509.MarshalPKIXPublicKey(issPub)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	minimal := advJSON(t, map[string]any{"kty": pub.Kty, "crv": pub.Crv, "x": pub.X, "y": pub.Y})
	hmacHdr := func(alg string) map[string]any {
		return map[string]any{"alg": alg, "typ": "at+jwt", "kid": iss.KeyID()}
	}

	for _, cfg := range []struct {
		name    string
		opts    []middleware.Option
		confuse popguard.Reason // reason for an HS256 token keyed with public material
	}{
		{"default verifier (no HMAC)", nil, popguard.ReasonTokenAlg},
		{"verifier with an HMAC secret", []middleware.Option{middleware.WithTokens(withHMAC)}, popguard.ReasonTokenSignature},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			h := newHarnessFor(t, iss, append([]middleware.Option{middleware.WithPublicURL(publicURL)}, cfg.opts...)...)
			srv := advServer(t, h.route(mixed))
			bearer := func(t *testing.T, tok string) response {
				return h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+tok)
			}
			for _, c := range []struct {
				name string
				key  []byte
			}{
				{"published JWK JSON", published}, {"minimal JWK JSON", minimal}, {"PEM", pemKey},
				{"PEM without trailing newline", pemKey[:len(pemKey)-1]}, {"DER", der},
			} {
				t.Run("HS256 keyed with the issuer's "+c.name, func(t *testing.T) {
					advReject(t, h, bearer(t, advHMAC(t, c.key, hmacHdr("HS256"), advTokenClaims("mallory", nil))), 401, popguard.CodeInvalidToken, cfg.confuse)
				})
			}
			t.Run("HS384, an HMAC alg not configured", func(t *testing.T) {
				in := advB64.EncodeToString(advJSON(t, hmacHdr("HS384"))) + "." + advB64.EncodeToString(advJSON(t, advTokenClaims("mallory", nil)))
				advReject(t, h, bearer(t, in+"."+advB64.EncodeToString(make([]byte, 48))), 401, popguard.CodeInvalidToken, popguard.ReasonTokenAlg)
			})
			for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
				t.Run("alg "+alg+" with an empty signature", func(t *testing.T) {
					in := advB64.EncodeToString(advJSON(t, hmacHdr(alg))) + "." + advB64.EncodeToString(advJSON(t, advTokenClaims("mallory", nil)))
					advReject(t, h, bearer(t, in+"."), 401, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed)
				})
				t.Run("alg "+alg+" with a signature", func(t *testing.T) {
					in := advB64.EncodeToString(advJSON(t, hmacHdr(alg))) + "." + advB64.EncodeToString(advJSON(t, advTokenClaims("mallory", nil)))
					advReject(t, h, bearer(t, in+".AAAA"), 401, popguard.CodeInvalidToken, popguard.ReasonTokenAlg)
				})
			}
			t.Run("HS256 as a DPoP-bound token", func(t *testing.T) {
				tok := advHMAC(t, pemKey, hmacHdr("HS256"), advTokenClaims("mallory", map[string]any{"jkt": h.key.Thumbprint()}))
				resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
				advReject(t, h, resp, 401, popguard.CodeInvalidToken, cfg.confuse)
			})
		})
	}
	t.Run("control: HS256 under the shared secret is accepted when configured", func(t *testing.T) {
		h := newHarnessFor(t, iss, middleware.WithPublicURL(publicURL), middleware.WithTokens(withHMAC))
		srv := advServer(t, h.route(mixed))
		advAccept(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+advHMAC(t, secret, hmacHdr("HS256"), advTokenClaims("alice", nil))), "alice", popguard.Bearer)
	})
}

// ---- key substitution ----

func TestAdversarialKeySubstitution(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithPoP())
	srv := advServer(t, h.route(popguard.Mixed))
	thief := poptest.NewClient()
	dpop := func(t *testing.T, tok, proof string) response {
		return h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", proof)
	}
	thiefProof := func(tok string) string { return h.proofWith(thief, "GET", target, tok, poptest.ProofOptions{}) }
	t.Run("victim's token re-bound to the thief by editing cnf.jkt", func(t *testing.T) {
		seg := strings.Split(h.bound(), ".")
		payload, _ := advB64.DecodeString(seg[1])
		edited := strings.Replace(string(payload), h.key.Thumbprint(), thief.Thumbprint(), 1)
		if edited == string(payload) {
			t.Fatal("test premise: thumbprint not found in the token")
		}
		tok := seg[0] + "." + advB64.EncodeToString([]byte(edited)) + "." + seg[2]
		advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenSignature)
	})
	t.Run("thief-minted token bound to the thief, issuer's iss and kid", func(t *testing.T) {
		tok := advSigned(t, thief, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": h.iss.KeyID()}, advTokenClaims("bob", map[string]any{"jkt": thief.Thumbprint()}))
		advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenSignature)
	})
	t.Run("thief-minted token without kid", func(t *testing.T) {
		tok := advSigned(t, thief, map[string]any{"alg": "ES256", "typ": "at+jwt"}, advTokenClaims("bob", map[string]any{"jkt": thief.Thumbprint()}))
		advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenSignature)
	})
	t.Run("thief's own issuer", func(t *testing.T) {
		c := advTokenClaims("bob", map[string]any{"jkt": thief.Thumbprint()})
		c["iss"] = "https://evil.test"
		tok := advSigned(t, thief, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "evil"}, c)
		advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenIssuer)
	})
	for _, member := range []string{"jwk", "jku", "x5u"} {
		t.Run("token naming the thief's key in its "+member+" header", func(t *testing.T) {
			v := any(thief.JWK())
			if member != "jwk" {
				v = "https://evil.test/jwks"
			}
			tok := advSigned(t, thief, map[string]any{"alg": "ES256", "typ": "at+jwt", member: v}, advTokenClaims("bob", map[string]any{"jkt": thief.Thumbprint()}))
			advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenUnknownKey)
		})
	}
	t.Run("proof with the victim's jwk signed by the thief", func(t *testing.T) {
		tok := h.bound()
		hdr, claims := advProofParts(h.key, target, tok, nil, nil)
		advReject(t, h, dpop(t, tok, advSigned(t, thief, hdr, claims)), 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
	})
	for _, c := range []struct {
		name string
		cnf  any
	}{
		{"cnf.jkt as an RFC 9278 thumbprint URI", map[string]any{"jkt": "urn:ietf:params:oauth:jwk-thumbprint:sha-256:" + "X"}},
		{"cnf.jkt and cnf.jwk (two keys)", map[string]any{"jkt": "X", "jwk": map[string]any{"kty": "EC"}}},
		{"cnf.jkt and cnf.x5t#S256 (two keys)", map[string]any{"jkt": "X", "x5t#S256": "Y"}},
		{"cnf as a string", "X"},
		{"cnf.jkt not a string", map[string]any{"jkt": 1}},
		{"empty cnf", map[string]any{}},
	} {
		t.Run("issued token with "+c.name, func(t *testing.T) {
			cnf := c.cnf
			if m, ok := cnf.(map[string]any); ok {
				m2 := map[string]any{}
				for k, v := range m {
					if v == "X" {
						v = thief.Thumbprint()
					}
					if s, ok := v.(string); ok && strings.HasSuffix(s, ":X") {
						v = strings.TrimSuffix(s, "X") + thief.Thumbprint()
					}
					m2[k] = v
				}
				cnf = m2
			}
			tok := h.token(poptest.TokenOptions{Subject: "bob", ClientID: "dpop-app", Claims: map[string]any{"cnf": cnf}})
			advReject(t, h, dpop(t, tok, thiefProof(tok)), 401, popguard.CodeInvalidToken, popguard.ReasonTokenCnf)
		})
	}
	t.Run("cnf.jwk-bound token, SHR by the thief with its own cnf.jwk", func(t *testing.T) {
		victim := poptest.NewClient()
		tok := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Claims: map[string]any{"cnf": map[string]any{"jwk": victim.JWK()}}})
		shr := thief.SHR("GET", advSHRTarget, tok, poptest.SHROptions{})
		advReject(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "PoP "+shr), 401, popguard.CodeInvalidToken, popguard.ReasonTokenKeyBinding)
		shr = victim.SHR("GET", advSHRTarget, tok, poptest.SHROptions{})
		advAccept(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "PoP "+shr), "carol", popguard.PoP)
	})
}

// ---- token / proof / SHR type confusion ----

func TestAdversarialTypeConfusion(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed)
	h := p.harness
	tok := h.bound()
	shr := func() string { return p.shr(t, poptest.SHROptions{}) }
	t.Run("SHR used as the DPoP proof", func(t *testing.T) {
		resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", shr())
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofTyp)
	})
	t.Run("SHR by the DPoP key with typ dpop+jwt used as the DPoP proof", func(t *testing.T) {
		s := p.shrBy(t, h.key, tok, poptest.SHROptions{Header: map[string]any{"typ": "dpop+jwt"}})
		resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", s)
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofJWK)
	})
	t.Run("SHR used as a Bearer access token", func(t *testing.T) {
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "Bearer "+shr()), 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("access token used as the SHR", func(t *testing.T) {
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+p.token), 401, popguard.CodeInvalidToken, popguard.ReasonSHRTyp)
	})
	t.Run("DPoP proof used as the SHR's at", func(t *testing.T) {
		at := h.proof("GET", target, "")
		s := p.shrBy(t, p.pk, at, poptest.SHROptions{})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+s), 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("ID-token-like JWT (typ JWT) as the SHR's at", func(t *testing.T) {
		id := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Typ: "JWT", PoP: p.pk})
		s := p.shrBy(t, p.pk, id, poptest.SHROptions{})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+s), 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("SHR nested as the SHR's at", func(t *testing.T) {
		s := p.shrBy(t, p.pk, shr(), poptest.SHROptions{})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+s), 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("typ JWT SHR shaped like a DPoP proof (htm, htu)", func(t *testing.T) {
		s := p.shr(t, poptest.SHROptions{Header: map[string]any{"typ": "JWT"}, Claims: map[string]any{"htm": "GET", "htu": target}})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+s), 401, popguard.CodeInvalidToken, popguard.ReasonSHRTyp)
	})
	t.Run("SHR typ at+jwt", func(t *testing.T) {
		s := p.shr(t, poptest.SHROptions{Header: map[string]any{"typ": "at+jwt"}})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+s), 401, popguard.CodeInvalidToken, popguard.ReasonSHRTyp)
	})
	t.Run("ID-token-like JWT via DPoP", func(t *testing.T) {
		id := h.token(poptest.TokenOptions{Subject: "bob", ClientID: "dpop-app", Typ: "JWT", DPoP: h.key})
		resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+id, "DPoP", h.proof("GET", target, id))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
	t.Run("access token with typ dpop+jwt as a token", func(t *testing.T) {
		at := h.token(poptest.TokenOptions{Subject: "alice", ClientID: "app", Typ: "dpop+jwt"})
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "Bearer "+at), 401, popguard.CodeInvalidToken, popguard.ReasonTokenType)
	})
}

// ---- cross-scheme downgrades ----

func TestAdversarialDowngrades(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed)
	h := p.harness
	mtls := h.boundWith(map[string]any{"x5t#S256": h.key.Thumbprint()})
	jwkBound := h.boundWith(map[string]any{"jwk": h.key.JWK()})
	dpopBound := h.bound()
	bearer := func(t *testing.T, tok string, reason popguard.Reason) {
		t.Helper()
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "Bearer "+tok), 401, popguard.CodeInvalidToken, reason)
	}
	viaPoP := func(t *testing.T, tok string, reason popguard.Reason) {
		t.Helper()
		advReject(t, h, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+p.shrBy(t, h.key, tok, poptest.SHROptions{})), 401, popguard.CodeInvalidToken, reason)
	}
	viaDPoP := func(t *testing.T, tok string, reason popguard.Reason) {
		t.Helper()
		resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, reason)
	}
	t.Run("DPoP-bound token via PoP", func(t *testing.T) { viaPoP(t, dpopBound, popguard.ReasonTokenKeyBinding) })
	t.Run("mTLS-bound (x5t#S256) token via Bearer without a certificate", func(t *testing.T) { bearer(t, mtls, popguard.ReasonTokenCertMissing) })
	t.Run("mTLS-bound (x5t#S256) token via DPoP", func(t *testing.T) { viaDPoP(t, mtls, popguard.ReasonTokenKeyBinding) })
	t.Run("mTLS-bound (x5t#S256) token via PoP", func(t *testing.T) { viaPoP(t, mtls, popguard.ReasonTokenKeyBinding) })
	t.Run("cnf.jwk-bound token via Bearer", func(t *testing.T) { bearer(t, jwkBound, popguard.ReasonTokenBoundUsedAsBearer) })
	t.Run("cnf.jwk-bound token via DPoP with a proof by that very key", func(t *testing.T) { viaDPoP(t, jwkBound, popguard.ReasonTokenKeyBinding) })
	t.Run("PoP-bound (cnf.kid) token via DPoP with a proof by the PoP key", func(t *testing.T) {
		resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+p.token, "DPoP", h.proofWith(p.pk, "GET", target, p.token, poptest.ProofOptions{}))
		advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonTokenKeyBinding)
	})
	t.Run("unbound token via PoP", func(t *testing.T) { viaPoP(t, h.unbound(), popguard.ReasonTokenNotBound) })
	t.Run("unbound token via DPoP", func(t *testing.T) { viaDPoP(t, h.unbound(), popguard.ReasonTokenNotBound) })
	t.Run("PoP-only route refuses Bearer and DPoP", func(t *testing.T) {
		q := newAdvPoP(t, publicURL, popguard.PoPOnly)
		advReject(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r", "Authorization", "Bearer "+q.unbound()), 401, popguard.CodeNone, popguard.ReasonRequestSchemeNotAllowed)
		tok := q.bound()
		advReject(t, q.harness, q.advHTTP(t, q.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", q.proof("GET", target, tok)), 401, popguard.CodeNone, popguard.ReasonRequestSchemeNotAllowed)
	})
}

// ---- Host header and forwarding headers against htu and u ----

func TestAdversarialHostAndForwarded(t *testing.T) {
	// trusted (X-Forwarded-*) and trustedF (Forwarded): the raw TCP peer
	// (127.0.0.1) is a trusted proxy; untrusted: it is not. None has a
	// public URL: the host comes from the request or the proxy and must be
	// on the allow-list. insecure: the host comes from the request unchecked
	// (the development opt-out).
	hosts := middleware.WithPublicHosts("api.public", "backend", "backend:8080")
	trusted := newHarness(t, middleware.WithTrustedProxies(middleware.XForwarded, "127.0.0.1", "::1"), hosts)
	trustedF := newHarness(t, middleware.WithTrustedProxies(middleware.Forwarded, "127.0.0.1", "::1"), hosts)
	untrusted := newHarness(t, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8"), middleware.WithPublicHosts("api.test"), middleware.WithPoP())
	insecure := newHarness(t, middleware.WithInsecureHostFromRequest())
	public := newHarness(t, middleware.WithPublicURL(publicURL))
	srvT, srvU, srvP := advServer(t, trusted.route(mixed)), advServer(t, untrusted.route(popguard.Mixed)), advServer(t, public.route(mixed))
	srvF, srvI := advServer(t, trustedF.route(mixed)), advServer(t, insecure.route(mixed))
	hostRefused := func(t *testing.T, h *harness, resp response) {
		t.Helper()
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestHostNotAllowed)
	}
	dpopRaw := func(t *testing.T, h *harness, srv *httptest.Server, reqLine, htu string, lines ...string) response {
		tok := h.bound()
		head := append([]string{reqLine}, lines...)
		head = append(head, "Authorization: DPoP "+tok, "DPoP: "+h.proof("GET", htu, tok))
		return h.advRaw(t, srv, head...)
	}
	htuReject := func(t *testing.T, h *harness, resp response) {
		t.Helper()
		advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTU)
	}
	badTarget := func(t *testing.T, h *harness, resp response) {
		t.Helper()
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
	}
	get := "GET /r HTTP/1.1"

	t.Run("untrusted peer: two X-Forwarded-Host lines ignored", func(t *testing.T) {
		resp := dpopRaw(t, untrusted, srvU, get, "http://evil.test/r", "Host: api.test", "X-Forwarded-Host: evil.test", "X-Forwarded-Host: evil.test")
		htuReject(t, untrusted, resp)
		resp = dpopRaw(t, untrusted, srvU, get, "http://api.test/r", "Host: api.test", "X-Forwarded-Host: evil.test", "X-Forwarded-Host: evil.test")
		advAccept(t, untrusted, resp, bob.Subject, popguard.DPoP)
	})
	t.Run("untrusted peer: Forwarded and X-Forwarded-Proto ignored", func(t *testing.T) {
		resp := dpopRaw(t, untrusted, srvU, get, "https://evil.test/r", "Host: api.test", "Forwarded: proto=https;host=evil.test", "X-Forwarded-Proto: https")
		htuReject(t, untrusted, resp)
	})
	t.Run("untrusted peer: SHR u for the forwarded host", func(t *testing.T) {
		k := poptest.NewClient()
		tok := untrusted.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", PoP: k})
		shr := k.SHR("GET", "https://evil.test/r", tok, poptest.SHROptions{})
		resp := untrusted.advRaw(t, srvU, get, "Host: api.test", "X-Forwarded-Host: evil.test", "Authorization: PoP "+shr)
		advReject(t, untrusted, resp, 401, popguard.CodeInvalidToken, popguard.ReasonSHRU)
	})
	t.Run("untrusted peer: Host api.test/admin? refused by the server", func(t *testing.T) {
		advServerReject(t, untrusted, dpopRaw(t, untrusted, srvU, get, "http://api.test/admin", "Host: api.test/admin?"), 400)
	})
	t.Run("trusted peer: the last X-Forwarded-Host line wins", func(t *testing.T) {
		lines := []string{"Host: backend:8080", "X-Forwarded-Host: evil.test", "X-Forwarded-Host: api.public"}
		htuReject(t, trusted, dpopRaw(t, trusted, srvT, get, "http://evil.test/r", lines...))
		advAccept(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.public/r", lines...), bob.Subject, popguard.DPoP)
	})
	t.Run("public hosts: a proof made for another server is refused", func(t *testing.T) {
		// The Host header names the other server, and so does the proof:
		// without the allow-list the request's own Host was the target.
		hostRefused(t, untrusted, dpopRaw(t, untrusted, srvU, get, "http://other.example/r", "Host: other.example"))
		hostRefused(t, untrusted, dpopRaw(t, untrusted, srvU, get, "http://other.example/r", "Host: OTHER.example:80"))
	})
	t.Run("public hosts: an SHR made for another server is refused", func(t *testing.T) {
		k := poptest.NewClient()
		tok := untrusted.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", PoP: k})
		shr := k.SHR("GET", "https://other.example/r", tok, poptest.SHROptions{})
		hostRefused(t, untrusted, untrusted.advRaw(t, srvU, get, "Host: other.example", "Authorization: PoP "+shr))
	})
	t.Run("public hosts: the host is matched without case and default port", func(t *testing.T) {
		advAccept(t, untrusted, dpopRaw(t, untrusted, srvU, get, "http://api.test/r", "Host: API.test:80"), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer: X-Forwarded-Host not on the allow-list", func(t *testing.T) {
		hostRefused(t, trusted, dpopRaw(t, trusted, srvT, get, "http://evil.test/r", "Host: backend", "X-Forwarded-Host: evil.test"))
	})
	t.Run("trusted peer (X-Forwarded-*): a client's Forwarded is never read", func(t *testing.T) {
		// nginx passes a client's Forwarded through unless told not to: it
		// must not override the proxy's X-Forwarded-* nor drop its prefix.
		lines := []string{"Host: backend", "Forwarded: proto=https;host=evil.test", "X-Forwarded-Host: api.public", "X-Forwarded-Prefix: /v1"}
		htuReject(t, trusted, dpopRaw(t, trusted, srvT, get, "https://evil.test/r", lines...))
		htuReject(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.public/r", lines...))
		advAccept(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.public/v1/r", lines...), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer (Forwarded): X-Forwarded-* is never read", func(t *testing.T) {
		lines := []string{"Host: backend", "Forwarded: host=api.public", "X-Forwarded-Host: evil.test", "X-Forwarded-Proto: https", "X-Forwarded-Prefix: /v1"}
		htuReject(t, trustedF, dpopRaw(t, trustedF, srvF, get, "https://evil.test/v1/r", lines...))
		advAccept(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://api.public/r", lines...), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer: X-Forwarded-Prefix with a dot-segment", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://backend/r", "Host: backend", "X-Forwarded-Prefix: /v1/.."))
	})
	t.Run("trusted peer: X-Forwarded-Host with path and query", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.test/admin", "Host: backend", "X-Forwarded-Host: api.test/admin?"))
	})
	t.Run("trusted peer: X-Forwarded-Host with backslash", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.test/r", "Host: backend", `X-Forwarded-Host: api.test\evil`))
	})
	// A forwarded host outside the host grammar (internal/uri) is a bad
	// target, whether or not it would be on the allow-list.
	t.Run("trusted peer: X-Forwarded-Host with port 99999", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.test/r", "Host: backend", "X-Forwarded-Host: api.test:99999"))
	})
	t.Run("trusted peer: empty X-Forwarded-Host", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://backend/r", "Host: backend", "X-Forwarded-Host:"))
	})
	t.Run("trusted peer: X-Forwarded-Host with a trailing dot", func(t *testing.T) {
		badTarget(t, trusted, dpopRaw(t, trusted, srvT, get, "http://api.test/r", "Host: backend", "X-Forwarded-Host: api.public."))
	})
	t.Run("trusted peer: Forwarded keys and values in upper case", func(t *testing.T) {
		advAccept(t, trustedF, dpopRaw(t, trustedF, srvF, get, "https://api.public/r", "Host: backend", "Forwarded: HOST=api.public;PROTO=HTTPS"), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer: Forwarded quoted proto and host with default port", func(t *testing.T) {
		advAccept(t, trustedF, dpopRaw(t, trustedF, srvF, get, "https://api.public/r", "Host: backend", `Forwarded: proto="https";host="api.public:443"`), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer: Forwarded host with an escaped quote", func(t *testing.T) {
		badTarget(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://evil.test/r", "Host: backend", `Forwarded: host="evil.test\"x"`))
	})
	t.Run("trusted peer: Forwarded empty host", func(t *testing.T) {
		badTarget(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://backend/r", "Host: backend", `Forwarded: host=""`))
	})
	t.Run("trusted peer: Forwarded host with userinfo", func(t *testing.T) {
		badTarget(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://api.public/r", "Host: backend", `Forwarded: host="evil@api.public"`))
	})
	t.Run("trusted peer: Forwarded proto javascript", func(t *testing.T) {
		badTarget(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://backend/r", "Host: backend", `Forwarded: proto=javascript`))
	})
	t.Run("trusted peer: Forwarded without host keeps the Host", func(t *testing.T) {
		lines := []string{"Host: backend", "Forwarded: for=192.0.2.1"}
		htuReject(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://evil.test/r", lines...))
		advAccept(t, trustedF, dpopRaw(t, trustedF, srvF, get, "http://backend/r", lines...), bob.Subject, popguard.DPoP)
	})
	t.Run("trusted peer: X-Forwarded-Proto list, nearest wins", func(t *testing.T) {
		lines := []string{"Host: backend", "X-Forwarded-Proto: https", "X-Forwarded-Proto: http"}
		htuReject(t, trusted, dpopRaw(t, trusted, srvT, get, "https://backend/r", lines...))
	})
	t.Run("absolute-form: the request-target authority is the target", func(t *testing.T) {
		// RFC 9112 §3.2.2: the Host line is ignored for absolute-form, and
		// the authority must be a public host.
		hostRefused(t, untrusted, dpopRaw(t, untrusted, srvU, "GET http://evil.test/r HTTP/1.1", "http://evil.test/r", "Host: api.test"))
		htuReject(t, untrusted, dpopRaw(t, untrusted, srvU, "GET http://api.test/r HTTP/1.1", "http://evil.test/r", "Host: evil.test"))
		advAccept(t, untrusted, dpopRaw(t, untrusted, srvU, "GET http://api.test/r HTTP/1.1", "http://api.test/r", "Host: evil.test"), bob.Subject, popguard.DPoP)
	})
	t.Run("insecure host from request: any host is the target (development only)", func(t *testing.T) {
		htuReject(t, insecure, dpopRaw(t, insecure, srvI, "GET http://evil.test/r HTTP/1.1", "http://api.test/r", "Host: api.test"))
		advAccept(t, insecure, dpopRaw(t, insecure, srvI, get, "http://evil.test/r", "Host: evil.test"), bob.Subject, popguard.DPoP)
	})
	t.Run("absolute-form https on a plain connection stays http", func(t *testing.T) {
		htuReject(t, untrusted, dpopRaw(t, untrusted, srvU, "GET https://api.test/r HTTP/1.1", "https://api.test/r", "Host: api.test"))
	})
	t.Run("absolute-form with a public URL: the configuration wins", func(t *testing.T) {
		htuReject(t, public, dpopRaw(t, public, srvP, "GET http://evil.test/r HTTP/1.1", "http://evil.test/r", "Host: api.test"))
		advAccept(t, public, dpopRaw(t, public, srvP, "GET http://evil.test/r HTTP/1.1", target, "Host: api.test"), bob.Subject, popguard.DPoP)
	})
	t.Run("absolute-form with userinfo", func(t *testing.T) {
		htuReject(t, untrusted, dpopRaw(t, untrusted, srvU, "GET http://evil@api.test/r HTTP/1.1", "http://evil@api.test/r", "Host: api.test"))
	})
	t.Run("public URL: X-Forwarded-Host is ignored", func(t *testing.T) {
		htuReject(t, public, dpopRaw(t, public, srvP, get, "https://evil.test/r", "Host: api.test", "X-Forwarded-Host: evil.test", "X-Forwarded-Proto: https"))
	})
}

// ---- path case and dot segments against SHR p and DPoP htu ----

func TestAdversarialPathTricks(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed)
	h := p.harness
	shrFor := func(path string) string { return p.shr(t, poptest.SHROptions{Claims: map[string]any{"p": path}}) }
	popRaw := func(t *testing.T, path, shr string) response {
		return h.advRaw(t, p.srv, "GET "+path+" HTTP/1.1", "Host: api.test", "Authorization: PoP "+shr)
	}
	dpopRaw := func(t *testing.T, path, htu string) response {
		tok := h.bound()
		return h.advRaw(t, p.srv, "GET "+path+" HTTP/1.1", "Host: api.test", "Authorization: DPoP "+tok, "DPoP: "+h.proof("GET", htu, tok))
	}
	for _, path := range []string{"/A/b", "/a/B", "//a/b", "/a//b",
		"/a/b/", "/a%2Fb", "/a%2fb", "/a/b;x", "/a/b%00", "/a/b%20", "/%61/b", "/a/b%2F", "/a\\b"} {
		t.Run("SHR p /a/b on "+path, func(t *testing.T) {
			advReject(t, h, popRaw(t, path, shrFor("/a/b")), 401, popguard.CodeInvalidToken, popguard.ReasonSHRP)
		})
	}
	t.Run("SHR p /a/b on /a/b", func(t *testing.T) {
		advAccept(t, h, popRaw(t, "/a/b", shrFor("/a/b")), "carol", popguard.PoP)
	})
	t.Run("SHR p /a%2fb on /a%2Fb (hex case only)", func(t *testing.T) {
		advAccept(t, h, popRaw(t, "/a%2Fb", shrFor("/a%2fb")), "carol", popguard.PoP)
	})
	htu := publicURL + "/a/b"
	// Percent-encoded unreserved characters are not decoded: chi and echo
	// route "/%61/b" apart from "/a/b".
	for _, path := range []string{"/A/b", "/a/B", "//a/b", "/a//b", "/a/b/", "/a%2Fb", "/a%2fb", "/a/b;x", "/a/b%20", "/a/b%2F", "/%61/b", "/a/%62"} {
		t.Run("DPoP htu /a/b on "+path, func(t *testing.T) {
			advReject(t, h, dpopRaw(t, path, htu), 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTU)
		})
	}
	for _, path := range []string{"/a\\b", "/a/b%zz", "/a/b%"} {
		t.Run("DPoP on the malformed path "+path, func(t *testing.T) {
			resp := dpopRaw(t, path, htu)
			if _, _, rejs := h.cap.snapshot(); resp.status == 400 && len(rejs) == 0 {
				advServerReject(t, h, resp, 400)
				return
			}
			advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
		})
	}
	// Dot-segments in any spelling are refused on every scheme, before any
	// credential is looked at: Go's ServeMux does not redirect the encoded
	// spellings (it routes "/x/%2E%2E/a/b" to "/x/"), and chi never removes
	// dot-segments, so resolving them would check one path and serve another.
	for _, path := range []string{"/a/./b", "/a/../a/b", "/a/%2e/b", "/a/%2E%2E/a/b", "/x/%2e%2e/a/b", "/x/.%2E/a/b",
		"/x/%2E./a/b", "/a/b/.", "/a/b/..", "/a/b/%2e", "/x%2F..%2Fa/b", "/x%2f%2E%2E%2fa/b"} {
		t.Run("DPoP htu /a/b on "+path, func(t *testing.T) {
			advReject(t, h, dpopRaw(t, path, htu), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
		})
		t.Run("SHR p "+path+" on "+path+" (exact, as sent)", func(t *testing.T) {
			advReject(t, h, popRaw(t, path, shrFor(path)), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
		})
		t.Run("DPoP htu "+path+" on "+path+" (exact, as sent)", func(t *testing.T) {
			advReject(t, h, dpopRaw(t, path, publicURL+path), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
		})
		t.Run("Bearer on "+path, func(t *testing.T) {
			resp := h.advRaw(t, p.srv, "GET "+path+" HTTP/1.1", "Host: api.test", "Authorization: Bearer "+h.unbound())
			advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
		})
	}
}

// ---- replays that change the bytes but not the statement ----

func TestAdversarialReplayResigned(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed)
	h := p.harness
	tok := h.bound()
	dpop := func(t *testing.T, proof string) response {
		return h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", proof)
	}
	replayed := func(t *testing.T, resp response, code popguard.ErrorCode) {
		t.Helper()
		advReject(t, h, resp, 401, code, popguard.ReasonReplayDetected)
	}
	t.Run("DPoP: same claims, fresh ECDSA signature", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, nil, nil)
		advAccept(t, h, dpop(t, advSigned(t, h.key, hdr, claims)), bob.Subject, popguard.DPoP)
		replayed(t, dpop(t, advSigned(t, h.key, hdr, claims)), popguard.CodeInvalidDPoPProof)
	})
	t.Run("DPoP: (r, n-s) of an accepted proof", func(t *testing.T) {
		proof := h.proof("GET", target, tok)
		advAccept(t, h, dpop(t, proof), bob.Subject, popguard.DPoP)
		replayed(t, dpop(t, malleate(t, proof)), popguard.CodeInvalidDPoPProof)
	})
	t.Run("DPoP: same jti, other iat and header member order", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, nil, nil)
		advAccept(t, h, dpop(t, advSigned(t, h.key, hdr, claims)), bob.Subject, popguard.DPoP)
		claims["iat"] = time.Now().Unix() - 1
		hdr["kid"] = "other"
		replayed(t, dpop(t, advSigned(t, h.key, hdr, claims)), popguard.CodeInvalidDPoPProof)
	})
	t.Run("DPoP: same jti for another URI of the Guard", func(t *testing.T) {
		hdr, claims := advProofParts(h.key, target, tok, nil, nil)
		advAccept(t, h, dpop(t, advSigned(t, h.key, hdr, claims)), bob.Subject, popguard.DPoP)
		claims["htu"] = publicURL + "/other"
		resp := h.advHTTP(t, p.srv, "GET", "/other", "Authorization", "DPoP "+tok, "DPoP", advSigned(t, h.key, hdr, claims))
		replayed(t, resp, popguard.CodeInvalidDPoPProof)
	})
	pop := func(t *testing.T, shr string) response {
		return h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+shr)
	}
	t.Run("SHR: (r, n-s) of an accepted SHR", func(t *testing.T) {
		shr := p.shr(t, poptest.SHROptions{})
		advAccept(t, h, pop(t, shr), "carol", popguard.PoP)
		replayed(t, pop(t, malleate(t, shr)), popguard.CodeInvalidToken)
	})
	t.Run("SHR: same payload, fresh signature", func(t *testing.T) {
		hdr, pl := advParts(t, p.shr(t, poptest.SHROptions{}))
		advAccept(t, h, pop(t, advRawSigned(t, p.pk, string(hdr), string(pl))), "carol", popguard.PoP)
		replayed(t, pop(t, advRawSigned(t, p.pk, string(hdr), string(pl))), popguard.CodeInvalidToken)
		// Same payload under another header (kid dropped): still the same statement.
		replayed(t, pop(t, advRawSigned(t, p.pk, `{"alg":"ES256","typ":"pop"}`, string(pl))), popguard.CodeInvalidToken)
	})
	t.Run("SHR: scheme name case does not make a new SHR", func(t *testing.T) {
		shr := p.shr(t, poptest.SHROptions{})
		advAccept(t, h, pop(t, shr), "carol", popguard.PoP)
		replayed(t, h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "pOp  "+shr), popguard.CodeInvalidToken)
	})
}

// ---- regression tests for the holes this suite found (fixed in 873d630) ----

// TestRegressionFragmentInRequestTarget: a raw '#' in the request-target
// (RFC 9112 has no fragment there; Go's server passes it on in Path or
// RawQuery) was cut off before the htu and q checks while the application
// still saw it: "?a=1#&b=2" added a parameter b no SHR covered, and a proof
// for /r was accepted on a request routed as "/r#x". Now a 400.
func TestRegressionFragmentInRequestTarget(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed, middleware.WithPoP(validate.SHRRequireQuery()))
	h := p.harness
	badTarget := func(t *testing.T, resp response) {
		t.Helper()
		advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
	}
	for _, rt := range []string{"/r?a=1#&b=2", "/r?a=1#", "/r?a=1&#b=2"} {
		t.Run("SHR q covering a=1, request "+rt, func(t *testing.T) {
			shr := p.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})
			badTarget(t, h.advRaw(t, p.srv, "GET "+rt+" HTTP/1.1", "Host: api.test", "Authorization: PoP "+shr))
		})
	}
	t.Run("SHR raw q, request /r?a=1#x", func(t *testing.T) {
		shr := p.shrTo(t, "GET", advSHRTarget+"?a=1", poptest.SHROptions{Format: poptest.IdentityModel, QueryRaw: true})
		badTarget(t, h.advRaw(t, p.srv, "GET /r?a=1#x HTTP/1.1", "Host: api.test", "Authorization: PoP "+shr))
	})
	for _, rt := range []string{"/r#x", "/r#", "/r#?b=2", "/r?x=1#y"} {
		t.Run("DPoP htu /r, request "+rt, func(t *testing.T) {
			tok := h.bound()
			badTarget(t, h.advRaw(t, p.srv, "GET "+rt+" HTTP/1.1", "Host: api.test", "Authorization: DPoP "+tok, "DPoP: "+h.proof("GET", target, tok)))
		})
	}
	t.Run("an encoded %23 is an ordinary path character", func(t *testing.T) {
		tok := h.bound()
		resp := h.advRaw(t, p.srv, "GET /r%23x HTTP/1.1", "Host: api.test", "Authorization: DPoP "+tok, "DPoP: "+h.proof("GET", publicURL+"/r%23x", tok))
		advAccept(t, h, resp, bob.Subject, popguard.DPoP)
	})
}

// TestRegressionSHRQueryEncodedName: draft-03 §7.5 forbids covering a
// repeated query parameter. Repetition was judged on raw names, but "%61"
// is "a" to every Go handler (r.URL.Query()), so ?a=1&%61=2 gave the
// application a=[1 2] under an SHR covering a=1 only.
func TestRegressionSHRQueryEncodedName(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.PoPOnly)
	h := p.harness
	seen := make(chan []string, 1)
	srv := advServer(t, h.guard.Require(popguard.PoPOnly)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		seen <- r.URL.Query()["a"]
	})))
	for _, c := range []struct{ query, name, pair string }{
		{"a=1&%61=2", "a", "a=1"}, {"%61=2&a=1", "a", "a=1"}, {"a=1&%61", "a", "a=1"},
		{"A=1&%41=2", "A", "A=1"}, {"a=1&a%00=2&%61=3", "a", "a=1"}, {"a+b=1&a%20b=2", "a+b", "a+b=1"},
	} {
		t.Run(c.query, func(t *testing.T) {
			// q covers c.name with the value of c.pair alone.
			shr := p.shrTo(t, "GET", advSHRTarget+"?"+c.pair, poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{c.name}})
			resp := h.advRaw(t, srv, "GET /r?"+c.query+" HTTP/1.1", "Host: api.test", "Authorization: PoP "+shr)
			advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonSHRQ)
		})
	}
	t.Run("control: distinct decoded names are covered", func(t *testing.T) {
		q := "a=1&%62=2"
		shr := p.shrTo(t, "GET", advSHRTarget+"?"+q, poptest.SHROptions{Format: poptest.IdentityModel, Query: []string{"a"}})
		resp := h.advRaw(t, srv, "GET /r?"+q+" HTTP/1.1", "Host: api.test", "Authorization: PoP "+shr)
		if resp.status != http.StatusOK || h.calls.Load() != 1 {
			t.Fatalf("status %d, handler calls %d", resp.status, h.calls.Load())
		}
		if got := <-seen; len(got) != 1 || got[0] != "1" {
			t.Errorf("handler saw a=%q", got)
		}
	})
}

// TestRegressionForwardedQuoted: RFC 7239 values may be quoted-strings,
// which may hold commas and semicolons. Forwarded was split on the last
// comma without honouring quotes, so a trusted proxy writing
// host="api.public, host=evil.test" (echoing a client value) made evil.test
// the target host and a proof minted for http://evil.test/r was accepted.
func TestRegressionForwardedQuoted(t *testing.T) {
	h := newHarness(t, middleware.WithTrustedProxies(middleware.Forwarded, "127.0.0.1", "::1"), middleware.WithPublicHosts("api.public", "backend"))
	srv := advServer(t, h.route(mixed))
	send := func(t *testing.T, forwarded, htu string) response {
		tok := h.bound()
		return h.advRaw(t, srv, "GET /r HTTP/1.1", "Host: backend", "Forwarded: "+forwarded,
			"Authorization: DPoP "+tok, "DPoP: "+h.proof("GET", htu, tok))
	}
	for _, c := range []struct{ forwarded, htu string }{
		{`proto=http;host="api.public, host=evil.test"`, "http://evil.test/r"},
		{`host="api.public;host=evil.test"`, "http://evil.test/r"},
		{`host="api.public;proto=https"`, "https://api.public/r"},
		{`host="evil.test\", host=x"`, "http://evil.test/r"},
	} {
		t.Run(c.forwarded, func(t *testing.T) {
			advReject(t, h, send(t, c.forwarded, c.htu), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
		})
	}
	// An unterminated quote or a mangled element: the proxy's value cannot
	// be read, so the request is refused. Falling back to the request's own
	// Host and scheme let a client discard the proxy's proto and host by
	// opening a quote that the proxy's appended element then closed.
	for _, c := range []struct{ forwarded, htu string }{
		{`for=1.2.3.4, host="evil.test`, "http://evil.test/r"},
		{`host="evil.test", host=x"`, "http://evil.test/r"},
		{`for="x, for=198.51.100.1;host=api.public;proto=https`, "http://backend/r"},
		{`"`, "http://backend/r"},
		{`for=198.51.100.1;;host=api.public`, "http://api.public/r"},
		{`host`, "http://backend/r"},
	} {
		t.Run(c.forwarded, func(t *testing.T) {
			advReject(t, h, send(t, c.forwarded, c.htu), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
		})
	}
	t.Run(`control: for="[2001:db8::1]:80", host="api.public"`, func(t *testing.T) {
		advAccept(t, h, send(t, `for="[2001:db8::1]:80";host="api.public";proto=https`, "https://api.public/r"), bob.Subject, popguard.DPoP)
	})
	t.Run("control: a quoted comma in an earlier element", func(t *testing.T) {
		advAccept(t, h, send(t, `for="a, b";host=evil.test, for=10.0.0.1;host=api.public`, "http://api.public/r"), bob.Subject, popguard.DPoP)
	})
}

// TestRegressionSHRHeaderClaimCost: the h claim is checked before the access
// token and the signature (validate/shr.go Verify), and checkHeaders looks
// each listed name up by scanning the whole header map (shrHeaderValues),
// so an unauthenticated request pairing an SHR that lists ~1000 header
// names (forged signature, any at) with ~10 000 header lines costs
// names x headers case-folding comparisons. It must cost about what a
// legitimate request costs, not hundreds of signature verifications.
func TestRegressionSHRHeaderClaimCost(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.PoPOnly)
	h := p.harness
	route := h.route(popguard.PoPOnly)
	timeOf := func(req *http.Request) time.Duration {
		start := time.Now()
		h.do(route, req)
		return time.Since(start)
	}
	// Baseline: a valid SHR, full signature check, same header count.
	filler := func(req *http.Request) *http.Request {
		for i := 0; i < 10000; i++ {
			req.Header["Y-F"+big.NewInt(int64(i)).String()] = []string{"v"}
		}
		return req
	}
	var base time.Duration
	for i := 0; i < 5; i++ {
		d := timeOf(filler(request("GET", target, "Authorization", "PoP "+p.shr(t, poptest.SHROptions{}))))
		if i == 0 || d < base {
			base = d
		}
	}
	hdr := http.Header{}
	var names []string
	for i := 0; i < 1000; i++ {
		k := "X-H" + big.NewInt(int64(i)).String()
		hdr[k] = []string{"v"}
		names = append(names, k)
	}
	forger := poptest.NewClient()
	shr := forger.SHR("GET", advSHRTarget, "not-a-token", poptest.SHROptions{Format: poptest.IdentityModel, Headers: http.Header{},
		Claims: map[string]any{"h": advHClaim(hdr, names...)}})
	req := filler(request("GET", target, "Authorization", "PoP "+shr))
	for k, v := range hdr {
		req.Header[k] = v
	}
	attack := timeOf(req)
	if h.calls.Load() != 0 {
		t.Fatal("forged SHR accepted")
	}
	if attack > 50*base {
		t.Errorf("BUG: validate/shr.go checkHeaders/shrHeaderValues: an unauthenticated SHR listing 1000 headers with 11 000 header lines "+
			"took %v to reject, %.0fx a valid request (%v); want the h check bounded (index the headers once, cap the names) or run after the signature",
			attack, float64(attack)/float64(base), base)
	}
}
