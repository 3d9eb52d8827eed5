package mcpgo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/mcpgo"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// app is an mcp-go server with a whoami tool behind a DPoP-only guard.
type app struct {
	iss      *poptest.Issuer
	base     string
	endpoint string
	guard    *middleware.Guard
}

func newApp(t *testing.T) *app {
	t.Helper()
	a := &app{}
	a.iss = poptest.NewStaticIssuer("https://issuer.example.test")
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a.base, a.endpoint = srv.URL, srv.URL+"/mcp"
	v, err := validate.NewJWTVerifier(a.iss.URL, a.iss.KeySet(), validate.Audience(a.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	a.guard, err = middleware.New(middleware.WithTokens(v), middleware.WithPublicURL(a.base),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: a.endpoint}), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.guard.Close() })

	s := server.NewMCPServer("popguard-test", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("who called")), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res := mcpgo.Result(ctx)
		if res == nil {
			return mcp.NewToolResultError("no caller"), nil
		}
		return mcp.NewToolResultText(res.Scheme.String() + " " + res.Subject + " " + res.KeyThumbprint), nil
	})
	binding, err := mcpgo.SessionBinding()
	if err != nil {
		t.Fatal(err)
	}
	h := server.NewStreamableHTTPServer(s, server.WithSessionIdManagerResolver(binding))
	mux.Handle("/mcp", a.guard.Require(popguard.DPoPOnly, middleware.RequireScopes("tools"))(h))
	mux.Handle(a.guard.MetadataPath(), mcpgo.MetadataHandler(a.guard))
	return a
}

// dpop returns a function adding a DPoP-bound token of sub and a proof.
func (a *app) dpop(sub string, key *poptest.Client) func(*http.Request) {
	tok := a.iss.Token(poptest.TokenOptions{Subject: sub, ClientID: "agent", Audience: a.endpoint, Scope: "tools", DPoP: key})
	return func(r *http.Request) {
		p := key.Proof(r.Method, a.endpoint, tok, poptest.ProofOptions{})
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", p)
	}
}

func (a *app) post(t *testing.T, session string, auth func(*http.Request), body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", a.endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
	}
	if auth != nil {
		auth(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
const whoami = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}}`

func TestDPoPToolsAndSessionBinding(t *testing.T) {
	a := newApp(t)
	alice, mallory := poptest.NewClient(), poptest.NewClient()

	res, _ := a.post(t, "", nil, initialize)
	want := `DPoP scope="tools", resource_metadata="` + a.base + `/.well-known/oauth-protected-resource/mcp", algs="ES256 PS256 RS256 EdDSA"`
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != want {
		t.Errorf("no token: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}

	res, _ = a.post(t, "", a.dpop("alice", alice), initialize)
	sid := res.Header.Get("Mcp-Session-Id")
	if res.StatusCode != 200 || !strings.HasPrefix(sid, "pg-") {
		t.Fatalf("initialize: %d session %q", res.StatusCode, sid)
	}
	res, body := a.post(t, sid, a.dpop("alice", alice), whoami)
	if res.StatusCode != 200 || !strings.Contains(body, "DPoP alice "+alice.Thumbprint()) {
		t.Errorf("whoami: %d %s", res.StatusCode, body)
	}
	if res, body := a.post(t, sid, a.dpop("mallory", mallory), whoami); res.StatusCode != 404 || strings.Contains(body, "alice") {
		t.Errorf("mallory on alice's session: %d %s, want 404", res.StatusCode, body)
	}
	forged := sid[:len(sid)-2] + "AA"
	if res, _ := a.post(t, forged, a.dpop("alice", alice), whoami); res.StatusCode != 404 {
		t.Errorf("forged session ID: %d, want 404", res.StatusCode)
	}
	bearer := a.iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "agent", Audience: a.endpoint, Scope: "tools"})
	if res, _ := a.post(t, sid, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bearer) }, whoami); res.StatusCode != 401 {
		t.Errorf("Bearer on the DPoP-only route: %d", res.StatusCode)
	}
}

func TestMetadata(t *testing.T) {
	a := newApp(t)
	m, err := mcpgo.Metadata(a.guard)
	if err != nil {
		t.Fatal(err)
	}
	if m.Resource != a.endpoint || !slices.Equal(m.AuthorizationServers, []string{a.iss.URL}) || !slices.Equal(m.ScopesSupported, []string{"tools"}) ||
		m.DPoPBoundAccessTokensRequired == nil || !*m.DPoPBoundAccessTokensRequired || len(m.DPoPSigningAlgValuesSupported) == 0 {
		t.Errorf("%+v", m)
	}
	res, err := http.Get(a.base + a.guard.MetadataPath())
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if res.StatusCode != 200 || doc["resource"] != a.endpoint || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("%d %v", res.StatusCode, doc)
	}
}

// An mcp-go server whose tools require DPoP, with sessions bound to their
// callers and the RFC 9728 metadata MCP clients discover.
func Example() {
	iss := poptest.NewStaticIssuer("https://login.example.com") // the authorization server
	tokens, err := validate.NewJWTVerifier(iss.URL, iss.KeySet(), validate.Audience("https://mcp.example.com/mcp"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://mcp.example.com"),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: "https://mcp.example.com/mcp"}),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	binding, err := mcpgo.SessionBinding()
	if err != nil {
		log.Fatal(err)
	}
	s := server.NewMCPServer("tools", "1.0.0")
	mux := http.NewServeMux()
	mux.Handle("/mcp", guard.Require(popguard.DPoPOnly)(server.NewStreamableHTTPServer(s, server.WithSessionIdManagerResolver(binding))))
	mux.Handle(guard.MetadataPath(), mcpgo.MetadataHandler(guard))

	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest("POST", "/mcp", nil))
	fmt.Println(rr.Code, rr.Header().Get("WWW-Authenticate"))
	// Output:
	// 401 DPoP resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", algs="ES256 PS256 RS256 EdDSA"
}
