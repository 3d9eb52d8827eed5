package jose

// Benchmarks of the JOSE steps a DPoP proof goes through, for the decisions
// recorded in BENCHMARKS.md ("The JOSE layer"): parsing the compact JWS,
// importing the embedded public JWK, and verifying the ECDSA signature.
//
//	go test -run '^$' -bench . -benchmem -count 8 ./internal/jose/

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"
)

// benchProof is an ES256 or ES384 DPoP-shaped compact JWS (typ, alg and the
// public jwk in the header; jti, htm, htu, iat and ath in the payload) with
// its parsed form and key.
type benchProof struct {
	compact string
	jws     *JWS
	key     *PublicKey
	alg     *Alg
}

func newBenchProof(b testing.TB, algName string) benchProof {
	b.Helper()
	curve, size := elliptic.P256(), 32
	if algName == "ES384" {
		curve, size = elliptic.P384(), 48
	}
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	point, err := priv.PublicKey.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	jwk := map[string]string{"kty": "EC", "crv": curve.Params().Name, "x": enc(point[1 : 1+size]), "y": enc(point[1+size:])}
	hdr, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": algName, "jwk": jwk})
	payload, _ := json.Marshal(map[string]any{
		"jti": "e1j3V_bKic8-LAEB", "htm": "GET", "htu": "https://api.example.com/resource",
		"iat": 1562262618, "ath": "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
	})
	input := enc(hdr) + "." + enc(payload)
	alg, _ := LookupAlg(algName)
	r, s, err := ecdsa.Sign(rand.Reader, priv, digest(alg.hash, input, nil))
	if err != nil {
		b.Fatal(err)
	}
	sig := append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	p := benchProof{compact: input + "." + enc(sig), alg: alg}
	if p.jws, err = ParseCompact(p.compact, 8192); err != nil {
		b.Fatal(err)
	}
	if p.key, err = ParseJWK(p.jws.JWK, KeyPolicy{}); err != nil {
		b.Fatal(err)
	}
	if err := Verify(alg, p.key, p.jws.SigningInput, p.jws.Signature); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkParseCompact: splitting, base64url-decoding and strict JSON
// parsing of a DPoP proof (the jwk member is only validated here).
func BenchmarkParseCompact(b *testing.B) {
	p := newBenchProof(b, "ES256")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCompact(p.compact, 8192); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJWK: importing the proof's P-256 public JWK, with its RFC
// 7638 thumbprint.
func BenchmarkParseJWK(b *testing.B) {
	p := newBenchProof(b, "ES256")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseJWK(p.jws.JWK, KeyPolicy{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerify: hashing the signing input and verifying the R||S
// signature of an ES256 and an ES384 proof.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"ES256", "ES384"} {
		b.Run(alg, func(b *testing.B) {
			p := newBenchProof(b, alg)
			b.ReportAllocs()
			for b.Loop() {
				if err := Verify(p.alg, p.key, p.jws.SigningInput, p.jws.Signature); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkHashB64: the ath hash of an access token (about 700 bytes).
func BenchmarkHashB64(b *testing.B) {
	p := newBenchProof(b, "ES256")
	tok := p.compact + p.compact // about the size of an RFC 9068 access token
	b.ReportAllocs()
	for b.Loop() {
		_ = HashB64(tok)
	}
}
