package otelpop_test

// A tiny token issuer and DPoP client for the tests (as in adapters/ginpop). popguard's own signer
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
	"testing"
	"time"

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
	return dpopProofAt(t, k, method, htu, token, nonce, time.Now())
}

// dpopProofAt is dpopProof with iat.
func dpopProofAt(t testing.TB, k *ecdsa.PrivateKey, method, htu, token, nonce string, iat time.Time) string {
	ath := sha256.Sum256([]byte(token))
	claims := map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": iat.Unix(), "ath": b64.EncodeToString(ath[:])}
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
