// Package adaptertest is the behaviour every web-framework adapter of
// popguard (ginpop, echopop) must show, as one suite each adapter's tests
// run against routers built with its own framework: Bearer and DPoP
// accepted where the mode allows, refusals that stop the framework's
// chain, nonces, dot-segment paths, error handlers and CORS preflights.
package adaptertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/routeprobe"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

// Issuer and Audience are the issuer of the suite's tokens and the public
// URL of the Guards it builds.
const (
	Issuer   = "https://issuer.example.test"
	Audience = poptest.DefaultAudience
)

// Calls is what a protected handler saw: how often it and the middleware
// after the adapter's ran, the adapter's Result and popguard.FromContext.
type Calls struct {
	After, Handler int
	Got, FromCtx   *popguard.Result
}

// Adapter builds routers with one framework. Each protected handler
// counts into Calls.Handler, records the adapter's Result and
// popguard.FromContext in Got and FromCtx, and answers 200 "ok" (204 for
// OPTIONS).
type Adapter struct {
	// Routes protects POST /transfers (DPoPOnly, on the route) and GET
	// /accounts (Mixed, on a route group), each with opts and followed by
	// a middleware that counts into Calls.After.
	Routes func(g *middleware.Guard, c *Calls, opts ...middleware.RouteOption) http.Handler
	// Wildcards protects GET /dpop/* (DPoPOnly) and GET /mixed/* (Mixed)
	// with handlers that call handled.
	Wildcards func(g *middleware.Guard, handled func()) http.Handler
	// Errors protects GET /guard with the adapter's Require(g, DPoPOnly)
	// and GET /route with its Handler(rt); their handler calls reached.
	Errors func(g *middleware.Guard, rt *middleware.Route, reached func()) http.Handler
	// Preflight protects OPTIONS /transfers (DPoPOnly).
	Preflight func(g *middleware.Guard, c *Calls) http.Handler
	// Require calls the adapter's Require, which panics on a bad option.
	Require func(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption)
}

// Run runs the suite against a.
func Run(t *testing.T, a Adapter) {
	t.Run("BearerAcceptedOnMixed", func(t *testing.T) { bearerAcceptedOnMixed(t, a) })
	t.Run("BearerRejectedOnDPoPOnly", func(t *testing.T) { bearerRejectedOnDPoPOnly(t, a) })
	t.Run("DPoPAccepted", func(t *testing.T) { dpopAccepted(t, a) })
	t.Run("MissingCredentials", func(t *testing.T) { missingCredentials(t, a) })
	t.Run("NonceHeaders", func(t *testing.T) { nonceHeaders(t, a) })
	t.Run("InvalidRouteOptionsPanic", func(t *testing.T) { invalidOptionsPanic(t, a) })
	t.Run("DotSegmentsRefused", func(t *testing.T) { dotSegments(t, a) })
	t.Run("ErrorHandlersHonoured", func(t *testing.T) { errorHandlers(t, a) })
	t.Run("CORSPreflight", func(t *testing.T) { preflight(t, a) })
}

// AccessToken mints alice's RFC 9068 at+jwt; client, when not nil, binds
// it to the client's key for DPoP.
func AccessToken(iss *poptest.Issuer, client *poptest.Client) string {
	return iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "app",
		Scope: "accounts:read transfers:write", DPoP: client})
}

// Do sends one request to r.
func Do(r http.Handler, method, path, auth, proof string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, Audience+path, nil)
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

func bearerAcceptedOnMixed(t *testing.T, a Adapter) {
	iss := poptest.NewStaticIssuer(Issuer)
	var c Calls
	r := a.Routes(iss.Guard(t), &c)
	w := Do(r, "GET", "/accounts", "Bearer "+AccessToken(iss, nil), "")
	if w.Code != http.StatusOK || c.Handler != 1 || c.After != 1 {
		t.Fatalf("status %d, handler %d, after %d; body %s", w.Code, c.Handler, c.After, w.Body)
	}
	if c.Got == nil || c.Got.Scheme != popguard.Bearer || c.Got.Subject != "alice" || !c.Got.HasScope("accounts:read") {
		t.Fatalf("Result = %+v", c.Got)
	}
	if c.FromCtx != c.Got {
		t.Fatalf("popguard.FromContext = %p, the adapter's Result = %p; want the same result", c.FromCtx, c.Got)
	}
}

func bearerRejectedOnDPoPOnly(t *testing.T, a Adapter) {
	iss := poptest.NewStaticIssuer(Issuer)
	var c Calls
	r := a.Routes(iss.Guard(t), &c)
	w := Do(r, "POST", "/transfers", "Bearer "+AccessToken(iss, nil), "")
	if w.Code != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", w.Code)
	}
	if ch := w.Header().Values("WWW-Authenticate"); len(ch) == 0 || !strings.Contains(strings.Join(ch, ","), "DPoP") {
		t.Fatalf("WWW-Authenticate = %q, want a DPoP challenge", ch)
	}
	if c.Handler != 0 || c.After != 0 {
		t.Fatalf("handler ran %d times, later middleware %d times; want 0 (the chain stops)", c.Handler, c.After)
	}
}

func dpopAccepted(t *testing.T, a Adapter) {
	iss, client := poptest.NewStaticIssuer(Issuer), poptest.NewClient()
	var c Calls
	r := a.Routes(iss.Guard(t), &c)
	tok := AccessToken(iss, client)
	for _, tc := range []struct{ method, path string }{{"POST", "/transfers"}, {"GET", "/accounts"}} {
		w := Do(r, tc.method, tc.path, "DPoP "+tok, client.Proof(tc.method, Audience+tc.path, tok, poptest.ProofOptions{}))
		if w.Code != http.StatusOK {
			t.Fatalf("%s %s: status %d, body %s, WWW-Authenticate %q", tc.method, tc.path, w.Code, w.Body, w.Header().Values("WWW-Authenticate"))
		}
		if c.Got == nil || c.Got.Scheme != popguard.DPoP || c.Got.KeyThumbprint != client.Thumbprint() || c.FromCtx != c.Got {
			t.Fatalf("%s %s: Result %+v, FromContext %p", tc.method, tc.path, c.Got, c.FromCtx)
		}
	}
	// The same proof again is a replay.
	proof := client.Proof("POST", Audience+"/transfers", tok, poptest.ProofOptions{})
	if w := Do(r, "POST", "/transfers", "DPoP "+tok, proof); w.Code != http.StatusOK {
		t.Fatalf("first use: %d", w.Code)
	}
	if w := Do(r, "POST", "/transfers", "DPoP "+tok, proof); w.Code != http.StatusUnauthorized {
		t.Fatalf("replay: %d, want 401", w.Code)
	}
}

func missingCredentials(t *testing.T, a Adapter) {
	iss := poptest.NewStaticIssuer(Issuer)
	var c Calls
	r := a.Routes(iss.Guard(t), &c)
	for _, tc := range []struct{ method, path string }{{"GET", "/accounts"}, {"POST", "/transfers"}} {
		w := Do(r, tc.method, tc.path, "", "")
		if w.Code != http.StatusUnauthorized || len(w.Header().Values("WWW-Authenticate")) == 0 {
			t.Fatalf("%s: status %d, WWW-Authenticate %q; want 401 with a challenge", tc.path, w.Code, w.Header().Values("WWW-Authenticate"))
		}
	}
	if c.Handler != 0 || c.After != 0 {
		t.Fatalf("handler %d, after %d; want 0", c.Handler, c.After)
	}
}

// staleNonces accepts "old" but asks for rotation, so an accepted request
// carries a DPoP-Nonce response header.
type staleNonces struct{}

func (staleNonces) Issue() string { return "new" }
func (staleNonces) Check(n string) (bool, error) {
	switch n {
	case "old":
		return false, nil
	case "new":
		return true, nil
	}
	return false, fmt.Errorf("unknown nonce")
}

func nonceHeaders(t *testing.T, a Adapter) {
	iss, client := poptest.NewStaticIssuer(Issuer), poptest.NewClient()
	var c Calls
	r := a.Routes(iss.Guard(t, middleware.WithNonces(staleNonces{})), &c, middleware.RequireNonce())
	tok := AccessToken(iss, client)
	htu := Audience + "/transfers"
	// No nonce: 401 use_dpop_nonce with a DPoP-Nonce header from the rejection.
	w := Do(r, "POST", "/transfers", "DPoP "+tok, client.Proof("POST", htu, tok, poptest.ProofOptions{}))
	if w.Code != http.StatusUnauthorized || w.Header().Get("DPoP-Nonce") != "new" {
		t.Fatalf("no nonce: status %d, DPoP-Nonce %q", w.Code, w.Header().Get("DPoP-Nonce"))
	}
	// A valid but stale nonce: accepted, with the next nonce on the response.
	w = Do(r, "POST", "/transfers", "DPoP "+tok, client.Proof("POST", htu, tok, poptest.ProofOptions{Nonce: "old"}))
	if w.Code != http.StatusOK || w.Header().Get("DPoP-Nonce") != "new" {
		t.Fatalf("stale nonce: status %d, DPoP-Nonce %q, body %s", w.Code, w.Header().Get("DPoP-Nonce"), w.Body)
	}
}

func invalidOptionsPanic(t *testing.T, a Adapter) {
	g := poptest.NewStaticIssuer(Issuer).Guard(t)
	defer func() {
		if recover() == nil {
			t.Fatal("Require with RequireNonce on a Guard without nonces did not panic")
		}
	}()
	a.Require(g, popguard.DPoPOnly, middleware.RequireNonce())
}

// Routers disagree on dot-segments (gin routes on the decoded path, echo
// on the raw one, neither removes them), so "/dpop/../mixed/profile" may
// reach /dpop/*. popguard refuses such paths before any proof is compared.
func dotSegments(t *testing.T, a Adapter) {
	iss, client := poptest.NewStaticIssuer(Issuer), poptest.NewClient()
	p := &routeprobe.Probe{}
	r := a.Wildcards(iss.Guard(t, p.Option()), p.Handled)
	tok := AccessToken(iss, client)
	routeprobe.CheckDotSegments(t, routeprobe.Serve(t, r), p, tok, func(path string) string {
		return client.Proof("GET", Audience+path, tok, poptest.ProofOptions{})
	})
}

// The adapter writes rejections with the route's error handler: the
// Guard's (WithErrorHandler) or the route's own (RouteErrorHandler).
func errorHandlers(t *testing.T, a Adapter) {
	iss := poptest.NewStaticIssuer(Issuer)
	guardHandled, routeHandled := 0, 0
	g := iss.Guard(t, middleware.WithErrorHandler(func(w http.ResponseWriter, _ *http.Request, _ *middleware.Rejection) {
		guardHandled++
		w.WriteHeader(http.StatusTeapot)
	}))
	rt, err := g.Route(popguard.DPoPOnly, middleware.RouteErrorHandler(func(w http.ResponseWriter, _ *http.Request, _ *middleware.Rejection) {
		routeHandled++
		w.WriteHeader(http.StatusPaymentRequired)
	}))
	if err != nil {
		t.Fatal(err)
	}
	r := a.Errors(g, rt, func() { t.Error("handler reached") })
	if w := Do(r, "GET", "/guard", "Bearer "+AccessToken(iss, nil), ""); w.Code != http.StatusTeapot || guardHandled != 1 {
		t.Errorf("Guard handler: status %d, ran %d times", w.Code, guardHandled)
	}
	if w := Do(r, "GET", "/route", "Bearer "+AccessToken(iss, nil), ""); w.Code != http.StatusPaymentRequired || routeHandled != 1 || guardHandled != 1 {
		t.Errorf("route handler: status %d, route ran %d times, Guard %d", w.Code, routeHandled, guardHandled)
	}
}

// A preflight carries no credentials; Require answers it 204 instead of
// 401, and never runs the handler, which must only see authenticated
// callers. An OPTIONS request that is no preflight is authenticated like
// any other.
func preflight(t *testing.T, a Adapter) {
	iss := poptest.NewStaticIssuer(Issuer)
	var c Calls
	r := a.Preflight(iss.Guard(t), &c)
	req := httptest.NewRequest("OPTIONS", Audience+"/transfers", nil)
	req.Header.Set("Origin", "https://app.example.test")
	req.Header.Set("Access-Control-Request-Method", "POST")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusNoContent || c.Handler != 0 || c.Got != nil || c.FromCtx != nil || w.Header().Get("WWW-Authenticate") != "" || w.Body.Len() != 0 {
		t.Errorf("preflight: %d handler %d result %v %v", w.Code, c.Handler, c.Got, c.FromCtx)
	}
	c.Handler = 0
	if w := Do(r, "OPTIONS", "/transfers", "", ""); w.Code != http.StatusUnauthorized || c.Handler != 0 {
		t.Errorf("OPTIONS without preflight headers: %d handler %d", w.Code, c.Handler)
	}
}
