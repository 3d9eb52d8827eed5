// Package mcpgosdk protects Model Context Protocol servers built with the
// official Go SDK (github.com/modelcontextprotocol/go-sdk) with popguard:
// tools reached only with DPoP-bound tokens (or Bearer on a Mixed route
// during a migration), which the SDK's own auth.RequireBearerToken cannot
// do, and the RFC 9728 metadata the MCP authorization specification
// requires, derived from the Guard.
//
// Start from [Require], which wraps the SDK's StreamableHTTPHandler, and
// serve [MetadataHandler] at Guard.MetadataPath:
//
//	guard, err := middleware.New(middleware.WithTokens(tokens),
//		middleware.WithPublicURL("https://mcp.example.com"),
//		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: "https://mcp.example.com/mcp"}))
//	if err != nil { ... }
//	mcpHandler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)
//	mux.Handle("/mcp", mcpgosdk.Require(guard, popguard.DPoPOnly)(mcpHandler))
//	mux.Handle(guard.MetadataPath(), mcpgosdk.MetadataHandler(guard))
//
// An accepted request reaches the SDK with an auth.TokenInfo (scopes,
// expiry, UserID) in its context, as RequireBearerToken would leave it: the
// SDK binds each session to its UserID, so a session started by one user
// cannot be used with another user's token, and tool handlers find the
// caller in req.Extra.TokenInfo ([ResultOf] returns the full
// popguard.Result from it). A rejection is popguard's: RFC 6750 / RFC 9449
// challenges with scope and resource_metadata, which MCP clients follow.
//
// It lives in its own module so that the core popguard module never pulls
// the SDK into programs that do not use it.
package mcpgosdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/modelcontextprotocol/go-sdk/auth"
	"github.com/modelcontextprotocol/go-sdk/oauthex"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// resultKey is the auth.TokenInfo.Extra key of the *popguard.Result.
const resultKey = "popguard.result"

// bridgeToken is what the SDK's RequireBearerToken sees in place of the
// caller's credentials, which popguard has already checked: the SDK keeps
// its TokenInfo context key to itself, and its middleware is the one way to
// set it. The caller's Authorization header is restored before the SDK's
// handler runs.
const bridgeToken = "popguard-verified"

// Require returns middleware that authenticates each request with a route
// of g (mode and opts as in Guard.Route) and hands the accepted caller to
// the SDK as an auth.TokenInfo. Like Guard.Require, it panics on invalid
// route options; Handler takes a prepared route instead.
func Require(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) func(http.Handler) http.Handler {
	rt, err := g.Route(mode, opts...)
	if err != nil {
		panic(err)
	}
	return Handler(rt)
}

// Handler is Require for a route prepared with Guard.Route.
func Handler(rt *middleware.Route) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		restore := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			orig, _ := r.Context().Value(origAuthKey{}).([]string)
			if orig == nil {
				delete(r.Header, "Authorization")
			} else {
				r.Header["Authorization"] = orig
			}
			next.ServeHTTP(w, r)
		})
		bridge := auth.RequireBearerToken(func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
			res := popguard.FromContext(ctx)
			if res == nil {
				return nil, auth.ErrInvalidToken
			}
			return TokenInfo(res), nil
		}, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(restore)
		return rt.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := context.WithValue(r.Context(), origAuthKey{}, r.Header.Values("Authorization"))
			r2 := r.Clone(ctx) // a copy of the header, so the bridge's token never leaks back
			r2.Header.Set("Authorization", "Bearer "+bridgeToken)
			bridge.ServeHTTP(w, r2)
		}))
	}
}

type origAuthKey struct{}

// TokenInfo converts an accepted caller to the SDK's auth.TokenInfo: its
// scopes, its token's expiry, a UserID naming the user across issuers
// (issuer and subject, or issuer and client id for a token without
// subject) and, in Extra, the *popguard.Result (see ResultOf), the scheme,
// the client id and, for a bound token, the key thumbprint "jkt".
func TokenInfo(res *popguard.Result) *auth.TokenInfo {
	who := res.Subject
	if who == "" {
		who = "client:" + res.ClientID
	}
	extra := map[string]any{resultKey: res, "scheme": res.Scheme.String(), "client_id": res.ClientID}
	if res.KeyThumbprint != "" {
		extra["jkt"] = res.KeyThumbprint
	}
	return &auth.TokenInfo{
		Scopes:     append([]string(nil), res.Scopes...),
		Expiration: res.Expiry,
		UserID:     res.Issuer + " " + who,
		Extra:      extra,
	}
}

// ResultOf returns the popguard.Result a TokenInfo made by this package
// carries (tool handlers get it as req.Extra.TokenInfo), or nil.
func ResultOf(ti *auth.TokenInfo) *popguard.Result {
	if ti == nil {
		return nil
	}
	res, _ := ti.Extra[resultKey].(*popguard.Result)
	return res
}

// Metadata returns the Guard's RFC 9728 document (see
// middleware.WithResourceMetadata) as the SDK's type. The SDK's type has
// no signed_metadata: serve Guard.MetadataHandler to publish signed
// metadata.
func Metadata(g *middleware.Guard) (*oauthex.ProtectedResourceMetadata, error) {
	if g.MetadataPath() == "" {
		return nil, fmt.Errorf("mcpgosdk: the Guard has no resource metadata (middleware.WithResourceMetadata)")
	}
	rr := httptest.NewRecorder()
	g.MetadataHandler().ServeHTTP(rr, httptest.NewRequest(http.MethodGet, g.MetadataPath(), nil))
	if rr.Code != http.StatusOK {
		return nil, fmt.Errorf("mcpgosdk: the Guard's metadata handler answered %d", rr.Code)
	}
	var m oauthex.ProtectedResourceMetadata
	dec := json.NewDecoder(bytes.NewReader(rr.Body.Bytes()))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("mcpgosdk: decoding the Guard's metadata: %w", err)
	}
	return &m, nil
}

// MetadataHandler serves the Guard's RFC 9728 document through the SDK's
// auth.ProtectedResourceMetadataHandler, built from Metadata at each
// request so that routes added after it are counted. Mount it at
// Guard.MetadataPath.
func MetadataHandler(g *middleware.Guard) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := Metadata(g)
		if err != nil {
			http.Error(w, "no resource metadata", http.StatusNotFound)
			return
		}
		auth.ProtectedResourceMetadataHandler(m).ServeHTTP(w, r)
	})
}
