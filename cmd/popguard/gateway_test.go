package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/testenv"
)

// The addresses the shipped configurations name; the tests replace them
// with free loopback ports, and nothing else.
const (
	shippedGateway  = "127.0.0.1:8080" // nginx
	shippedCaddy    = "http://:8081 {"
	shippedPopguard = "127.0.0.1:9180"
	shippedAPI      = "127.0.0.1:3000"
)

func shipped(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "examples", "gateway", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startEcho starts the upstream API.
func startEcho(t *testing.T) *echo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{addr: ln.Addr().String()}
	e.srv = &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	t.Cleanup(func() { _ = e.srv.Close() })
	return e
}

// waitListening waits until addr accepts connections or the process exits.
func waitListening(t *testing.T, addr string, exited <-chan struct{}, logs func() string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			t.Fatalf("the gateway exited:\n%s", logs())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			_ = c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("the gateway never listened on %s:\n%s", addr, logs())
}

// startProcess runs a gateway as a child process until the test ends.
func startProcess(t *testing.T, dir string, listen string, name string, args ...string) {
	t.Helper()
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	logs := func() string {
		var b strings.Builder
		for _, f := range []string{"output.log", "error.log"} {
			if data, err := os.ReadFile(filepath.Join(dir, f)); err == nil {
				fmt.Fprintf(&b, "--- %s\n%s", f, data)
			}
		}
		return b.String()
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Log(logs())
		}
	})
	waitListening(t, listen, exited, logs)
}

// startNginx runs nginx with the shipped configuration, unprivileged:
// prefix, pid, logs and temporary files in a temporary directory, in the
// foreground as a child process. It returns the address clients use.
func startNginx(t *testing.T, api string, popguards ...string) string {
	t.Helper()
	bin := testenv.LookPath(t, "nginx", "apt-get install nginx")
	dir := t.TempDir()
	listen := freePort(t)
	servers := make([]string, len(popguards))
	for i, p := range popguards {
		servers[i] = "server " + p + ";"
	}
	conf := shipped(t, "nginx.conf")
	conf = strings.Replace(conf, "server "+shippedPopguard+";", strings.Join(servers, "\n    "), 1)
	conf = strings.Replace(conf, "server "+shippedAPI+";", "server "+api+";", 1)
	conf = strings.Replace(conf, "listen "+shippedGateway+";", "listen "+listen+";", 1)
	if err := os.WriteFile(filepath.Join(dir, "popguard.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/popguard.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, dir, listen, bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "error.log"))
	return listen
}

// startCaddy runs Caddy with the shipped Caddyfile (admin endpoint off).
func startCaddy(t *testing.T, api, popguard string) string {
	t.Helper()
	bin := testenv.LookPath(t, "caddy", "apt-get install caddy")
	dir := t.TempDir()
	listen := freePort(t)
	conf := shipped(t, "Caddyfile")
	_, port, _ := net.SplitHostPort(listen)
	conf = strings.Replace(conf, shippedCaddy, "http://:"+port+" {", 1)
	conf = strings.Replace(conf, "forward_auth "+shippedPopguard, "forward_auth "+popguard, 1)
	conf = strings.Replace(conf, "reverse_proxy "+shippedAPI, "reverse_proxy "+api, 1)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, dir, listen, bin, "run", "--config", path, "--adapter", "caddyfile")
	return listen
}

// rawRequest sends one HTTP/1.1 request with the target exactly as given
// (net/http would clean or re-encode it) and returns the response.
func rawRequest(t *testing.T, addr, method, target string, h http.Header) *http.Response {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: api.example.test\r\nConnection: close\r\n", method, target)
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(c, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

func dpopHeader(at, proof string) http.Header {
	return http.Header{"Authorization": {"DPoP " + at}, "DPoP": {proof}}
}

// gateway is one real gateway in front of popguard and the echo upstream.
type gateway struct {
	name string
	addr string
	// refused is the status the client sees for the library's 400.
	refused400 int
	api        *echo
	pg         *service
}

func startGateways(t *testing.T, f *fixture) []gateway {
	t.Helper()
	var gws []gateway
	if _, err := exec.LookPath("nginx"); err == nil || testenv.Strict() {
		api := startEcho(t)
		pg := startPopguard(t, f.config("127.0.0.1"))
		gws = append(gws, gateway{"nginx", startNginx(t, api.addr, pg.addr), http.StatusForbidden, api, pg})
	} else {
		testenv.Missing(t, "the command nginx", "apt-get install nginx")
	}
	if _, err := exec.LookPath("caddy"); err == nil || testenv.Strict() {
		api := startEcho(t)
		pg := startPopguard(t, f.config("127.0.0.1"))
		gws = append(gws, gateway{"caddy", startCaddy(t, api.addr, pg.addr), http.StatusBadRequest, api, pg})
	} else {
		testenv.Missing(t, "the command caddy", "apt-get install caddy")
	}
	return gws
}

// TestThroughGateways runs the shipped nginx and Caddy configurations, from
// Debian's packages, in front of popguard and an upstream that echoes what
// it received.
func TestThroughGateways(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx and Caddy")
	}
	f := newFixture(t)
	for _, gw := range startGateways(t, f) {
		t.Run(gw.name, func(t *testing.T) { testGateway(t, f, gw) })
	}
}

func testGateway(t *testing.T, f *fixture, gw gateway) {
	at := f.boundToken(t)
	// refusedBefore asserts a refusal never reached the upstream and was
	// counted under reason by popguard.
	expectRefused := func(t *testing.T, resp *http.Response, status int, route, scheme, reason string, before int, counted uint64) {
		t.Helper()
		if resp.StatusCode != status {
			t.Errorf("status %d, want %d", resp.StatusCode, status)
		}
		if gw.api.count() != before {
			t.Errorf("the upstream received the refused request: %+v", gw.api.last())
		}
		if got := gw.pg.metrics.count(route, scheme, "rejected", reason); got != counted+1 {
			t.Errorf("reason %s counted %d times, want %d", reason, got, counted+1)
		}
	}

	t.Run("DPoP accepted, identity reaches the upstream", func(t *testing.T) {
		h := dpopHeader(at, f.proof(t, "POST", "/dpop/orders", at, ""))
		// A client's own identity headers never pass.
		h.Set("X-Auth-Subject", "mallory")
		h.Set("X-Auth-Scopes", "admin")
		resp := rawRequest(t, gw.addr, "POST", "/dpop/orders?limit=5", h)
		if resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("status %d: %s", resp.StatusCode, b)
		}
		got := gw.api.last()
		if got.Method != "POST" || got.URI != "/dpop/orders?limit=5" {
			t.Errorf("upstream got %s %s", got.Method, got.URI)
		}
		for k, v := range map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "cli", "X-Auth-Scheme": "DPoP",
			"X-Auth-Scopes": "read write", "X-Auth-Jkt": f.key.Thumbprint()} {
			if vs := got.Header.Values(k); len(vs) != 1 || vs[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, vs, v)
			}
		}
	})

	t.Run("replay refused", func(t *testing.T) {
		p := f.proof(t, "GET", "/dpop/a", at, "")
		if resp := rawRequest(t, gw.addr, "GET", "/dpop/a", dpopHeader(at, p)); resp.StatusCode != http.StatusOK {
			t.Fatalf("first use: %d", resp.StatusCode)
		}
		before, counted := gw.api.count(), gw.pg.metrics.count("/dpop", "DPoP", "rejected", "replay_detected")
		resp := rawRequest(t, gw.addr, "GET", "/dpop/a", dpopHeader(at, p))
		expectRefused(t, resp, http.StatusUnauthorized, "/dpop", "DPoP", "replay_detected", before, counted)
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="invalid_dpop_proof"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})

	t.Run("nonce round trip", func(t *testing.T) {
		before, counted := gw.api.count(), gw.pg.metrics.count("/nonce", "DPoP", "rejected", "nonce_missing")
		resp := rawRequest(t, gw.addr, "GET", "/nonce/x", dpopHeader(at, f.proof(t, "GET", "/nonce/x", at, "")))
		expectRefused(t, resp, http.StatusUnauthorized, "/nonce", "DPoP", "nonce_missing", before, counted)
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="use_dpop_nonce"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
		n := resp.Header.Get("DPoP-Nonce")
		if n == "" || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("DPoP-Nonce %q, Cache-Control %q", n, resp.Header.Get("Cache-Control"))
		}
		resp = rawRequest(t, gw.addr, "GET", "/nonce/x", dpopHeader(at, f.proof(t, "GET", "/nonce/x", at, n)))
		if resp.StatusCode != http.StatusOK || gw.api.last().URI != "/nonce/x" {
			t.Errorf("with the nonce: %d", resp.StatusCode)
		}
	})

	t.Run("bound token as Bearer refused", func(t *testing.T) {
		before, counted := gw.api.count(), gw.pg.metrics.count("/mixed", "Bearer", "rejected", "token_bound_used_as_bearer")
		resp := rawRequest(t, gw.addr, "GET", "/mixed/x", http.Header{"Authorization": {"Bearer " + at}})
		expectRefused(t, resp, http.StatusUnauthorized, "/mixed", "Bearer", "token_bound_used_as_bearer", before, counted)
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `Bearer realm="api", error="invalid_token"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})

	t.Run("unbound Bearer accepted without a thumbprint", func(t *testing.T) {
		h := http.Header{"Authorization": {"Bearer " + f.bearerToken(t)}, "X-Auth-Jkt": {f.key.Thumbprint()}}
		if resp := rawRequest(t, gw.addr, "GET", "/mixed/y", h); resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		got := gw.api.last()
		if got.Header.Get("X-Auth-Subject") != "bob" || got.Header.Get("X-Auth-Scheme") != "Bearer" || got.Header.Get("X-Auth-Jkt") != "" {
			t.Errorf("upstream headers %v", got.Header)
		}
	})

	t.Run("insufficient scope", func(t *testing.T) {
		before, counted := gw.api.count(), gw.pg.metrics.count("/admin", "DPoP", "rejected", "insufficient_scope")
		resp := rawRequest(t, gw.addr, "GET", "/admin/x", dpopHeader(at, f.proof(t, "GET", "/admin/x", at, "")))
		expectRefused(t, resp, http.StatusForbidden, "/admin", "DPoP", "insufficient_scope", before, counted)
		if c := resp.Header.Get("WWW-Authenticate"); !strings.Contains(c, `error="insufficient_scope"`) {
			t.Errorf("WWW-Authenticate %q", c)
		}
	})

	t.Run("proof for another path refused", func(t *testing.T) {
		before, counted := gw.api.count(), gw.pg.metrics.count("/dpop", "DPoP", "rejected", "proof_htu")
		resp := rawRequest(t, gw.addr, "GET", "/dpop/b", dpopHeader(at, f.proof(t, "GET", "/dpop/other", at, "")))
		expectRefused(t, resp, http.StatusUnauthorized, "/dpop", "DPoP", "proof_htu", before, counted)
	})

	t.Run("dot-segments refused", func(t *testing.T) {
		// Each is signed for the path a normalising router would serve.
		for _, target := range []string{
			"/bearer/../dpop/b",
			"/dpop/x/%2e%2e/b",
			"/dpop/x/.%2E/b",
			"/dpop/x%2F..%2Fb",
			"/dpop/./b",
		} {
			t.Run(target, func(t *testing.T) {
				before, counted := gw.api.count(), gw.pg.metrics.count("none", "none", "rejected", "request_dot_segment")
				resp := rawRequest(t, gw.addr, "GET", target, dpopHeader(at, f.proof(t, "GET", "/dpop/b", at, "")))
				expectRefused(t, resp, gw.refused400, "none", "none", "request_dot_segment", before, counted)
			})
		}
	})

	t.Run("other gateway's headers refused", func(t *testing.T) {
		h := dpopHeader(at, f.proof(t, "GET", "/dpop/c", at, ""))
		// Each gateway overwrites its own family; the client adds the other.
		if gw.name == "nginx" {
			h.Set("X-Forwarded-Method", "GET")
			h.Set("X-Forwarded-Uri", "/bearer/x")
		} else {
			h.Set("X-Original-Method", "GET")
			h.Set("X-Original-URI", "/bearer/x")
		}
		before, counted := gw.api.count(), gw.pg.metrics.count("none", "none", "rejected", "gateway_protocol")
		resp := rawRequest(t, gw.addr, "GET", "/dpop/c", h)
		expectRefused(t, resp, http.StatusForbidden, "none", "none", "gateway_protocol", before, counted)
	})

	t.Run("no route refused", func(t *testing.T) {
		before, counted := gw.api.count(), gw.pg.metrics.count("none", "none", "rejected", "no_route")
		resp := rawRequest(t, gw.addr, "GET", "/elsewhere", http.Header{"Authorization": {"Bearer " + f.bearerToken(t)}})
		expectRefused(t, resp, http.StatusForbidden, "none", "none", "no_route", before, counted)
	})
}

// A popguard that cannot reach its Redis replay store refuses proofs (fail
// closed), and nginx answers 503 with Retry-After, as it does when popguard
// itself is down.
func TestNginxFailsClosed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	f := newFixture(t)
	api := startEcho(t)
	c := f.config("127.0.0.1")
	c.Replay.Store = "redis://" + freePort(t) + "/0" // nobody listens there
	pg := startPopguard(t, c)
	gw := startNginx(t, api.addr, pg.addr)
	at := f.boundToken(t)
	resp := rawRequest(t, gw, "GET", "/dpop/x", dpopHeader(at, f.proof(t, "GET", "/dpop/x", at, "")))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" || api.count() != 0 {
		t.Errorf("Redis down: %d, Retry-After %q, upstream saw %d", resp.StatusCode, resp.Header.Get("Retry-After"), api.count())
	}
	if got := pg.metrics.count("/dpop", "DPoP", "rejected", "replay_store_unavailable"); got != 1 {
		t.Errorf("replay_store_unavailable counted %d times", got)
	}
	// popguard gone: the same answer.
	gw2 := startNginx(t, api.addr, freePort(t))
	resp = rawRequest(t, gw2, "GET", "/dpop/x", dpopHeader(at, f.proof(t, "GET", "/dpop/x", at, "")))
	if resp.StatusCode != http.StatusServiceUnavailable || api.count() != 0 {
		t.Errorf("popguard down: %d, upstream saw %d", resp.StatusCode, api.count())
	}
}

// Two popguard instances behind one nginx share a Redis replay store: a
// proof accepted by one is a replay for the other.
func TestNginxTwoInstancesShareRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts nginx")
	}
	redisURL := os.Getenv("POPGUARD_TEST_REDIS")
	if redisURL == "" {
		testenv.Missing(t, "Redis (POPGUARD_TEST_REDIS)", "set POPGUARD_TEST_REDIS=redis://127.0.0.1:6379/0")
	}
	f := newFixture(t)
	api := startEcho(t)
	prefix := fmt.Sprintf("popguard:test:gateway:%d:", time.Now().UnixNano())
	secret := "c2hhcmVkLW5vbmNlLXNlY3JldC1mb3ItdGhlLXR3by1pbnN0YW5jZXM" // the fleet's shared nonce secret
	t.Setenv("POPGUARD_NONCE_SECRET", secret)
	var pgs []*service
	var addrs []string
	for range 2 {
		c := f.config("127.0.0.1")
		c.Replay = ReplayConfig{Store: redisURL, Prefix: prefix}
		pg := startPopguard(t, c)
		pgs, addrs = append(pgs, pg), append(addrs, pg.addr)
	}
	gw := startNginx(t, api.addr, addrs...)
	at := f.boundToken(t)
	// nginx alternates between the two: every proof is used once, then
	// replayed twice, so each replay meets both instances' shared store.
	for i := range 4 {
		path := fmt.Sprintf("/dpop/fleet/%d", i)
		p := f.proof(t, "GET", path, at, "")
		if resp := rawRequest(t, gw, "GET", path, dpopHeader(at, p)); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s first use: %d", path, resp.StatusCode)
		}
		before := api.count()
		for range 2 {
			if resp := rawRequest(t, gw, "GET", path, dpopHeader(at, p)); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s replayed: %d, want 401", path, resp.StatusCode)
			}
		}
		if api.count() != before {
			t.Errorf("%s: a replay reached the upstream", path)
		}
	}
	for i, pg := range pgs {
		if pg.metrics.count("/dpop", "DPoP", "accepted", "") == 0 || pg.metrics.count("/dpop", "DPoP", "rejected", "replay_detected") == 0 {
			t.Errorf("instance %d took no part: accepted %d, replays %d", i,
				pg.metrics.count("/dpop", "DPoP", "accepted", ""), pg.metrics.count("/dpop", "DPoP", "rejected", "replay_detected"))
		}
	}
	// A nonce issued by one instance is accepted by the other.
	resp := rawRequest(t, gw, "GET", "/nonce/fleet", dpopHeader(at, f.proof(t, "GET", "/nonce/fleet", at, "")))
	n := resp.Header.Get("DPoP-Nonce")
	for i := range 2 {
		resp = rawRequest(t, gw, "GET", "/nonce/fleet", dpopHeader(at, f.proof(t, "GET", "/nonce/fleet", at, n)))
		if resp.StatusCode != http.StatusOK {
			t.Errorf("shared nonce, request %d: %d", i, resp.StatusCode)
		}
	}
}
