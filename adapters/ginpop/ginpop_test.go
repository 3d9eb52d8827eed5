package ginpop_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/ginpop"
	"github.com/popguard/popguard/internal/routeprobe"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

func init() { gin.SetMode(gin.TestMode) }

type calls struct{ after, handler int }

// router protects POST /transfers (DPoPOnly) and GET /accounts (Mixed).
// Each route has a second middleware after Require, to check that Abort
// stops the chain. got receives what the handler saw.
func router(g *middleware.Guard, n *calls, got **popguard.Result, fromCtx **popguard.Result, opts ...middleware.RouteOption) *gin.Engine {
	r := gin.New()
	after := func(c *gin.Context) { n.after++; c.Next() }
	h := func(c *gin.Context) {
		n.handler++
		*got = ginpop.Result(c)
		*fromCtx = popguard.FromContext(c.Request.Context())
		c.String(http.StatusOK, "ok")
	}
	r.POST("/transfers", ginpop.Require(g, popguard.DPoPOnly, opts...), after, h)
	r.Group("/accounts", ginpop.Require(g, popguard.Mixed, opts...), after).GET("", h)
	return r
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
		t.Fatalf("ginpop.Result = %+v", got)
	}
	if fromCtx != got {
		t.Fatalf("popguard.FromContext = %p, ginpop.Result = %p; want the same result", fromCtx, got)
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
		t.Fatalf("handler ran %d times, later middleware %d times; want 0 (Abort)", n.handler, n.after)
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
	for _, path := range []string{"/accounts", "/transfers"} {
		method := map[string]string{"/accounts": "GET", "/transfers": "POST"}[path]
		w := do(r, method, path, "", "")
		if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) == 0 {
			t.Fatalf("%s: status %d, WWW-Authenticate %q; want 401 with a challenge", path, w.Code, w.Header().Values("WWW-Authenticate"))
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
	// No nonce: 401 use_dpop_nonce with a DPoP-Nonce header from the rejection.
	w := do(r, "POST", "/transfers", "DPoP "+tok, client.Proof("POST", htu, tok, poptest.ProofOptions{}))
	if w.Code != http.StatusUnauthorized || w.Header().Get("DPoP-Nonce") != "new" {
		t.Fatalf("no nonce: status %d, DPoP-Nonce %q", w.Code, w.Header().Get("DPoP-Nonce"))
	}
	// A valid but stale nonce: accepted, with the next nonce on the response.
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
	ginpop.Require(g, popguard.DPoPOnly, middleware.RequireNonce())
}

func TestResultWithoutRequire(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	if ginpop.Result(c) != nil {
		t.Fatal("Result on an unprotected route is not nil")
	}
}

// gin routes on the decoded path (r.URL.Path) and does not remove
// dot-segments, so "/dpop/../mixed/profile" and ".../a%2F..%2F..." reach
// /dpop/*any. popguard refuses them before any proof is compared.
func TestDotSegmentsRefused(t *testing.T) {
	iss, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	p := &routeprobe.Probe{}
	g := iss.Guard(t, p.Option())
	r := gin.New()
	h := func(c *gin.Context) { p.Handled(); c.String(http.StatusOK, "ok") }
	r.GET("/dpop/*any", ginpop.Require(g, popguard.DPoPOnly), h)
	r.GET("/mixed/*any", ginpop.Require(g, popguard.Mixed), h)
	tok := accessToken(iss, client)
	routeprobe.CheckDotSegments(t, routeprobe.Serve(t, r), p, tok, func(path string) string {
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
	r := gin.New()
	ok := func(c *gin.Context) { t.Error("handler reached"); c.Status(http.StatusOK) }
	r.GET("/guard", ginpop.Require(g, popguard.DPoPOnly), ok)
	r.GET("/route", ginpop.Handler(rt), ok)
	if w := do(r, "GET", "/guard", "Bearer "+accessToken(iss, nil), ""); w.Code != http.StatusTeapot || guardHandled != 1 {
		t.Errorf("Guard handler: status %d, ran %d times", w.Code, guardHandled)
	}
	if w := do(r, "GET", "/route", "Bearer "+accessToken(iss, nil), ""); w.Code != http.StatusPaymentRequired || routeHandled != 1 || guardHandled != 1 {
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
	r := gin.New()
	r.OPTIONS("/transfers", ginpop.Require(iss.Guard(t), popguard.DPoPOnly), func(c *gin.Context) {
		n.handler++
		got, fromCtx = ginpop.Result(c), popguard.FromContext(c.Request.Context())
		c.Status(http.StatusNoContent)
	})
	req := httptest.NewRequest("OPTIONS", testAudience+"/transfers", nil)
	req.Header.Set("Origin", "https://app.example.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent || n.handler != 0 || got != nil || fromCtx != nil || w.Header().Get("WWW-Authenticate") != "" || w.Body.Len() != 0 {
		t.Errorf("preflight: %d handler %d result %v %v", w.Code, n.handler, got, fromCtx)
	}
	n.handler = 0
	if w := do(r, "OPTIONS", "/transfers", "", ""); w.Code != http.StatusUnauthorized || n.handler != 0 {
		t.Errorf("OPTIONS without preflight headers: %d handler %d", w.Code, n.handler)
	}
}
