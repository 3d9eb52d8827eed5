package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/popguard/popguard/internal/benchutil"
)

// benchDecisions sends n nginx-shaped auth_request subrequests through the
// service in process: what popguard does per decision behind nginx, minus
// the HTTP exchange. mk returns the Authorization and DPoP values of one
// request (DPoP empty for Bearer).
func benchDecisions(b *testing.B, f *fixture, path string, mk func() (auth, dpop string)) {
	sv := startPopguard(b, f.config("10.0.0.0/8"))
	const batch = 512
	type creds struct{ auth, dpop string }
	cs := make([]creds, batch)
	fill := func() {
		for i := range cs {
			cs[i].auth, cs[i].dpop = mk()
		}
	}
	req := httptest.NewRequest("GET", "/check", nil)
	req.RemoteAddr = "10.0.0.7:41234"
	req.Header.Set("X-Original-Method", "GET")
	req.Header.Set("X-Original-URI", path)
	w := httptest.NewRecorder()
	serve := func(c creds) {
		req.Header["Authorization"] = []string{c.auth}
		if c.dpop != "" {
			req.Header["Dpop"] = []string{c.dpop}
		}
		w.Code = http.StatusOK // a decision that writes no status allows
		clear(w.Header())
		sv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Header().Get("WWW-Authenticate"))
		}
	}
	fill()
	serve(cs[0]) // caches the token; Batched fills a new batch first
	benchutil.Batched(b, batch, fill, func(i int) { serve(cs[i]) })
}

// BenchmarkDecisionDPoP: a DPoP decision with a cached token and a fresh
// proof, as nginx asks for it.
func BenchmarkDecisionDPoP(b *testing.B) {
	f := newFixture(b)
	at := f.boundToken(b)
	benchDecisions(b, f, "/dpop/x", func() (string, string) {
		return "DPoP " + at, f.proof(b, "GET", "/dpop/x", at, "")
	})
}

// BenchmarkDecisionBearer: a Bearer decision with a cached token.
func BenchmarkDecisionBearer(b *testing.B) {
	f := newFixture(b)
	at := f.bearerToken(b)
	benchDecisions(b, f, "/bearer/x", func() (string, string) { return "Bearer " + at, "" })
}
