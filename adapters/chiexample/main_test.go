package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/routeprobe"
)

func do(t *testing.T, r http.Handler, method, path, auth, proof string) (*httptest.ResponseRecorder, map[string]string) {
	t.Helper()
	req := httptest.NewRequest(method, testAudience+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	var body map[string]string
	if w.Header().Get("Content-Type") == "application/json" && w.Code < 300 {
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s %s: body %q: %v", method, path, w.Body, err)
		}
	}
	return w, body
}

func TestChiRoutes(t *testing.T) {
	iss, client := newKey(t), newKey(t)
	r := Routes(newGuard(t, iss))
	bearer := accessToken(t, iss, "")
	bound := accessToken(t, iss, thumbprint(client))

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
		w, body := do(t, r, "POST", "/transfers", "DPoP "+bound, dpopProof(t, client, "POST", testAudience+"/transfers", bound, ""))
		if w.Code != http.StatusCreated || body["created_by"] != "alice" || body["jkt"] != thumbprint(client) {
			t.Fatalf("status %d, body %v, WWW-Authenticate %q", w.Code, body, w.Header().Values("WWW-Authenticate"))
		}
		w, body = do(t, r, "GET", "/accounts/", "DPoP "+bound, dpopProof(t, client, "GET", testAudience+"/accounts/", bound, ""))
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
	iss, client := newKey(t), newKey(t)
	p := &routeprobe.Probe{}
	g := newGuard(t, iss, p.Option())
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { p.Handled(); _, _ = w.Write([]byte("ok")) })
	tok := accessToken(t, iss, thumbprint(client))
	proof := func(path string) string { return dpopProof(t, client, "GET", testAudience+path, tok, "") }
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
