package poptest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/poptest"
)

// A protected handler tested in a few lines: the Issuer's Guard trusts its
// tokens, and the Client signs the proof; a Bearer use of the bound token
// never reaches the handler.
func TestIssuerGuard(t *testing.T) {
	iss, client := poptest.NewStaticIssuer("https://issuer.example.test"), poptest.NewClient()
	ran := 0
	h := iss.Guard(t).Require(popguard.DPoPOnly)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		fmt.Fprint(w, "hello ", popguard.FromContext(r.Context()).Subject)
	}))
	tok := iss.Token(poptest.TokenOptions{Subject: "alice", DPoP: client})

	req := httptest.NewRequest("POST", poptest.DefaultAudience+"/transfers", nil)
	client.DPoP(req, tok, poptest.ProofOptions{})
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 200 || rr.Body.String() != "hello alice" || ran != 1 {
		t.Fatalf("DPoP: %d %q", rr.Code, rr.Body)
	}
	req = httptest.NewRequest("POST", poptest.DefaultAudience+"/transfers", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, req)
	if rr.Code != 401 || ran != 1 {
		t.Errorf("the bound token as Bearer: %d, handler ran %d times", rr.Code, ran)
	}
}
