package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/popguard/popguard/poptest"
)

// ask sends a gateway's request to the service from peer.
func ask(sv *service, peer string, r *http.Request) *httptest.ResponseRecorder {
	r.RemoteAddr = peer
	w := httptest.NewRecorder()
	sv.ServeHTTP(w, r)
	return w
}

const (
	gatewayPeer = "10.0.0.7:41234"
	otherPeer   = "192.0.2.9:5555"
)

// Recorded request shapes: what each gateway sends to its authorization
// service for a client's "POST https://api.example.test/dpop/orders?limit=5",
// as their documentation describes them. Authorization and DPoP are the
// client's, copied by the gateway.
func traefikShape(at, proof string) *http.Request {
	// Traefik forwardAuth: a GET to the configured address, the client's
	// headers copied, X-Forwarded-* set by Traefik (trustForwardHeader false).
	r := httptest.NewRequest("GET", "/check", nil)
	r.Host = "popguard:9180"
	h := r.Header
	h.Set("User-Agent", "curl/8.5.0")
	h.Set("Accept", "*/*")
	h.Set("Authorization", "DPoP "+at)
	h.Set("Dpop", proof)
	h.Set("X-Forwarded-For", "203.0.113.7")
	h.Set("X-Forwarded-Host", "api.example.test")
	h.Set("X-Forwarded-Method", "POST")
	h.Set("X-Forwarded-Port", "443")
	h.Set("X-Forwarded-Proto", "https")
	h.Set("X-Forwarded-Server", "traefik-7d9f")
	h.Set("X-Forwarded-Uri", "/dpop/orders?limit=5")
	h.Set("X-Real-Ip", "203.0.113.7")
	return r
}

func caddyShape(at, proof string) *http.Request {
	// Caddy forward_auth: GET <uri>, the client's headers copied,
	// X-Forwarded-Method and X-Forwarded-Uri set, plus reverse_proxy's
	// X-Forwarded-For/-Proto/-Host.
	r := httptest.NewRequest("GET", "/check", nil)
	r.Host = "127.0.0.1:9180"
	h := r.Header
	h.Set("Authorization", "DPoP "+at)
	h.Set("Dpop", proof)
	h.Set("X-Forwarded-For", "203.0.113.7")
	h.Set("X-Forwarded-Host", "api.example.test")
	h.Set("X-Forwarded-Proto", "https")
	h.Set("X-Forwarded-Method", "POST")
	h.Set("X-Forwarded-Uri", "/dpop/orders?limit=5")
	return r
}

func envoyShape(at, proof string) *http.Request {
	// Envoy ext_authz, HTTP service with path_prefix /envoy: the original
	// method, path_prefix + the original :path, the allowed headers
	// (authorization by default, dpop added in allowed_headers), no body.
	r := httptest.NewRequest("POST", "/envoy/dpop/orders?limit=5", nil)
	r.Host = "api.example.test"
	h := r.Header
	h.Set("authorization", "DPoP "+at)
	h.Set("dpop", proof)
	h.Set("content-length", "0")
	h.Set("x-envoy-expected-rq-timeout-ms", "250")
	h.Set("x-envoy-internal", "true")
	h.Set("x-forwarded-for", "203.0.113.7")
	h.Set("x-forwarded-proto", "https")
	h.Set("x-request-id", "2f1c0a5e-5b7e-4c1e-9a51-3a1f7c2b9d10")
	return r
}

func nginxShape(at, proof string) *http.Request {
	// nginx auth_request with the shipped configuration: GET /check, the
	// client's headers, X-Original-Method and X-Original-URI.
	r := httptest.NewRequest("GET", "/check", nil)
	r.Host = "popguard"
	h := r.Header
	h.Set("Authorization", "DPoP "+at)
	h.Set("DPoP", proof)
	h.Set("X-Original-Method", "POST")
	h.Set("X-Original-URI", "/dpop/orders?limit=5")
	return r
}

var shapes = []struct {
	name string
	make func(at, proof string) *http.Request
}{{"nginx", nginxShape}, {"traefik", traefikShape}, {"caddy", caddyShape}, {"envoy", envoyShape}}

func TestGatewayProtocols(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			at := f.boundToken(t)
			w := ask(sv, gatewayPeer, sh.make(at, f.proof(t, "POST", "/dpop/orders", at, "")))
			if w.Code != http.StatusOK {
				t.Fatalf("status %d, want 200; body %s", w.Code, w.Body)
			}
			want := map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "cli", "X-Auth-Scheme": "DPoP",
				"X-Auth-Scopes": "read write", "X-Auth-Jkt": f.key.Thumbprint()}
			for k, v := range want {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if w.Body.Len() != 0 {
				t.Errorf("an allowed answer has a body: %q", w.Body)
			}

			// The same proof again is a replay, whatever the protocol.
			before := sv.metrics.count("/dpop", "DPoP", "rejected", "replay_detected")
			w = ask(sv, gatewayPeer, sh.make(at, f.proof(t, "POST", "/dpop/orders", at, "")))
			if w.Code != http.StatusOK {
				t.Fatalf("fresh proof: status %d", w.Code)
			}
			p := f.proof(t, "POST", "/dpop/orders", at, "")
			_ = ask(sv, gatewayPeer, sh.make(at, p))
			w = ask(sv, gatewayPeer, sh.make(at, p))
			if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_dpop_proof"`) {
				t.Errorf("replay: %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
			}
			if got := sv.metrics.count("/dpop", "DPoP", "rejected", "replay_detected"); got != before+1 {
				t.Errorf("replay_detected count %d, want %d", got, before+1)
			}
		})
	}
}

// Gateway headers from a peer that is not a trusted gateway are never
// believed: the request is refused, whatever it carries.
func TestUntrustedPeerRefused(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	for _, sh := range shapes {
		at := f.boundToken(t)
		w := ask(sv, otherPeer, sh.make(at, f.proof(t, "POST", "/dpop/orders", at, "")))
		if w.Code != http.StatusForbidden || w.Header().Get("X-Auth-Subject") != "" {
			t.Errorf("%s from an untrusted peer: %d, subject %q", sh.name, w.Code, w.Header().Get("X-Auth-Subject"))
		}
	}
	if got := sv.metrics.count("none", "none", "rejected", "gateway_untrusted"); got != uint64(len(shapes)) {
		t.Errorf("gateway_untrusted count %d, want %d", got, len(shapes))
	}
	// An IPv4-mapped IPv6 peer is the IPv4 address.
	at := f.boundToken(t)
	if w := ask(sv, "[::ffff:10.0.0.7]:4000", nginxShape(at, f.proof(t, "POST", "/dpop/orders", at, ""))); w.Code != http.StatusOK {
		t.Errorf("IPv4-mapped gateway: %d", w.Code)
	}
}

// A client behind one gateway can add the other gateway's headers, which
// that gateway does not overwrite: with both families, neither is believed.
func TestBothHeaderFamiliesRefused(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	at := f.boundToken(t)
	// Behind nginx, the client adds X-Forwarded-Uri naming a weaker route.
	r := nginxShape(at, f.proof(t, "POST", "/dpop/orders", at, ""))
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Uri", "/bearer/x")
	w := ask(sv, gatewayPeer, r)
	if w.Code != http.StatusForbidden || w.Header().Get("X-Auth-Status") != "400" {
		t.Errorf("nginx + client X-Forwarded-Uri: %d (X-Auth-Status %q), want 403 (400)", w.Code, w.Header().Get("X-Auth-Status"))
	}
	// Behind Caddy, the client adds X-Original-URI.
	r = caddyShape(at, f.proof(t, "POST", "/dpop/orders", at, ""))
	r.Header.Set("X-Original-URI", "/bearer/x")
	// Which gateway asked is unknown then: 403, which every gateway relays.
	if w := ask(sv, gatewayPeer, r); w.Code != http.StatusForbidden || w.Header().Get("X-Auth-Status") != "400" {
		t.Errorf("caddy + client X-Original-URI: %d, want 403", w.Code)
	}
	// Two copies of one header.
	r = caddyShape(at, f.proof(t, "POST", "/dpop/orders", at, ""))
	r.Header.Add("X-Forwarded-Uri", "/bearer/x")
	if w := ask(sv, gatewayPeer, r); w.Code != http.StatusBadRequest {
		t.Errorf("two X-Forwarded-Uri: %d, want 400", w.Code)
	}
	// None at all: a misconfigured gateway.
	r = httptest.NewRequest("GET", "/check", nil)
	r.Header.Set("Authorization", "DPoP "+at)
	if w := ask(sv, gatewayPeer, r); w.Code != http.StatusBadRequest {
		t.Errorf("no gateway headers: %d, want 400", w.Code)
	}
	if got := sv.metrics.count("none", "none", "rejected", "gateway_protocol"); got != 4 {
		t.Errorf("gateway_protocol count %d, want 4", got)
	}
}

// nginx relays only 2xx, 401 and 403: a 400 becomes 403, with the one
// folded WWW-Authenticate field nginx can pass on, and X-Auth-Status says
// what the library decided. Other gateways get the library's answer as is.
func TestNginxStatusMapping(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	at := f.bearerToken(t)
	mk := func(shape func(at, proof string) *http.Request) *http.Request {
		r := shape(at, "")
		r.Header.Del("DPoP")
		r.Header.Del("Authorization")
		r.Header.Add("Authorization", "Bearer "+at)
		r.Header.Add("Authorization", "Bearer "+at) // two lines: 400 request_multiple_authorization
		for _, k := range []string{"X-Original-URI", "X-Forwarded-Uri"} {
			if r.Header.Get(k) != "" {
				r.Header.Set(k, "/mixed/x")
			}
		}
		return r
	}
	w := ask(sv, gatewayPeer, mk(nginxShape))
	if w.Code != http.StatusForbidden || w.Header().Get("X-Auth-Status") != "400" {
		t.Fatalf("nginx: %d (X-Auth-Status %q), want 403 (400)", w.Code, w.Header().Get("X-Auth-Status"))
	}
	if c := w.Header().Values("WWW-Authenticate"); len(c) != 1 || !strings.HasPrefix(c[0], `Bearer realm="api", error="invalid_request"`) ||
		!strings.Contains(c[0], ", DPoP ") || !strings.Contains(c[0], ", PoP ") {
		t.Errorf("nginx challenges: %q, want one field with Bearer, DPoP and PoP", c)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != "invalid_request" {
		t.Errorf("body %q: error %q", w.Body, body.Error)
	}
	w = ask(sv, gatewayPeer, mk(caddyShape))
	if w.Code != http.StatusBadRequest || len(w.Header().Values("WWW-Authenticate")) != 3 {
		t.Errorf("caddy: %d, %q; want 400 with three challenges", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	if got := sv.metrics.count("/mixed", "none", "rejected", "request_multiple_authorization"); got != 2 {
		t.Errorf("request_multiple_authorization count %d, want 2", got)
	}
	for _, c := range []struct{ in, want int }{{400, 403}, {431, 403}, {401, 401}, {403, 403}, {429, 429}, {503, 503}} {
		if got := nginxStatus(c.in); got != c.want {
			t.Errorf("nginxStatus(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}

// Dot-segments in any spelling are refused before a route is picked, and
// the route of a path must not change with its spelling.
func TestTargets(t *testing.T) {
	f := newFixture(t)
	c := f.config("10.0.0.0/24")
	c.Routes = append(c.Routes, RouteConfig{Prefix: "/", Mode: "bearer", Name: "root"})
	sv := startPopguard(t, c)
	at := f.bearerToken(t)
	for _, tc := range []struct {
		target string
		status int // as Caddy/Traefik see it
		reason string
	}{
		{"/bearer/../dpop/x", 400, "request_dot_segment"},
		{"/bearer/%2e%2e/dpop/x", 400, "request_dot_segment"},
		{"/bearer/.%2E/dpop/x", 400, "request_dot_segment"},
		{"/bearer%2F..%2Fdpop/x", 400, "request_dot_segment"},
		{"/bearer/./x", 400, "request_dot_segment"},
		{"/%64pop/x", 400, "request_ambiguous_route"},
		{"/DPoP/x", 400, "request_ambiguous_route"},
		{"/dpop%2Fx", 400, "request_ambiguous_route"},
		{"http://api.example.test/bearer/x", 400, "request_bad_target"},
		{"/bearer/x#frag", 400, "request_bad_target"},
		{"/bearer/\x7fx", 400, "request_bad_target"},
		{"*", 400, "request_bad_target"},
		{"", 400, "gateway_protocol"},
	} {
		r := caddyShape("", "")
		r.Header.Set("Authorization", "Bearer "+at)
		r.Header.Del("Dpop")
		r.Header.Set("X-Forwarded-Method", "GET")
		r.Header["X-Forwarded-Uri"] = []string{tc.target}
		if tc.target == "" {
			delete(r.Header, "X-Forwarded-Uri")
		}
		before := sv.metrics.count("none", "none", "rejected", tc.reason)
		w := ask(sv, gatewayPeer, r)
		if w.Code != tc.status || w.Header().Get("X-Auth-Subject") != "" {
			t.Errorf("%q: %d, want %d", tc.target, w.Code, tc.status)
		}
		if got := sv.metrics.count("none", "none", "rejected", tc.reason); got != before+1 {
			t.Errorf("%q: reason %s not counted", tc.target, tc.reason)
		}
	}
	// The same spellings through nginx: 403, the status nginx relays.
	r := nginxShape("", "")
	r.Header.Set("Authorization", "Bearer "+at)
	r.Header.Set("X-Original-URI", "/bearer/%2E%2E/dpop/x")
	if w := ask(sv, gatewayPeer, r); w.Code != http.StatusForbidden || w.Header().Get("X-Auth-Status") != "400" {
		t.Errorf("nginx dot-segment: %d %q", w.Code, w.Header().Get("X-Auth-Status"))
	}
	// A plain path under the catch-all is fine; percent-encoded
	// characters that do not change the route are fine.
	for _, p := range []string{"/anything/else", "/bearer/%41", "/dpopx"} {
		r := caddyShape("", "")
		r.Header.Set("Authorization", "Bearer "+at)
		r.Header.Del("Dpop")
		r.Header.Set("X-Forwarded-Method", "GET")
		r.Header.Set("X-Forwarded-Uri", p)
		if w := ask(sv, gatewayPeer, r); w.Code != http.StatusOK {
			t.Errorf("%q: %d, want 200", p, w.Code)
		}
	}
}

func TestNoRouteRefused(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	at := f.bearerToken(t)
	for _, p := range []string{"/", "/other", "/dpopx", "/bearerx/y"} {
		r := caddyShape("", "")
		r.Header.Set("Authorization", "Bearer "+at)
		r.Header.Set("X-Forwarded-Uri", p)
		if w := ask(sv, gatewayPeer, r); w.Code != http.StatusForbidden {
			t.Errorf("%q: %d, want 403", p, w.Code)
		}
	}
	if got := sv.metrics.count("none", "none", "rejected", "no_route"); got != 4 {
		t.Errorf("no_route count %d, want 4", got)
	}
	// "/bearer" (no slash) is covered by the "/bearer/" route.
	r := caddyShape("", "")
	r.Header.Set("Authorization", "Bearer "+at)
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Uri", "/bearer")
	if w := ask(sv, gatewayPeer, r); w.Code != http.StatusOK {
		t.Errorf("/bearer: %d, want 200", w.Code)
	}
}

// A route with "bound": true refuses unbound tokens (401 token_not_bound)
// and takes bound ones; the same token passes a route without it.
func TestBoundRoute(t *testing.T) {
	f := newFixture(t)
	cfg := f.config("10.0.0.0/24")
	cfg.Routes = append(cfg.Routes, RouteConfig{Prefix: "/bound/", Mode: "mixed", Bound: true})
	sv := startPopguard(t, cfg)
	decide := func(path, auth, proof string) *httptest.ResponseRecorder {
		r := caddyShape("", "")
		r.Header.Set("Authorization", auth)
		if proof != "" {
			r.Header.Set("DPoP", proof)
		}
		r.Header.Set("X-Forwarded-Method", "GET")
		r.Header.Set("X-Forwarded-Uri", path)
		return ask(sv, gatewayPeer, r)
	}
	unbound, bound := f.bearerToken(t), f.boundToken(t)
	// With client certificates forwarded, bound also suits a Bearer route.
	withCerts := f.config("10.0.0.0/24")
	withCerts.ClientCert = ClientCertConfig{Form: "rfc9440"}
	withCerts.Routes = append(withCerts.Routes, RouteConfig{Prefix: "/certs/", Mode: "bearer", Bound: true})
	if _, err := withCerts.validate(); err != nil {
		t.Errorf("bound Bearer route with client certificates: %v", err)
	}
	w := decide("/bound/x", "Bearer "+unbound, "")
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("unbound token on a bound route: %d %q", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	if got := sv.metrics.count("/bound", "Bearer", "rejected", "token_not_bound"); got != 1 {
		t.Errorf("token_not_bound count %d, want 1", got)
	}
	if w := decide("/bound/x", "DPoP "+bound, f.proof(t, "GET", "/bound/x", bound, "")); w.Code != http.StatusOK {
		t.Errorf("DPoP-bound token on a bound route: %d %q", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	if w := decide("/mixed/x", "Bearer "+unbound, ""); w.Code != http.StatusOK {
		t.Errorf("unbound token on a route without bound: %d", w.Code)
	}
}

// Claim values are passed percent-encoded where they hold bytes a header
// must not carry, so nothing can be smuggled to the upstream.
func TestIdentityHeaderValues(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	at := f.iss.Token(poptest.TokenOptions{Subject: "eve\r\nX-Auth-Scheme: DPoP", ClientID: "ü%", Audience: "https://api.example.test", Scope: "read"})
	r := caddyShape("", "")
	r.Header.Set("Authorization", "Bearer "+at)
	r.Header.Set("X-Forwarded-Method", "GET")
	r.Header.Set("X-Forwarded-Uri", "/mixed/x")
	w := ask(sv, gatewayPeer, r)
	if w.Code != 200 {
		t.Fatalf("status %d", w.Code)
	}
	if got := w.Header().Get("X-Auth-Subject"); got != "eve%0D%0AX-Auth-Scheme: DPoP" {
		t.Errorf("subject %q", got)
	}
	if got := w.Header().Get("X-Auth-Client-Id"); got != "%C3%BC%25" {
		t.Errorf("client id %q", got)
	}
	if got := w.Header().Get("X-Auth-Scheme"); got != "Bearer" {
		t.Errorf("scheme %q", got)
	}
	if got := w.Header().Values("X-Auth-Jkt"); len(got) != 1 || got[0] != "" {
		t.Errorf("unbound token: X-Auth-Jkt %q, want one empty field", got)
	}
}

// Until the keys are loaded, decisions fail closed with 503.
func TestNotReady(t *testing.T) {
	f := newFixture(t)
	s, err := f.config("10.0.0.0/24").validate()
	if err != nil {
		t.Fatal(err)
	}
	sv := newService(s, slog.New(slog.DiscardHandler), newMetrics())
	at := f.boundToken(t)
	w := ask(sv, gatewayPeer, caddyShape(at, f.proof(t, "POST", "/dpop/orders", at, "")))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("not ready: %d, Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	w = ask(sv, otherPeer, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz: %d", w.Code)
	}
	if w = ask(sv, otherPeer, httptest.NewRequest("GET", "/healthz", nil)); w.Code != http.StatusOK {
		t.Errorf("/healthz: %d", w.Code)
	}
	w = ask(sv, otherPeer, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(w.Body.String(), "popguard_ready 0\n") ||
		!strings.Contains(w.Body.String(), `popguard_requests_total{route="none",scheme="none",outcome="rejected",reason="not_ready"} 1`) {
		t.Errorf("/metrics:\n%s", w.Body)
	}
}

func TestMetricsExposition(t *testing.T) {
	f := newFixture(t)
	sv := startPopguard(t, f.config("10.0.0.0/24"))
	at := f.boundToken(t)
	ask(sv, gatewayPeer, nginxShape(at, f.proof(t, "POST", "/dpop/orders", at, "")))
	r := nginxShape(f.bearerToken(t), "")
	r.Header.Set("Authorization", "Bearer "+f.bearerToken(t))
	r.Header.Set("X-Original-URI", "/report/x")
	r.Header.Set("X-Original-Method", "GET")
	if w := ask(sv, gatewayPeer, r); w.Code != 200 {
		t.Fatalf("report-only: %d", w.Code)
	}
	w := ask(sv, otherPeer, httptest.NewRequest("GET", "/metrics", nil))
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type %q", ct)
	}
	for _, line := range []string{
		"# TYPE popguard_requests_total counter",
		`popguard_requests_total{route="/dpop",scheme="DPoP",outcome="accepted",reason=""} 1`,
		`popguard_requests_total{route="/report",scheme="Bearer",outcome="reported",reason=""} 1`,
		"popguard_ready 1",
	} {
		if !strings.Contains(w.Body.String(), line+"\n") {
			t.Errorf("/metrics lacks %q:\n%s", line, w.Body)
		}
	}
	if got := labelValue("a\"b\\c\nd"); got != `a\"b\\c\nd` {
		t.Errorf("labelValue = %q", got)
	}
}

func TestCheckConfig(t *testing.T) {
	f := newFixture(t)
	var out, errOut bytes.Buffer
	code := run([]string{"check-config", "-issuer", f.iss.URL, "-audience", "https://api.example.test", "-jwks", f.jwks,
		"-public-url", "https://api.example.test", "-route", "/transfers/=dpop", "-route", "/accounts=report:dpop",
		"-route", "/=bearer", "-trusted-gateway", "10.0.0.0/8", "-nonce"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for _, want := range []string{
		"/transfers               dpop           yes    no     /transfers       -\n",
		"/accounts                report:dpop    yes    no     /accounts        -\n",
		"/                        bearer         no     no     /                -\n",
		"trusted gateways  10.0.0.0/8\n",
		"(any other path is refused)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if i, j := strings.Index(out.String(), "/transfers "), strings.Index(out.String(), "/ "); i > j {
		t.Errorf("routes not longest first:\n%s", out.String())
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t)
	base := func() *Config { return f.config("10.0.0.0/8") }
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no public URL", func(c *Config) { c.PublicURL = "" }, "public_url"},
		{"public URL with a path", func(c *Config) { c.PublicURL = "https://api.example.test/v1" }, "has a path"},
		{"public URL with a query", func(c *Config) { c.PublicURL = "https://api.example.test?x" }, "want http(s)://host"},
		{"no issuer", func(c *Config) { c.Issuers = nil }, "issuer is required"},
		{"an issuer twice", func(c *Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) }, "listed twice"},
		{"unknown profile", func(c *Config) { c.Issuers[0].Profile = "nope" }, "unknown profile"},
		{"bound on a DPoP route", func(c *Config) {
			c.Routes = append(c.Routes, RouteConfig{Prefix: "/b/", Mode: "dpop", Bound: true})
		}, "bound has no effect"},
		{"bound on a report-only DPoP route", func(c *Config) {
			c.Routes = append(c.Routes, RouteConfig{Prefix: "/b/", Mode: "report:dpop", Bound: true})
		}, "bound has no effect"},
		{"bound on a Bearer route without client certificates", func(c *Config) {
			c.Routes = append(c.Routes, RouteConfig{Prefix: "/b/", Mode: "bearer", Bound: true})
		}, "refuses every request"},
		{"no audience", func(c *Config) { c.Issuers[0].Audience = "" }, "audience"},
		{"no routes", func(c *Config) { c.Routes = nil }, "no routes"},
		{"bad mode", func(c *Config) { c.Routes[0].Mode = "strict" }, `mode "strict"`},
		{"report:mixed", func(c *Config) { c.Routes[0].Mode = "report:mixed" }, "report-only"},
		{"relative prefix", func(c *Config) { c.Routes[0].Prefix = "dpop" }, "must start with /"},
		{"dot-segment prefix", func(c *Config) { c.Routes[0].Prefix = "/a/../b" }, "dot-segments"},
		{"duplicate prefix", func(c *Config) { c.Routes[1].Prefix = "/dpop" }, "given twice"},
		{"no gateway", func(c *Config) { c.TrustedGateways = nil }, "no trusted gateway"},
		{"bad gateway", func(c *Config) { c.TrustedGateways = []string{"10.0.0.0/33"} }, "trusted gateway"},
		{"bad replay", func(c *Config) { c.Replay.Store = "memcached://x" }, "replay store"},
		{"bad header name", func(c *Config) { c.IdentityHeaders.Subject = "X Subject" }, "header name"},
		{"envoy prefix clash", func(c *Config) { c.EnvoyPrefix = "/check" }, "envoy_prefix"},
	} {
		c := base()
		tc.edit(c)
		_, err := c.validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !isConfigErr(err) {
			t.Errorf("%s: %v, want an ErrConfig mentioning %q", tc.name, err, tc.want)
		}
	}
	// Unknown fields in the file are refused, so a typo never passes.
	if _, err := readConfig(strings.NewReader(`{"public_url":"https://a.test","rotues":[]}`)); err == nil || !isConfigErr(err) {
		t.Errorf("unknown field: %v", err)
	}
	if _, err := readConfig(strings.NewReader(`{} {}`)); err == nil {
		t.Error("trailing data accepted")
	}
}

func isConfigErr(err error) bool { return errors.Is(err, ErrConfig) }
