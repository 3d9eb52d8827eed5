package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/popguard/popguard/internal/nodetest"
	"github.com/popguard/popguard/poptest"
)

// serve runs the example on a loopback port with c (publicURL is set from
// the port) and returns its base URL.
func serve(t *testing.T, c config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveOn(t, ln, c)
}

func serveOn(t *testing.T, ln net.Listener, c config) string {
	t.Helper()
	c.publicURL = "http://" + ln.Addr().String()
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	h, closeAll, err := newServer(context.Background(), c)
	if err != nil {
		_ = ln.Close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); closeAll() })
	return c.publicURL
}

// staticIssuer is an authorization server whose tokens the test mints: its
// JWKS is served on loopback.
func staticIssuer(t *testing.T) (*poptest.Issuer, string) {
	t.Helper()
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(iss.JWKS())
	}))
	t.Cleanup(jwks.Close)
	return iss, jwks.URL
}

// dpopTransport sends each request with a DPoP-bound token and a fresh
// proof by key, signed by poptest, as a DPoP client does.
type dpopTransport struct {
	token string
	key   *poptest.Client
}

func (d *dpopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	d.key.DPoP(r, d.token, poptest.ProofOptions{}) // htu: the URL without its query
	return http.DefaultTransport.RoundTrip(r)
}

// TestGoClientWithDPoP: a Go MCP client (the SDK's) whose requests carry a
// DPoP-bound token and popguard-made proofs lists and calls the tools of
// the DPoP-only server; the tool sees the caller's key.
func TestGoClientWithDPoP(t *testing.T) {
	iss, jwks := staticIssuer(t)
	base := serve(t, config{issuer: iss.URL, jwks: jwks, scope: "tools"})
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "agent", Audience: base + "/mcp", Scope: "tools", DPoP: key})
	client := mcp.NewClient(&mcp.Implementation{Name: "go-test", Version: "1"}, nil)
	ctx := context.Background()
	session, err := client.Connect(ctx, &mcp.StreamableClientTransport{Endpoint: base + "/mcp",
		HTTPClient: &http.Client{Transport: &dpopTransport{token: tok, key: key}}, DisableStandaloneSSE: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"add", "whoami"}) {
		t.Errorf("tools %q", names)
	}
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "whoami"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var who Caller
	if err := json.Unmarshal(b, &who); err != nil || res.IsError {
		t.Fatalf("%s %v", b, err)
	}
	if who.Scheme != "DPoP" || who.Subject != "alice" || who.ClientID != "agent" || who.JKT != key.Thumbprint() {
		t.Errorf("whoami = %+v", who)
	}
	sum, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "add", Arguments: map[string]any{"a": 2, "b": 3}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(sum.StructuredContent); string(b) != `{"sum":5}` {
		t.Errorf("add = %s", b)
	}
}

// rpc posts one JSON-RPC message to the MCP endpoint.
func rpc(t *testing.T, endpoint, session string, auth func(*http.Request), body string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", endpoint, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if session != "" {
		req.Header.Set("Mcp-Session-Id", session)
		req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	}
	if auth != nil {
		auth(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// TestRefusals: without a token, with a Bearer token, or with a token for
// another resource, the DPoP-only server answers popguard's challenge
// pointing to its metadata, which says DPoP is required; and a session
// started by one user cannot be used by another (the SDK's session binding,
// fed by the adapter's TokenInfo).
func TestRefusals(t *testing.T) {
	iss, jwks := staticIssuer(t)
	base := serve(t, config{issuer: iss.URL, jwks: jwks, scope: "tools"})
	endpoint := base + "/mcp"
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	metaURL := strings.Replace(base, "://", "://", 1) + "/.well-known/oauth-protected-resource/mcp"

	res := rpc(t, endpoint, "", nil, initialize)
	want := `DPoP scope="tools", resource_metadata="` + metaURL + `", algs="ES256 PS256 RS256 EdDSA"`
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") != want {
		t.Errorf("no token: %d %q, want 401 %q", res.StatusCode, res.Header.Get("WWW-Authenticate"), want)
	}
	bearer := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "agent", Audience: endpoint, Scope: "tools"})
	res = rpc(t, endpoint, "", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+bearer) }, initialize)
	if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), "resource_metadata=") {
		t.Errorf("Bearer on the DPoP-only server: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}

	mg, err := http.Get(metaURL)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(mg.Body).Decode(&doc)
	mg.Body.Close()
	if doc["resource"] != endpoint || doc["dpop_bound_access_tokens_required"] != true ||
		!slices.Equal(toStrings(doc["authorization_servers"]), []string{iss.URL}) || !slices.Equal(toStrings(doc["scopes_supported"]), []string{"tools"}) {
		t.Errorf("metadata %v", doc)
	}

	dpopAuth := func(sub string, key *poptest.Client) func(*http.Request) {
		tok := iss.Token(poptest.TokenOptions{Subject: sub, ClientID: "agent", Audience: endpoint, Scope: "tools", DPoP: key})
		return func(r *http.Request) {
			p := key.Proof("POST", endpoint, tok, poptest.ProofOptions{})
			r.Header.Set("Authorization", "DPoP "+tok)
			r.Header.Set("DPoP", p)
		}
	}
	aliceKey, malloryKey := poptest.NewClient(), poptest.NewClient()
	res = rpc(t, endpoint, "", dpopAuth("alice", aliceKey), initialize)
	sid := res.Header.Get("Mcp-Session-Id")
	if res.StatusCode != 200 || sid == "" {
		t.Fatalf("initialize: %d session %q", res.StatusCode, sid)
	}
	const list = `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	if res := rpc(t, endpoint, sid, dpopAuth("mallory", malloryKey), list); res.StatusCode != http.StatusForbidden {
		t.Errorf("another user on alice's session: %d, want 403", res.StatusCode)
	}
	if res := rpc(t, endpoint, sid, dpopAuth("alice", aliceKey), list); res.StatusCode != 200 {
		t.Errorf("alice on her session: %d", res.StatusCode)
	}
	other := iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "agent", Audience: "https://other.example.test", Scope: "tools", DPoP: aliceKey})
	res = rpc(t, endpoint, sid, func(r *http.Request) {
		p := aliceKey.Proof("POST", endpoint, other, poptest.ProofOptions{})
		r.Header.Set("Authorization", "DPoP "+other)
		r.Header.Set("DPoP", p)
	}, list)
	if res.StatusCode != 401 || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("token for another resource: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
}

func toStrings(v any) []string {
	a, _ := v.([]any)
	var out []string
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestTypeScriptClient: the MCP TypeScript SDK, knowing only the server's
// URL and its client credentials, follows the 401's resource_metadata to
// the document, the document to the authorization server (the npm package
// oidc-provider), gets a token for the resource, and lists and calls a tool
// with it. That SDK sends no DPoP (checked below): it gets a Bearer token,
// so the server runs Mixed, as during a migration; DPoP is covered by
// TestGoClientWithDPoP.
func TestTypeScriptClient(t *testing.T) {
	nodetest.Require(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "http://" + ln.Addr().String() + "/mcp"
	op := nodetest.StartOIDCProviderInfo(t, nodetest.OIDCProviderConfig{
		Clients:  []nodetest.Client{{ID: "agent", Secret: "s3cret", GrantTypes: []string{"client_credentials"}}},
		Resource: endpoint,
		Scopes:   []string{"tools"},
	})
	base := serveOn(t, ln, config{issuer: op.Issuer, mixed: true, scope: "tools"})
	line := nodetest.StartScript(t, "mcp-client.mjs", "MCP_URL="+endpoint, "MCP_ISSUER="+op.Issuer,
		"MCP_CLIENT_ID=agent", "MCP_CLIENT_SECRET=s3cret", "MCP_SCOPE=tools", "MCP_TOOL=whoami")
	var out struct {
		Error  string   `json:"error"`
		Tools  []string `json:"tools"`
		Result struct {
			Structured Caller `json:"structuredContent"`
			IsError    bool   `json:"isError"`
		} `json:"result"`
		Requests []struct {
			Method, URL, Authorization string
			Status                     int
			DPoP                       bool
		} `json:"requests"`
	}
	if err := json.Unmarshal([]byte(line), &out); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	var log bytes.Buffer
	for _, r := range out.Requests {
		log.WriteString(r.Method + " " + r.URL + " " + r.Authorization + " -> " + http.StatusText(r.Status) + "\n")
	}
	t.Logf("requests of the TypeScript SDK:\n%s", log.String())
	if out.Error != "" {
		t.Fatalf("MCP TypeScript SDK: %s", out.Error)
	}
	slices.Sort(out.Tools)
	if !slices.Equal(out.Tools, []string{"add", "whoami"}) {
		t.Errorf("tools %q", out.Tools)
	}
	if w := out.Result.Structured; out.Result.IsError || w.Scheme != "Bearer" || w.ClientID != "agent" || !slices.Contains(w.Scopes, "tools") {
		t.Errorf("whoami = %+v", out.Result)
	}
	// The path it took: the 401, the document named by resource_metadata,
	// the authorization server it names, a token, the call with it.
	metaURL := base + "/.well-known/oauth-protected-resource/mcp"
	step := 0
	steps := []func(m, u, a string, st int) bool{
		func(m, u, a string, st int) bool { return m == "POST" && u == endpoint && a == "" && st == 401 },
		func(m, u, a string, st int) bool { return m == "GET" && u == metaURL && st == 200 },
		func(m, u, a string, st int) bool { return strings.HasPrefix(u, op.Issuer+"/.well-known/") && st == 200 },
		func(m, u, a string, st int) bool { return m == "POST" && u == op.TokenEndpoint && st == 200 },
		func(m, u, a string, st int) bool { return m == "POST" && u == endpoint && a == "Bearer" && st == 200 },
	}
	for _, r := range out.Requests {
		if step < len(steps) && steps[step](r.Method, r.URL, r.Authorization, r.Status) {
			step++
		}
		if r.DPoP {
			t.Errorf("the TypeScript SDK sent a DPoP header (%s %s): test it with DPoP now", r.Method, r.URL)
		}
	}
	if step != len(steps) {
		t.Errorf("the discovery path stopped at step %d of %d", step, len(steps))
	}
}
