package validate_test

import (
	"context"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

func TestProofFreshness(t *testing.T) {
	const nonce = "n-current"
	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute, -50 * 365 * 24 * time.Hour} {
		p := dpopBase(dpopES256())
		p.claims["iat"] = dpopNow.Add(skew).Unix()
		p.claims["nonce"] = nonce
		proof := p.sign(t)
		for _, c := range []struct {
			f      validate.Freshness
			nonces validate.Nonces
			code   popguard.ErrorCode
			reason popguard.Reason
		}{
			{validate.FreshnessIAT, nil, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT},
			{validate.FreshnessIAT, dpopNonces{nonce}, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT},
			{validate.FreshnessNonce, dpopNonces{nonce}, "", ""},
			{validate.FreshnessNonce, dpopNonces{"n-other"}, popguard.CodeUseDPoPNonce, popguard.ReasonNonceInvalid},
			{validate.FreshnessBoth, dpopNonces{nonce}, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT},
			// A server mistake, not the client's: never accepted.
			{validate.FreshnessNonce, nil, popguard.CodeInvalidToken, popguard.ReasonInternal},
			{validate.FreshnessBoth, nil, popguard.CodeInvalidToken, popguard.ReasonInternal},
			{validate.Freshness(3), dpopNonces{nonce}, popguard.CodeInvalidToken, popguard.ReasonInternal},
		} {
			req := dpopRequest()
			req.Freshness, req.Nonces = c.f, c.nonces
			v := dpopVerifierAt(t, dpopNow)
			got, err := v.Verify(proof, req)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("skew %v, freshness %d: %v", skew, c.f, err)
				}
				if !got.IssuedAt.Equal(dpopNow.Add(skew)) {
					t.Fatalf("IssuedAt = %v", got.IssuedAt)
				}
				continue
			}
			dpopWantErr(t, err, c.code, c.reason)
			traceAgrees(t, func(tr trace.Tracer) error {
				_, err := trace.With(v, trace.Options{Tracer: tr}).Verify(proof, req)
				return err
			})
		}
	}
}

func TestSHRFreshness(t *testing.T) {
	e := shrEnvOnce()
	at := e.token(t, entraCnf(e.net))
	now := time.Now()
	for _, skew := range []time.Duration{-10 * time.Minute, 10 * time.Minute} {
		o := shrBaseOpts()
		o.TS, o.Nonce = now.Add(skew), "n-current"
		shr := mustSHR(t, e.net, at, o)
		for _, c := range []struct {
			f      validate.Freshness
			nonces validate.Nonces
			reason popguard.Reason
		}{
			{validate.FreshnessIAT, shrNonces{"n-current"}, popguard.ReasonSHRTs},
			{validate.FreshnessNonce, shrNonces{"n-current"}, ""},
			{validate.FreshnessNonce, shrNonces{"n-other"}, popguard.ReasonNonceInvalid},
			{validate.FreshnessBoth, shrNonces{"n-current"}, popguard.ReasonSHRTs},
			{validate.FreshnessNonce, nil, popguard.ReasonInternal},
		} {
			req := shrBaseReq()
			req.Freshness, req.Nonces = c.f, c.nonces
			got, err := e.verifier(t).Verify(context.Background(), shr, req)
			if c.reason == "" {
				if err != nil || got.Timestamp.Unix() != now.Add(skew).Unix() {
					t.Fatalf("skew %v, freshness %d: %v", skew, c.f, err)
				}
				continue
			}
			wantSHRErr(t, err, popguard.CodeInvalidToken, c.reason)
		}
	}
	// ts must still be an integer of at most 11 digits.
	o := shrBaseOpts()
	o.Nonce = "n-current"
	h, p, err := e.net.SHRParts(at, o)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []string{`"now"`, `-1`, `1.5`, `123456789012`} {
		shr, err := e.net.SignRaw(h, shrSet(t, p, "ts", ts))
		if err != nil {
			t.Fatal(err)
		}
		req := shrBaseReq()
		req.Freshness, req.Nonces = validate.FreshnessNonce, shrNonces{"n-current"}
		_, err = e.verifier(t).Verify(context.Background(), shr, req)
		wantSHRErr(t, err, popguard.CodeInvalidToken, popguard.ReasonSHRTs)
	}
}
