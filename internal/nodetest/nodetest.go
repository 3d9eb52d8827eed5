// Package nodetest starts the Node.js programs under testdata/node (servers
// that no one in this project wrote, such as the npm package oidc-provider)
// for the Go tests that check popguard against them.
//
// A script prints one line "READY <json>" on stdout once it serves; the test
// goes on from there and the process is ended at t.Cleanup (it also exits by
// itself when its stdin closes, so a killed test leaves nothing behind). When
// node or testdata/node/node_modules is missing, the test is skipped, or
// failed under POPGUARD_TEST_STRICT=1 (internal/testenv).
package nodetest

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/testenv"
)

// HowToInstall is what a test that finds the Node packages missing tells
// the developer to do.
const HowToInstall = "run npm ci --prefix testdata/node (Node.js 20 or later)"

// readyTimeout bounds the wait for the READY line: generous, since CI shares
// two cores with other work, and only reached when a script is broken.
const readyTimeout = 90 * time.Second

// Dir returns the directory of the Node scripts and their package.json.
func Dir() string { return filepath.Join(testenv.RepoRoot(), "testdata", "node") }

// Require returns the path of node, or skips (or fails) t when node or the
// installed npm packages are missing.
func Require(t testing.TB) string {
	t.Helper()
	node := testenv.LookPath(t, "node", HowToInstall)
	if _, err := os.Stat(filepath.Join(Dir(), "node_modules", ".package-lock.json")); err != nil {
		testenv.Missing(t, "testdata/node/node_modules", HowToInstall)
	}
	return node
}

// StartScript runs testdata/node/<script> with the extra environment
// entries env ("KEY=value") and returns what followed "READY " on the first
// such line of its stdout. The process is ended at t.Cleanup; its stderr is
// logged when the test fails.
func StartScript(t testing.TB, script string, env ...string) string {
	t.Helper()
	node := Require(t)
	cmd := exec.Command(node, script)
	cmd.Dir = Dir()
	cmd.Env = append(os.Environ(), env...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testenv.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node %s: %v", script, err)
	}
	t.Cleanup(func() {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s stderr:\n%s", script, stderr.String())
		}
	})

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent && strings.HasPrefix(line, "READY ") {
				ready <- strings.TrimPrefix(line, "READY ")
				sent = true
			}
		}
		if !sent {
			close(ready)
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-ready:
		if !ok {
			t.Fatalf("node %s exited before it was ready; stderr:\n%s", script, stderr.String())
		}
		return line
	case <-time.After(readyTimeout):
		t.Fatalf("node %s printed no READY line within %v; stderr:\n%s", script, readyTimeout, stderr.String())
	}
	return ""
}

// Client is one client registered at the oidc-provider.
type Client struct {
	ID     string
	Secret string // for client_secret_basic and client_secret_post
	// AuthMethod is the token_endpoint_auth_method; empty means
	// client_secret_basic.
	AuthMethod string
	// GrantTypes defaults to client_credentials and refresh_token.
	GrantTypes []string
	// JWKS holds the client's public keys (a JWK Set) for private_key_jwt.
	JWKS json.RawMessage
}

// OIDCProviderConfig configures StartOIDCProvider.
type OIDCProviderConfig struct {
	Clients []Client
	// Resource is the audience of the client-credentials tokens, which are
	// RFC 9068 JWTs (typ at+jwt). Default https://api.example.test.
	Resource string
	// Scopes the resource accepts. Default read and write.
	Scopes []string
	// RequireNonce makes the token endpoint demand a DPoP server nonce.
	RequireNonce bool
	// RequireDPoP makes every client use DPoP (dpop_bound_access_tokens).
	RequireDPoP bool
	// TokenTTL is the access-token lifetime; default five minutes.
	TokenTTL time.Duration
	// TestRoutes turns on POST /test/refresh-token?client_id=ID&scope=S,
	// which mints a refresh token (the code flow would need a browser).
	TestRoutes bool
}

// OIDCProvider is a running oidc-provider.
type OIDCProvider struct {
	Issuer        string `json:"issuer"`
	JWKSURI       string `json:"jwks_uri"`
	TokenEndpoint string `json:"token_endpoint"`
}

// StartOIDCProvider starts the npm package oidc-provider on a free loopback
// port (testdata/node/oidc-provider.mjs) and returns its issuer URL.
func StartOIDCProvider(t testing.TB, cfg OIDCProviderConfig) string {
	t.Helper()
	return StartOIDCProviderInfo(t, cfg).Issuer
}

// StartOIDCProviderInfo is StartOIDCProvider returning the endpoints too.
func StartOIDCProviderInfo(t testing.TB, cfg OIDCProviderConfig) OIDCProvider {
	t.Helper()
	clients := make([]map[string]any, 0, len(cfg.Clients))
	for _, c := range cfg.Clients {
		m := map[string]any{"client_id": c.ID}
		if c.Secret != "" {
			m["client_secret"] = c.Secret
		}
		m["token_endpoint_auth_method"] = c.AuthMethod
		if c.AuthMethod == "" {
			m["token_endpoint_auth_method"] = "client_secret_basic"
		}
		m["grant_types"] = c.GrantTypes
		if len(c.GrantTypes) == 0 {
			m["grant_types"] = []string{"client_credentials", "refresh_token"}
		}
		if len(c.JWKS) > 0 {
			m["jwks"] = c.JWKS
		}
		clients = append(clients, m)
	}
	cj, err := json.Marshal(clients)
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"OP_PORT=0", "OP_CLIENTS=" + string(cj)}
	if cfg.Resource != "" {
		env = append(env, "OP_RESOURCE="+cfg.Resource)
	}
	if len(cfg.Scopes) > 0 {
		env = append(env, "OP_SCOPES="+strings.Join(cfg.Scopes, " "))
	}
	if cfg.RequireNonce {
		env = append(env, "OP_DPOP_NONCE=1")
	}
	if cfg.RequireDPoP {
		env = append(env, "OP_REQUIRE_DPOP=1")
	}
	if cfg.TokenTTL > 0 {
		env = append(env, "OP_TOKEN_TTL="+strconv.Itoa(int(cfg.TokenTTL/time.Second)))
	}
	if cfg.TestRoutes {
		env = append(env, "OP_TEST_ROUTES=1")
	}
	line := StartScript(t, "oidc-provider.mjs", env...)
	var p OIDCProvider
	if err := json.Unmarshal([]byte(line), &p); err != nil || p.Issuer == "" {
		t.Fatalf("oidc-provider READY line %q: %v", line, err)
	}
	return p
}

// ResourceServerConfig configures StartOAuth4WebAPIResourceServer.
type ResourceServerConfig struct {
	Issuer   string // discovered at start (OIDC metadata)
	Audience string // default https://api.example.test
	// RequireNonce makes every DPoP proof carry the server's nonce.
	RequireNonce bool
}

// StartOAuth4WebAPIResourceServer starts testdata/node/oauth4webapi-rs.mjs,
// a DPoP resource server on oauth4webapi's validateJwtAccessToken, and
// returns its base URL.
func StartOAuth4WebAPIResourceServer(t testing.TB, cfg ResourceServerConfig) string {
	t.Helper()
	env := []string{"RS_PORT=0", "RS_ISSUER=" + cfg.Issuer}
	if cfg.Audience != "" {
		env = append(env, "RS_AUDIENCE="+cfg.Audience)
	}
	if cfg.RequireNonce {
		env = append(env, "RS_NONCE=1")
	}
	line := StartScript(t, "oauth4webapi-rs.mjs", env...)
	var r struct {
		URL string `json:"url"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil || r.URL == "" {
		t.Fatalf("oauth4webapi-rs READY line %q: %v", line, err)
	}
	return r.URL
}
