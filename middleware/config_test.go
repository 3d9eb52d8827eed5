package middleware_test

// Configuration errors surface at startup (DESIGN: "options that fail early
// with clear errors").

import (
	"net/http"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

func testVerifier(t *testing.T) *validate.JWTVerifier {
	t.Helper()
	v, err := validate.NewJWTVerifier(issuerURL, newIssuer().KeySet(), validate.Audience(audience))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestNewErrors(t *testing.T) {
	tokens := middleware.WithTokens(testVerifier(t))
	cases := []struct {
		name    string
		opts    []middleware.Option
		errPart string
	}{
		{"no WithTokens", nil, "WithTokens is required"},
		{"no WithTokens but other options", []middleware.Option{middleware.WithPublicURL(publicURL)}, "WithTokens is required"},
		{"WithTokens(nil)", []middleware.Option{middleware.WithTokens(nil)}, "WithTokens(nil)"},
		{"public URL with query", []middleware.Option{tokens, middleware.WithPublicURL("https://api.test/v1?x=1")}, "no userinfo, query or fragment"},
		{"public URL with fragment", []middleware.Option{tokens, middleware.WithPublicURL("https://api.test/v1#f")}, "no userinfo, query or fragment"},
		{"public URL with userinfo", []middleware.Option{tokens, middleware.WithPublicURL("https://user:pw@api.test")}, "no userinfo, query or fragment"},
		{"public URL ftp", []middleware.Option{tokens, middleware.WithPublicURL("ftp://api.test")}, "must be http(s)"},
		{"public URL without scheme", []middleware.Option{tokens, middleware.WithPublicURL("api.test")}, "must be http(s)"},
		{"public URL without host", []middleware.Option{tokens, middleware.WithPublicURL("https:///v1")}, "no userinfo, query or fragment"},
		{"public URL bad host", []middleware.Option{tokens, middleware.WithPublicURL("https://api_test")}, "host is not valid"},
		{"trusted proxy bad CIDR", []middleware.Option{tokens, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/33")}, `trusted proxy "10.0.0.0/33"`},
		{"trusted proxy not an address", []middleware.Option{tokens, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8", "proxy.internal")}, `trusted proxy "proxy.internal"`},
		{"trusted proxies without a header family", []middleware.Option{tokens, middleware.WithTrustedProxies(0, "10.0.0.0/8")}, "XForwarded or middleware.Forwarded"},
		{"trusted proxies without addresses", []middleware.Option{tokens, middleware.WithTrustedProxies(middleware.Forwarded)}, "at least one address"},
		// The origin proofs are checked against comes from configuration,
		// never silently from the request's Host.
		{"no origin source", []middleware.Option{tokens}, "must come from configuration"},
		{"trusted proxies alone are no origin source", []middleware.Option{tokens, middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8")}, "must come from configuration"},
		{"public URL and public hosts", []middleware.Option{tokens, middleware.WithPublicURL(publicURL), middleware.WithPublicHosts("api.test")}, "use one"},
		{"public URL and insecure host", []middleware.Option{tokens, middleware.WithPublicURL(publicURL), middleware.WithInsecureHostFromRequest()}, "use one"},
		{"public URL and trusted proxies", []middleware.Option{tokens, middleware.WithPublicURL(publicURL), middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8")}, "no effect with WithPublicURL"},
		{"public hosts empty", []middleware.Option{tokens, middleware.WithPublicHosts()}, "at least one host"},
		{"public host with a path", []middleware.Option{tokens, middleware.WithPublicHosts("api.test/v1")}, `public host "api.test/v1"`},
		// The host grammar is internal/uri's: these used to be accepted here
		// and then refused (or not) request by request.
		{"public host with a trailing dot", []middleware.Option{tokens, middleware.WithPublicHosts("api.test.")}, `public host "api.test."`},
		{"public host with an empty label", []middleware.Option{tokens, middleware.WithPublicHosts("api..test")}, `public host "api..test"`},
		{"public host short IPv4", []middleware.Option{tokens, middleware.WithPublicHosts("127.1")}, `public host "127.1"`},
		{"public host IPv4 in brackets", []middleware.Option{tokens, middleware.WithPublicHosts("[127.0.0.1]")}, `public host "[127.0.0.1]"`},
		{"public host IPv6 zone", []middleware.Option{tokens, middleware.WithPublicHosts("[fe80::1%eth0]")}, `public host "[fe80::1%eth0]"`},
		{"public host port with a leading zero", []middleware.Option{tokens, middleware.WithPublicHosts("api.test:0443")}, `public host "api.test:0443"`},
		{"public host port 0", []middleware.Option{tokens, middleware.WithPublicHosts("api.test:0")}, `public host "api.test:0"`},
		{"public host port 99999", []middleware.Option{tokens, middleware.WithPublicHosts("api.test:99999")}, `public host "api.test:99999"`},
		{"public URL host with a trailing dot", []middleware.Option{tokens, middleware.WithPublicURL("https://api.test./v1")}, "host is not valid"},
		{"public URL host short IPv4", []middleware.Option{tokens, middleware.WithPublicURL("https://127.1/v1")}, "host is not valid"},
		{"public URL host with an IPv6 zone", []middleware.Option{tokens, middleware.WithPublicURL("https://[fe80::1%25eth0]/v1")}, "host is not valid"},
		{"public URL port with a leading zero", []middleware.Option{tokens, middleware.WithPublicURL("https://api.test:0443/v1")}, "host is not valid"},
		{"realm with a quote", []middleware.Option{tokens, middleware.WithRealm(`my "api"`)}, "realm must be"},
		{"realm with a backslash", []middleware.Option{tokens, middleware.WithRealm(`a\b`)}, "realm must be"},
		{"realm with CRLF", []middleware.Option{tokens, middleware.WithRealm("a\r\nb")}, "realm must be"},
		{"realm non-ASCII", []middleware.Option{tokens, middleware.WithRealm("réalm")}, "realm must be"},
		{"empty realm", []middleware.Option{tokens, middleware.WithRealm("")}, "realm must be"},
		{"Authorization limit too small", []middleware.Option{tokens, middleware.WithAuthorizationLimit(1023)}, "at least 1024"},
		{"PoP body limit too small", []middleware.Option{tokens, middleware.WithPoPBodyLimit(0)}, "at least 1 byte"},
		{"WithReplay(nil)", []middleware.Option{tokens, middleware.WithReplay(nil)}, "WithoutReplayDetection"},
		{"WithNonces(nil)", []middleware.Option{tokens, middleware.WithNonces(nil)}, "WithNonces(nil)"},
		{"WithMetrics(nil)", []middleware.Option{tokens, middleware.WithMetrics(nil)}, "WithMetrics(nil)"},
		{"WithErrorHandler(nil)", []middleware.Option{tokens, middleware.WithErrorHandler(nil)}, "WithErrorHandler(nil)"},
		{"WithProofVerifier(nil)", []middleware.Option{tokens, middleware.WithProofVerifier(nil)}, "WithProofVerifier(nil)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g, err := middleware.New(c.opts...)
			if err == nil || g != nil {
				t.Fatalf("New = %v, %v; want an error", g, err)
			}
			if !strings.Contains(err.Error(), c.errPart) || !strings.HasPrefix(err.Error(), "middleware: ") {
				t.Errorf("error %q, want it to start with \"middleware: \" and mention %q", err, c.errPart)
			}
		})
	}
}

// WithLogger(nil) turns logging off: the Guard builds and its rejections
// still reach the metrics hook and the error handler.
func TestWithLoggerNil(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithLogger(nil))
	resp := h.do(h.route(popguard.DPoPOnly), request("GET", target, "Authorization", "Bearer "+h.unbound()))
	if resp.status != http.StatusUnauthorized {
		t.Fatalf("status %d", resp.status)
	}
	if logs, events, rejs := h.cap.snapshot(); len(logs) != 0 || len(events) != 1 || len(rejs) != 1 {
		t.Errorf("logs %d, events %d, rejections %d; want 0, 1, 1", len(logs), len(events), len(rejs))
	}
}

func TestNewAccepts(t *testing.T) {
	src, err := nonce.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := replay.NewMemory()
	if err != nil {
		t.Fatal(err)
	}
	g, err := middleware.New(middleware.WithTokens(testVerifier(t)),
		middleware.WithPublicHosts("API.test:8080", "api.example", "[::1]:8443", "127.0.0.1", "api.example.org:"),
		middleware.WithTrustedProxies(middleware.XForwarded, "10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "::1"),
		middleware.WithRealm("payments API"), middleware.WithAuthorizationLimit(1024), middleware.WithPoPBodyLimit(64),
		middleware.WithReplay(store), middleware.WithNonces(src), middleware.WithQueryTokens())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Error(err)
	}
}

// TestTypedNilOptions: a nil *JWTVerifier, *nonce.Source or *replay.Memory
// (say, from a constructor whose error was dropped) passes the `v == nil`
// interface check; New should still refuse it instead of panicking at the
// first request.
func TestTypedNilOptions(t *testing.T) {
	tokens := middleware.WithTokens(testVerifier(t))
	cases := []struct {
		name string
		opts []middleware.Option
	}{
		{"WithTokens((*JWTVerifier)(nil))", []middleware.Option{middleware.WithTokens((*validate.JWTVerifier)(nil))}},
		{"WithNonces((*nonce.Source)(nil))", []middleware.Option{tokens, middleware.WithNonces((*nonce.Source)(nil))}},
		{"WithReplay((*replay.Memory)(nil))", []middleware.Option{tokens, middleware.WithReplay((*replay.Memory)(nil))}},
	}
	var bad []string
	for _, c := range cases {
		func() {
			defer func() {
				if p := recover(); p != nil {
					bad = append(bad, c.name+" (New panics)")
				}
			}()
			if g, err := middleware.New(c.opts...); err == nil {
				_ = g.Close()
				bad = append(bad, c.name+" (accepted)")
			}
		}()
	}
	if len(bad) > 0 {
		t.Fatalf("typed nil options must fail New: %s", strings.Join(bad, "; "))
	}
}

func TestRouteErrors(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	cases := []struct {
		name    string
		mode    popguard.Mode
		opts    []middleware.RouteOption
		errPart string
	}{
		{"scope with a space", popguard.Mixed, []middleware.RouteOption{middleware.RequireScopes("a b")}, `invalid scope "a b"`},
		{"empty scope", popguard.Mixed, []middleware.RouteOption{middleware.RequireScopes("read", "")}, `invalid scope ""`},
		{"scope with a quote", popguard.Mixed, []middleware.RouteOption{middleware.RequireScopes(`a"b`)}, "invalid scope"},
		{"scope with a backslash", popguard.Mixed, []middleware.RouteOption{middleware.RequireScopes(`a\b`)}, "invalid scope"},
		{"nonce without WithNonces", popguard.DPoPOnly, []middleware.RouteOption{middleware.RequireNonce()}, "RequireNonce needs WithNonces"},
		{"PoP-only without SHR verifier", popguard.PoPOnly, nil, "accepts no scheme this Guard supports"},
		{"zero mode", popguard.Mode(0), nil, "accepts no scheme this Guard supports"},
		{"nil route error handler", popguard.Mixed, []middleware.RouteOption{middleware.RouteErrorHandler(nil)}, "RouteErrorHandler(nil)"},
		{"zero RouteOption", popguard.Mixed, []middleware.RouteOption{{}}, "zero RouteOption"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rt, err := h.guard.Route(c.mode, c.opts...)
			if err == nil || rt != nil || !strings.Contains(err.Error(), c.errPart) {
				t.Fatalf("Route: err = %v, want one mentioning %q", err, c.errPart)
			}
			defer func() {
				p := recover()
				perr, ok := p.(error)
				if !ok || perr.Error() != err.Error() {
					t.Errorf("Require panicked with %v, want the Route error %q", p, err)
				}
			}()
			h.guard.Require(c.mode, c.opts...)(http.NotFoundHandler())
			t.Error("Require did not panic")
		})
	}
}
