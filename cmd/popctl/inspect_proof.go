package main

// inspect for DPoP proofs (RFC 9449).

import (
	"context"

	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

// inspectProof runs validate.ProofVerifier on the proof s. With a JWT
// -token it runs VerifyRequest, as a server does: the token is verified
// (its checks are named token.*) and must be bound to the proof key. An
// opaque -token is only hashed for ath: its validity and binding are known
// to introspection alone.
func (in *inspector) inspectProof(s string) {
	pv, err := validate.NewProofVerifier(validate.Clock(in.clock))
	if err != nil {
		panic(err) // the options above are always valid
	}
	var missing trace.Inputs
	if in.method == "" {
		missing |= trace.Method
	}
	if in.url == "" {
		missing |= trace.Target
	}
	pv = trace.With(pv, trace.Options{Tracer: in.tracer(""), Missing: missing})
	req := validate.ProofRequest{Method: in.method, Target: in.url, AccessToken: in.token}
	var offline []string
	switch {
	case in.token != "" && decodeLenient(in.token).problem == "":
		_, _, err = pv.VerifyRequest(context.Background(), in.jwtVerifier("token."), s, req)
		if in.keys != nil {
			offline = append(offline, "token.keyset-fetch")
		}
	default:
		_, err = pv.Verify(s, req)
		if in.token != "" {
			offline = append(offline, "token", "binding")
		}
	}
	in.verdict("validate.ProofVerifier", err, offline...)
}
