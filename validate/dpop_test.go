package validate_test

// Adversarial tests of DPoP proof validation (RFC 9449 §4.3 checks 1-12, the
// examples of §4.2, §6 and §7, and the security considerations of §11).
// Every rejection is asserted by its popguard.Error Code and Reason.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/jose"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// RFC 9449 example values (§4.2, §4.3, §7).
const (
	dpopRFCToken         = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
	dpopRFCATH           = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
	dpopRFCJKT           = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	dpopRFC7638TP        = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
	dpopRFCResource      = "https://resource.example.org/protectedresource"
	dpopRFCTokenEndpoint = "https://server.example.com/token"
	dpopFig13IAT         = 1562262618
	dpopFig2IAT          = 1562262616
	dpopFig7IAT          = 1562265296
	dpopFig13            = "figure13-resource-proof.jwt"
	dpopFig2             = "figure02-token-request-proof.jwt"
	dpopFig7             = "figure07-refresh-proof.jwt"
	dpopFig8             = "figure08-access-token.jwt"
)

// dpopVector reads an RFC vector from /testdata/rfc9449.
func dpopVector(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "rfc9449", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func dpopClock(tm time.Time) func() time.Time { return func() time.Time { return tm } }

func dpopVerifierAt(t testing.TB, now time.Time, opts ...validate.Option) *validate.ProofVerifier {
	t.Helper()
	v, err := validate.NewProofVerifier(append([]validate.Option{validate.Clock(dpopClock(now))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// dpopWantErr asserts that err is a *popguard.Error with code and reason.
func dpopWantErr(t testing.TB, err error, code popguard.ErrorCode, reason popguard.Reason) *popguard.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s (%s)", code, reason)
	}
	var pe *popguard.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is %T, not *popguard.Error", err, err)
	}
	if pe.Code != code || pe.Reason != reason {
		t.Fatalf("got %s (%s), want %s (%s); error: %v", pe.Code, pe.Reason, code, reason, err)
	}
	if !errors.Is(err, &popguard.Error{Code: code, Reason: reason}) {
		t.Fatalf("errors.Is does not match %s (%s)", code, reason)
	}
	return pe
}

// ---------------------------------------------------------------------------
// RFC 9449 (Figures 6, 7, 13) and RFC 7638 §3.1 vectors.

func dpopRFCRequest() validate.ProofRequest {
	return validate.ProofRequest{Method: "GET", Target: dpopRFCResource, AccessToken: dpopRFCToken}
}

func TestRFC9449Figure13Accepted(t *testing.T) {
	proof := dpopVector(t, dpopFig13)
	for _, target := range []string{dpopRFCResource, dpopRFCResource + "?foo=bar", "HTTPS://Resource.Example.ORG:443/protectedresource#frag"} {
		t.Run(target, func(t *testing.T) {
			v := dpopVerifierAt(t, time.Unix(dpopFig13IAT, 0))
			req := dpopRFCRequest()
			req.Target = target
			p, err := v.Verify(proof, req)
			if err != nil {
				t.Fatalf("Figure 13 proof rejected: %v", err)
			}
			want := validate.Proof{
				JTI:        "e1j3V_bKic8-LAEB",
				Method:     "GET",
				HTU:        dpopRFCResource,
				IssuedAt:   time.Unix(dpopFig13IAT, 0),
				Alg:        "ES256",
				Thumbprint: dpopRFCJKT,
			}
			if p.JTI != want.JTI || p.Method != want.Method || p.HTU != want.HTU || !p.IssuedAt.Equal(want.IssuedAt) ||
				p.Alg != want.Alg || p.Thumbprint != want.Thumbprint || p.Nonce != "" {
				t.Fatalf("got %+v, want %+v", *p, want)
			}
		})
	}
}

func TestRFC9449Figure13Rejected(t *testing.T) {
	proof := dpopVector(t, dpopFig13)
	iat := time.Unix(dpopFig13IAT, 0)
	tampered := func() string {
		// Figure 14 with htm changed to POST, Figure 13's signature kept.
		s := strings.Split(proof, ".")
		payload, err := base64.RawURLEncoding.DecodeString(s[1])
		if err != nil {
			t.Fatal(err)
		}
		payload = []byte(strings.Replace(string(payload), `"htm":"GET"`, `"htm":"POST"`, 1))
		return s[0] + "." + base64.RawURLEncoding.EncodeToString(payload) + "." + s[2]
	}()
	cases := []struct {
		name   string
		now    time.Time
		proof  string
		edit   func(*validate.ProofRequest)
		reason popguard.Reason
	}{
		{name: "too_old_61s", now: iat.Add(61 * time.Second), reason: popguard.ReasonProofIAT},
		{name: "too_old_by_1ns", now: iat.Add(validate.DefaultProofMaxAge + time.Nanosecond), reason: popguard.ReasonProofIAT},
		{name: "too_old_an_hour", now: iat.Add(time.Hour), reason: popguard.ReasonProofIAT},
		{name: "future_11s", now: iat.Add(-11 * time.Second), reason: popguard.ReasonProofIAT},
		{name: "future_by_1ns", now: iat.Add(-validate.DefaultProofFutureSkew - time.Nanosecond), reason: popguard.ReasonProofIAT},
		{name: "future_a_day", now: iat.Add(-24 * time.Hour), reason: popguard.ReasonProofIAT},
		{name: "method_POST", edit: func(r *validate.ProofRequest) { r.Method = "POST" }, reason: popguard.ReasonProofHTM},
		{name: "method_lowercase_get", edit: func(r *validate.ProofRequest) { r.Method = "get" }, reason: popguard.ReasonProofHTM},
		{name: "other_path", edit: func(r *validate.ProofRequest) { r.Target = "https://resource.example.org/otherresource" }, reason: popguard.ReasonProofHTU},
		{name: "other_host", edit: func(r *validate.ProofRequest) { r.Target = "https://resource.example.com/protectedresource" }, reason: popguard.ReasonProofHTU},
		{name: "http_scheme", edit: func(r *validate.ProofRequest) { r.Target = "http://resource.example.org/protectedresource" }, reason: popguard.ReasonProofHTU},
		{name: "other_port", edit: func(r *validate.ProofRequest) { r.Target = "https://resource.example.org:8443/protectedresource" }, reason: popguard.ReasonProofHTU},
		{name: "trailing_slash", edit: func(r *validate.ProofRequest) { r.Target = dpopRFCResource + "/" }, reason: popguard.ReasonProofHTU},
		{name: "other_token", edit: func(r *validate.ProofRequest) { r.AccessToken = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxV" }, reason: popguard.ReasonProofATH},
		{name: "token_with_scheme", edit: func(r *validate.ProofRequest) { r.AccessToken = "DPoP " + dpopRFCToken }, reason: popguard.ReasonProofATH},
		{name: "token_url_encoded", edit: func(r *validate.ProofRequest) { r.AccessToken = strings.ReplaceAll(dpopRFCToken, "~", "%7E") }, reason: popguard.ReasonProofATH},
		{name: "htm_tampered_signature_fails", proof: tampered, edit: func(r *validate.ProofRequest) { r.Method = "POST" }, reason: popguard.ReasonProofSignature},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			if now.IsZero() {
				now = iat
			}
			p := tc.proof
			if p == "" {
				p = proof
			}
			req := dpopRFCRequest()
			if tc.edit != nil {
				tc.edit(&req)
			}
			_, err := dpopVerifierAt(t, now).Verify(p, req)
			dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, tc.reason)
		})
	}
}

func TestRFC9449Figure13WindowEdges(t *testing.T) {
	proof := dpopVector(t, dpopFig13)
	iat := time.Unix(dpopFig13IAT, 0)
	for _, now := range []time.Time{iat.Add(validate.DefaultProofMaxAge), iat.Add(-validate.DefaultProofFutureSkew), iat.Add(validate.DefaultProofMaxAge - time.Nanosecond)} {
		if _, err := dpopVerifierAt(t, now).Verify(proof, dpopRFCRequest()); err != nil {
			t.Errorf("now = iat%+v: %v", now.Sub(iat), err)
		}
	}
}

func TestRFC9449TokenEndpointProofs(t *testing.T) {
	for _, tc := range []struct {
		file string
		iat  int64
	}{{dpopFig2, dpopFig2IAT}, {dpopFig7, dpopFig7IAT}} {
		proof := dpopVector(t, tc.file)
		asReq := validate.ProofRequest{Method: "POST", Target: dpopRFCTokenEndpoint}
		now := time.Unix(tc.iat, 0)
		t.Run(tc.file+"/token_endpoint", func(t *testing.T) {
			p, err := dpopVerifierAt(t, now).Verify(proof, asReq)
			if err != nil {
				t.Fatalf("rejected at the token endpoint: %v", err)
			}
			if p.JTI != "-BwC3ESc6acc2lTc" || p.Thumbprint != dpopRFCJKT || p.Method != "POST" || p.HTU != dpopRFCTokenEndpoint || !p.IssuedAt.Equal(now) {
				t.Fatalf("got %+v", *p)
			}
		})
		t.Run(tc.file+"/with_access_token", func(t *testing.T) {
			req := asReq
			req.AccessToken = dpopRFCToken
			_, err := dpopVerifierAt(t, now).Verify(proof, req)
			dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofATH)
		})
		t.Run(tc.file+"/at_resource_server", func(t *testing.T) {
			_, err := dpopVerifierAt(t, now).Verify(proof, dpopRFCRequest())
			dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTM)
		})
	}
	// Figures 2 and 7 reuse the jti with the same key: same replay
	// identity, 2680 s apart, far outside the acceptance window.
	v2 := dpopVerifierAt(t, time.Unix(dpopFig2IAT, 0))
	v7 := dpopVerifierAt(t, time.Unix(dpopFig7IAT, 0))
	asReq := validate.ProofRequest{Method: "POST", Target: dpopRFCTokenEndpoint}
	p2, err2 := v2.Verify(dpopVector(t, dpopFig2), asReq)
	p7, err7 := v7.Verify(dpopVector(t, dpopFig7), asReq)
	if err2 != nil || err7 != nil {
		t.Fatal(err2, err7)
	}
	if p2.ReplayKey() != p7.ReplayKey() {
		t.Error("Figures 2 and 7 (same key, same jti) have different replay keys")
	}
	if gap := p7.IssuedAt.Sub(p2.IssuedAt); gap <= v2.Window() {
		t.Errorf("Figures 2 and 7 are %v apart, within the window %v", gap, v2.Window())
	}
	// Figure 2 is stale by Figure 7's time.
	_, err := v7.Verify(dpopVector(t, dpopFig2), asReq)
	dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT)
}

// dpopCanonicalThumbprint is a second RFC 7638 implementation: decode the
// JWK with encoding/json, keep only the required members, write them in
// lexicographic order, SHA-256, base64url.
func dpopCanonicalThumbprint(t testing.TB, raw []byte) (string, [32]byte) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	var names []string
	switch m["kty"] {
	case "EC":
		names = []string{"crv", "kty", "x", "y"}
	case "RSA":
		names = []string{"e", "kty", "n"}
	case "OKP":
		names = []string{"crv", "kty", "x"}
	default:
		t.Fatalf("kty %v", m["kty"])
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%q", n, m[n].(string))
	}
	b.WriteByte('}')
	sum := sha256.Sum256([]byte(b.String()))
	return base64.RawURLEncoding.EncodeToString(sum[:]), sum
}

func TestRFC7638Thumbprint(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "rfc9449", "rfc7638-rsa-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	// RFC 7638 §3.1 lists the SHA-256 octets.
	wantOctets := [32]byte{55, 54, 203, 177, 120, 124, 184, 48, 156, 119, 238, 140, 55, 5, 197, 225, 111, 251, 158, 133, 151, 21, 144, 31, 30, 76, 89, 177, 17, 130, 245, 123}
	tp, octets := dpopCanonicalThumbprint(t, raw)
	if octets != wantOctets || tp != dpopRFC7638TP {
		t.Fatalf("second implementation: %s %v", tp, octets)
	}
	key, err := jose.ParseJWK(raw, jose.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if key.Thumbprint != dpopRFC7638TP || key.Kty != "RSA" {
		t.Fatalf("ParseJWK thumbprint %s (kty %s), want %s", key.Thumbprint, key.Kty, dpopRFC7638TP)
	}
	if bits := key.Key.(*rsa.PublicKey).N.BitLen(); bits != 2048 {
		t.Fatalf("modulus %d bits", bits)
	}
	// alg and kid (and member order, and whitespace) do not change it.
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	stripped := fmt.Sprintf(`{"n":%q,"kty":"RSA","e":"AQAB"}`, m["n"])
	other := fmt.Sprintf(`{"use":"sig","kid":"another","e":"AQAB","alg":"PS512","n":%q,"kty":"RSA"}`, m["n"])
	for _, s := range []string{stripped, other} {
		k, err := jose.ParseJWK([]byte(s), jose.KeyPolicy{})
		if err != nil || k.Thumbprint != dpopRFC7638TP {
			t.Errorf("ParseJWK(%.40s…) = %v, %v", s, k, err)
		}
	}
	if got := jose.ThumbprintURI(key.Thumbprint); got != "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"+dpopRFC7638TP {
		t.Errorf("ThumbprintURI = %s", got)
	}
}

func TestRFC9449KeyThumbprint(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "rfc9449", "rfc9449-ec-key.json"))
	if err != nil {
		t.Fatal(err)
	}
	if tp, _ := dpopCanonicalThumbprint(t, raw); tp != dpopRFCJKT {
		t.Fatalf("second implementation: %s", tp)
	}
	key, err := jose.ParseJWK(raw, jose.KeyPolicy{})
	if err != nil {
		t.Fatal(err)
	}
	if key.Thumbprint != dpopRFCJKT || key.Kty != "EC" || key.Crv != "P-256" {
		t.Fatalf("ParseJWK: %s %s %s", key.Thumbprint, key.Kty, key.Crv)
	}
	// Hashing the members in the header order gives another value: the
	// canonical order matters.
	sum := sha256.Sum256([]byte(strings.TrimSpace(string(raw))))
	if base64.RawURLEncoding.EncodeToString(sum[:]) == dpopRFCJKT {
		t.Fatal("the raw member order hashes to the thumbprint")
	}
}

func TestRFC9449Figure9CnfJKT(t *testing.T) {
	at, err := jose.ParseCompact(dpopVector(t, dpopFig8), 8192)
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := jose.Lookup(at.Payload, "cnf")
	if !ok {
		t.Fatal("Figure 9 has no cnf")
	}
	cnf, err := validate.ParseCnf(raw)
	if err != nil {
		t.Fatal(err)
	}
	if cnf.JKT != dpopRFCJKT || !cnf.Bound() || cnf.KID != "" || cnf.X5tS256 != "" || cnf.JWK != nil {
		t.Fatalf("parseCnf = %+v", cnf)
	}
	// The Figure 13 proof is bound to it (the Figure 11 introspection has
	// the same cnf).
	p, err := dpopVerifierAt(t, time.Unix(dpopFig13IAT, 0)).Verify(dpopVector(t, dpopFig13), dpopRFCRequest())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.CheckDPoPBinding(&validate.Token{Cnf: cnf}, p); err != nil {
		t.Fatalf("CheckDPoPBinding: %v", err)
	}
}

func TestRFC9449ATHIndependent(t *testing.T) {
	sum := sha256.Sum256([]byte(dpopRFCToken))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	if ath != dpopRFCATH {
		t.Fatalf("sha256 ath = %s, want %s", ath, dpopRFCATH)
	}
	// The Figure 14 payload, decoded with encoding/json.
	seg := strings.Split(dpopVector(t, dpopFig13), ".")[1]
	payload, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		ATH string `json:"ath"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims.ATH != ath {
		t.Fatalf("Figure 14 ath = %s, computed %s", claims.ATH, ath)
	}
	if got := jose.HashB64(dpopRFCToken); got != ath {
		t.Fatalf("jose.HashB64 = %s", got)
	}
	// The client side: the test kit's proofs carry the same ath.
	_, kitPayload, _ := dpopSplit(t, poptest.NewClient().Proof("GET", dpopRFCResource, dpopRFCToken, poptest.ProofOptions{}))
	raw, err := base64.RawURLEncoding.DecodeString(kitPayload)
	if err != nil {
		t.Fatal(err)
	}
	var kit struct {
		ATH string `json:"ath"`
	}
	if err := json.Unmarshal(raw, &kit); err != nil || kit.ATH != ath {
		t.Fatalf("poptest proof ath = %q (%v)", kit.ATH, err)
	}
	if got := dpopATH(dpopRFCToken); got != ath {
		t.Fatalf("dpopATH = %s", got)
	}
}

// ---------------------------------------------------------------------------
// Generated proofs.

var dpopNow = time.Unix(1700000000, 0)

const (
	dpopToken  = "dpop-test-token.8mXK1EalYznwH~LC-1fBAo_4Ljp"
	dpopTarget = "https://resource.example.org/protectedresource"
)

func dpopRequest() validate.ProofRequest {
	return validate.ProofRequest{Method: "GET", Target: dpopTarget + "?foo=bar", AccessToken: dpopToken}
}

func dpopMustKey(alg string) func() *jwsKey {
	return sync.OnceValue(func() *jwsKey { return newJWSKey(alg) })
}

var (
	dpopES256   = dpopMustKey("ES256")
	dpopES256b  = dpopMustKey("ES256")
	dpopES384   = dpopMustKey("ES384")
	dpopES512   = dpopMustKey("ES512")
	dpopEd25519 = dpopMustKey("EdDSA")
	// One 2048-bit RSA key serves every RSA algorithm (key generation is
	// slow under -race).
	dpopRSA2048 = sync.OnceValue(func() *rsa.PrivateKey { return dpopGenRSA(2048) })
	dpopRSA1024 = sync.OnceValue(func() *rsa.PrivateKey { return dpopGenRSA(1024) })
	// An ES256-labelled key on P-384.
	dpopP384AsES256 = sync.OnceValue(func() *jwsKey {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return &jwsKey{Alg: "ES256", Signer: k}
	})
)

func dpopGenRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func dpopRSA(alg string) func() *jwsKey {
	return func() *jwsKey { return &jwsKey{Alg: alg, Signer: dpopRSA2048()} }
}

func dpopRSA1024Key(alg string) func() *jwsKey {
	return func() *jwsKey { return &jwsKey{Alg: alg, Signer: dpopRSA1024()} }
}

// dpopParts is a proof before signing: header and claims are marshalled
// as they are (json.RawMessage for values a marshaller would not make).
type dpopParts struct {
	key    *jwsKey
	header map[string]any
	claims map[string]any
}

func dpopBase(k *jwsKey) *dpopParts {
	return &dpopParts{
		key:    k,
		header: map[string]any{"typ": "dpop+jwt", "alg": k.Alg, "jwk": k.PublicJWK(nil)},
		claims: map[string]any{
			"jti": jwsRandomID(),
			"htm": "GET",
			"htu": dpopTarget,
			"iat": dpopNow.Unix(),
			"ath": dpopATH(dpopToken),
		},
	}
}

func (p *dpopParts) jwk() map[string]any { return p.header["jwk"].(map[string]any) }

func dpopMarshal(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p *dpopParts) sign(t testing.TB) string {
	t.Helper()
	s, err := p.key.SignRaw(dpopMarshal(t, p.header), dpopMarshal(t, p.claims))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dpopProof returns a factory for the base proof of key, changed by edit.
func dpopProof(key func() *jwsKey, edit func(p *dpopParts)) func(testing.TB) string {
	return func(t testing.TB) string {
		p := dpopBase(key())
		if edit != nil {
			edit(p)
		}
		return p.sign(t)
	}
}

// dpopRaw signs hand-written header and payload JSON with the ES256 key.
// In both, JWK stands for the key's public JWK and CLAIMS for the base
// claims (without the braces), so duplicates can be added around them.
func dpopRaw(header, payload string) func(testing.TB) string {
	return func(t testing.TB) string {
		k := dpopES256()
		s, err := k.SignRaw([]byte(dpopExpand(t, k, header)), []byte(dpopExpand(t, k, payload)))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func dpopExpand(t testing.TB, k *jwsKey, s string) string {
	base := dpopBase(k)
	claims := string(dpopMarshal(t, base.claims))
	s = strings.ReplaceAll(s, "JWK", string(dpopMarshal(t, k.PublicJWK(nil))))
	return strings.ReplaceAll(s, "CLAIMS", claims[1:len(claims)-1])
}

const dpopStdHeader = `{"typ":"dpop+jwt","alg":"ES256","jwk":JWK}`

func dpopB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// dpopATH is the ath claim for accessToken: base64url(SHA-256(accessToken)).
func dpopATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return dpopB64(sum[:])
}

// dpopSplit returns the three segments of a compact JWS.
func dpopSplit(t testing.TB, s string) (h, p string, sig []byte) {
	t.Helper()
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		t.Fatalf("%d segments", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		t.Fatal(err)
	}
	return parts[0], parts[1], sig
}

// dpopResign replaces the signature of a valid ES256 base proof by
// change(signature, signing input, key).
func dpopResign(change func(t testing.TB, sig []byte, input string, k *ecdsa.PrivateKey) []byte) func(testing.TB) string {
	return func(t testing.TB) string {
		k := dpopES256()
		h, p, sig := dpopSplit(t, dpopBase(k).sign(t))
		return h + "." + p + "." + dpopB64(change(t, sig, h+"."+p, k.Signer.(*ecdsa.PrivateKey)))
	}
}

// dpopMalleate returns the ECDSA signature (r, n-s), which verifies too.
func dpopMalleate(sig []byte, curve elliptic.Curve) []byte {
	size := len(sig) / 2
	s := new(big.Int).SetBytes(sig[size:])
	s.Sub(curve.Params().N, s)
	out := append([]byte(nil), sig[:size]...)
	return append(out, s.FillBytes(make([]byte, size))...)
}

func dpopRandB64(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[0] |= 0x80
	return dpopB64(b)
}

func dpopNest(n int) json.RawMessage {
	return json.RawMessage(strings.Repeat(`[`, n) + strings.Repeat(`]`, n))
}

type dpopCase struct {
	name   string
	proof  func(testing.TB) string
	req    func(*validate.ProofRequest)
	opts   []validate.Option
	code   popguard.ErrorCode // default invalid_dpop_proof
	reason popguard.Reason
	cause  error // when set, errors.Is(err, cause) must hold
}

func dpopRun(t *testing.T, cases []dpopCase) {
	t.Helper()
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("duplicate case name %s", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := dpopRequest()
			if tc.req != nil {
				tc.req(&req)
			}
			proof := tc.proof(t)
			code := tc.code
			if code == "" {
				code = popguard.CodeInvalidDPoPProof
			}
			// Once with a fresh verifier, once with one whose key cache
			// already holds every test key: a cache hit must not skip a check.
			for _, v := range []*validate.ProofVerifier{dpopVerifierAt(t, dpopNow, tc.opts...), dpopWarmVerifier(t, tc.opts...)} {
				_, err := v.Verify(proof, req)
				dpopWantErr(t, err, code, tc.reason)
				if tc.cause != nil && !errors.Is(err, tc.cause) {
					t.Fatalf("error %v does not wrap %v", err, tc.cause)
				}
				// A traced copy (popctl inspect) reports this very rejection.
				traceAgrees(t, func(tr trace.Tracer) error {
					_, err := trace.With(v, trace.Options{Tracer: tr}).Verify(proof, req)
					return err
				})
			}
		})
	}
}

// dpopWarmVerifier returns a verifier that has accepted a proof from every
// test key (as far as opts allow), so their jwks are in its key cache.
func dpopWarmVerifier(t testing.TB, opts ...validate.Option) *validate.ProofVerifier {
	t.Helper()
	v := dpopVerifierAt(t, dpopNow, opts...)
	for _, k := range []func() *jwsKey{dpopES256, dpopES256b, dpopES384, dpopES512, dpopEd25519, dpopRSA("RS256"), dpopRSA("PS256"), dpopRSA1024Key("RS256"), dpopP384AsES256} {
		_, _ = v.Verify(dpopBase(k()).sign(t), dpopRequest())
	}
	return v
}

func TestProofBaselineAccepted(t *testing.T) {
	k := dpopES256()
	p := dpopBase(k)
	jti := p.claims["jti"].(string)
	got, err := dpopVerifierAt(t, dpopNow).Verify(p.sign(t), dpopRequest())
	if err != nil {
		t.Fatalf("base proof rejected: %v", err)
	}
	if got.JTI != jti || got.Method != "GET" || got.HTU != dpopTarget || !got.IssuedAt.Equal(dpopNow) ||
		got.Alg != "ES256" || got.Thumbprint != k.Thumbprint() || got.Nonce != "" {
		t.Fatalf("got %+v", *got)
	}
}

// TestProofRejectsStructure covers RFC 9449 §4.3 checks 1 to 7 (the JWS).
func TestProofRejectsStructure(t *testing.T) {
	malformed := popguard.ReasonProofMalformed
	cases := []dpopCase{
		// alg
		{name: "alg_none_empty_signature", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			p := dpopBase(dpopES256())
			p.header["alg"] = "none"
			return dpopB64(dpopMarshal(t, p.header)) + "." + dpopB64(dpopMarshal(t, p.claims)) + "."
		}},
		{name: "alg_none_with_signature", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "none" })},
		{name: "alg_None_capitalised", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "None" })},
		{name: "alg_HS256_keyed_with_jwk_json", reason: popguard.ReasonProofAlg, proof: func(t testing.TB) string {
			p := dpopBase(dpopES256())
			p.header["alg"] = "HS256"
			input := dpopB64(dpopMarshal(t, p.header)) + "." + dpopB64(dpopMarshal(t, p.claims))
			mac := hmac.New(sha256.New, dpopMarshal(t, p.jwk()))
			mac.Write([]byte(input))
			return input + "." + dpopB64(mac.Sum(nil))
		}},
		{name: "alg_HS256_keyed_with_jwk_x", reason: popguard.ReasonProofAlg, proof: func(t testing.TB) string {
			p := dpopBase(dpopES256())
			p.header["alg"] = "HS256"
			input := dpopB64(dpopMarshal(t, p.header)) + "." + dpopB64(dpopMarshal(t, p.claims))
			mac := hmac.New(sha256.New, []byte(p.jwk()["x"].(string)))
			mac.Write([]byte(input))
			return input + "." + dpopB64(mac.Sum(nil))
		}},
		{name: "alg_HS512_oct_jwk", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) {
			p.header["alg"] = "HS512"
			p.header["jwk"] = map[string]any{"kty": "oct", "k": dpopRandB64(32)}
		})},
		{name: "alg_missing", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { delete(p.header, "alg") })},
		{name: "alg_empty", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "" })},
		{name: "alg_number", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = 256 })},
		{name: "alg_lowercase_es256", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "es256" })},
		{name: "alg_RS384_not_in_default_list", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopRSA("RS384"), nil)},
		{name: "alg_ES256K_unknown", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "ES256K" })},
		{name: "alg_not_in_configured_list", reason: popguard.ReasonProofAlg, opts: []validate.Option{validate.Algs("PS256")}, proof: dpopProof(dpopES256, nil)},

		// RSA key size and exponent
		{name: "RS256_1024_bit_key", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, proof: dpopProof(dpopRSA1024Key("RS256"), nil)},
		{name: "PS256_1024_bit_key", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, proof: dpopProof(dpopRSA1024Key("PS256"), nil)},
		{name: "RS256_2048_below_policy_minimum", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, opts: []validate.Option{validate.RSAKeySize(3072, 4096)}, proof: dpopProof(dpopRSA("RS256"), nil)},
		{name: "RS256_16384_bit_modulus", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["n"] = dpopRandB64(16384 / 8)
		})},
		{
			// A modulus that is too long and not even base64url: an
			// ErrJWKRSASize proves it was refused before decoding.
			name: "RS256_oversized_modulus_refused_before_decoding", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize,
			proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["n"] = strings.Repeat("!", 16384/6) }),
		},
		{name: "RS256_modulus_8201_bits", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["n"] = dpopB64(append([]byte{0x01}, make([]byte, 1025)...))
		})},
		{name: "RS256_modulus_8193_bits", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKRSASize, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["n"] = dpopB64(append([]byte{0x01}, make([]byte, 1024)...))
		})},
		{name: "RS256_huge_e_5_octets", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["e"] = dpopB64([]byte{1, 0, 0, 0, 1})
		})},
		{name: "RS256_huge_e_1KB", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["e"] = dpopRandB64(1024)
		})},
		{name: "RS256_e_2pow31_plus_1", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["e"] = dpopB64([]byte{0x80, 0, 0, 1})
		})},
		{name: "RS256_e_1", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["e"] = "AQ" })},
		{name: "RS256_e_leading_zero", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["e"] = "AAEAAQ" })},
		{name: "RS256_n_leading_zero", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["n"] = dpopB64(append([]byte{0}, dpopRSA2048().N.Bytes()...))
		})},

		// private and symmetric key material
		{name: "jwk_EC_with_d", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["d"] = dpopRandB64(32) })},
		{name: "jwk_RSA_with_d", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["d"] = dpopB64(dpopRSA2048().D.Bytes())
		})},
		{name: "jwk_RSA_with_p", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["p"] = dpopRandB64(128) })},
		{name: "jwk_RSA_with_q", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["q"] = dpopRandB64(128) })},
		{name: "jwk_RSA_with_dp", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["dp"] = dpopRandB64(128) })},
		{name: "jwk_RSA_with_dq", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["dq"] = dpopRandB64(128) })},
		{name: "jwk_RSA_with_qi", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.jwk()["qi"] = dpopRandB64(128) })},
		{name: "jwk_RSA_with_oth", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) {
			p.jwk()["oth"] = []any{map[string]any{"r": dpopRandB64(64), "d": dpopRandB64(64), "t": dpopRandB64(64)}}
		})},
		{name: "jwk_EC_with_k", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKSymmetric, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["k"] = dpopRandB64(32) })},
		{name: "jwk_OKP_with_d", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopEd25519, func(p *dpopParts) { p.jwk()["d"] = dpopRandB64(32) })},
		{name: "jwk_d_null", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["d"] = nil })},
		{
			name: "jwk_d_hidden_by_escape", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKPrivate,
			proof: func(t testing.TB) string {
				k := dpopES256()
				jwk := string(dpopMarshal(t, k.PublicJWK(nil)))
				jwk = `{"\u0064":"` + dpopRandB64(32) + `",` + jwk[1:]
				return dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+jwk+`}`, `{CLAIMS}`)(t)
			},
		},
		{name: "jwk_kty_oct_with_k", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKSymmetric, proof: dpopProof(dpopES256, func(p *dpopParts) {
			p.header["jwk"] = map[string]any{"kty": "oct", "k": dpopRandB64(32)}
		})},
		{name: "jwk_kty_oct_without_k", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKSymmetric, proof: dpopProof(dpopES256, func(p *dpopParts) {
			p.header["jwk"] = map[string]any{"kty": "oct"}
		})},

		// other jwk problems
		{name: "jwk_missing", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { delete(p.header, "jwk") })},
		{name: "jwk_string", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["jwk"] = "JWK" })},
		{name: "jwk_null", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["jwk"] = nil })},
		{name: "jwk_empty_object", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKUnsupported, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["jwk"] = map[string]any{} })},
		{name: "jwk_point_not_on_curve", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["y"] = p.jwk()["x"] })},
		{name: "jwk_x_too_short", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKInvalid, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["x"] = dpopRandB64(31) })},
		{name: "jwk_OKP_Ed448", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKUnsupported, proof: dpopProof(dpopEd25519, func(p *dpopParts) { p.jwk()["crv"] = "Ed448" })},
		{name: "jwk_EC_secp256k1", reason: popguard.ReasonProofJWK, cause: jose.ErrJWKUnsupported, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["crv"] = "secp256k1" })},

		// alg / key mismatch
		{name: "ES256_with_P384_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopP384AsES256, nil)},
		{name: "ES256_with_RSA_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopRSA("RS256"), func(p *dpopParts) { p.header["alg"] = "ES256" })},
		{name: "RS256_with_EC_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "RS256" })},
		{name: "PS256_with_EC_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "PS256" })},
		{name: "ES384_with_P256_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "ES384" })},
		{name: "ES512_with_P384_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES384, func(p *dpopParts) { p.header["alg"] = "ES512" })},
		{name: "EdDSA_with_EC_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["alg"] = "EdDSA" })},
		{name: "ES256_with_Ed25519_key", reason: popguard.ReasonProofAlg, proof: dpopProof(dpopEd25519, func(p *dpopParts) { p.header["alg"] = "ES256" })},

		// ECDSA signature encodings
		{name: "ES256_DER_signature", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(t testing.TB, _ []byte, input string, k *ecdsa.PrivateKey) []byte {
			d := sha256.Sum256([]byte(input))
			der, err := ecdsa.SignASN1(rand.Reader, k, d[:])
			if err != nil {
				t.Fatal(err)
			}
			return der
		})},
		{name: "ES256_r_zero", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			clear(sig[:32])
			return sig
		})},
		{name: "ES256_s_zero", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			clear(sig[32:])
			return sig
		})},
		{name: "ES256_r_and_s_zero_psychic", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(testing.TB, []byte, string, *ecdsa.PrivateKey) []byte {
			return make([]byte, 64)
		})},
		{name: "ES256_r_equals_order", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			elliptic.P256().Params().N.FillBytes(sig[:32])
			return sig
		})},
		{name: "ES256_s_equals_order", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			elliptic.P256().Params().N.FillBytes(sig[32:])
			return sig
		})},
		{name: "ES256_signature_63_bytes", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			return sig[:63]
		})},
		{name: "ES256_signature_65_bytes", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			return append(sig, 0)
		})},
		{name: "ES256_signature_65_bytes_leading_zero", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			return append([]byte{0}, sig...)
		})},
		{
			// r || 0x00 || s: a lax length check would let the DER
			// conversion strip the zero and accept it.
			name: "ES256_signature_65_bytes_zero_padded_s", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature,
			proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
				return append(append(append([]byte(nil), sig[:32]...), 0), sig[32:]...)
			}),
		},
		{name: "ES256_signature_by_other_key", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(t testing.TB, _ []byte, input string, _ *ecdsa.PrivateKey) []byte {
			sig, err := dpopES256b().Sign([]byte(input))
			if err != nil {
				t.Fatal(err)
			}
			return sig
		})},
		{name: "ES256_signature_flipped_bit", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			sig[40] ^= 1
			return sig
		})},
		{name: "RS256_signature_truncated", reason: popguard.ReasonProofSignature, cause: jose.ErrBadSignature, proof: func(t testing.TB) string {
			h, p, sig := dpopSplit(t, dpopProof(dpopRSA("RS256"), nil)(t))
			return h + "." + p + "." + dpopB64(sig[:len(sig)-1])
		}},

		// typ
		{name: "typ_missing", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { delete(p.header, "typ") })},
		{name: "typ_JWT", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "JWT" })},
		{name: "typ_at+jwt", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "at+jwt" })},
		{name: "typ_pop", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "pop" })},
		{name: "typ_application_dpop+jwt", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "application/dpop+jwt" })},
		{name: "typ_DPOP+JWT", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "DPOP+JWT" })},
		{name: "typ_trailing_space", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "dpop+jwt " })},
		{name: "typ_empty", reason: popguard.ReasonProofTyp, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = "" })},
		{name: "typ_number", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = 1 })},
		{name: "typ_array", reason: malformed, cause: jose.ErrHeaderMember, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["typ"] = []string{"dpop+jwt"} })},

		// crit, b64
		{name: "crit_x_ext", reason: popguard.ReasonProofCrit, cause: jose.ErrCrit, proof: dpopProof(dpopES256, func(p *dpopParts) {
			p.header["crit"] = []string{"x-ext"}
			p.header["x-ext"] = true
		})},
		{name: "crit_empty_array", reason: popguard.ReasonProofCrit, cause: jose.ErrCrit, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["crit"] = []string{} })},
		{
			// RFC 7797 member order: alg, b64, crit.
			name: "b64_false_with_crit", reason: malformed, cause: jose.ErrUnencoded,
			proof: dpopRaw(`{"alg":"ES256","b64":false,"crit":["b64"],"typ":"dpop+jwt","jwk":JWK}`, `{CLAIMS}`),
		},
		{name: "b64_false_unencoded_payload", reason: malformed, proof: func(t testing.TB) string {
			k := dpopES256()
			hdr := dpopB64([]byte(dpopExpand(t, k, `{"alg":"ES256","b64":false,"crit":["b64"],"typ":"dpop+jwt","jwk":JWK}`)))
			payload := dpopExpand(t, k, `{CLAIMS}`)
			sig, err := k.Sign([]byte(hdr + "." + payload))
			if err != nil {
				t.Fatal(err)
			}
			return hdr + "." + payload + "." + dpopB64(sig)
		}},

		// serializations
		{name: "jws_json_flattened", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			h, p, sig := dpopSplit(t, dpopBase(dpopES256()).sign(t))
			return string(dpopMarshal(t, map[string]string{"protected": h, "payload": p, "signature": dpopB64(sig)}))
		}},
		{name: "jws_json_general", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			h, p, sig := dpopSplit(t, dpopBase(dpopES256()).sign(t))
			return string(dpopMarshal(t, map[string]any{"payload": p, "signatures": []any{map[string]string{"protected": h, "signature": dpopB64(sig)}}}))
		}},
		{name: "jwe_five_segments", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			hdr := dpopB64([]byte(`{"alg":"RSA-OAEP-256","enc":"A256GCM","typ":"dpop+jwt"}`))
			return hdr + "." + dpopRandB64(256) + "." + dpopRandB64(12) + "." + dpopRandB64(200) + "." + dpopRandB64(16)
		}},
		{name: "four_segments", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string { return dpopBase(dpopES256()).sign(t) + ".AAAA" }},
		{name: "two_segments", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			h, p, _ := dpopSplit(t, dpopBase(dpopES256()).sign(t))
			return h + "." + p
		}},
		{name: "empty_payload_segment", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			h, _, sig := dpopSplit(t, dpopBase(dpopES256()).sign(t))
			return h + ".." + dpopB64(sig)
		}},
		{name: "two_proofs_comma_folded", reason: malformed, cause: jose.ErrNotCompact, proof: func(t testing.TB) string {
			return dpopBase(dpopES256()).sign(t) + ", " + dpopBase(dpopES256()).sign(t)
		}},
		{name: "proof_missing", reason: popguard.ReasonProofMissing, proof: func(testing.TB) string { return "" }},

		// keys from elsewhere
		{name: "header_jku", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["jku"] = "https://attacker.example/jwks" })},
		{name: "header_x5u", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["x5u"] = "https://attacker.example/cert.pem" })},
		{name: "header_x5c", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["x5c"] = []string{dpopRandB64(300)} })},
		{name: "header_x5t", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["x5t"] = dpopRandB64(20) })},
		{name: "header_x5t#S256", reason: popguard.ReasonProofJWK, proof: dpopProof(dpopES256, func(p *dpopParts) { p.header["x5t#S256"] = dpopRandB64(32) })},
		{name: "header_jku_hidden_by_escape", reason: popguard.ReasonProofJWK, proof: dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"\u006aku":"https://attacker.example/jwks"}`, `{CLAIMS}`)},

		// duplicate members
		{name: "duplicate_htu", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"htu":"https://attacker.example/protectedresource"}`)},
		{name: "duplicate_htu_escaped", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{"h\u0074u":"https://attacker.example/protectedresource",CLAIMS}`)},
		{name: "duplicate_htu_all_escaped", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"\u0068\u0074\u0075":"https://attacker.example/x"}`)},
		{name: "duplicate_htm", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"htm":"POST"}`)},
		{name: "duplicate_ath", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{"ath":"x",CLAIMS}`)},
		{name: "duplicate_typ", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{"typ":"JWT","typ":"dpop+jwt","alg":"ES256","jwk":JWK}`, `{CLAIMS}`)},
		{name: "duplicate_typ_escaped", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{"typ":"dpop+jwt","\u0074yp":"at+jwt","alg":"ES256","jwk":JWK}`, `{CLAIMS}`)},
		{name: "duplicate_alg", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","alg":"none","jwk":JWK}`, `{CLAIMS}`)},
		{name: "duplicate_alg_escaped", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{"typ":"dpop+jwt","\u0061lg":"HS256","alg":"ES256","jwk":JWK}`, `{CLAIMS}`)},
		{name: "duplicate_jwk", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":JWK,"jwk":JWK}`, `{CLAIMS}`)},
		{name: "duplicate_inside_jwk", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: func(t testing.TB) string {
			jwk := dpopES256().PublicJWK(nil)
			other := dpopES256b().PublicJWK(nil)
			raw := fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q,"x":%q,"y":%q}`, jwk["x"], jwk["y"], other["x"], other["y"])
			return dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+raw+`}`, `{CLAIMS}`)(t)
		}},
		{name: "duplicate_inside_jwk_escaped", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: func(t testing.TB) string {
			jwk := dpopES256().PublicJWK(nil)
			raw := fmt.Sprintf(`{"kty":"EC","crv":"P-256","x":%q,"y":%q,"\u006bty":"oct"}`, jwk["x"], jwk["y"])
			return dpopRaw(`{"typ":"dpop+jwt","alg":"ES256","jwk":`+raw+`}`, `{CLAIMS}`)(t)
		}},
		{name: "duplicate_nested_in_unknown_claim", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `{CLAIMS,"x":{"a":1,"a":2}}`)},

		// base64
		{name: "padded_base64url", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string {
			parts := strings.Split(dpopBase(dpopES256()).sign(t), ".")
			for i := range parts {
				parts[i] += strings.Repeat("=", (4-len(parts[i])%4)%4)
			}
			return strings.Join(parts, ".")
		}},
		{name: "padded_signature_only", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string {
			return dpopBase(dpopES256()).sign(t) + "==" // 64 octets: 86 characters, "==" to pad
		}},
		{name: "standard_base64_alphabet", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string {
			for range 1000 {
				s := dpopBase(dpopES256()).sign(t)
				if strings.ContainsAny(s, "-_") {
					return strings.NewReplacer("-", "+", "_", "/").Replace(s)
				}
			}
			t.Fatal("no proof with - or _")
			return ""
		}},
		{name: "non_canonical_trailing_bits", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string {
			// 64 octets encode to 86 characters whose last one carries 4
			// zero bits; setting one makes the encoding non-canonical.
			s := dpopBase(dpopES256()).sign(t)
			last := strings.IndexByte(base64url, s[len(s)-1])
			return s[:len(s)-1] + string(base64url[last|1])
		}},
		{name: "whitespace_in_proof", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string {
			s := dpopBase(dpopES256()).sign(t)
			return s[:20] + " " + s[20:]
		}},
		{name: "leading_whitespace", reason: malformed, cause: jose.ErrBadEncoding, proof: func(t testing.TB) string { return " " + dpopBase(dpopES256()).sign(t) }},

		// non-object header / payload
		{name: "header_array", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`[]`, `{CLAIMS}`)},
		{name: "header_string", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`"str"`, `{CLAIMS}`)},
		{name: "header_null", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`null`, `{CLAIMS}`)},
		{name: "header_not_json", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(`{typ:dpop+jwt}`, `{CLAIMS}`)},
		{name: "header_trailing_garbage", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(dpopStdHeader+`x`, `{CLAIMS}`)},
		{name: "header_two_objects", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopRaw(dpopStdHeader+`{}`, `{CLAIMS}`)},
		{name: "payload_array", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `[]`)},
		{name: "payload_string", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `"str"`)},
		{name: "payload_null", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, `null`)},
		{name: "payload_invalid_utf8", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, "{CLAIMS,\"x\":\"\xff\"}")},
		{name: "payload_control_char", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopRaw(dpopStdHeader, "{CLAIMS,\"x\":\"a\x01b\"}")},

		// sizes
		{name: "proof_over_8192_bytes", reason: popguard.ReasonProofTooLarge, cause: jose.ErrTooLarge, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["pad"] = strings.Repeat("a", 8192) })},
		{name: "proof_one_byte_over_max", reason: popguard.ReasonProofTooLarge, cause: jose.ErrTooLarge, proof: func(t testing.TB) string { return dpopProofOfLength(t, validate.DefaultMaxProofSize+1) }},
		{name: "proof_over_configured_max", reason: popguard.ReasonProofTooLarge, cause: jose.ErrTooLarge, opts: []validate.Option{validate.MaxSize(600)}, proof: func(t testing.TB) string { return dpopProofOfLength(t, 601) }},
		{name: "huge_jwk_1MB", reason: popguard.ReasonProofTooLarge, cause: jose.ErrTooLarge, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["pad"] = strings.Repeat("A", 1<<20) })},
		{name: "jti_8KB_default_limits", reason: popguard.ReasonProofTooLarge, cause: jose.ErrTooLarge, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["jti"] = strings.Repeat("j", 8<<10) })},
		{name: "jti_8KB_large_proof_allowed", reason: popguard.ReasonProofJTI, opts: []validate.Option{validate.MaxSize(64 << 10)}, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["jti"] = strings.Repeat("j", 8<<10) })},
		{name: "jti_one_over_max", reason: popguard.ReasonProofJTI, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["jti"] = strings.Repeat("j", validate.DefaultMaxJTILength+1) })},
		{name: "jti_over_configured_max", reason: popguard.ReasonProofJTI, opts: []validate.Option{validate.MaxJTILength(16)}, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["jti"] = strings.Repeat("j", 17) })},
		{name: "nested_payload_100_levels", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["x"] = dpopNest(100) })},
		{name: "nested_payload_17_levels", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopProof(dpopES256, func(p *dpopParts) { p.claims["x"] = dpopNest(16) })},
		{name: "nested_jwk_100_levels", reason: malformed, cause: jose.ErrHeaderNotJSON, proof: dpopProof(dpopES256, func(p *dpopParts) { p.jwk()["ext"] = dpopNest(100) })},
		{name: "nested_objects_100_levels", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopProof(dpopES256, func(p *dpopParts) {
			p.claims["x"] = json.RawMessage(strings.Repeat(`{"a":`, 100) + "1" + strings.Repeat("}", 100))
		})},
		{name: "payload_65_members", reason: malformed, cause: jose.ErrPayloadNotJSON, proof: dpopProof(dpopES256, func(p *dpopParts) {
			for i := len(p.claims); i < 65; i++ {
				p.claims[fmt.Sprintf("x%d", i)] = i
			}
		})},
	}
	dpopRun(t, cases)
}

const base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// dpopProofOfLength returns a valid base ES256 proof exactly n bytes long,
// padded with an unknown claim (and header member).
func dpopProofOfLength(t testing.TB, n int) string {
	t.Helper()
	k := dpopES256()
	enc := base64.RawURLEncoding
	for hp := range 4 {
		for pp := 0; pp < n; pp++ {
			p := dpopBase(k)
			p.header["pad"] = strings.Repeat("h", hp)
			p.claims["pad"] = strings.Repeat("p", pp)
			l := enc.EncodedLen(len(dpopMarshal(t, p.header))) + 1 + enc.EncodedLen(len(dpopMarshal(t, p.claims))) + 1 + enc.EncodedLen(64)
			if l == n {
				s := p.sign(t)
				if len(s) != n {
					t.Fatalf("proof is %d bytes, want %d", len(s), n)
				}
				return s
			}
			if l > n {
				break
			}
		}
	}
	t.Fatalf("no proof of %d bytes", n)
	return ""
}

// TestProofRejectsClaims covers RFC 9449 §4.3 checks 3 and 8 to 12 (the claims).
func TestProofRejectsClaims(t *testing.T) {
	claims := popguard.ReasonProofClaims
	set := func(name string, v any) func(*dpopParts) {
		return func(p *dpopParts) { p.claims[name] = v }
	}
	del := func(name string) func(*dpopParts) {
		return func(p *dpopParts) { delete(p.claims, name) }
	}
	es := func(edit func(*dpopParts)) func(testing.TB) string { return dpopProof(dpopES256, edit) }
	raw := func(s string) json.RawMessage { return json.RawMessage(s) }
	other := sha256.Sum256([]byte(dpopToken))
	cases := []dpopCase{
		// jti
		{name: "jti_missing", reason: popguard.ReasonProofJTI, proof: es(del("jti"))},
		{name: "jti_number", reason: claims, proof: es(set("jti", 12345))},
		{name: "jti_empty", reason: popguard.ReasonProofJTI, proof: es(set("jti", ""))},
		{name: "jti_null", reason: claims, proof: es(set("jti", nil))},
		{name: "jti_array", reason: claims, proof: es(set("jti", []string{"a"}))},
		{name: "jti_object", reason: claims, proof: es(set("jti", map[string]any{}))},

		// iat
		{name: "iat_1e999", reason: claims, proof: es(set("iat", raw("1e999")))},
		{name: "iat_minus_1e999", reason: claims, proof: es(set("iat", raw("-1e999")))},
		{name: "iat_string", reason: claims, proof: es(set("iat", "1700000000"))},
		{name: "iat_rfc_string", reason: claims, opts: []validate.Option{validate.Clock(dpopClock(time.Unix(dpopFig13IAT, 0)))}, proof: es(set("iat", "1562262618"))},
		{name: "iat_true", reason: claims, proof: es(set("iat", true))},
		{name: "iat_array", reason: claims, proof: es(set("iat", []int{}))},
		{name: "iat_array_with_value", reason: claims, proof: es(set("iat", []int64{dpopNow.Unix()}))},
		{name: "iat_object", reason: claims, proof: es(set("iat", map[string]any{}))},
		{name: "iat_null", reason: claims, proof: es(set("iat", nil))},
		{name: "iat_negative", reason: claims, proof: es(set("iat", -1))},
		{name: "iat_negative_now", reason: claims, proof: es(set("iat", -dpopNow.Unix()))},
		{name: "iat_1e300", reason: claims, proof: es(set("iat", raw("1e300")))},
		{name: "iat_1e11", reason: claims, proof: es(set("iat", raw("1e11")))},
		{name: "iat_max_int64", reason: claims, proof: es(set("iat", raw("9223372036854775807")))},
		{name: "iat_missing", reason: popguard.ReasonProofIAT, proof: es(del("iat"))},
		{name: "iat_zero", reason: popguard.ReasonProofIAT, proof: es(set("iat", 0))},
		{name: "iat_far_future", reason: popguard.ReasonProofIAT, proof: es(set("iat", dpopNow.Add(365*24*time.Hour).Unix()))},
		{name: "iat_far_past", reason: popguard.ReasonProofIAT, proof: es(set("iat", dpopNow.Add(-365*24*time.Hour).Unix()))},
		{name: "iat_future_beyond_skew", reason: popguard.ReasonProofIAT, proof: es(set("iat", dpopNow.Add(validate.DefaultProofFutureSkew+time.Second).Unix()))},
		{name: "iat_past_beyond_max_age", reason: popguard.ReasonProofIAT, proof: es(set("iat", dpopNow.Add(-validate.DefaultProofMaxAge-time.Second).Unix()))},
		{name: "iat_fraction_past_max_age", reason: popguard.ReasonProofIAT, proof: es(set("iat", float64(dpopNow.Add(-validate.DefaultProofMaxAge).Unix())-0.25))},
		{name: "iat_fraction_past_skew", reason: popguard.ReasonProofIAT, proof: es(set("iat", float64(dpopNow.Add(validate.DefaultProofFutureSkew).Unix())+0.25))},
		{name: "iat_future_with_zero_skew", reason: popguard.ReasonProofIAT, opts: []validate.Option{validate.FutureSkew(0)}, proof: es(set("iat", dpopNow.Unix()+1))},
		{name: "iat_past_with_short_max_age", reason: popguard.ReasonProofIAT, opts: []validate.Option{validate.MaxAge(5 * time.Second)}, proof: es(set("iat", dpopNow.Unix()-6))},
		{name: "iat_milliseconds", reason: claims, proof: es(set("iat", dpopNow.UnixMilli()))},

		// htm
		{name: "htm_lowercase", reason: popguard.ReasonProofHTM, proof: es(set("htm", "get"))},
		{name: "htm_other_method", reason: popguard.ReasonProofHTM, proof: es(set("htm", "POST"))},
		{name: "htm_trailing_space", reason: popguard.ReasonProofHTM, proof: es(set("htm", "GET "))},
		{name: "htm_missing", reason: claims, proof: es(del("htm"))},
		{name: "htm_empty", reason: claims, proof: es(set("htm", ""))},
		{name: "htm_number", reason: claims, proof: es(set("htm", 1))},
		{name: "htm_array", reason: claims, proof: es(set("htm", []string{"GET"}))},

		// htu
		{name: "htu_with_query", reason: popguard.ReasonProofHTU, proof: es(set("htu", dpopTarget+"?foo=bar"))},
		{name: "htu_with_empty_query", reason: popguard.ReasonProofHTU, proof: es(set("htu", dpopTarget+"?"))},
		{name: "htu_with_fragment", reason: popguard.ReasonProofHTU, proof: es(set("htu", dpopTarget+"#x"))},
		{name: "htu_other_path", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org/otherresource"))},
		{name: "htu_path_case", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org/ProtectedResource"))},
		{name: "htu_trailing_slash", reason: popguard.ReasonProofHTU, proof: es(set("htu", dpopTarget+"/"))},
		{name: "htu_http_scheme", reason: popguard.ReasonProofHTU, proof: es(set("htu", "http://resource.example.org/protectedresource"))},
		{name: "htu_other_port", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org:8443/protectedresource"))},
		{name: "htu_other_host", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://server.example.com/protectedresource"))},
		{name: "htu_userinfo", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://user@resource.example.org/protectedresource"))},
		{name: "htu_relative", reason: popguard.ReasonProofHTU, proof: es(set("htu", "/protectedresource"))},
		{name: "htu_scheme_relative", reason: popguard.ReasonProofHTU, proof: es(set("htu", "//resource.example.org/protectedresource"))},
		{name: "htu_backslash", reason: popguard.ReasonProofHTU, proof: es(set("htu", `https://resource.example.org\protectedresource`))},
		// Percent-encoded unreserved characters are not decoded and
		// dot-segments are refused, never resolved: routers disagree on both.
		{name: "htu_pct_encoded_unreserved", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org/%70rotected%72esource"))},
		{name: "htu_dot_segment", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org/x/../protectedresource"))},
		{name: "htu_encoded_dot_segment", reason: popguard.ReasonProofHTU, proof: es(set("htu", "https://resource.example.org/x/%2E%2E/protectedresource"))},
		{name: "request_target_dot_segment", code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestDotSegment, req: func(r *validate.ProofRequest) { r.Target = "https://resource.example.org/x/%2e%2e/protectedresource" }, proof: es(nil)},
		{name: "request_target_dot_segment_between_encoded_slashes", code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestDotSegment, req: func(r *validate.ProofRequest) { r.Target = "https://resource.example.org/x%2F..%2Fprotectedresource" }, proof: es(nil)},
		{name: "htu_missing", reason: claims, proof: es(del("htu"))},
		{name: "htu_empty", reason: claims, proof: es(set("htu", ""))},
		{name: "htu_number", reason: claims, proof: es(set("htu", 443))},
		{name: "request_target_invalid", code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestBadTarget, req: func(r *validate.ProofRequest) { r.Target = "/protectedresource" }, proof: es(nil)},

		// ath
		{name: "ath_missing", reason: popguard.ReasonProofATH, proof: es(del("ath"))},
		{name: "ath_other_token", reason: popguard.ReasonProofATH, proof: es(set("ath", dpopATH("another-token")))},
		{name: "ath_over_DPoP_scheme_and_token", reason: popguard.ReasonProofATH, proof: es(set("ath", dpopATH("DPoP "+dpopToken)))},
		{name: "ath_over_url_decoded_token", reason: popguard.ReasonProofATH, req: func(r *validate.ProofRequest) { r.AccessToken = "a%2Bb" }, proof: es(set("ath", dpopATH("a+b")))},
		{name: "ath_over_token_with_trailing_space", reason: popguard.ReasonProofATH, proof: es(set("ath", dpopATH(dpopToken+" ")))},
		{name: "ath_with_padding", reason: popguard.ReasonProofATH, proof: es(set("ath", dpopATH(dpopToken)+"="))},
		{name: "ath_standard_base64", reason: popguard.ReasonProofATH, proof: es(set("ath", base64.StdEncoding.EncodeToString(other[:])))},
		{name: "ath_hex", reason: popguard.ReasonProofATH, proof: es(set("ath", hex.EncodeToString(other[:])))},
		{name: "ath_sha384", reason: popguard.ReasonProofATH, proof: es(set("ath", func() string { s := sha512.Sum384([]byte(dpopToken)); return dpopB64(s[:]) }()))},
		{name: "ath_empty", reason: popguard.ReasonProofATH, proof: es(set("ath", ""))},
		{name: "ath_number", reason: claims, proof: es(set("ath", 1))},
		{name: "ath_null", reason: claims, proof: es(set("ath", nil))},

		// nonce type, when no nonce is required
		{name: "nonce_number_not_required", reason: claims, proof: es(set("nonce", 1))},
	}
	dpopRun(t, cases)
}

// dpopNonces accepts one nonce, as current.
type dpopNonces struct{ valid string }

var errDPoPNonce = errors.New("test: unknown nonce")

func (n dpopNonces) Issue() string { return n.valid }

func (n dpopNonces) Check(nonce string) (bool, error) {
	if nonce != n.valid {
		return false, errDPoPNonce
	}
	return true, nil
}

func TestProofNonce(t *testing.T) {
	const nonce = "eyJ7S_zG.eyJH0-Z.HX4w-7v"
	withNonce := func(r *validate.ProofRequest) { r.Nonces = dpopNonces{valid: nonce} }
	es := func(edit func(*dpopParts)) func(testing.TB) string { return dpopProof(dpopES256, edit) }
	setNonce := func(v any) func(*dpopParts) { return func(p *dpopParts) { p.claims["nonce"] = v } }
	dpopRun(t, []dpopCase{
		{name: "nonce_required_missing", code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceMissing, req: withNonce, proof: es(nil)},
		{name: "nonce_rejected_by_checker", code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceInvalid, cause: errDPoPNonce, req: withNonce, proof: es(setNonce("eyJ7S_zG.stale.HX4w-7v"))},
		{name: "nonce_empty_string", code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceInvalid, req: withNonce, proof: es(setNonce(""))},
		{name: "nonce_case_changed", code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceInvalid, req: withNonce, proof: es(setNonce(strings.ToUpper(nonce)))},
	})
	t.Run("nonce_accepted", func(t *testing.T) {
		req := dpopRequest()
		withNonce(&req)
		p, err := dpopVerifierAt(t, dpopNow).Verify(dpopProof(dpopES256, setNonce(nonce))(t), req)
		if err != nil {
			t.Fatal(err)
		}
		if p.Nonce != nonce {
			t.Fatalf("Nonce = %q", p.Nonce)
		}
	})
	t.Run("nonce_non_string_when_required", func(t *testing.T) {
		// RFC 9449 §8, §9: a nonce absent, stale or not a string when the
		// server requires one is use_dpop_nonce, with a fresh nonce.
		req := dpopRequest()
		withNonce(&req)
		_, err := dpopVerifierAt(t, dpopNow).Verify(dpopProof(dpopES256, setNonce(12345))(t), req)
		dpopWantErr(t, err, popguard.CodeUseDPoPNonce, popguard.ReasonNonceInvalid)
	})
}

// ---------------------------------------------------------------------------
// Key binding (RFC 9449 §6.1, §7.1: cnf.jkt is the proof key's thumbprint).

func TestCheckDPoPBinding(t *testing.T) {
	k := dpopES256()
	p, err := dpopVerifierAt(t, dpopNow).Verify(dpopBase(k).sign(t), dpopRequest())
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.CheckDPoPBinding(&validate.Token{Cnf: validate.Confirmation{JKT: k.Thumbprint()}}, p); err != nil {
		t.Fatalf("bound token rejected: %v", err)
	}
	cases := []struct {
		name   string
		cnf    validate.Confirmation
		reason popguard.Reason
	}{
		{"proof_jwk_differs_from_cnf_jkt", validate.Confirmation{JKT: dpopES256b().Thumbprint()}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_is_rfc_example_key", validate.Confirmation{JKT: dpopRFCJKT}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_thumbprint_uri", validate.Confirmation{JKT: jose.ThumbprintURI(k.Thumbprint())}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_case_changed", validate.Confirmation{JKT: strings.ToUpper(k.Thumbprint())}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_last_char_changed", validate.Confirmation{JKT: k.Thumbprint()[:42] + string("AB"[dpopBool(k.Thumbprint()[42] == 'A')])}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_prefix", validate.Confirmation{JKT: k.Thumbprint()[:42]}, popguard.ReasonTokenKeyBinding},
		{"cnf_jkt_with_padding", validate.Confirmation{JKT: k.Thumbprint() + "="}, popguard.ReasonTokenKeyBinding},
		{"unbound_token", validate.Confirmation{}, popguard.ReasonTokenNotBound},
		{"bound_by_cnf_kid", validate.Confirmation{KID: k.Thumbprint()}, popguard.ReasonTokenKeyBinding},
		{"bound_by_x5t#S256", validate.Confirmation{X5tS256: k.Thumbprint()}, popguard.ReasonTokenKeyBinding},
		{"bound_by_cnf_jwk", validate.Confirmation{JWK: dpopMarshal(t, k.PublicJWK(nil))}, popguard.ReasonTokenKeyBinding},
		{"bound_by_cnf_jku", validate.Confirmation{JKU: "https://client.example/jwks"}, popguard.ReasonTokenKeyBinding},
		{"bound_by_cnf_jwe", validate.Confirmation{JWE: []byte(`"eyJ.x.y.z.w"`)}, popguard.ReasonTokenKeyBinding},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validate.CheckDPoPBinding(&validate.Token{Cnf: tc.cnf}, p)
			dpopWantErr(t, err, popguard.CodeInvalidToken, tc.reason)
		})
	}
}

func dpopBool(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestParseCnf(t *testing.T) {
	tp := dpopRFCJKT
	accept := []struct {
		name string
		raw  string
		want validate.Confirmation
	}{
		{"jkt", `{"jkt":"` + tp + `"}`, validate.Confirmation{JKT: tp}},
		{"jkt_escaped_name", `{"j\u006bt":"` + tp + `"}`, validate.Confirmation{JKT: tp}},
		{"jkt_unknown_member_ignored", `{"jkt":"` + tp + `","ext":{"a":[1]}}`, validate.Confirmation{JKT: tp}},
		{"kid", `{"kid":"` + tp + `"}`, validate.Confirmation{KID: tp}},
		{"x5t#S256", `{"x5t#S256":"` + tp + `"}`, validate.Confirmation{X5tS256: tp}},
	}
	for _, tc := range accept {
		t.Run("accept/"+tc.name, func(t *testing.T) {
			c, err := validate.ParseCnf([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			if c.JKT != tc.want.JKT || c.KID != tc.want.KID || c.X5tS256 != tc.want.X5tS256 {
				t.Fatalf("got %+v, want %+v", c, tc.want)
			}
		})
	}
	reject := []struct{ name, raw string }{
		{"jkt_rfc9278_urn", `{"jkt":"urn:ietf:params:oauth:jwk-thumbprint:sha-256:` + tp + `"}`},
		{"jkt_rfc7638_urn", `{"jkt":"urn:ietf:params:oauth:jwk-thumbprint:sha-256:` + dpopRFC7638TP + `"}`},
		{"jkt_padded", `{"jkt":"` + tp + `="}`},
		{"jkt_42_chars", `{"jkt":"` + tp[:42] + `"}`},
		{"jkt_standard_base64", `{"jkt":"` + strings.ReplaceAll(tp, "-", "+") + `"}`},
		{"jkt_sha512_length", `{"jkt":"` + dpopRandB64(64) + `"}`},
		{"jkt_number", `{"jkt":1}`},
		{"jkt_empty", `{"jkt":""}`},
		{"jkt_null", `{"jkt":null}`},
		{"two_keys_jkt_and_x5t#S256", `{"jkt":"` + tp + `","x5t#S256":"` + tp + `"}`},
		{"two_keys_jkt_and_jwk", `{"jkt":"` + tp + `","jwk":{"kty":"EC"}}`},
		{"two_keys_jkt_and_jku", `{"jkt":"` + tp + `","jku":"https://client.example/jwks"}`},
		{"two_keys_jkt_and_kid", `{"jkt":"` + tp + `","kid":"` + tp + `"}`},
		{"two_keys_jwk_and_jwe", `{"jwk":{"kty":"EC"},"jwe":"eyJ.a.b.c.d"}`},
		{"duplicate_jkt", `{"jkt":"` + tp + `","jkt":"` + dpopRFC7638TP + `"}`},
		{"duplicate_jkt_escaped", `{"jkt":"` + tp + `","\u006akt":"` + dpopRFC7638TP + `"}`},
		{"cnf_string", `"` + tp + `"`},
		{"cnf_array", `["` + tp + `"]`},
		{"cnf_null", `null`},
		{"cnf_empty_object", `{}`},
		{"cnf_only_unknown_members", `{"ext":"x"}`},
		{"jwk_not_object", `{"jwk":"` + tp + `"}`},
		{"trailing_garbage", `{"jkt":"` + tp + `"}x`},
	}
	for _, tc := range reject {
		t.Run("reject/"+tc.name, func(t *testing.T) {
			_, err := validate.ParseCnf([]byte(tc.raw))
			dpopWantErr(t, err, popguard.CodeInvalidToken, popguard.ReasonTokenCnf)
		})
	}
}

// ---------------------------------------------------------------------------
// Replay identity.

func TestProofReplayKey(t *testing.T) {
	k := dpopES256()
	v := dpopVerifierAt(t, dpopNow, validate.Algs("ES256", "ES384", "ES512"))
	base := dpopBase(k)
	proof := base.sign(t)
	h, pl, sig := dpopSplit(t, proof)
	malleated := h + "." + pl + "." + dpopB64(dpopMalleate(sig, elliptic.P256()))
	if malleated == proof {
		t.Fatal("malleation did not change the proof")
	}
	p1, err := v.Verify(proof, dpopRequest())
	if err != nil {
		t.Fatal(err)
	}
	// (r, n−s) is a second valid signature over the same claims.
	p2, err := v.Verify(malleated, dpopRequest())
	if err != nil {
		t.Fatalf("malleated proof does not verify: %v", err)
	}
	if p1.ReplayKey() != p2.ReplayKey() {
		t.Fatal("malleated proof has another replay key")
	}
	if len(p1.ReplayKey()) != 43 || strings.Contains(p1.ReplayKey(), base.claims["jti"].(string)) {
		t.Fatalf("replay key %q", p1.ReplayKey())
	}

	// Re-signing (ECDSA is randomised) gives another proof, same identity.
	resigned := base.sign(t)
	p3, err := v.Verify(resigned, dpopRequest())
	if err != nil || resigned == proof || p3.ReplayKey() != p1.ReplayKey() {
		t.Fatalf("re-signed proof: %v, same bytes %v", err, resigned == proof)
	}

	// Another jti, or another key with the same jti, is another identity.
	other := dpopBase(k)
	p4, err := v.Verify(other.sign(t), dpopRequest())
	if err != nil || p4.ReplayKey() == p1.ReplayKey() {
		t.Fatalf("different jti: %v, same key %v", err, p4.ReplayKey() == p1.ReplayKey())
	}
	otherKey := dpopBase(dpopES256b())
	otherKey.claims["jti"] = base.claims["jti"]
	p5, err := v.Verify(otherKey.sign(t), dpopRequest())
	if err != nil || p5.ReplayKey() == p1.ReplayKey() {
		t.Fatalf("different key: %v, same key %v", err, p5.ReplayKey() == p1.ReplayKey())
	}
	// Every ES curve: the malleated signature still verifies.
	for _, kf := range []func() *jwsKey{dpopES384, dpopES512} {
		k := kf()
		proof := dpopBase(k).sign(t)
		h, pl, sig := dpopSplit(t, proof)
		priv := k.Signer.(*ecdsa.PrivateKey)
		m := h + "." + pl + "." + dpopB64(dpopMalleate(sig, priv.Curve))
		a, err1 := v.Verify(proof, dpopRequest())
		b, err2 := v.Verify(m, dpopRequest())
		if err1 != nil || err2 != nil || a.ReplayKey() != b.ReplayKey() {
			t.Fatalf("%s: %v, %v", k.Alg, err1, err2)
		}
	}
}

// ---------------------------------------------------------------------------
// Accepted proofs.

func TestProofAlgorithmsAccepted(t *testing.T) {
	keys := map[string]func() *jwsKey{
		"ES256":   dpopES256,
		"ES384":   dpopES384,
		"ES512":   dpopES512,
		"PS256":   dpopRSA("PS256"),
		"PS384":   dpopRSA("PS384"),
		"PS512":   dpopRSA("PS512"),
		"RS256":   dpopRSA("RS256"),
		"EdDSA":   dpopEd25519,
		"Ed25519": func() *jwsKey { return &jwsKey{Alg: "Ed25519", Signer: dpopEd25519().Signer} },
	}
	algs := append(validate.DefaultProofAlgs(), "Ed25519")
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			kf, ok := keys[alg]
			if !ok {
				t.Fatalf("no key for DefaultProofAlgs member %s", alg)
			}
			k := kf()
			p, err := dpopVerifierAt(t, dpopNow).Verify(dpopBase(k).sign(t), dpopRequest())
			if err != nil {
				t.Fatalf("%s proof rejected: %v", alg, err)
			}
			if p.Alg != alg || p.Thumbprint != k.Thumbprint() || len(p.Thumbprint) != 43 {
				t.Fatalf("got alg %s thumbprint %s, want %s %s", p.Alg, p.Thumbprint, alg, k.Thumbprint())
			}
		})
	}
	t.Run("Ed25519_only_allow_list_accepts_EdDSA", func(t *testing.T) {
		v := dpopVerifierAt(t, dpopNow, validate.Algs("Ed25519"))
		if _, err := v.Verify(dpopBase(dpopEd25519()).sign(t), dpopRequest()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestProofAccepted(t *testing.T) {
	es := func(edit func(*dpopParts)) func(testing.TB) string { return dpopProof(dpopES256, edit) }
	set := func(name string, v any) func(*dpopParts) {
		return func(p *dpopParts) { p.claims[name] = v }
	}
	cases := []struct {
		name    string
		proof   func(testing.TB) string
		req     func(*validate.ProofRequest)
		opts    []validate.Option
		wantIAT time.Time
	}{
		{name: "fractional_iat", proof: es(set("iat", float64(dpopNow.Unix())+0.5)), wantIAT: dpopNow.Add(500 * time.Millisecond)},
		{name: "fractional_iat_exponent", proof: es(set("iat", json.RawMessage("1.7000000005e9"))), wantIAT: dpopNow.Add(500 * time.Millisecond)},
		{name: "iat_exactly_max_age_old", proof: es(set("iat", dpopNow.Add(-validate.DefaultProofMaxAge).Unix())), wantIAT: dpopNow.Add(-validate.DefaultProofMaxAge)},
		{name: "iat_exactly_future_skew", proof: es(set("iat", dpopNow.Add(validate.DefaultProofFutureSkew).Unix())), wantIAT: dpopNow.Add(validate.DefaultProofFutureSkew)},
		{name: "iat_fraction_inside_max_age", proof: es(set("iat", float64(dpopNow.Add(-validate.DefaultProofMaxAge).Unix())+0.25))},
		{name: "iat_exactly_configured_edges_past", opts: []validate.Option{validate.MaxAge(5 * time.Second)}, proof: es(set("iat", dpopNow.Unix()-5))},
		{name: "iat_exactly_configured_edges_future", opts: []validate.Option{validate.FutureSkew(0)}, proof: es(set("iat", dpopNow.Unix()))},
		{name: "htu_scheme_and_host_case", proof: es(set("htu", "HTTPS://Resource.Example.ORG/protectedresource"))},
		{name: "htu_default_port", proof: es(set("htu", "https://resource.example.org:443/protectedresource"))},
		{name: "htu_empty_port", proof: es(set("htu", "https://resource.example.org:/protectedresource"))},
		{name: "target_default_port_and_case", req: func(r *validate.ProofRequest) { r.Target = "HTTPS://RESOURCE.example.org:443/protectedresource?x=1#y" }, proof: es(nil)},
		{name: "http_default_port", req: func(r *validate.ProofRequest) { r.Target = "http://localhost/protectedresource" }, proof: es(set("htu", "http://localhost:80/protectedresource"))},
		{name: "token_endpoint_no_access_token_ath_ignored", req: func(r *validate.ProofRequest) { r.AccessToken = "" }, proof: es(set("ath", "anything"))},
		{name: "token_endpoint_no_ath", req: func(r *validate.ProofRequest) { r.AccessToken = "" }, proof: es(func(p *dpopParts) { delete(p.claims, "ath") })},
		{name: "kid_header_ignored", proof: es(func(p *dpopParts) { p.header["kid"] = "https://attacker.example/key" })},
		{name: "jwk_alg_kid_use_ignored", proof: es(func(p *dpopParts) {
			p.jwk()["alg"], p.jwk()["kid"], p.jwk()["use"] = "ES256", "k1", "sig"
		})},
		{name: "unknown_claims_and_headers_ignored", proof: es(func(p *dpopParts) {
			p.header["x-ext"] = map[string]any{"a": []any{1, "b", nil}}
			p.claims["x-ext"] = json.RawMessage("1e999")
		})},
		{name: "escaped_names_and_values", proof: dpopRaw(`{"\u0074yp":"dpop\u002bjwt","alg":"ES\u0032\u0035\u0036","jwk":JWK}`, `{CLAIMS,"x":"\u00e9\ud83d\ude00"}`)},
		{name: "jti_at_max_length", proof: es(set("jti", strings.Repeat("j", validate.DefaultMaxJTILength)))},
		{name: "jti_unicode", proof: es(set("jti", "☃-jti"))},
		{name: "nested_16_levels", proof: es(set("x", dpopNest(15)))},
		{name: "payload_64_members", proof: es(func(p *dpopParts) {
			for i := len(p.claims); i < 64; i++ {
				p.claims[fmt.Sprintf("x%d", i)] = i
			}
		})},
		{name: "proof_exactly_8192_bytes", proof: func(t testing.TB) string { return dpopProofOfLength(t, validate.DefaultMaxProofSize) }},
		{name: "ES256_high_s_malleated", proof: dpopResign(func(_ testing.TB, sig []byte, _ string, _ *ecdsa.PrivateKey) []byte {
			return dpopMalleate(sig, elliptic.P256())
		})},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req := dpopRequest()
			if tc.req != nil {
				tc.req(&req)
			}
			proof := tc.proof(t)
			if _, err := dpopWarmVerifier(t, tc.opts...).Verify(proof, req); err != nil {
				t.Fatalf("rejected with a warm key cache: %v", err)
			}
			p, err := dpopVerifierAt(t, dpopNow, tc.opts...).Verify(proof, req)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if p.JTI == "" || len(p.Thumbprint) != 43 || p.Method != "GET" {
				t.Fatalf("got %+v", *p)
			}
			if !tc.wantIAT.IsZero() && !p.IssuedAt.Equal(tc.wantIAT) {
				t.Fatalf("IssuedAt = %v, want %v", p.IssuedAt, tc.wantIAT)
			}
			if tc.req == nil && p.HTU != dpopTarget {
				t.Fatalf("HTU = %q", p.HTU)
			}
		})
	}
}

func TestProofKeyCache(t *testing.T) {
	es, esb := dpopES256(), dpopES256b()
	for _, opts := range [][]validate.Option{nil, {validate.ProofKeyCache(0)}, {validate.ProofKeyCache(1)}} {
		v := dpopVerifierAt(t, dpopNow, opts...)
		// Alternating keys through a cache of one: every answer stays right.
		for range 3 {
			for _, k := range []*jwsKey{es, esb, es} {
				p, err := v.Verify(dpopBase(k).sign(t), dpopRequest())
				if err != nil || p.Thumbprint != k.Thumbprint() {
					t.Fatalf("opts %d: %v, thumbprint %v", len(opts), err, p)
				}
			}
		}
		// The same jwk JSON, now cached, with another alg / label / signature.
		for _, tc := range []struct {
			name   string
			edit   func(*dpopParts)
			reason popguard.Reason
		}{
			{"alg_ES384", func(p *dpopParts) { p.header["alg"] = "ES384" }, popguard.ReasonProofAlg},
			{"alg_RS256", func(p *dpopParts) { p.header["alg"] = "RS256" }, popguard.ReasonProofAlg},
			{"alg_EdDSA", func(p *dpopParts) { p.header["alg"] = "EdDSA" }, popguard.ReasonProofAlg},
			{"other_signer", func(p *dpopParts) { p.key = esb }, popguard.ReasonProofSignature},
		} {
			_, err := v.Verify(dpopProof(dpopES256, tc.edit)(t), dpopRequest())
			dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, tc.reason)
		}
	}
	// A refused key is refused every time (it is not cached).
	v := dpopVerifierAt(t, dpopNow)
	for range 3 {
		_, err := v.Verify(dpopProof(dpopRSA1024Key("RS256"), nil)(t), dpopRequest())
		dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofJWK)
	}
	// Each verifier applies its own key policy to a key another one cached.
	rsa := dpopRSA("RS256")
	if _, err := v.Verify(dpopProof(rsa, nil)(t), dpopRequest()); err != nil {
		t.Fatal(err)
	}
	strict := dpopVerifierAt(t, dpopNow, validate.RSAKeySize(3072, 8192))
	_, err := strict.Verify(dpopProof(rsa, nil)(t), dpopRequest())
	dpopWantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofJWK)
	if _, err := validate.NewProofVerifier(validate.ProofKeyCache(-1)); err == nil {
		t.Error("ProofKeyCache(-1) accepted")
	}
}

func TestProofVerifierOptions(t *testing.T) {
	bad := map[string]validate.Option{
		"alg_none":         validate.Algs("none"),
		"alg_HS256":        validate.Algs("HS256"),
		"alg_empty_list":   validate.Algs(),
		"max_age_zero":     validate.MaxAge(0),
		"skew_negative":    validate.FutureSkew(-time.Second),
		"jti_too_small":    validate.MaxJTILength(15),
		"size_too_small":   validate.MaxSize(255),
		"rsa_min_1024":     validate.RSAKeySize(1024, 4096),
		"rsa_max_above_16": validate.RSAKeySize(2048, 16385),
		"rsa_max_below":    validate.RSAKeySize(4096, 2048),
		"nil_clock":        validate.Clock(nil),
	}
	for name, opt := range bad {
		if _, err := validate.NewProofVerifier(opt); err == nil {
			t.Errorf("%s: NewProofVerifier accepted it", name)
		}
	}
	v, err := validate.NewProofVerifier()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(v.Algs(), " "); got != strings.Join(validate.DefaultProofAlgs(), " ") {
		t.Errorf("Algs() = %s", got)
	}
	if v.Window() != validate.DefaultProofMaxAge+validate.DefaultProofFutureSkew {
		t.Errorf("Window() = %v", v.Window())
	}
	v.Algs()[0] = "none" // a copy
	if v.Algs()[0] != validate.DefaultProofAlgs()[0] {
		t.Error("Algs() exposes the allow-list")
	}
}

// Verify is documented as safe for concurrent use; -race checks it.
func TestProofVerifyConcurrent(t *testing.T) {
	v := dpopVerifierAt(t, dpopNow)
	proof := dpopBase(dpopES256()).sign(t)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(proof, dpopRequest()); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
