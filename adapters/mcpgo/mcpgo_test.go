package mcpgo_test

import (
	"bytes"
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
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/mcpgo"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// app is an mcp-go server with a whoami tool behind a DPoP-only guard, run
// as two instances behind one URL, as a fleet behind a load balancer:
// requests go to instance a.to (0 unless a test says otherwise). Each
// instance has its own Guard, MCP server and session binding.
type app struct {
	iss      *poptest.Issuer
	base     string
	endpoint string
	guard    *middleware.Guard // instance 0's
	to       atomic.Int32
}

// newApp starts the two instances; keys[i], when given, are the session
// binding keys of instance i (SessionBinding(keys[i]...)); without them
// each instance makes its own.
func newApp(t *testing.T, keys ...[][]byte) *app {
	t.Helper()
	a := &app{}
	a.iss = poptest.NewStaticIssuer("https://issuer.example.test")
	var instances [2]http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		instances[a.to.Load()].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	a.base, a.endpoint = srv.URL, srv.URL+"/mcp"
	for i := range instances {
		var k [][]byte
		if i < len(keys) {
			k = keys[i]
		}
		guard, h := a.instance(t, k)
		if i == 0 {
			a.guard = guard
		}
		instances[i] = h
	}
	return a
}

// instance builds one instance: its Guard and its handler.
func (a *app) instance(t *testing.T, keys [][]byte) (*middleware.Guard, http.Handler) {
	t.Helper()
	v, err := validate.NewJWTVerifier(a.iss.URL, a.iss.KeySet(), validate.Audience(a.endpoint))
	if err != nil {
		t.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(v), middleware.WithPublicURL(a.base),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: a.endpoint}), middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = guard.Close() })

	s := server.NewMCPServer("popguard-test", "1.0.0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("whoami", mcp.WithDescription("who called")), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		res := mcpgo.Result(ctx)
		if res == nil {
			return mcp.NewToolResultError("no caller"), nil
		}
		return mcp.NewToolResultText(res.Scheme.String() + " " + res.Subject + " " + res.KeyThumbprint), nil
	})
	binding, err := mcpgo.SessionBinding(keys...)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h := server.NewStreamableHTTPServer(s, server.WithSessionIdManagerResolver(binding))
	mux.Handle("/mcp", guard.Require(popguard.DPoPOnly, middleware.RequireScopes("tools"))(h))
	mux.Handle(guard.MetadataPath(), mcpgo.MetadataHandler(guard))
	return guard, mux
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

// TestSessionBindingFleet: with one key shared by the fleet, a session
// started on one instance is the caller's on every instance and still
// nobody else's; with keys made per instance it is unknown elsewhere (404,
// and the client starts a new session); during a key rotation an instance
// accepts IDs made with its previous keys, and an instance that does not
// yet know the new key refuses IDs made with it.
func TestSessionBindingFleet(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	alice, mallory := poptest.NewClient(), poptest.NewClient()
	session := func(t *testing.T, a *app, on int32) string {
		t.Helper()
		a.to.Store(on)
		res, _ := a.post(t, "", a.dpop("alice", alice), initialize)
		sid := res.Header.Get("Mcp-Session-Id")
		if res.StatusCode != 200 || sid == "" {
			t.Fatalf("initialize on instance %d: %d %q", on, res.StatusCode, sid)
		}
		return sid
	}
	call := func(t *testing.T, a *app, on int32, sid, who string, key *poptest.Client) (int, string) {
		t.Helper()
		a.to.Store(on)
		res, body := a.post(t, sid, a.dpop(who, key), whoami)
		return res.StatusCode, body
	}
	t.Run("shared key", func(t *testing.T) {
		a := newApp(t, [][]byte{k1}, [][]byte{k1})
		sid := session(t, a, 0)
		if code, body := call(t, a, 1, sid, "alice", alice); code != 200 || !strings.Contains(body, "DPoP alice "+alice.Thumbprint()) {
			t.Errorf("alice's session on the other instance: %d %s", code, body)
		}
		if code, body := call(t, a, 1, sid, "mallory", mallory); code != 404 || strings.Contains(body, "alice") {
			t.Errorf("mallory on alice's session, other instance: %d %s, want 404", code, body)
		}
	})
	t.Run("a key per instance", func(t *testing.T) {
		a := newApp(t)
		sid := session(t, a, 0)
		if code, _ := call(t, a, 1, sid, "alice", alice); code != 404 {
			t.Errorf("alice's session on an instance with another key: %d, want 404", code)
		}
	})
	t.Run("rotation", func(t *testing.T) {
		a := newApp(t, [][]byte{k2, k1}, [][]byte{k1}) // instance 0 rotated to k2, instance 1 not yet
		if code, _ := call(t, a, 0, session(t, a, 1), "alice", alice); code != 200 {
			t.Errorf("an ID made with the previous key, on the rotated instance: %d, want 200", code)
		}
		if code, _ := call(t, a, 1, session(t, a, 0), "alice", alice); code != 404 {
			t.Errorf("an ID made with the new key, on an instance without it: %d, want 404", code)
		}
	})
	t.Run("bad keys", func(t *testing.T) {
		for _, keys := range [][][]byte{{make([]byte, 31)}, {k1, nil}, {}} {
			if _, err := mcpgo.SessionBinding(keys...); err == nil {
				t.Errorf("SessionBinding(%d keys) accepted", len(keys))
			}
		}
	})
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
