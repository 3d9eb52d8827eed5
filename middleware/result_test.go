package middleware_test

// The Result handed to a handler belongs to that request.

import (
	"net/http"
	"slices"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
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

// TestResultListsSeparate: Audience, Scopes and Roles of a Result share one
// backing array, so an append to one must not write into the next, on this
// request or on a later one with the same cached token.
func TestResultListsSeparate(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	tok := h.token(poptest.TokenOptions{Subject: alice.Subject, ClientID: alice.ClientID, Scope: "read write", Roles: []string{"reader"}})
	var seen [][]string
	for range 2 {
		rt, err := h.guard.Route(popguard.Mixed)
		if err != nil {
			t.Fatal(err)
		}
		handler := rt.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			res := popguard.FromContext(r.Context())
			seen = append(seen, slices.Concat(res.Audience, []string{"|"}, res.Scopes, []string{"|"}, res.Roles))
			res.Audience = append(res.Audience, "admin-aud")
			res.Scopes = append(res.Scopes, "admin")
			res.Roles = append(res.Roles, "admin")
			if !slices.Equal(res.Scopes, []string{"read", "write", "admin"}) || !slices.Equal(res.Roles, []string{"reader", "admin"}) {
				t.Errorf("appends ran into each other: scopes %q, roles %q", res.Scopes, res.Roles)
			}
		}))
		if resp := h.do(handler, request("GET", target, "Authorization", "Bearer "+tok)); resp.status != 200 {
			t.Fatalf("status %d", resp.status)
		}
	}
	want := []string{audience, "|", "read", "write", "|", "reader"}
	for i, got := range seen {
		if !slices.Equal(got, want) {
			t.Fatalf("request %d saw %q, want %q", i, got, want)
		}
	}
}
