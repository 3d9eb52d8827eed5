package bench

// Three ways to verify a JOSE ECDSA signature (RFC 7518 §3.4: R||S, each
// the curve's size) with crypto/ecdsa, which wants ASN.1 DER or big.Ints.
// Issue 12 compared them to decide what internal/jose uses (BENCHMARKS.md,
// "The JOSE layer"):
//
//   - der: internal/jose's own DER encoder (jose.DERSignature), then
//     ecdsa.VerifyASN1: what internal/jose uses, for its allocations;
//   - bigint: R and S as *big.Int and ecdsa.Verify, the standard library
//     only;
//   - cryptobyte: DER built with golang.org/x/crypto/cryptobyte, then
//     ecdsa.VerifyASN1 (measured here only: the core module does not
//     require x/crypto).
//
// "encode" sub-benchmarks time the conversion alone; for bigint that is
// what ecdsa.Verify does before it calls VerifyASN1 (big.Int.Bytes and a
// cryptobyte encoding, as in crypto/ecdsa's encodeSignature).
//
//	GOWORK=off go test -run '^$' -bench RawSig -benchmem -count 8 .

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/popguard/popguard/internal/jose"
)

// cryptobyteDER encodes R and S with cryptobyte, as crypto/ecdsa does.
func cryptobyteDER(r, s []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addInt(b, r)
		addInt(b, s)
	})
	return b.Bytes()
}

func addInt(b *cryptobyte.Builder, v []byte) {
	for len(v) > 0 && v[0] == 0 {
		v = v[1:]
	}
	b.AddASN1(asn1.INTEGER, func(c *cryptobyte.Builder) {
		if len(v) == 0 || v[0]&0x80 != 0 {
			c.AddUint8(0)
		}
		c.AddBytes(v)
	})
}

func BenchmarkRawSig(b *testing.B) {
	for _, tc := range []struct {
		name  string
		curve elliptic.Curve
		hash  func([]byte) []byte
	}{
		{"P-256", elliptic.P256(), func(m []byte) []byte { h := sha256.Sum256(m); return h[:] }},
		{"P-384", elliptic.P384(), func(m []byte) []byte { h := sha512.Sum384(m); return h[:] }},
	} {
		priv, err := ecdsa.GenerateKey(tc.curve, rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		pub := &priv.PublicKey
		h := tc.hash([]byte("header.payload"))
		size := (tc.curve.Params().BitSize + 7) / 8
		r, s, err := ecdsa.Sign(rand.Reader, priv, h)
		if err != nil {
			b.Fatal(err)
		}
		sig := append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
		rb, sb := sig[:size], sig[size:]
		verify := map[string]func() bool{
			"der": func() bool { return ecdsa.VerifyASN1(pub, h, jose.DERSignature(rb, sb)) },
			"bigint": func() bool {
				return ecdsa.Verify(pub, h, new(big.Int).SetBytes(rb), new(big.Int).SetBytes(sb))
			},
			"cryptobyte": func() bool {
				d, err := cryptobyteDER(rb, sb)
				return err == nil && ecdsa.VerifyASN1(pub, h, d)
			},
		}
		encode := map[string]func() bool{
			"der": func() bool { return len(jose.DERSignature(rb, sb)) > 0 },
			"bigint": func() bool {
				r, s := new(big.Int).SetBytes(rb), new(big.Int).SetBytes(sb)
				d, err := cryptobyteDER(r.Bytes(), s.Bytes())
				return err == nil && len(d) > 0
			},
			"cryptobyte": func() bool { d, err := cryptobyteDER(rb, sb); return err == nil && len(d) > 0 },
		}
		for _, variant := range []string{"der", "bigint", "cryptobyte"} {
			b.Run(tc.name+"/verify/"+variant, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !verify[variant]() {
						b.Fatal("signature does not verify")
					}
				}
			})
		}
		for _, variant := range []string{"der", "bigint", "cryptobyte"} {
			b.Run(tc.name+"/encode/"+variant, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !encode[variant]() {
						b.Fatal("encoding failed")
					}
				}
			})
		}
	}
}
