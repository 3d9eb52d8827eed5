package middleware_test

// The target URI a DPoP htu is checked against (RFC 9449 §4.3 check 9,
// RFC 9112 §3.3; conformance D-12, X-8, §7.3).

import (
	"net/http"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

// targetCase sends a DPoP request for the request URL reqURL whose proof
// says htu; hdr are extra header pairs; remote overrides RemoteAddr and host
// overrides the Host header.
type targetCase struct {
	name         string
	reqURL, htu  string
	hdr          []string
	remote, host string
	ok           bool            // accepted
	reason       popguard.Reason // when rejected
	desc         string
	code         popguard.ErrorCode
	status       int
}

// emptyHost asks runTargetCases for an empty Host.
const emptyHost = "(empty)"

func runTargetCases(t *testing.T, h *harness, cases []targetCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok := h.bound()
			hdr := append([]string{"Authorization", "DPoP " + tok, "DPoP", h.proof("GET", c.htu, tok)}, c.hdr...)
			req := request("GET", c.reqURL, hdr...)
			if c.remote != "" {
				req.RemoteAddr = c.remote
			}
			switch c.host {
			case "":
			case emptyHost:
				req.Host = "" // an HTTP/1.0 request without Host
			default:
				req.Host = c.host
			}
			resp := h.do(h.route(mixed), req)
			if c.ok {
				h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
				return
			}
			code, status := c.code, c.status
			if code == "" {
				code, status = popguard.CodeInvalidDPoPProof, 401
			}
			h.expectRejected(t, resp, rejectWant{status: status, challenges: []string{dpopErr(code, c.desc), bearerPlain},
				code: code, reason: c.reason, scheme: popguard.DPoP})
		})
	}
}

// htuMismatch and badTarget fill in the two usual rejections.
func htuMismatch(c targetCase) targetCase {
	c.reason, c.desc = popguard.ReasonProofHTU, descProofHTU
	return c
}

func badTarget(c targetCase, desc string) targetCase {
	c.reason, c.desc, c.code, c.status = popguard.ReasonRequestBadTarget, desc, popguard.CodeInvalidRequest, 400
	return c
}

func TestTargetPublicURL(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL("https://api.test/prefix"))
	runTargetCases(t, h, []targetCase{
		{name: "public URL plus path", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/x", ok: true},
		{name: "public URL, request query ignored", reqURL: "http://10.0.0.7:8080/x?a=1&b=2", htu: "https://api.test/prefix/x", ok: true},
		{name: "normalized htu", reqURL: "http://10.0.0.7:8080/x", htu: "HTTPS://API.TEST:443/prefix/x", ok: true},
		htuMismatch(targetCase{name: "percent-encoded unreserved not decoded", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/%78"}),
		htuMismatch(targetCase{name: "proof for the raw Host", reqURL: "http://10.0.0.7:8080/x", htu: "http://10.0.0.7:8080/x"}),
		htuMismatch(targetCase{name: "proof without the prefix", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/x"}),
		htuMismatch(targetCase{name: "path case differs", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/X"}),
		htuMismatch(targetCase{name: "trailing slash differs", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/x/"}),
		// The public URL wins over forwarding headers.
		htuMismatch(targetCase{name: "X-Forwarded-Host ignored with a public URL", reqURL: "http://10.0.0.7:8080/x",
			htu: "https://other.test/x", hdr: []string{"X-Forwarded-Host", "other.test"}, remote: "10.1.2.3:555"}),
		{name: "bad Host ignored with a public URL", reqURL: "http://10.0.0.7:8080/x", host: "api.test/admin?",
			htu: "https://api.test/prefix/x", ok: true},
		{name: "htu with query", reqURL: "http://10.0.0.7:8080/x?a=1", htu: "https://api.test/prefix/x?a=1",
			reason: popguard.ReasonProofHTU, desc: descProofHTUInvalid},
		{name: "htu with empty query", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/x?",
			reason: popguard.ReasonProofHTU, desc: descProofHTUInvalid},
		{name: "htu with fragment", reqURL: "http://10.0.0.7:8080/x", htu: "https://api.test/prefix/x#f",
			reason: popguard.ReasonProofHTU, desc: descProofHTUInvalid},
	})
}

func hostNotAllowed(c targetCase) targetCase {
	c.reason, c.desc, c.code, c.status = popguard.ReasonRequestHostNotAllowed, descHostNotAllowed, popguard.CodeInvalidRequest, 400
	return c
}

const descHostNotAllowed = "The request host is not one this server answers for"

func TestTargetFromRequest(t *testing.T) {
	h := newHarness(t, middleware.WithPublicHosts("api.local:8080", "api.test"))
	runTargetCases(t, h, []targetCase{
		{name: "http Host with port", reqURL: "http://api.local:8080/x", htu: "http://api.local:8080/x", ok: true},
		{name: "TLS request", reqURL: "https://api.test/x", htu: "https://api.test/x", ok: true},
		{name: "request with query, htu without", reqURL: "https://api.test/x?q=1&r=%20", htu: "https://api.test/x", ok: true},
		htuMismatch(targetCase{name: "scheme differs", reqURL: "https://api.test/x", htu: "http://api.test/x"}),
		htuMismatch(targetCase{name: "port differs", reqURL: "http://api.local:8080/x", htu: "http://api.local/x"}),
		{name: "htu with query", reqURL: "https://api.test/x?q=1", htu: "https://api.test/x?q=1",
			reason: popguard.ReasonProofHTU, desc: descProofHTUInvalid},
		// No trusted proxies: spoofed forwarding headers change nothing.
		{name: "spoofed headers, proof for the real host", reqURL: "https://api.test/x", htu: "https://api.test/x", ok: true,
			hdr: []string{"X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "http", "Forwarded", "proto=http;host=evil.test"}},
		htuMismatch(targetCase{name: "spoofed X-Forwarded-Host", reqURL: "https://api.test/x", htu: "https://evil.test/x",
			hdr: []string{"X-Forwarded-Host", "evil.test"}}),
		htuMismatch(targetCase{name: "spoofed X-Forwarded-Proto", reqURL: "https://api.test/x", htu: "http://api.test/x",
			hdr: []string{"X-Forwarded-Proto", "http"}}),
		htuMismatch(targetCase{name: "spoofed X-Forwarded-Prefix", reqURL: "https://api.test/x", htu: "https://api.test/admin/x",
			hdr: []string{"X-Forwarded-Prefix", "/admin"}}),
		htuMismatch(targetCase{name: "spoofed Forwarded", reqURL: "https://api.test/x", htu: "https://evil.test/x",
			hdr: []string{"Forwarded", "proto=https;host=evil.test"}}),
		// Host-header laundering (the Auth0 v1.9.1 class): a Host that would
		// splice a path into the target URI is refused, not normalized.
		badTarget(targetCase{name: "Host api.test/admin?", reqURL: "https://api.test/x", host: "api.test/admin?", htu: "https://api.test/admin"}, descBadHost),
		badTarget(targetCase{name: "Host with userinfo", reqURL: "https://api.test/x", host: "evil@api.test", htu: "https://api.test/x"}, descBadHost),
		badTarget(targetCase{name: "Host with a space", reqURL: "https://api.test/x", host: "api.test evil", htu: "https://api.test/x"}, descBadHost),
		badTarget(targetCase{name: "Host with a fragment", reqURL: "https://api.test/x", host: "api.test#", htu: "https://api.test/x"}, descBadHost),
		badTarget(targetCase{name: "empty Host", reqURL: "https://api.test/x", host: emptyHost, htu: "https://api.test/x"}, descBadHost),
		// The proof names the host the request names, but that host is
		// another server's: without the allow-list both came from the client.
		hostNotAllowed(targetCase{name: "Host of another server", reqURL: "https://other.test/x", htu: "https://other.test/x"}),
		hostNotAllowed(targetCase{name: "listed host on another port", reqURL: "http://api.local:8081/x", htu: "http://api.local:8081/x"}),
		{name: "listed host with its default port", reqURL: "https://api.test:443/x", htu: "https://api.test/x", ok: true},
	})
}

func TestTargetTrustedProxies(t *testing.T) {
	hosts := middleware.WithPublicHosts("api.public", "backend:8080", "api.test")
	h := newHarness(t, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8", "192.0.2.7", "2001:db8::/32"), hosts)
	hF := newHarness(t, middleware.WithTrustedProxies(middleware.Forwarded, "10.0.0.0/8"), hosts)
	const proxy = "10.1.2.3:555"
	runTargetCases(t, hF, []targetCase{
		{name: "Forwarded proto and host", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/x", hdr: []string{"Forwarded", `for=198.51.100.1;proto=https;host="api.public"`}},
		{name: "Forwarded family: X-Forwarded-* never read", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/x", hdr: []string{"Forwarded", "proto=https;host=api.public", "X-Forwarded-Host", "other.test", "X-Forwarded-Prefix", "/svc"}},
		{name: "nearest Forwarded element", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/x", hdr: []string{"Forwarded", "proto=http;host=evil.test", "Forwarded", "proto=https;host=api.public"}},
		badTarget(targetCase{name: "Forwarded host with path and query", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "https://api.test/other", hdr: []string{"Forwarded", "proto=https;host=api.test/other?"}}, descBadHost),
		badTarget(targetCase{name: "Forwarded host with @", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "https://api.test/x", hdr: []string{"Forwarded", `proto=https;host="evil@api.test"`}}, descBadHost),
		badTarget(targetCase{name: "Forwarded proto ftp", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "ftp://backend:8080/x", hdr: []string{"Forwarded", "proto=ftp"}}, descBadForwarded),
		hostNotAllowed(targetCase{name: "Forwarded host not on the allow-list", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "https://evil.test/x", hdr: []string{"Forwarded", "proto=https;host=evil.test"}}),
	})
	runTargetCases(t, h, []targetCase{
		{name: "X-Forwarded-Proto/Host/Prefix", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/svc/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public", "X-Forwarded-Prefix", "/svc/"}},
		{name: "X-Forwarded family: a client's Forwarded never read", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/svc/x", hdr: []string{"Forwarded", "proto=http;host=evil.test", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public", "X-Forwarded-Prefix", "/svc"}},
		{name: "nearest proxy's value (last element)", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "https://api.public/x", hdr: []string{"X-Forwarded-Host", "evil.test, api.public", "X-Forwarded-Proto", "http,https"}},
		hostNotAllowed(targetCase{name: "X-Forwarded-Host not on the allow-list", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "https://evil.test/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.test"}}),
		{name: "single trusted address", reqURL: "http://backend:8080/x", remote: "192.0.2.7:1", ok: true,
			htu: "https://api.public/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public"}},
		{name: "trusted IPv6 peer", reqURL: "http://backend:8080/x", remote: "[2001:db8::1]:443", ok: true,
			htu: "https://api.public/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public"}},
		{name: "IPv4-mapped IPv6 peer", reqURL: "http://backend:8080/x", remote: "[::ffff:10.1.2.3]:555", ok: true,
			htu: "https://api.public/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public"}},
		htuMismatch(targetCase{name: "untrusted peer's headers ignored", reqURL: "http://backend:8080/x", remote: "192.0.2.8:1",
			htu: "https://api.public/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public"}}),
		{name: "untrusted peer, proof for the real target", reqURL: "http://backend:8080/x", remote: "192.0.2.8:1", ok: true,
			htu: "http://backend:8080/x", hdr: []string{"X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.public"}},
		badTarget(targetCase{name: "X-Forwarded-Host with path and query", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "https://api.test/other", hdr: []string{"X-Forwarded-Host", "api.test/other?"}}, descBadHost),
		badTarget(targetCase{name: "X-Forwarded-Host with spaces", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "http://api.test/x", hdr: []string{"X-Forwarded-Host", "api.test x"}}, descBadHost),
		badTarget(targetCase{name: "X-Forwarded-Host with @", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "http://api.test/x", hdr: []string{"X-Forwarded-Host", "evil@api.test"}}, descBadHost),
		badTarget(targetCase{name: "X-Forwarded-Proto ftp", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "ftp://backend:8080/x", hdr: []string{"X-Forwarded-Proto", "ftp"}}, descBadForwarded),
		badTarget(targetCase{name: "X-Forwarded-Prefix not a path", reqURL: "http://backend:8080/x", remote: proxy,
			htu: "http://backend:8080/x", hdr: []string{"X-Forwarded-Prefix", "svc?"}}, descBadForwarded),
	})
}

// TestTargetRawHost: over a real connection Go's server refuses a malformed
// Host itself (400 before any handler); the guard's own check above covers
// front ends that are more lenient.
func TestTargetRawHost(t *testing.T) {
	h := newHarness(t, middleware.WithInsecureHostFromRequest())
	addr := rawServer(t, h.freshRoute(mixed))
	tok := h.bound()
	resp := h.rawDo(t, addr, "GET /x HTTP/1.1", "Host: api.test/admin?", "Authorization: DPoP "+tok,
		"DPoP: "+h.proof("GET", "http://api.test/admin", tok))
	if resp.status != http.StatusBadRequest || h.calls.Load() != 0 {
		t.Errorf("status %d, handler calls %d; want 400 and none", resp.status, h.calls.Load())
	}
}

// TestTargetHostGrammar: the Host (and forwarded host) grammar is
// internal/uri's, the one CanonicalTarget and the SHR u check apply. Before
// it was one rule, the middleware's own check let through hosts the other
// two refuse: those are now a bad target, before the allow-list is looked
// at, instead of request_host_not_allowed (or, when listed, an accepted PoP
// request and a DPoP request refused later with another description).
func TestTargetHostGrammar(t *testing.T) {
	h := newHarness(t, middleware.WithPublicHosts("api.local:8080", "api.test", "[::1]:8080", "127.0.0.1"))
	bad := func(name, host string) targetCase {
		return badTarget(targetCase{name: name, reqURL: "https://api.test/x", host: host, htu: "https://api.test/x"}, descBadHost)
	}
	runTargetCases(t, h, []targetCase{
		// What real clients send (Go's server accepts all of these).
		{name: "IPv6 literal with port", reqURL: "http://[::1]:8080/x", htu: "http://[::1]:8080/x", ok: true},
		{name: "IPv4 address", reqURL: "http://127.0.0.1/x", htu: "http://127.0.0.1/x", ok: true},
		{name: "IPv4 address with the default port", reqURL: "http://127.0.0.1:80/x", htu: "http://127.0.0.1/x", ok: true},
		{name: "upper case with the default port", reqURL: "https://api.test/x", host: "API.TEST:443", htu: "https://api.test/x", ok: true},
		// An empty port is the default port, as in CanonicalTarget (the
		// allow-list used to compare "api.test:" with "api.test" as text).
		{name: "empty port", reqURL: "https://api.test/x", host: "api.test:", htu: "https://api.test/x", ok: true},
		{name: "empty port after an IPv6 literal", reqURL: "https://api.test/x", host: "[::1]:", htu: "https://[::1]/x",
			reason: popguard.ReasonRequestHostNotAllowed, desc: descHostNotAllowed, code: popguard.CodeInvalidRequest, status: 400},
		bad("trailing dot", "api.test."),
		bad("trailing dot before a port", "api.local.:8080"),
		bad("leading dot", ".api.test"),
		bad("empty label", "api..test"),
		bad("label of 64 bytes", strings.Repeat("a", 64)+".test"),
		bad("short IPv4 form", "127.1"),
		bad("IPv4 with a leading zero", "010.0.0.1"),
		bad("IPv4 part over 255", "1.2.3.256"),
		bad("numeric last label", "api.123"),
		bad("IPv4 in brackets", "[127.0.0.1]"),
		bad("IPv6 zone", "[fe80::1%25eth0]"),
		bad("IPv6 zone with port", "[fe80::1%eth0]:8080"),
		bad("port with a leading zero", "api.test:0443"),
		bad("listed port with a leading zero", "api.local:08080"),
		bad("port 0", "api.test:0"),
		bad("port 65536", "api.test:65536"),
		bad("port 99999", "api.test:99999"),
		bad("underscore", "api_test"),
	})
}

// TestTargetHostGrammarInsecure: with the host taken from the request
// unchecked (development), the host must still be one; a DPoP request for
// such a host used to be refused only by CanonicalTarget, a PoP request was
// accepted.
func TestTargetHostGrammarInsecure(t *testing.T) {
	h := newHarness(t, middleware.WithInsecureHostFromRequest(), middleware.WithPoP())
	runTargetCases(t, h, []targetCase{
		{name: "host from the request", reqURL: "http://api.example:8443/x", htu: "http://api.example:8443/x", ok: true},
		badTarget(targetCase{name: "trailing dot", reqURL: "http://api.example./x", htu: "http://api.example/x"}, descBadHost),
		badTarget(targetCase{name: "short IPv4 form", reqURL: "http://api.example/x", host: "127.1", htu: "http://127.0.0.1/x"}, descBadHost),
	})
	k := poptest.NewClient()
	tok := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", PoP: k})
	for _, tc := range []struct {
		host string
		ok   bool
	}{
		{"api.example:8443", true},
		{"[::1]:8080", true},
		{"127.0.0.1", true},
		{"api.example.", false},
		{"api..example", false},
		{"127.1", false},
		{"[127.0.0.1]", false},
		{"[fe80::1%25eth0]", false},
		{"api.example:08443", false},
		{"api.example:99999", false},
	} {
		t.Run("PoP Host "+tc.host, func(t *testing.T) {
			// u is the Host as sent, which no URL would carry as its host.
			shr := k.SHR("GET", "http://api.example/x", tok, poptest.SHROptions{Claims: map[string]any{"u": tc.host}})
			req := request("GET", "http://api.example/x", "Authorization", "PoP "+shr)
			req.Host = tc.host
			resp := h.do(h.route(popguard.Accepting(popguard.PoP)), req)
			if tc.ok {
				if resp.status != http.StatusOK || h.calls.Load() != 1 {
					t.Fatalf("status %d, handler calls %d; want 200 and one (body %s)", resp.status, h.calls.Load(), resp.body)
				}
				return
			}
			advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestBadTarget)
		})
	}
}

// TestTargetForwardedPrefixGrammar: X-Forwarded-Prefix follows the path
// rule of internal/uri, so a malformed percent-encoding is refused with the
// forwarding headers (it used to pass, and then a DPoP target was refused as
// a whole while a PoP p could match it).
func TestTargetForwardedPrefixGrammar(t *testing.T) {
	h := newHarness(t, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8"), middleware.WithPublicHosts("backend:8080"))
	const proxy = "10.1.2.3:555"
	badPrefix := func(name, prefix string) targetCase {
		return badTarget(targetCase{name: name, reqURL: "http://backend:8080/x", remote: proxy,
			htu: "http://backend:8080" + prefix + "/x", hdr: []string{"X-Forwarded-Prefix", prefix}}, descBadForwarded)
	}
	runTargetCases(t, h, []targetCase{
		{name: "prefix with a percent-encoding", reqURL: "http://backend:8080/x", remote: proxy, ok: true,
			htu: "http://backend:8080/s%7Ev/x", hdr: []string{"X-Forwarded-Prefix", "/s%7ev"}},
		badPrefix("prefix %zz", "/svc%zz"),
		badPrefix("prefix ending in %", "/svc%"),
		badPrefix("prefix %2", "/svc%2"),
	})
}
