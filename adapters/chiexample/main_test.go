package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/adaptertest"
	"github.com/popguard/popguard/internal/routeprobe"
	"github.com/popguard/popguard/poptest"
)

func do(t *testing.T, r http.Handler, method, path, auth, proof string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	w := adaptertest.Do(r, method, path, auth, proof)
	var body map[string]string
	if w.Header().Get("Content-Type") == "application/json" && w.Code < 300 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, w.Body, err)
		}
	}
	return w, body
}

func TestChiRoutes(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	r := Routes(iss.Guard(t))
	bearer := accessToken(iss, nil)
	bound := accessToken(iss, client)

	t.Run("Bearer accepted on Mixed", func(t *testing.T) {
		w, body := do(t, r, "GET", "/accounts/42", "Bearer "+bearer, "")
		if w.Code != http.StatusOK || body["sub"] != "alice" || body["scheme"] != "Bearer" || body["id"] != "42" {
			t.Fatalf("status %d, body %v", w.Code, body)
		}
	})
	t.Run("Bearer rejected on DPoPOnly", func(t *testing.T) {
		w, _ := do(t, r, "POST", "/transfers", "Bearer "+bearer, "")
		if w.Code != http.StatusUnauthorized || !strings.Contains(strings.Join(w.Header().Values("WWW-Authenticate"), ","), "DPoP") {
			t.Fatalf("status %d, WWW-Authenticate %q", w.Code, w.Header().Values("WWW-Authenticate"))
		}
	})
	t.Run("DPoP accepted", func(t *testing.T) {
		w, body := do(t, r, "POST", "/transfers", "DPoP "+bound, client.Proof("POST", testAudience+"/transfers", bound, poptest.ProofOptions{}))
		if w.Code != http.StatusCreated || body["created_by"] != "alice" || body["jkt"] != client.Thumbprint() {
			t.Fatalf("status %d, body %v, WWW-Authenticate %q", w.Code, body, w.Header().Values("WWW-Authenticate"))
		}
		w, body = do(t, r, "GET", "/accounts/", "DPoP "+bound, client.Proof("GET", testAudience+"/accounts/", bound, poptest.ProofOptions{}))
		if w.Code != http.StatusOK || body["scheme"] != "DPoP" {
			t.Fatalf("accounts: status %d, body %v", w.Code, body)
		}
	})
	t.Run("missing credentials", func(t *testing.T) {
		for _, p := range []struct{ method, path string }{{"GET", "/accounts/"}, {"POST", "/transfers"}} {
			w, _ := do(t, r, p.method, p.path, "", "")
			if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) == 0 {
				t.Fatalf("%s %s: status %d, WWW-Authenticate %q", p.method, p.path, w.Code, w.Header().Values("WWW-Authenticate"))
			}
		}
	})
	t.Run("healthz unprotected", func(t *testing.T) {
		if w, _ := do(t, r, "GET", "/healthz", "", ""); w.Code != http.StatusOK {
			t.Fatalf("status %d", w.Code)
		}
	})
}

// chi routes on the raw path and never removes dot-segments, so even a plain
// "/dpop/../mixed/profile" reaches /dpop/*, directly or through a mounted
// sub-router. popguard refuses such paths before any proof is compared.
func TestDotSegmentsRefused(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	p := &routeprobe.Probe{}
	g := iss.Guard(t, p.Option())
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { p.Handled(); _, _ = w.Write([]byte("ok")) })
	tok := accessToken(iss, client)
	proof := func(path string) string { return client.Proof("GET", testAudience+path, tok, poptest.ProofOptions{}) }
	t.Run("flat routes", func(t *testing.T) {
		r := chi.NewRouter()
		r.With(g.Require(popguard.DPoPOnly)).Get("/dpop/*", h)
		r.With(g.Require(popguard.Mixed)).Get("/mixed/*", h)
		routeprobe.CheckDotSegments(t, routeprobe.Serve(t, r), p, tok, proof)
	})
	t.Run("mounted sub-routers", func(t *testing.T) {
		dpop, mixed := chi.NewRouter(), chi.NewRouter()
		dpop.Use(g.Require(popguard.DPoPOnly))
		dpop.Get("/*", h)
		mixed.Use(g.Require(popguard.Mixed))
		mixed.Get("/*", h)
		r := chi.NewRouter()
		r.Mount("/dpop", dpop)
		r.Mount("/mixed", mixed)
		routeprobe.CheckDotSegments(t, routeprobe.Serve(t, r), p, tok, proof)
	})
}
