package validate_test

import (
	"context"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/benchutil"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// issuerBench returns an ES256 token of the second of three issuers, its
// own verifier, and an IssuerSet of the three (one of them a multi-tenant
// Entra issuer, matched by template).
func issuerBench(b *testing.B) (string, *validate.JWTVerifier, *validate.IssuerSet) {
	b.Helper()
	var vs []*validate.JWTVerifier
	var tok string
	for i, url := range []string{"https://a.example.com", "https://b.example.com", "https://login.example.com/{tenantid}/v2.0"} {
		iss := poptest.NewStaticIssuer(url)
		keys, err := validate.NewStaticKeySet(iss.JWKS())
		if err != nil {
			b.Fatal(err)
		}
		opts := []validate.Option{validate.Audience("https://api.example.com")}
		if i == 2 {
			opts = append(opts, validate.UseProfile(validate.Entra()), validate.Tenants("t1"))
		}
		v, err := validate.NewJWTVerifier(url, keys, opts...)
		if err != nil {
			b.Fatal(err)
		}
		vs = append(vs, v)
		if i == 1 {
			tok = iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "cli", Audience: "https://api.example.com", TTL: time.Hour})
		}
	}
	set, err := validate.NewIssuerSet(vs...)
	if err != nil {
		b.Fatal(err)
	}
	return tok, vs[1], set
}

func benchVerify(b *testing.B, v validate.TokenVerifier, tok string) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.VerifyToken(context.Background(), tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssuerSetRatio reports what routing by iss adds to a JWT access
// token's verification (uncached): x-direct is IssuerSet / JWTVerifier.
func BenchmarkIssuerSetRatio(b *testing.B) {
	tok, direct, set := issuerBench(b)
	d := benchutil.Measure(b, "direct", func(b *testing.B) { benchVerify(b, direct, tok) })
	s := benchutil.Measure(b, "set", func(b *testing.B) { benchVerify(b, set, tok) })
	raw := benchutil.Measure(b, "raw", BenchmarkRawP256Verify)
	b.Run("ratio", func(b *testing.B) {
		if d == 0 || s == 0 || raw == 0 {
			b.Skip("a sub-benchmark did not run (filtered out)")
		}
		b.ReportMetric(s/d, "x-direct")
		b.ReportMetric(d/raw, "direct-x-raw")
		b.ReportMetric(s-d, "routing-ns")
	})
}

// BenchmarkIssuerSetRoute is the routing alone: parsing the token to read
// iss and choosing the verifier.
func BenchmarkIssuerSetRoute(b *testing.B) {
	tok, _, set := issuerBench(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := set.Route(tok); err != nil {
			b.Fatal(err)
		}
	}
}
