package echopop_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/echopop"
	"github.com/popguard/popguard/internal/routeprobe"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

type calls struct{ after, handler int }

// router protects POST /transfers (DPoPOnly) and GET /accounts (Mixed).
// Each route has a second middleware after Require, to check that a
// rejection stops the chain. got receives what the handler saw.
func router(g *middleware.Guard, n *calls, got **popguard.Result, fromCtx **popguard.Result, opts ...middleware.RouteOption) *echo.Echo {
	e := echo.New()
	after := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error { n.after++; return next(c) }
	}
	h := func(c echo.Context) error {
		n.handler++
		*got = echopop.Result(c)
		*fromCtx = popguard.FromContext(c.Request().Context())
		return c.String(http.StatusOK, "ok")
	}
	e.POST("/transfers", h, echopop.Require(g, popguard.DPoPOnly, opts...), after)
	e.Group("/accounts", echopop.Require(g, popguard.Mixed, opts...), after).GET("", h)
	return e
}

func do(r http.Handler, method, path, auth, proof string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, testAudience+path, nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

func TestBearerAcceptedOnMixed(t *testing.T) {
	iss := poptest.NewStaticIssuer(testIssuer)
	var n calls
	var got, fromCtx *popguard.Result
	r := router(iss.Guard(t), &n, &got, &fromCtx)
	w := do(r, "GET", "/accounts", "Bearer "+accessToken(iss, nil), "")
	if w.Code != http.StatusOK || n.handler != 1 || n.after != 1 {
		t.Fatalf("status %d, handler %d, after %d; body %s", w.Code, n.handler, n.after, w.Body)
	}
	if got == nil || got.Scheme != popguard.Bearer || got.Subject != "alice" || !got.HasScope("accounts:read") {
		t.Fatalf("echopop.Result = %+v", got)
	}
	if fromCtx != got {
		t.Fatalf("popguard.FromContext = %p, echopop.Result = %p; want the same result", fromCtx, got)
	}
}

func TestBearerRejectedOnDPoPOnly(t *testing.T) {
	iss := poptest.NewStaticIssuer(testIssuer)
	var n calls
	var got, fromCtx *popguard.Result
	r := router(iss.Guard(t), &n, &got, &fromCtx)
	w := do(r, "POST", "/transfers", "Bearer "+accessToken(iss, nil), "")
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
	if ch := w.Header().Values("WWW-Authenticate"); len(ch) == 0 || !strings.Contains(strings.Join(ch, ","), "DPoP") {
		t.Fatalf("WWW-Authenticate = %q, want a DPoP challenge", ch)
	}
	if n.handler != 0 || n.after != 0 {
		t.Fatalf("handler ran %d times, later middleware %d times; want 0", n.handler, n.after)
	}
}

func TestDPoPAccepted(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	var n calls
	var got, fromCtx *popguard.Result
	r := router(iss.Guard(t), &n, &got, &fromCtx)
	tok := accessToken(iss, client)
	for _, tc := range []struct{ method, path string }{{"POST", "/transfers"}, {"GET", "/accounts"}} {
		w := do(r, tc.method, tc.path, "DPoP "+tok, client.Proof(tc.method, testAudience+tc.path, tok, poptest.ProofOptions{}))
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d, body %s, WWW-Authenticate %q", tc.method, tc.path, w.Code, w.Body, w.Header().Values("WWW-Authenticate"))
		}
		if got == nil || got.Scheme != popguard.DPoP || got.KeyThumbprint != client.Thumbprint() || fromCtx != got {
			t.Fatalf("%s %s: Result %+v, FromContext %p", tc.method, tc.path, got, fromCtx)
		}
	}
	// The same proof again is a replay.
	proof := client.Proof("POST", testAudience+"/transfers", tok, poptest.ProofOptions{})
	if w := do(r, "POST", "/transfers", "DPoP "+tok, proof); w.Code != http.StatusOK {
		t.Fatalf("first use: %d", w.Code)
	}
	if w := do(r, "POST", "/transfers", "DPoP "+tok, proof); w.Code != http.StatusUnauthorized {
		t.Fatalf("replay: %d, want 401", w.Code)
	}
}

func TestMissingCredentials(t *testing.T) {
	iss := poptest.NewStaticIssuer(testIssuer)
	var n calls
	var got, fromCtx *popguard.Result
	r := router(iss.Guard(t), &n, &got, &fromCtx)
	for _, tc := range []struct{ method, path string }{{"GET", "/accounts"}, {"POST", "/transfers"}} {
		w := do(r, tc.method, tc.path, "", "")
		if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) == 0 {
			t.Fatalf("%s: status %d, WWW-Authenticate %q; want 401 with a challenge", tc.path, w.Code, w.Header().Values("WWW-Authenticate"))
		}
	}
	if n.handler != 0 || n.after != 0 {
		t.Fatalf("handler %d, after %d; want 0", n.handler, n.after)
	}
}

func TestNonceHeaders(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	var n calls
	var got, fromCtx *popguard.Result
	r := router(iss.Guard(t, middleware.WithNonces(staleNonces{})), &n, &got, &fromCtx, middleware.RequireNonce())
	tok := accessToken(iss, client)
	htu := testAudience + "/transfers"
	w := do(r, "POST", "/transfers", "DPoP "+tok, client.Proof("POST", htu, tok, poptest.ProofOptions{}))
	if w.Code != http.StatusUnauthorized || w.Header().Get("DPoP-Nonce") != "new" {
		t.Fatalf("no nonce: status %d, DPoP-Nonce %q", w.Code, w.Header().Get("DPoP-Nonce"))
	}
	w = do(r, "POST", "/transfers", "DPoP "+tok, client.Proof("POST", htu, tok, poptest.ProofOptions{Nonce: "old"}))
	if w.Code != http.StatusOK || w.Header().Get("DPoP-Nonce") != "new" {
		t.Fatalf("stale nonce: status %d, DPoP-Nonce %q, body %s", w.Code, w.Header().Get("DPoP-Nonce"), w.Body)
	}
}

func TestInvalidRouteOptionsPanic(t *testing.T) {
	g := poptest.NewStaticIssuer(testIssuer).Guard(t)
	defer func() {
		if recover() == nil {
			t.Fatal("Require with RequireNonce on a Guard without nonces did not panic")
		}
	}()
	echopop.Require(g, popguard.DPoPOnly, middleware.RequireNonce())
}

func TestResultWithoutRequire(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if echopop.Result(c) != nil {
		t.Fatal("Result on an unprotected route is not nil")
	}
}

// echo routes on the raw path when it differs from the decoded one and
// never removes dot-segments, so "/dpop/%2E%2E/mixed/profile" reaches
// /dpop/*. popguard refuses such paths before any proof is compared.
func TestDotSegmentsRefused(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	p := &routeprobe.Probe{}
	g := iss.Guard(t, p.Option())
	e := echo.New()
	h := func(c echo.Context) error { p.Handled(); return c.String(http.StatusOK, "ok") }
	e.GET("/dpop/*", h, echopop.Require(g, popguard.DPoPOnly))
	e.GET("/mixed/*", h, echopop.Require(g, popguard.Mixed))
	tok := accessToken(iss, client)
	routeprobe.CheckDotSegments(t, routeprobe.Serve(t, e), p, tok, func(path string) string {
		return client.Proof("GET", testAudience+path, tok, poptest.ProofOptions{})
	})
}

// The adapter writes rejections with the route's error handler: the
// Guard's (WithErrorHandler) or the route's own (RouteErrorHandler).
func TestErrorHandlersHonoured(t *testing.T) {
	iss := poptest.NewStaticIssuer(testIssuer)
	guardHandled, routeHandled := 0, 0
	g := iss.Guard(t, middleware.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, rej *middleware.Rejection) {
		guardHandled++
		w.WriteHeader(http.StatusTeapot)
	}))
	rt, err := g.Route(popguard.DPoPOnly, middleware.RouteErrorHandler(func(w http.ResponseWriter, _ *http.Request, rej *middleware.Rejection) {
		routeHandled++
		w.WriteHeader(http.StatusPaymentRequired)
	}))
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	ok := func(c echo.Context) error { t.Error("handler reached"); return c.NoContent(http.StatusOK) }
	e.GET("/guard", ok, echopop.Require(g, popguard.DPoPOnly))
	e.GET("/route", ok, echopop.Handler(rt))
	if w := do(e, "GET", "/guard", "Bearer "+accessToken(iss, nil), ""); w.Code != http.StatusTeapot || guardHandled != 1 {
		t.Errorf("Guard handler: status %d, ran %d times", w.Code, guardHandled)
	}
	if w := do(e, "GET", "/route", "Bearer "+accessToken(iss, nil), ""); w.Code != http.StatusPaymentRequired || routeHandled != 1 || guardHandled != 1 {
		t.Errorf("route handler: status %d, route ran %d times, Guard %d", w.Code, routeHandled, guardHandled)
	}
}

// TestCORSPreflight: a preflight carries no credentials; Require answers it
// 204 instead of 401, and never runs the handler, which must only see
// authenticated callers. An OPTIONS request that is no preflight is
// authenticated like any other.
func TestCORSPreflight(t *testing.T) {
	iss := poptest.NewStaticIssuer(testIssuer)
	var n calls
	var got, fromCtx *popguard.Result
	e := echo.New()
	e.OPTIONS("/transfers", func(c echo.Context) error {
		n.handler++
		got, fromCtx = echopop.Result(c), popguard.FromContext(c.Request().Context())
		return c.NoContent(http.StatusNoContent)
	}, echopop.Require(iss.Guard(t), popguard.DPoPOnly))
	req := httptest.NewRequest("OPTIONS", testAudience+"/transfers", nil)
	req.Header.Set("Origin", "https://app.example.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent || n.handler != 0 || got != nil || fromCtx != nil || w.Header().Get("WWW-Authenticate") != "" || w.Body.Len() != 0 {
		t.Errorf("preflight: %d handler %d result %v %v", w.Code, n.handler, got, fromCtx)
	}
	n.handler = 0
	if w := do(e, "OPTIONS", "/transfers", "", ""); w.Code != http.StatusUnauthorized || n.handler != 0 {
		t.Errorf("OPTIONS without preflight headers: %d handler %d", w.Code, n.handler)
	}
}
