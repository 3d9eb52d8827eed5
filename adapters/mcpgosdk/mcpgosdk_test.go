package mcpgosdk_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/auth"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/mcpgosdk"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const api = "https://mcp.example.test"

func newGuard(t *testing.T, meta bool) (*middleware.Guard, *poptest.Issuer) {
	t.Helper()
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	v, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience(api+"/mcp"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []middleware.Option{middleware.WithTokens(v), middleware.WithPublicURL(api), middleware.WithLogger(slog.New(slog.DiscardHandler))}
	if meta {
		opts = append(opts, middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: api + "/mcp", Scopes: []string{"tools"}}))
	}
	g, err := middleware.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	return g, iss
}

// TestRequire: the SDK's handler sees the caller as auth.TokenInfo and the
// caller's own Authorization header; a rejection never reaches it; a CORS
// preflight passes without a caller.
func TestRequire(t *testing.T) {
	g, iss := newGuard(t, true)
	var ran int
	var ti *auth.TokenInfo
	var authz []string
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		ti = auth.TokenInfoFromContext(r.Context())
		authz = r.Header.Values("Authorization")
	})
	h := mcpgosdk.Require(g, popguard.Mixed)(next)

	tok := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "agent", Audience: api + "/mcp", Scope: "tools read"})
	r := httptest.NewRequest("POST", api+"/mcp", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rr := httptest.NewRecorder()
	h.ServeHTTP(rr, r)
	if rr.Code != 200 || ran != 1 || ti == nil {
		t.Fatalf("%d ran=%d ti=%v", rr.Code, ran, ti)
	}
	if !slices.Equal(authz, []string{"Bearer " + tok}) {
		t.Errorf("the handler saw Authorization %q, not the caller's", authz)
	}
	if ti.UserID != "https://issuer.example.test alice" || !slices.Equal(ti.Scopes, []string{"tools", "read"}) ||
		time.Until(ti.Expiration) < time.Minute || ti.Extra["scheme"] != "Bearer" || ti.Extra["client_id"] != "agent" {
		t.Errorf("TokenInfo %+v", ti)
	}
	if res := mcpgosdk.ResultOf(ti); res == nil || res.Subject != "alice" || res.Scheme != popguard.Bearer {
		t.Errorf("ResultOf = %+v", res)
	}
	if r.Header.Get("Authorization") != "Bearer "+tok {
		t.Error("the caller's request was changed")
	}

	ran = 0
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, httptest.NewRequest("POST", api+"/mcp", nil))
	if rr.Code != 401 || ran != 0 || rr.Header().Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d ran=%d", rr.Code, ran)
	}
	ran, ti = 0, nil
	pre := httptest.NewRequest("OPTIONS", api+"/mcp", nil)
	pre.Header.Set("Origin", "https://app.example.test")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	rr = httptest.NewRecorder()
	h.ServeHTTP(rr, pre)
	// A preflight never reaches the MCP handler: the guard answers it 204.
	if ran != 0 || ti != nil || rr.Code != 204 {
		t.Errorf("preflight: %d ran=%d ti=%v", rr.Code, ran, ti)
	}
}

func TestTokenInfoWithoutSubject(t *testing.T) {
	ti := mcpgosdk.TokenInfo(&popguard.Result{Scheme: popguard.DPoP, Issuer: "https://i", ClientID: "svc", KeyThumbprint: "jkt1"})
	if ti.UserID != "https://i client:svc" || ti.Extra["jkt"] != "jkt1" || ti.Scopes != nil {
		t.Errorf("%+v", ti)
	}
	if mcpgosdk.ResultOf(nil) != nil || mcpgosdk.ResultOf(&auth.TokenInfo{}) != nil {
		t.Error("ResultOf of a TokenInfo made elsewhere")
	}
}

func TestMetadata(t *testing.T) {
	g, _ := newGuard(t, true)
	mcpgosdk.Require(g, popguard.DPoPOnly)(http.NotFoundHandler())
	m, err := mcpgosdk.Metadata(g)
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != api+"/mcp" || !slices.Equal(m.AuthorizationServers, []string{"https://issuer.example.test"}) ||
		!slices.Equal(m.ScopesSupported, []string{"tools"}) || !m.DPOPBoundAccessTokensRequired || len(m.DPOPSigningAlgValuesSupported) == 0 {
		t.Errorf("%+v", m)
	}
	rr := httptest.NewRecorder()
	mcpgosdk.MetadataHandler(g).ServeHTTP(rr, httptest.NewRequest("GET", g.MetadataPath(), nil))
	if rr.Code != 200 || rr.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%d %v", rr.Code, rr.Header())
	}

	none, _ := newGuard(t, false)
	if _, err := mcpgosdk.Metadata(none); err == nil {
		t.Error("Metadata of a Guard without WithResourceMetadata")
	}
	rr = httptest.NewRecorder()
	mcpgosdk.MetadataHandler(none).ServeHTTP(rr, httptest.NewRequest("GET", "/.well-known/oauth-protected-resource", nil))
	if rr.Code != 404 {
		t.Errorf("%d", rr.Code)
	}
}
