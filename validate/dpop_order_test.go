package validate_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/benchutil"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// The order of VerifyRequest keeps an unauthenticated request cheap: the
// access token is checked before the proof signature whenever that needs
// no network call, and a network call is spent only on a proof with a valid
// signature. These tests tell the order by giving every request two faults
// and looking at which one is reported.

const orderIssuer, orderAud, orderTarget = "https://issuer.order.test", "https://api.order.test", "https://api.order.test/r"

type orderEnv struct {
	iss    *poptest.Issuer
	jwt    *validate.JWTVerifier
	key    *poptest.Client // the client's DPoP key
	other  *poptest.Client // signs forged signatures
	proofs *validate.ProofVerifier
}

func newOrderEnv(t testing.TB, opts ...validate.Option) *orderEnv {
	t.Helper()
	iss := poptest.NewStaticIssuer(orderIssuer)
	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	jv, err := validate.NewJWTVerifier(orderIssuer, keys, validate.Audience(orderAud))
	if err != nil {
		t.Fatal(err)
	}
	pv, err := validate.NewProofVerifier(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return &orderEnv{iss: iss, jwt: jv, key: poptest.NewClient(), other: poptest.NewClient(), proofs: pv}
}

func (e *orderEnv) bound(t testing.TB) string {
	t.Helper()
	return e.iss.Token(poptest.TokenOptions{Subject: "bob", ClientID: "app", Audience: orderAud, DPoP: e.key})
}

// orderClient is a client with a new key for alg.
func orderClient(t testing.TB, alg string) *poptest.Client {
	t.Helper()
	k, err := dpopclient.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return poptest.NewClientWithKey(k)
}

// orderClientOf is a client signing with signer under alg.
func orderClientOf(t testing.TB, signer crypto.Signer, alg string) *poptest.Client {
	t.Helper()
	k, err := dpopclient.NewKey(signer, alg)
	if err != nil {
		t.Fatal(err)
	}
	return poptest.NewClientWithKey(k)
}

// proof signs a proof for tok with k; forged swaps in a signature made by
// another key over the same input, so only the signature check fails.
func (e *orderEnv) proof(t testing.TB, k *poptest.Client, tok string, forged bool) string {
	t.Helper()
	p := k.Proof("GET", orderTarget, tok, poptest.ProofOptions{})
	if !forged {
		return p
	}
	q := e.other.Proof("GET", orderTarget, tok, poptest.ProofOptions{})
	return p[:strings.LastIndexByte(p, '.')] + q[strings.LastIndexByte(q, '.'):]
}

// forgeJWT keeps the claims of a valid token and breaks its signature.
func forgeJWT(tok string) string {
	i := strings.LastIndexByte(tok, '.')
	sig := []byte(tok[i+1:])
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	return tok[:i+1] + string(sig)
}

// orderCountingVerifier stands for an introspection client: every call is a
// network round trip.
type orderCountingVerifier struct {
	inner validate.TokenVerifier
	calls atomic.Int64
}

func (c *orderCountingVerifier) VerifyToken(ctx context.Context, token string) (*validate.Token, error) {
	c.calls.Add(1)
	return c.inner.VerifyToken(ctx, token)
}

func orderReq(tok string) validate.ProofRequest {
	return validate.ProofRequest{Method: "GET", Target: orderTarget, AccessToken: tok}
}

func TestVerifyRequestOrder(t *testing.T) {
	e := newOrderEnv(t)
	ctx := context.Background()
	tok := e.bound(t)
	cache, err := validate.NewTokenCache(e.jwt)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		tokens validate.TokenVerifier
		tok    string
		forged bool
		code   popguard.ErrorCode
		reason popguard.Reason
	}{
		// A JWT is checked before the proof signature: a junk or forged
		// token never reaches the caller's choice of algorithm and key.
		{"junk token, forged proof signature", e.jwt, "junk", true, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed},
		{"junk token under a cache, forged proof signature", cache, "junk", true, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed},
		{"token with a forged signature, forged proof signature", e.jwt, forgeJWT(tok), true, popguard.CodeInvalidToken, popguard.ReasonTokenSignature},
		{"valid token, forged proof signature", e.jwt, tok, true, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature},
		{"valid cached token, forged proof signature", cache, tok, true, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.proofs.VerifyRequest(ctx, tc.tokens, e.proof(t, e.key, tc.tok, tc.forged), orderReq(tc.tok))
			wantErr(t, err, tc.code, tc.reason)
		})
	}
	t.Run("cheap proof checks come first", func(t *testing.T) {
		p := e.proof(t, e.key, "junk", true)
		req := orderReq("junk")
		req.Method = "POST"
		_, _, err := e.proofs.VerifyRequest(ctx, e.jwt, p, req)
		wantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofHTM)
	})
	t.Run("a remote verifier is called only for a proof with a valid signature", func(t *testing.T) {
		remote := &orderCountingVerifier{inner: e.jwt}
		_, _, err := e.proofs.VerifyRequest(ctx, remote, e.proof(t, e.key, tok, true), orderReq(tok))
		wantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
		if n := remote.calls.Load(); n != 0 {
			t.Fatalf("remote verifier called %d times for a forged proof", n)
		}
		cached, err := validate.NewTokenCache(remote)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.proofs.VerifyRequest(ctx, cached, e.proof(t, e.key, tok, true), orderReq(tok))
		wantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
		if n := remote.calls.Load(); n != 0 {
			t.Fatalf("remote verifier under a cache called %d times for a forged proof", n)
		}
		p, got, err := e.proofs.VerifyRequest(ctx, cached, e.proof(t, e.key, tok, false), orderReq(tok))
		if err != nil || got.Subject != "bob" || p.Thumbprint != e.key.Thumbprint() || remote.calls.Load() != 1 {
			t.Fatalf("valid request: %v, %+v, calls %d", err, got, remote.calls.Load())
		}
		// Now cached: a forged proof costs no call either.
		_, _, err = e.proofs.VerifyRequest(ctx, cached, e.proof(t, e.key, tok, true), orderReq(tok))
		wantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofSignature)
		if n := remote.calls.Load(); n != 1 {
			t.Fatalf("remote verifier called %d times, want 1", n)
		}
	})
	t.Run("binding: a valid proof by another key", func(t *testing.T) {
		p := e.other.Proof("GET", orderTarget, tok, poptest.ProofOptions{})
		_, _, err = e.proofs.VerifyRequest(ctx, e.jwt, p, orderReq(tok))
		wantErr(t, err, popguard.CodeInvalidToken, popguard.ReasonTokenKeyBinding)
	})
	t.Run("no access token", func(t *testing.T) {
		_, _, err := e.proofs.VerifyRequest(ctx, e.jwt, e.proof(t, e.key, tok, false), orderReq(""))
		wantErr(t, err, popguard.CodeInvalidToken, popguard.ReasonTokenMalformed)
	})
	t.Run("no token verifier", func(t *testing.T) {
		_, _, err := e.proofs.VerifyRequest(ctx, nil, e.proof(t, e.key, tok, false), orderReq(tok))
		if err == nil {
			t.Fatal("accepted without a token verifier")
		}
	})
	t.Run("accepted", func(t *testing.T) {
		p, got, err := e.proofs.VerifyRequest(ctx, e.jwt, e.proof(t, e.key, tok, false), orderReq(tok))
		if err != nil || got.Subject != "bob" || p.Thumbprint != e.key.Thumbprint() {
			t.Fatalf("%v, %+v", err, got)
		}
	})
}

// ES384, ES512, PS384 and PS512 are not in the default allow-list (no
// common client uses them, and P-384 and P-521 are the costliest to
// verify); Algs adds them.
func TestProofDefaultAlgs(t *testing.T) {
	e := newOrderEnv(t)
	tok := e.bound(t)
	for _, alg := range []string{"ES384", "ES512", "PS384", "PS512"} {
		k := orderClient(t, alg)
		p := k.Proof("GET", orderTarget, tok, poptest.ProofOptions{})
		_, err := e.proofs.Verify(p, orderReq(tok))
		wantErr(t, err, popguard.CodeInvalidDPoPProof, popguard.ReasonProofAlg)
		opt, err := validate.NewProofVerifier(validate.Algs(alg))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := opt.Verify(p, orderReq(tok)); err != nil {
			t.Errorf("%s with Algs(%s): %v", alg, alg, err)
		}
	}
}

func wantErr(t testing.TB, err error, code popguard.ErrorCode, reason popguard.Reason) {
	t.Helper()
	var pe *popguard.Error
	if !errors.As(err, &pe) || pe.Code != code || pe.Reason != reason {
		t.Fatalf("error %v, want %s (%s)", err, code, reason)
	}
}

// BenchmarkUnauthenticatedDPoP is the cost of refusing a request with a
// self-signed proof per proof algorithm and key size: "proof" is the proof
// check alone (what the old order paid before looking at the token), "junk"
// a junk access token and "forged-jwt" a well-formed token with a forged
// signature, both through VerifyRequest, beside the raw P-256 verify floor.
// The ratio sub-benchmarks report each against the floor (x-raw-verify).
func BenchmarkUnauthenticatedDPoP(b *testing.B) {
	e := newOrderEnv(b, validate.Algs("ES256", "ES384", "ES512", "PS256", "PS512", "RS256", "EdDSA"))
	tok := e.bound(b)
	rsa4096, err := rsa.GenerateKey(rand.Reader, 4096)
	if err != nil {
		b.Fatal(err)
	}
	floor := benchutil.Measure(b, "raw-p256", BenchmarkRawP256Verify)
	for _, k := range []*poptest.Client{
		orderClient(b, "ES256"), orderClient(b, "ES384"), orderClient(b, "ES512"), orderClient(b, "EdDSA"),
		orderClient(b, "PS256"), orderClientOf(b, rsa4096, "PS512"), orderClientOf(b, rsa4096, "RS256"),
	} {
		name := k.Key().Alg()
		if pub, ok := k.Key().Public().(*rsa.PublicKey); ok {
			name += "-" + strconv.Itoa(pub.N.BitLen())
		}
		for _, c := range []struct {
			kind, tok string
			run       func(p string, req validate.ProofRequest) error
		}{
			{"proof", "junk", func(p string, req validate.ProofRequest) error { _, err := e.proofs.Verify(p, req); return err }},
			{"junk", "junk", func(p string, req validate.ProofRequest) error {
				_, _, err := e.proofs.VerifyRequest(context.Background(), e.jwt, p, req)
				return err
			}},
			{"forged-jwt", forgeJWT(tok), func(p string, req validate.ProofRequest) error {
				_, _, err := e.proofs.VerifyRequest(context.Background(), e.jwt, p, req)
				return err
			}},
		} {
			p := k.Proof("GET", orderTarget, c.tok, poptest.ProofOptions{})
			req := orderReq(c.tok)
			ns := benchutil.Measure(b, name+"/"+c.kind, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = c.run(p, req)
				}
			})
			b.Run(name+"/"+c.kind+"/ratio", func(b *testing.B) {
				if ns == 0 || floor == 0 {
					b.Skip("a sub-benchmark did not run (filtered out)")
				}
				b.ReportMetric(ns/floor, "x-raw-verify")
				b.ReportMetric(ns, "ns/request")
			})
		}
	}
}

// rotatingNonces accepts "old" (stale: hand out "new") and "new" (current).
type rotatingNonces struct{}

func (rotatingNonces) Issue() string { return "new" }
func (rotatingNonces) Check(n string) (bool, error) {
	switch n {
	case "new":
		return true, nil
	case "old":
		return false, nil
	}
	return false, errors.New("unknown nonce")
}

// A stale but accepted nonce yields the next one on the result; a current
// one yields none; an unknown one is use_dpop_nonce.
func TestProofNextNonce(t *testing.T) {
	e := newOrderEnv(t)
	tok := e.bound(t)
	for _, c := range []struct{ nonce, next string }{{"old", "new"}, {"new", ""}} {
		p := e.key.Proof("GET", orderTarget, tok, poptest.ProofOptions{Nonce: c.nonce})
		req := orderReq(tok)
		req.Nonces = rotatingNonces{}
		got, _, err := e.proofs.VerifyRequest(context.Background(), e.jwt, p, req)
		if err != nil || got.NextNonce != c.next {
			t.Errorf("nonce %q: NextNonce %q, %v; want %q", c.nonce, got.NextNonce, err, c.next)
		}
	}
	p := e.key.Proof("GET", orderTarget, tok, poptest.ProofOptions{Nonce: "forged"})
	req := orderReq(tok)
	req.Nonces = rotatingNonces{}
	_, _, err := e.proofs.VerifyRequest(context.Background(), e.jwt, p, req)
	wantErr(t, err, popguard.CodeUseDPoPNonce, popguard.ReasonNonceInvalid)
}
