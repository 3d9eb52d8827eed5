package main

// inspect for access tokens, and the token verifier the proof and SHR
// inspections run on the token they carry or come with.

import (
	"context"

	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

func (in *inspector) inspectToken(s string) {
	_, err := in.jwtVerifier("").VerifyToken(context.Background(), s)
	var offline []string
	if in.keys != nil {
		offline = append(offline, "keyset-fetch")
	}
	in.verdict("validate.JWTVerifier", err, offline...)
}

// noKeys stands for the issuer's keys when -jwks is not given; the traced
// verifier is told they are missing and never asks it.
type noKeys struct{}

func (noKeys) Keys(context.Context, string) ([]validate.PublicKey, error) { return nil, nil }

// jwtVerifier returns a traced JWTVerifier configured from the flags: the
// issuer -iss, the audience -aud (any without it), the keys -jwks, the
// token shape -profile. What was not given is declared missing. prefix
// names its checks.
func (in *inspector) jwtVerifier(prefix string) *validate.JWTVerifier {
	var missing trace.Inputs
	iss := in.iss
	if iss == "" {
		iss, missing = "(no -iss)", missing|trace.Issuer
	}
	var keys validate.KeySet = noKeys{}
	if in.keys != nil {
		keys = in.keys
	} else {
		missing |= trace.IssuerKeys
	}
	opts := []validate.Option{validate.Clock(in.clock)}
	if in.aud != "" {
		opts = append(opts, validate.Audience(in.aud))
	} else {
		opts = append(opts, validate.SkipAudienceCheck())
	}
	opts = append(opts, validate.UseProfile(in.profile))
	if in.profile.TenantClaim != "" {
		// Offline, any tenant: the iss must still agree with the tenant claim.
		opts = append(opts, validate.AnyTenant())
	}
	v, err := validate.NewJWTVerifier(iss, keys, opts...)
	if err != nil {
		panic(err) // the options above are always valid
	}
	return trace.With(v, trace.Options{Tracer: in.tracer(prefix), Missing: missing})
}
