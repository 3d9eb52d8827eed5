package main

// inspect for Microsoft PoP signed HTTP requests (SHR).

import (
	"context"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

// inspectSHR runs validate.SHRVerifier on the SHR s, with the token
// verifier of the flags for its at claim (whose checks are named at.*), and
// returns the decoded at for display.
func (in *inspector) inspectSHR(s string, d decoded) *part {
	err := in.verifySHR(s, in.browserCompat)
	if pe := popguard.AsError(err); pe != nil && !in.browserCompat && (pe.Reason == popguard.ReasonSHRP || pe.Reason == popguard.ReasonSHRQ) {
		in.browserHint(s, pe)
	}
	var offline []string
	if in.keys != nil {
		offline = append(offline, "at.keyset-fetch")
	}
	in.verdict("validate.SHRVerifier", err, offline...)
	at, _ := d.pl["at"].(string)
	if at == "" {
		return nil
	}
	ad := decodeLenient(at)
	return &part{Header: ad.header, Payload: ad.payload}
}

// browserHint asks a verifier with MSALBrowserCompat about an SHR whose p or
// q failed: when it gets past that check, msal-browser's lower-cased form
// is the likely cause, and the failed check says so.
func (in *inspector) browserHint(s string, pe *popguard.Error) {
	failed := in.find(map[popguard.Reason]string{popguard.ReasonSHRP: "p", popguard.ReasonSHRQ: "q"}[pe.Reason])
	compat := *in
	compat.checks = nil
	cerr := compat.verifySHR(s, true)
	if failed == nil || popguard.ReasonOf(cerr) == pe.Reason {
		return
	}
	failed.Detail += "; it matches in msal-browser's lower-cased form, which a server accepts only with validate.MSALBrowserCompat (-msal-browser-compat)"
}

// verifySHR runs a traced SHRVerifier on s for the request of the flags.
func (in *inspector) verifySHR(s string, browserCompat bool) error {
	opts := []validate.Option{validate.Clock(in.clock)}
	if browserCompat {
		opts = append(opts, validate.MSALBrowserCompat())
	}
	sv, err := validate.NewSHRVerifier(in.jwtVerifier("at."), opts...)
	if err != nil {
		panic(err) // the options above are always valid
	}
	var missing trace.Inputs
	req := validate.SHRRequest{Method: in.method, Header: in.headers}
	if in.method == "" {
		missing |= trace.Method
	}
	if in.url == "" {
		missing |= trace.Target
	} else {
		u, _ := parseURL(in.url) // checked by runInspect
		req.Scheme, req.Host, req.Path, req.RawQuery = u.Scheme, u.Host, rawPath(in.url), u.RawQuery
	}
	if in.headers == nil {
		missing |= trace.Headers
	}
	if in.hasBody {
		body := in.body
		req.Body = func() ([]byte, error) { return body, nil }
	} else {
		missing |= trace.Body
	}
	sv = trace.With(sv, trace.Options{Tracer: in.tracer(""), Missing: missing})
	_, err = sv.Verify(context.Background(), s, req)
	return err
}
