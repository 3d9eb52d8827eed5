package middleware_test

// The Result handed to a handler belongs to that request.

import (
	"net/http"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// TestResultIsolated: a handler that edits its popguard.Result (Scopes,
// Claims) must not change what the Guard decides for the next request with
// the same token. With the verified-token cache on by default, the Result
// shares the cached Token's slices and map.
func TestResultIsolated(t *testing.T) {
	for _, c := range []struct {
		name string
		opts []middleware.Option
	}{
		{"without token cache", []middleware.Option{middleware.WithoutTokenCache()}},
		{"default (token cache on)", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, append([]middleware.Option{middleware.WithPublicURL(publicURL)}, c.opts...)...)
			tok := h.unbound()
			rt, err := h.guard.Route(popguard.Mixed)
			if err != nil {
				t.Fatal(err)
			}
			tamper := rt.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				res := popguard.FromContext(r.Context())
				res.Scopes[0] = "admin" // a handler "normalizing" scopes in place
				res.Claims["scope"] = "admin"
			}))
			if resp := h.do(tamper, request("GET", target, "Authorization", "Bearer "+tok)); resp.status != 200 {
				t.Fatalf("first request: %d", resp.status)
			}
			resp := h.do(h.route(popguard.Mixed, middleware.RequireScopes("admin")), request("GET", target, "Authorization", "Bearer "+tok))
			if resp.status == http.StatusOK {
				t.Fatal("a handler writing res.Scopes[0] changed the cached token: the next request passed RequireScopes(\"admin\")")
			}
			h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
				`Bearer realm="api", error="insufficient_scope", error_description="` + descScope + `", scope="admin"`, `DPoP scope="admin", algs="` + defaultAlgs + `"`},
				code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientScope, scheme: popguard.Bearer})
		})
	}
}
