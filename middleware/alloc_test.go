package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/poptest"
)

// TestDPoPAllocationBudget holds the allocation budget of a DPoP request
// with a cached token (at most 30, 10 of them inside crypto/ecdsa's
// verify), so that a change which adds allocations to the hot path fails
// here rather than in a benchmark nobody reads. Allocation counts do not
// depend on the machine's speed, unlike timings.
func TestDPoPAllocationBudget(t *testing.T) {
	const budget = 30
	iss := poptest.NewStaticIssuer("https://issuer.test")
	g := iss.Guard(t)
	h := g.Require(popguard.DPoPOnly)(okHandler)
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", DPoP: key})
	const runs = 200
	proofs := make([]string, runs+2) // AllocsPerRun calls f runs+1 times; one more warms the token cache
	for i := range proofs {
		proofs[i] = key.Proof("GET", iss.Audience+"/x", tok, poptest.ProofOptions{})
	}
	req := httptest.NewRequest("GET", "/x", nil)
	set := dpopHeaders(tok)
	w := newStatusWriter()
	next := 0
	serve := func() {
		set(req, proofs[next])
		next++
		w.Code = 0
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			t.Fatalf("status %d", w.Code)
		}
	}
	serve() // fills the token cache
	if n := testing.AllocsPerRun(runs, serve); n > budget {
		t.Fatalf("a DPoP request with a cached token makes %v allocations, budget %d", n, budget)
	} else {
		t.Logf("%v allocations per DPoP request (budget %d)", n, budget)
	}
}
