// Package api is the protected API shared by examples/server and
// examples/demo: four route prefixes, one per mode, answering who called.
package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// Routes returns the example API: /healthz without auth, and /bearer/,
// /mixed/, /dpop/ and /pop/ (any method, any sub-path) under their modes.
// routeOpts apply to the proof routes (for example RequireNonce).
func Routes(g *middleware.Guard, routeOpts ...middleware.RouteOption) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	who := http.HandlerFunc(WhoAmI)
	mux.Handle("/bearer/", g.Require(popguard.BearerOnly, middleware.Name("bearer"))(who))
	mux.Handle("/mixed/", g.Require(popguard.Mixed, append([]middleware.RouteOption{middleware.Name("mixed")}, routeOpts...)...)(who))
	mux.Handle("/dpop/", g.Require(popguard.DPoPOnly, append([]middleware.RouteOption{middleware.Name("dpop")}, routeOpts...)...)(who))
	if g.Supports(popguard.PoP) {
		mux.Handle("/pop/", g.Require(popguard.PoPOnly, append([]middleware.RouteOption{middleware.Name("pop")}, routeOpts...)...)(who))
	}
	return mux
}

// Answer is the JSON body of a successful call.
type Answer struct {
	Scheme   string `json:"scheme"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	JKT      string `json:"jkt,omitempty"`
	// X5tS256 is the client certificate's thumbprint for a certificate-bound
	// token (RFC 8705).
	X5tS256 string `json:"x5t#S256,omitempty"`
	Method  string `json:"method"`
	Path    string `json:"path"`
	// ClientClaims are the client's own claims (popguard.Result.ClientClaims):
	// msal-browser's client_claims, or a DPoP proof's claims beyond RFC
	// 9449's. Absent when there are none.
	ClientClaims map[string]any `json:"client_claims,omitempty"`
}

// WhoAmI answers with the authenticated caller; behind the guard there
// always is one (a CORS preflight is answered by the guard).
func WhoAmI(w http.ResponseWriter, r *http.Request) {
	c := popguard.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(Answer{
		Scheme: c.Scheme.String(), Subject: c.Subject, ClientID: c.ClientID,
		Scope: strings.Join(c.Scopes, " "), JKT: c.KeyThumbprint, X5tS256: c.CertificateThumbprint, Method: r.Method, Path: r.URL.Path,
		ClientClaims: c.ClientClaims,
	})
}
