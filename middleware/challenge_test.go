package middleware_test

// Challenges (conformance §1, §3.4; RFC 6750 §3, RFC 9449 §7.1, §7.2).

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

func TestChallengeShapes(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	t.Run("Mixed, no credentials: two challenges, no error", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed), request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`Bearer realm="api"`,
			`DPoP algs="ES256 PS256 RS256 EdDSA"`,
		}, code: popguard.CodeNone, reason: popguard.ReasonNoCredentials})
	})
	t.Run("Mixed, Bearer failure: error on Bearer only", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer "+h.expired()))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`Bearer realm="api", error="invalid_token", error_description="The access token expired"`,
			`DPoP algs="ES256 PS256 RS256 EdDSA"`,
		}, code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenExpired, scheme: popguard.Bearer})
	})
	t.Run("Mixed, DPoP failure: error on DPoP only, listed first", func(t *testing.T) {
		tok := h.bound()
		resp := h.do(h.route(popguard.Mixed), request("POST", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof htm does not match the request method", algs="ES256 PS256 RS256 EdDSA"`,
			`Bearer realm="api"`,
		}, code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofHTM, scheme: popguard.DPoP})
	})
	t.Run("key binding failure: RFC 9449 Figure 16", func(t *testing.T) {
		tok := h.bound()
		other := poptest.NewClient()
		resp := h.do(h.route(popguard.DPoPOnly), request("GET", target, "Authorization", "DPoP "+tok, "DPoP",
			h.proofWith(other, "GET", target, tok, poptest.ProofOptions{})))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`DPoP error="invalid_token", error_description="Invalid DPoP key binding", algs="ES256 PS256 RS256 EdDSA"`,
		}, code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenKeyBinding, scheme: popguard.DPoP})
	})
	t.Run("several Authorization lines: error on every challenge", func(t *testing.T) {
		tok := h.bound()
		resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer "+tok, "Authorization", "DPoP "+tok))
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: []string{
			`Bearer realm="api", error="invalid_request", error_description="Multiple methods used to include access token"`,
			`DPoP error="invalid_request", error_description="Multiple methods used to include access token", algs="ES256 PS256 RS256 EdDSA"`,
		}, code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleAuthorization})
	})
}

// TestChallengeOrderStable: one route answers the same request the same way
// every time, whatever it answered before.
func TestChallengeOrderStable(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	route := h.route(popguard.Mixed)
	want := []string{bearerPlain, dpopPlain}
	if got := h.do(route, request("GET", target)).header.Values("WWW-Authenticate"); !slices.Equal(got, want) {
		t.Fatalf("first answer %q, want %q", got, want)
	}
	tok := h.bound()
	h.do(route, request("GET", target, "Authorization", "DPoP "+tok)) // a DPoP failure
	got := h.do(route, request("GET", target)).header.Values("WWW-Authenticate")
	if !slices.Equal(got, want) {
		t.Fatalf("after one DPoP failure a Mixed route answers later requests with %q, want %q", got, want)
	}
}

func TestRealmAndAlgs(t *testing.T) {
	pv, err := validate.NewProofVerifier(validate.Algs("ES256", "EdDSA"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithRealm("payments API"), middleware.WithProofVerifier(pv))
	t.Run("no credentials", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed), request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`Bearer realm="payments API"`, `DPoP algs="ES256 EdDSA"`,
		}, code: popguard.CodeNone, reason: popguard.ReasonNoCredentials})
	})
	t.Run("proof with an algorithm no longer allowed", func(t *testing.T) {
		k := newClient(t, "ES384")
		tok := h.token(signBound(k))
		resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "DPoP "+tok, "DPoP",
			h.proofWith(k, "GET", target, tok, poptest.ProofOptions{})))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`DPoP error="invalid_dpop_proof", error_description="The DPoP proof alg is not allowed", algs="ES256 EdDSA"`,
			`Bearer realm="payments API"`,
		}, code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofAlg, scheme: popguard.DPoP})
	})
	t.Run("EdDSA proof accepted", func(t *testing.T) {
		k := newClient(t, "EdDSA")
		tok := h.token(signBound(k))
		resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "DPoP "+tok, "DPoP",
			h.proofWith(k, "GET", target, tok, poptest.ProofOptions{})))
		h.expectAccepted(t, resp, withJKT(bob, k), middleware.Accepted)
	})
}

// signBound is bob's token options bound to k.
func signBound(k *poptest.Client) poptest.TokenOptions {
	return poptest.TokenOptions{Subject: bob.Subject, ClientID: bob.ClientID, Scope: "read transfer", DPoP: k}
}

// TestNoAttackerBytesInHeaders injects quotes, backslashes, CR/LF and
// non-ASCII wherever a client controls bytes, and checks that no response
// header carries them: every value is printable ASCII, every challenge
// parses, and the marker never shows up in a header or body.
func TestNoAttackerBytesInHeaders(t *testing.T) {
	const evil = "EVIL\"\\\r\n\u00e9\u202e"
	pub := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(newNonces(t, nil)))
	host := newHarness(t, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8"), middleware.WithInsecureHostFromRequest(), middleware.WithNonces(newNonces(t, nil)))
	tok := pub.bound()
	// signed is a proof by h.key for GET target over tok, with header and
	// claims set in its JOSE header and payload.
	signed := func(h *harness, header, claims map[string]any) string {
		return h.proofWith(h.key, "GET", target, tok, poptest.ProofOptions{Claims: claims, Header: header})
	}
	cases := []struct {
		name string
		h    *harness
		req  func() *http.Request
	}{
		{"quote in token", pub, func() *http.Request { return request("GET", target, "Authorization", "Bearer a"+evil) }},
		{"evil scheme", pub, func() *http.Request { return request("GET", target, "Authorization", evil+" abc") }},
		{"evil DPoP value", pub, func() *http.Request { return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", evil) }},
		{"evil jti", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, nil, map[string]any{"jti": evil, "htm": "PUT"}))
		}},
		{"evil htu", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, nil, map[string]any{"htu": "https://api.test/" + evil}))
		}},
		{"evil htm", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, nil, map[string]any{"htm": evil}))
		}},
		{"evil typ", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, map[string]any{"typ": evil}, nil))
		}},
		{"evil alg", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, map[string]any{"alg": evil}, nil))
		}},
		{"evil nonce", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, nil, map[string]any{"nonce": evil}))
		}},
		{"evil claim types", pub, func() *http.Request {
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", signed(pub, nil, map[string]any{"iat": evil}))
		}},
		{"evil token claims", pub, func() *http.Request {
			bad := pub.token(poptest.TokenOptions{Subject: evil, ClientID: evil, Scope: evil, Claims: map[string]any{"iss": evil}})
			return request("GET", target, "Authorization", "Bearer "+bad)
		}},
		{"evil token typ", pub, func() *http.Request {
			bad := pub.token(poptest.TokenOptions{Subject: "x", ClientID: "y", Typ: evil})
			return request("GET", target, "Authorization", "Bearer "+bad)
		}},
		{"evil Host", host, func() *http.Request {
			r := request("GET", "/r", "Authorization", "DPoP "+tok, "DPoP", host.proof("GET", "http://api.test/r", tok))
			r.Host = "api.test" + evil
			return r
		}},
		{"evil X-Forwarded-Host from a trusted proxy", host, func() *http.Request {
			r := request("GET", "/r", "Authorization", "DPoP "+tok, "DPoP", host.proof("GET", "http://api.test/r", tok), "X-Forwarded-Host", evil)
			r.RemoteAddr = "10.1.2.3:555"
			return r
		}},
		{"evil Forwarded proto", host, func() *http.Request {
			r := request("GET", "/r", "Authorization", "DPoP "+tok, "DPoP", host.proof("GET", "http://api.test/r", tok), "Forwarded", "proto="+evil)
			r.RemoteAddr = "10.1.2.3:555"
			return r
		}},
		{"evil path", pub, func() *http.Request {
			r := request("GET", target, "Authorization", "DPoP "+tok, "DPoP", pub.proof("GET", target, tok))
			r.URL.Path = "/" + evil
			r.URL.RawPath = ""
			return r
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := c.h.do(c.h.route(popguard.Mixed, middleware.RequireNonce()), c.req())
			if resp.status != 400 && resp.status != 401 {
				t.Errorf("status = %d, want 400 or 401", resp.status)
			}
			checkHeadersSafe(t, resp.header)
			for name, vals := range resp.header {
				for _, v := range vals {
					if strings.Contains(v, "EVIL") {
						t.Errorf("header %s = %q echoes attacker bytes", name, v)
					}
				}
			}
			if strings.Contains(string(resp.body), "EVIL") {
				t.Errorf("body %q echoes attacker bytes", resp.body)
			}
			if c.h.calls.Load() != 0 {
				t.Error("protected handler called")
			}
		})
	}
}

func TestInsufficientScope(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	t.Run("Bearer", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed, middleware.RequireScopes("read", "admin")),
			request("GET", target, "Authorization", "Bearer "+h.unbound()))
		h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
			// The token has read: the challenges name what it lacks.
			`Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="admin"`,
			`DPoP scope="admin", algs="` + defaultAlgs + `"`,
		}, code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientScope, scheme: popguard.Bearer})
	})
	t.Run("every scope missing", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed, middleware.RequireScopes("admin", "audit")),
			request("GET", target, "Authorization", "Bearer "+h.unbound()))
		h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
			`Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required scope", scope="admin audit"`,
			`DPoP scope="admin audit", algs="` + defaultAlgs + `"`,
		}, code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientScope, scheme: popguard.Bearer})
	})
	t.Run("no credentials: 401 names the scopes the route needs", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed, middleware.RequireScopes("read", "admin")), request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`Bearer realm="api", scope="read admin"`,
			`DPoP scope="read admin", algs="` + defaultAlgs + `"`,
		}, reason: popguard.ReasonNoCredentials})
	})
	t.Run("DPoP", func(t *testing.T) {
		tok := h.bound()
		resp := h.do(h.route(popguard.DPoPOnly, middleware.RequireScopes("admin")),
			request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
		h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
			`DPoP error="insufficient_scope", error_description="The access token does not grant the required scope", scope="admin", algs="` + defaultAlgs + `"`,
		}, code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientScope, scheme: popguard.DPoP})
	})
	t.Run("enough scope", func(t *testing.T) {
		tok := h.bound()
		resp := h.do(h.route(popguard.DPoPOnly, middleware.RequireScopes("transfer"), middleware.RequireScopes("read")),
			request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
	})
}

// TestErrorHandler: a custom ErrorHandler receives the complete Rejection and
// decides the body; the default writes {"error","error_description"}.
func TestErrorHandler(t *testing.T) {
	var got []*middleware.Rejection
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithErrorHandler(
		func(w http.ResponseWriter, r *http.Request, rej *middleware.Rejection) {
			got = append(got, rej)
			for k, v := range rej.Header {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(rej.Status)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "about:blank", "status": rej.Status, "title": string(rej.Err.Reason)})
		}))
	tok := h.bound()
	resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer "+tok))
	if len(got) != 1 {
		t.Fatalf("error handler called %d times", len(got))
	}
	rej := got[0]
	if rej.Status != 401 || rej.Err.Code != popguard.CodeInvalidToken || rej.Err.Reason != popguard.ReasonTokenBoundUsedAsBearer ||
		rej.Err.Description != descBoundAsBearer {
		t.Errorf("rejection = %d %+v", rej.Status, rej.Err)
	}
	if want := []string{bearerErr(popguard.CodeInvalidToken, descBoundAsBearer), dpopPlain}; !slices.Equal(rej.Header.Values("WWW-Authenticate"), want) {
		t.Errorf("rej.Header WWW-Authenticate = %q, want %q", rej.Header.Values("WWW-Authenticate"), want)
	}
	if resp.status != 401 || resp.header.Get("Content-Type") != "application/problem+json" ||
		!strings.Contains(string(resp.body), `"title":"token_bound_used_as_bearer"`) {
		t.Errorf("custom answer = %d %q %s", resp.status, resp.header.Get("Content-Type"), resp.body)
	}
	if h.calls.Load() != 0 {
		t.Error("protected handler called")
	}
}

func TestDefaultBody(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer "+h.expired()))
	var body map[string]any
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"error": "invalid_token", "error_description": "The access token expired"}
	if len(body) != 2 || body["error"] != want["error"] || body["error_description"] != want["error_description"] {
		t.Errorf("body = %v, want %v", body, want)
	}
	if got := resp.header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	// A challenge without error has no body.
	resp = h.do(h.route(popguard.Mixed), request("GET", target))
	if len(resp.body) != 0 || resp.header.Get("Content-Type") != "" {
		t.Errorf("no-credentials answer has body %q, Content-Type %q", resp.body, resp.header.Get("Content-Type"))
	}
}

// TestCheck: Route.Check authenticates without writing, for frameworks;
// its error is a *Rejection that matches the popguard error it carries, and
// Route.WriteRejection writes it with the route's error handler.
func TestCheck(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	var routeHandled []*middleware.Rejection
	rt, err := h.guard.Route(popguard.DPoPOnly, middleware.RouteErrorHandler(func(w http.ResponseWriter, r *http.Request, rej *middleware.Rejection) {
		routeHandled = append(routeHandled, rej)
		w.WriteHeader(rej.Status)
	}))
	if err != nil {
		t.Fatal(err)
	}
	tok := h.bound()
	res, hdr, err := rt.Check(request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
	if err != nil || res == nil || res.Scheme != popguard.DPoP || res.Subject != bob.Subject || res.KeyThumbprint != h.key.Thumbprint() || len(hdr) != 0 {
		t.Errorf("Check(valid DPoP) = %+v, %v, %v", res, hdr, err)
	}
	res, _, err = rt.Check(request("GET", target))
	var rej *middleware.Rejection
	if res != nil || !errors.As(err, &rej) || rej.Status != 401 || !slices.Equal(rej.Header.Values("WWW-Authenticate"), []string{dpopPlain}) ||
		!errors.Is(err, popguard.ReasonNoCredentials) || err.Error() != "no credentials (no_credentials)" {
		t.Errorf("Check(no credentials) = %+v, %v", res, err)
	}
	w := httptest.NewRecorder()
	rt.WriteRejection(w, request("GET", target), err)
	if w.Code != 401 || len(routeHandled) != 1 || routeHandled[0] != rej {
		t.Errorf("WriteRejection: status %d, route handler saw %v", w.Code, routeHandled)
	}
	if _, _, rejs := h.cap.snapshot(); len(rejs) != 0 {
		t.Errorf("the Guard's error handler ran %d times for a route with its own", len(rejs))
	}
	if h.calls.Load() != 0 {
		t.Error("Check called a handler")
	}
}

// A route's error handler replaces the Guard's for that route only.
func TestRouteErrorHandler(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	own := 0
	rt, err := h.guard.Route(popguard.DPoPOnly, middleware.RouteErrorHandler(func(w http.ResponseWriter, _ *http.Request, rej *middleware.Rejection) {
		own++
		w.WriteHeader(http.StatusTeapot)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if resp := h.do(rt.Handler(h.protected()), request("GET", target, "Authorization", "Bearer "+h.unbound())); resp.status != http.StatusTeapot || own != 1 {
		t.Errorf("route with its own handler: status %d, own handler ran %d times", resp.status, own)
	}
	if _, _, rejs := h.cap.snapshot(); len(rejs) != 0 {
		t.Errorf("Guard handler ran for a route with its own")
	}
	if resp := h.do(h.route(popguard.DPoPOnly), request("GET", target, "Authorization", "Bearer "+h.unbound())); resp.status != 401 || own != 1 {
		t.Errorf("other route: status %d, own handler ran %d times", resp.status, own)
	}
	if _, _, rejs := h.cap.snapshot(); len(rejs) != 1 {
		t.Errorf("Guard handler ran %d times for a route without its own, want 1", len(rejs))
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("protected handler ran %d times", n)
	}
}
