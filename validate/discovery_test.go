package validate_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// Tests for Discover: OpenID Connect Discovery 1.0 §4 and RFC 8414
// metadata, against servers on loopback.

const (
	dsOIDC    = "/.well-known/openid-configuration"
	dsRFC8414 = "/.well-known/oauth-authorization-server"
)

// dsRoute is one canned response.
type dsRoute struct {
	status int
	ctype  string
	body   []byte
}

// dsServer serves canned responses by path (404 for any other) and counts
// requests by path.
type dsServer struct {
	srv    *httptest.Server
	mu     sync.Mutex
	routes map[string]dsRoute
	hits   map[string]int
}

func newDSServer(t *testing.T, tls bool) *dsServer {
	t.Helper()
	s := &dsServer{routes: map[string]dsRoute{}, hits: map[string]int{}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		rt, ok := s.routes[r.URL.Path]
		s.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		if rt.ctype != "" {
			w.Header().Set("Content-Type", rt.ctype)
		}
		w.WriteHeader(rt.status)
		_, _ = w.Write(rt.body)
	})
	if tls {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *dsServer) set(path string, rt dsRoute) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.routes[path] = rt
}

// json serves v as an application/json document at path.
func (s *dsServer) json(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	s.set(path, dsRoute{status: 200, ctype: "application/json; charset=utf-8", body: b})
}

func (s *dsServer) hitsOf(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// meta returns a metadata document for issuer with its keys at jwksPath.
func (s *dsServer) meta(issuer, jwksPath string) map[string]any {
	return map[string]any{
		"issuer": issuer, "jwks_uri": s.srv.URL + jwksPath,
		"authorization_endpoint": s.srv.URL + "/authorize", "token_endpoint": s.srv.URL + "/token",
		"introspection_endpoint":            s.srv.URL + "/introspect",
		"dpop_signing_alg_values_supported": []string{"ES256", "RS256"},
		"response_types_supported":          []string{"code"},
	}
}

// dsDiscover runs Discover with a quiet logger, a bounded startup and
// (unless opts set one) a client without idle connections.
func dsDiscover(t *testing.T, issuer string, opts ...validate.Option) (*validate.Provider, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	all := append([]validate.Option{validate.HTTPClient(ksClient(t)), validate.KeySetLogger(ksQuiet), validate.KeySetStartupTimeout(5 * time.Second)}, opts...)
	p, err := validate.Discover(ctx, issuer, all...)
	if err == nil {
		t.Cleanup(func() { _ = p.Close() })
	}
	return p, err
}

// dsToken mints an RFC 9068 token of iss (real clock).
func dsToken(t *testing.T, iss *poptest.Issuer) string {
	t.Helper()
	return iss.Token(poptest.TokenOptions{Subject: "alice", ClientID: "client-1", Audience: jtAudience, Scope: "read"})
}

func dsVerifier(t *testing.T, issuer string, keys validate.KeySet) *validate.JWTVerifier {
	t.Helper()
	v, err := validate.NewJWTVerifier(issuer, keys, validate.Audience(jtAudience))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDiscoverOIDC(t *testing.T) {
	for _, tls := range []bool{false, true} {
		name := map[bool]string{false: "http loopback", true: "https"}[tls]
		t.Run(name, func(t *testing.T) {
			s := newDSServer(t, tls)
			issuer := s.srv.URL
			as := poptest.NewStaticIssuer(issuer)
			s.json(t, dsOIDC, s.meta(issuer, "/jwks"))
			s.set("/jwks", dsRoute{status: 200, ctype: "application/json", body: as.JWKS()})
			var opts []validate.Option
			if tls {
				opts = append(opts, validate.HTTPClient(s.srv.Client()))
			}
			p, err := dsDiscover(t, issuer, opts...)
			if err != nil {
				t.Fatal(err)
			}
			if p.Issuer() != issuer || p.IntrospectionEndpoint() != s.srv.URL+"/introspect" {
				t.Errorf("Issuer() = %q, IntrospectionEndpoint() = %q", p.Issuer(), p.IntrospectionEndpoint())
			}
			if !p.Has(as.KeyID()) || p.Has("other") {
				t.Errorf("Has(%q) = %v, Has(other) = %v", as.KeyID(), p.Has(as.KeyID()), p.Has("other"))
			}
			jtAccept(t, dsVerifier(t, issuer, p), dsToken(t, as))
			if n := s.hitsOf(dsOIDC); n != 1 {
				t.Errorf("%d metadata requests, want 1", n)
			}
			if n := s.hitsOf(dsRFC8414); n != 0 {
				t.Errorf("the RFC 8414 URL was tried %d times after OIDC answered", n)
			}
			// The introspection endpoint feeds an Introspector.
			if _, err := validate.NewIntrospector(p.IntrospectionEndpoint(), validate.ClientSecretBasic("rs", "secret")); err != nil {
				t.Errorf("NewIntrospector(%q): %v", p.IntrospectionEndpoint(), err)
			}
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := p.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// RFC 8414 §3.1: for an issuer with a path, the well-known string goes
// between the host and the path. It is used when the OIDC URL answers 404
// or 405.
func TestDiscoverRFC8414PathInsertion(t *testing.T) {
	for _, status := range []int{http.StatusNotFound, http.StatusMethodNotAllowed} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			s := newDSServer(t, false)
			issuer := s.srv.URL + "/tenant1"
			as := poptest.NewStaticIssuer(issuer)
			s.set("/tenant1"+dsOIDC, dsRoute{status: status, ctype: "text/plain", body: []byte("no")})
			s.json(t, dsRFC8414+"/tenant1", s.meta(issuer, "/tenant1/jwks"))
			// The path-appended form is not RFC 8414's: never asked.
			s.json(t, "/tenant1"+dsRFC8414, s.meta("https://wrong.example.com", "/wrong"))
			s.set("/tenant1/jwks", dsRoute{status: 200, ctype: "application/json", body: as.JWKS()})
			p, err := dsDiscover(t, issuer)
			if err != nil {
				t.Fatal(err)
			}
			jtAccept(t, dsVerifier(t, issuer, p), dsToken(t, as))
			if a, b, c := s.hitsOf("/tenant1"+dsOIDC), s.hitsOf(dsRFC8414+"/tenant1"), s.hitsOf("/tenant1"+dsRFC8414); a != 1 || b != 1 || c != 0 {
				t.Errorf("requests: OIDC %d, RFC 8414 %d, path-appended %d; want 1, 1, 0", a, b, c)
			}
		})
	}
}

func TestDiscoverRefusals(t *testing.T) {
	as := poptest.NewStaticIssuer("https://unused.example.com")
	for _, c := range []struct {
		name string
		// setup serves the OIDC document (and others) for issuer.
		setup func(s *dsServer, issuer string)
		// noRFC8414: the RFC 8414 URL must not be tried.
		noRFC8414 bool
	}{
		{"issuer mismatch", func(s *dsServer, issuer string) {
			s.json(t, dsOIDC, s.meta("https://evil.example.com", "/jwks"))
			s.json(t, dsRFC8414, s.meta(issuer, "/jwks"))
		}, true},
		{"issuer with a trailing slash", func(s *dsServer, issuer string) {
			s.json(t, dsOIDC, s.meta(issuer+"/", "/jwks"))
			s.json(t, dsRFC8414, s.meta(issuer, "/jwks"))
		}, true},
		{"issuer in upper case", func(s *dsServer, issuer string) {
			s.json(t, dsOIDC, s.meta(strings.ToUpper(issuer), "/jwks"))
		}, true},
		{"no issuer", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			delete(m, "issuer")
			s.json(t, dsOIDC, m)
		}, true},
		{"no jwks_uri", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			delete(m, "jwks_uri")
			s.json(t, dsOIDC, m)
		}, true},
		{"jwks_uri http on another host", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["jwks_uri"] = "http://keys.example.com/jwks"
			s.json(t, dsOIDC, m)
		}, true},
		{"jwks_uri relative", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["jwks_uri"] = "/jwks"
			s.json(t, dsOIDC, m)
		}, true},
		{"jwks_uri with user information", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["jwks_uri"] = strings.Replace(s.srv.URL, "://", "://u:p@", 1) + "/jwks"
			s.json(t, dsOIDC, m)
		}, true},
		{"jwks_uri not a string", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["jwks_uri"] = []string{s.srv.URL + "/jwks"}
			s.json(t, dsOIDC, m)
		}, true},
		{"introspection_endpoint http on another host", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["introspection_endpoint"] = "http://as.example.com/introspect"
			s.json(t, dsOIDC, m)
		}, true},
		{"oversized document", func(s *dsServer, issuer string) {
			m := s.meta(issuer, "/jwks")
			m["padding"] = strings.Repeat("x", 300<<10)
			s.json(t, dsOIDC, m)
		}, true},
		{"content type text/html", func(s *dsServer, issuer string) {
			b, _ := json.Marshal(s.meta(issuer, "/jwks"))
			s.set(dsOIDC, dsRoute{status: 200, ctype: "text/html", body: b})
		}, true},
		{"content type application/jwk-set+json", func(s *dsServer, issuer string) {
			b, _ := json.Marshal(s.meta(issuer, "/jwks"))
			s.set(dsOIDC, dsRoute{status: 200, ctype: "application/jwk-set+json", body: b})
		}, true},
		{"not JSON", func(s *dsServer, issuer string) {
			s.set(dsOIDC, dsRoute{status: 200, ctype: "application/json", body: []byte("<html>")})
		}, true},
		{"a JSON array", func(s *dsServer, issuer string) {
			s.set(dsOIDC, dsRoute{status: 200, ctype: "application/json", body: []byte(`[{"issuer":"x"}]`)})
		}, true},
		{"HTTP 500", func(s *dsServer, issuer string) {
			s.set(dsOIDC, dsRoute{status: 500, ctype: "application/json", body: []byte("{}")})
			s.json(t, dsRFC8414, s.meta(issuer, "/jwks"))
		}, true},
		{"HTTP 302", func(s *dsServer, issuer string) {
			s.set(dsOIDC, dsRoute{status: 302, body: nil})
		}, true},
		{"both 404", func(s *dsServer, issuer string) {}, false},
		{"jwks_uri 404", func(s *dsServer, issuer string) {
			s.json(t, dsOIDC, s.meta(issuer, "/missing"))
		}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newDSServer(t, false)
			issuer := s.srv.URL
			s.set("/jwks", dsRoute{status: 200, ctype: "application/json", body: as.JWKS()})
			c.setup(s, issuer)
			p, err := dsDiscover(t, issuer)
			if err == nil {
				t.Fatalf("Discover succeeded: jwks %v", p.Has(as.KeyID()))
			}
			if n := s.hitsOf(dsRFC8414); c.noRFC8414 && n != 0 {
				t.Errorf("the RFC 8414 URL was tried after the OIDC document failed: %v", err)
			}
		})
	}

	// An issuer that is no absolute https URL (http only on loopback), or
	// that has user information, a query or a fragment, is refused before
	// any request.
	for _, issuer := range []string{
		"", "as.example.com", "/tenant1", "http://as.example.com", "ftp://as.example.com",
		"https://as.example.com?x=1", "https://as.example.com/#f", "https://u@as.example.com",
		"https:///path", "http://127.0.0.1.example.com", "http://localhost.example.com",
	} {
		t.Run("issuer "+issuer, func(t *testing.T) {
			if p, err := dsDiscover(t, issuer); err == nil {
				t.Fatalf("Discover(%q) succeeded: %v", issuer, p.Issuer())
			}
		})
	}
}

// A multi-tenant issuer is discovered at its "common" URL, whose document
// names the issuer with the placeholder, and its keys carry per-key
// issuers.
func TestDiscoverTemplatedIssuer(t *testing.T) {
	s := newDSServer(t, false)
	template := s.srv.URL + "/{tenantid}/v2.0"
	jwk, kid := entraJWK(t, jtRSAKey(), template)
	s.json(t, "/common/v2.0"+dsOIDC, s.meta(template, "/common/discovery/v2.0/keys"))
	s.set("/common/discovery/v2.0/keys", dsRoute{status: 200, ctype: "application/json", body: ksJWKS(t, jwk)})
	p, err := dsDiscover(t, template)
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.NewJWTVerifier(template, p, validate.UseProfile(validate.Entra()), validate.Tenants(entraT1),
		validate.Audience(entraAppID, entraAPI), validate.Clock(func() time.Time { return entraNow }))
	if err != nil {
		t.Fatal(err)
	}
	f := &entraFixture{key: jtRSAKey(), kid: kid}
	iss := strings.Replace(template, "{tenantid}", entraT1, 1)
	tok := jtAccept(t, v, f.sign(t, nil, entraV2(entraT1, map[string]any{"iss": iss})))
	if tok.Tenant != entraT1 || tok.Issuer != iss {
		t.Errorf("Tenant %q Issuer %q", tok.Tenant, tok.Issuer)
	}
	// v1 tokens name sts.windows.net; the key's issuer (the v2.0
	// template) agrees through the verifier's issuer.
	jtAccept(t, v, f.sign(t, nil, entraV1(entraT1, nil)))
	_, err = jtVerify(t, v, f.sign(t, nil, entraV2(entraT2, map[string]any{"iss": strings.Replace(template, "{tenantid}", entraT2, 1)})))
	jtReject(t, err, popguard.ReasonTokenTenant)
	// The real Entra ID's tokens are not this issuer's.
	_, err = jtVerify(t, v, f.sign(t, nil, entraV2(entraT1, nil)))
	jtReject(t, err, popguard.ReasonTokenIssuer)

	// The common document must name the template, not "common".
	s2 := newDSServer(t, false)
	template2 := s2.srv.URL + "/{tenantid}/v2.0"
	s2.json(t, "/common/v2.0"+dsOIDC, s2.meta(s2.srv.URL+"/common/v2.0", "/keys"))
	s2.set("/keys", dsRoute{status: 200, ctype: "application/json", body: ksJWKS(t, jwk)})
	if _, err := dsDiscover(t, template2); err == nil {
		t.Error("a common document naming the common issuer was accepted for the template")
	}
}

// dsPoll polls until cond holds, for at most 10 seconds.
func dsPoll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ksPoll(t, 10*time.Second, cond, func() string { return "timed out waiting for " + what })
}

// The metadata is fetched again on the key set's schedule: a new jwks_uri
// replaces the key set; a failed fetch, a document of another issuer or a
// jwks_uri that does not answer keeps the last good one.
func TestDiscoverRefresh(t *testing.T) {
	s := newDSServer(t, false)
	issuer := s.srv.URL
	k1 := poptest.NewStaticIssuer(issuer)
	k2 := poptest.NewStaticIssuer(issuer)
	s.json(t, dsOIDC, s.meta(issuer, "/jwks1"))
	s.set("/jwks1", dsRoute{status: 200, ctype: "application/json", body: k1.JWKS()})
	s.set("/jwks2", dsRoute{status: 200, ctype: "application/json", body: k2.JWKS()})
	p, err := dsDiscover(t, issuer, validate.KeySetRefresh(20*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	v := dsVerifier(t, issuer, p)
	t1, t2 := dsToken(t, k1), dsToken(t, k2)
	if err := ksTry(v, t1); err != nil {
		t.Fatal(err)
	}

	// Documents that must not change anything: another issuer's naming
	// jwks2, a 500, and a jwks_uri that does not answer.
	for _, bad := range []struct {
		name  string
		apply func()
		// waitFor is the path whose requests show the bad document was read.
		waitFor string
	}{
		{"another issuer", func() {
			m := s.meta("https://evil.example.com", "/jwks2")
			m["introspection_endpoint"] = "https://evil.example.com/introspect"
			s.json(t, dsOIDC, m)
		}, dsOIDC},
		{"HTTP 500", func() { s.set(dsOIDC, dsRoute{status: 500}) }, dsOIDC},
		{"gone", func() { s.set(dsOIDC, dsRoute{status: 404}) }, dsOIDC},
		{"jwks_uri not answering", func() { s.json(t, dsOIDC, s.meta(issuer, "/jwks-missing")) }, "/jwks-missing"},
	} {
		before := s.hitsOf(bad.waitFor)
		bad.apply()
		dsPoll(t, bad.name+" to be read", func() bool { return s.hitsOf(bad.waitFor) >= before+2 })
		if err := ksTry(v, t1); err != nil {
			t.Fatalf("after %s: the last good key set was dropped: %v", bad.name, err)
		}
		if n := s.hitsOf("/jwks2"); n != 0 {
			t.Fatalf("after %s: jwks2 was fetched %d times", bad.name, n)
		}
	}
	if got := p.IntrospectionEndpoint(); got != s.srv.URL+"/introspect" {
		t.Errorf("IntrospectionEndpoint() = %q after refused documents", got)
	}

	// A good document with a new jwks_uri swaps the key set.
	m := s.meta(issuer, "/jwks2")
	m["introspection_endpoint"] = s.srv.URL + "/introspect2"
	s.json(t, dsOIDC, m)
	dsPoll(t, "the token of the new key set", func() bool { return ksTry(v, t2) == nil })
	dsPoll(t, "the old key set to go", func() bool { return popguard.ReasonOf(ksTry(v, t1)) == popguard.ReasonTokenUnknownKey })
	if got := p.IntrospectionEndpoint(); got != s.srv.URL+"/introspect2" {
		t.Errorf("IntrospectionEndpoint() = %q after the swap", got)
	}
	if !p.Has(k2.KeyID()) || p.Has(k1.KeyID()) {
		t.Errorf("Has: k1 %v, k2 %v", p.Has(k1.KeyID()), p.Has(k2.KeyID()))
	}

	// Close is idempotent and safe from several goroutines.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.Close()
		}()
	}
	wg.Wait()
	if err := p.Close(); err != nil {
		t.Errorf("Close after Close: %v", err)
	}
	// The keys fetched before Close keep verifying.
	if err := ksTry(v, t2); err != nil {
		t.Errorf("after Close: %v", err)
	}
}
