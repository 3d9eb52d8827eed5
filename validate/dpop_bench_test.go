package validate_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"github.com/popguard/popguard/internal/benchutil"
	"github.com/popguard/popguard/validate"
	"strings"
	"testing"

	"github.com/popguard/popguard/poptest"
)

// dpopBenchProof returns a verifier, a valid ES256 proof with ath and the
// request it is valid for. Verification is stateless, so one proof serves
// every iteration.
func dpopBenchProof(b testing.TB) (*validate.ProofVerifier, string, validate.ProofRequest) {
	b.Helper()
	proof := poptest.NewClient().Proof("GET", dpopTarget, dpopToken, poptest.ProofOptions{IssuedAt: dpopNow})
	v := dpopVerifierAt(b, dpopNow)
	if _, err := v.Verify(proof, dpopRequest()); err != nil {
		b.Fatal(err)
	}
	return v, proof, dpopRequest()
}

func BenchmarkProofVerify(b *testing.B) {
	v, proof, req := dpopBenchProof(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(proof, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawP256Verify is the floor: one ECDSA P-256 verification of a
// SHA-256 digest of a proof's signing input.
func BenchmarkRawP256Verify(b *testing.B) {
	_, proof, _ := dpopBenchProof(b)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte(proof[:strings.LastIndexByte(proof, '.')]))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	pub := &key.PublicKey
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(pub, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkProofVerifyRatio runs both benchmarks above as sub-benchmarks and
// reports, in its "ratio" sub-benchmark, how many raw P-256 verifications
// one proof verification costs (x-raw-verify). The ns/op
// of "ratio" itself means nothing.
func BenchmarkProofVerifyRatio(b *testing.B) {
	proof := benchutil.Measure(b, "proof", BenchmarkProofVerify)
	raw := benchutil.Measure(b, "raw", BenchmarkRawP256Verify)
	b.Run("ratio", func(b *testing.B) {
		if proof == 0 || raw == 0 {
			b.Skip("a sub-benchmark did not run (filtered out)")
		}
		b.ReportMetric(proof/raw, "x-raw-verify")
		b.ReportMetric(proof, "proof-ns/op")
		b.ReportMetric(raw, "raw-ns/op")
	})
}
