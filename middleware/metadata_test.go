package middleware_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// rfc9728Doc is the document as a client reads it.
type rfc9728Doc struct {
	Resource      string   `json:"resource"`
	Servers       []string `json:"authorization_servers"`
	Scopes        []string `json:"scopes_supported"`
	BearerMethods []string `json:"bearer_methods_supported"`
	Name          string   `json:"resource_name"`
	Documentation string   `json:"resource_documentation"`
	PolicyURI     string   `json:"resource_policy_uri"`
	TOSURI        string   `json:"resource_tos_uri"`
	DPoPAlgs      []string `json:"dpop_signing_alg_values_supported"`
	DPoPRequired  *bool    `json:"dpop_bound_access_tokens_required"`
	CertBound     *bool    `json:"tls_client_certificate_bound_access_tokens"`
	Signed        string   `json:"signed_metadata"`
}

// fetchDoc serves one request to the metadata handler.
func fetchDoc(t *testing.T, g *middleware.Guard, method string) (*httptest.ResponseRecorder, rfc9728Doc) {
	t.Helper()
	rr := httptest.NewRecorder()
	path := g.MetadataPath()
	if path == "" {
		path = "/.well-known/oauth-protected-resource"
	}
	g.MetadataHandler().ServeHTTP(rr, httptest.NewRequest(method, path, nil))
	var d rfc9728Doc
	if rr.Code == 200 && method == "GET" {
		if err := json.Unmarshal(rr.Body.Bytes(), &d); err != nil {
			t.Fatalf("document is not JSON: %v\n%s", err, rr.Body)
		}
	}
	return rr, d
}

func TestMetadataDocument(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithPoP(), middleware.WithResourceMetadata(middleware.ResourceMetadata{
		Scopes: []string{"extra", "transfer"}, Name: "Payments API", Documentation: "https://docs.api.test/",
		PolicyURI: "https://api.test/policy", TOSURI: "https://api.test/tos",
	}))
	g := h.guard
	if g.MetadataPath() != "/.well-known/oauth-protected-resource" || g.MetadataURL() != "https://api.test/.well-known/oauth-protected-resource" || g.Resource() != publicURL {
		t.Fatalf("path %q url %q resource %q", g.MetadataPath(), g.MetadataURL(), g.Resource())
	}

	t.Run("no route yet: DPoP not required", func(t *testing.T) {
		rr, d := fetchDoc(t, g, "GET")
		if rr.Code != 200 || d.DPoPRequired == nil || *d.DPoPRequired {
			t.Fatalf("%d %s", rr.Code, rr.Body)
		}
	})
	h.route(popguard.DPoPOnly, middleware.RequireScopes("transfer"))
	h.route(popguard.PoPOnly, middleware.RequireScopes("read", "transfer"))
	t.Run("every route refuses Bearer", func(t *testing.T) {
		rr, d := fetchDoc(t, g, "GET")
		want := rfc9728Doc{
			Resource: publicURL, Servers: []string{issuerURL}, Scopes: []string{"transfer", "read", "extra"},
			BearerMethods: []string{"header"}, Name: "Payments API", Documentation: "https://docs.api.test/",
			PolicyURI: "https://api.test/policy", TOSURI: "https://api.test/tos",
			DPoPAlgs: strings.Fields(defaultAlgs), DPoPRequired: ptr(true),
		}
		if !reflect.DeepEqual(d, want) {
			t.Errorf("document\n%+v\nwant\n%+v", d, want)
		}
		for name, v := range map[string]string{
			"Content-Type": "application/json", "Cache-Control": "public, max-age=300",
			"Access-Control-Allow-Origin": "*", "X-Content-Type-Options": "nosniff",
		} {
			if got := rr.Header().Get(name); got != v {
				t.Errorf("%s = %q, want %q", name, got, v)
			}
		}
	})
	h.route(popguard.ReportOnly(popguard.DPoPOnly))
	t.Run("a report-only route still takes Bearer", func(t *testing.T) {
		if _, d := fetchDoc(t, g, "GET"); d.DPoPRequired == nil || *d.DPoPRequired {
			t.Errorf("dpop_bound_access_tokens_required = %v with a route accepting Bearer", d.DPoPRequired)
		}
	})
	t.Run("HEAD: headers, no body", func(t *testing.T) {
		rr, _ := fetchDoc(t, g, "HEAD")
		if rr.Code != 200 || rr.Body.Len() != 0 || rr.Header().Get("Content-Length") == "0" {
			t.Errorf("%d %q len %q", rr.Code, rr.Body, rr.Header().Get("Content-Length"))
		}
	})
	t.Run("preflight", func(t *testing.T) {
		rr, _ := fetchDoc(t, g, "OPTIONS")
		if rr.Code != 204 || rr.Header().Get("Access-Control-Allow-Origin") != "*" || rr.Header().Get("Access-Control-Allow-Methods") != "GET, HEAD" {
			t.Errorf("%d %v", rr.Code, rr.Header())
		}
	})
	for _, m := range []string{"POST", "PUT", "DELETE", "PATCH"} {
		t.Run(m+": 405", func(t *testing.T) {
			rr, _ := fetchDoc(t, g, m)
			if rr.Code != 405 || rr.Header().Get("Allow") != "GET, HEAD, OPTIONS" || strings.Contains(rr.Body.String(), "resource") {
				t.Errorf("%d %v %q", rr.Code, rr.Header(), rr.Body)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestMetadataCertificateBound: tls_client_certificate_bound_access_tokens
// is true exactly when client certificates reach the Guard (forwarded by a
// proxy, or declared) and a route takes Bearer, the scheme
// certificate-bound tokens travel with; otherwise it is absent (false).
func TestMetadataCertificateBound(t *testing.T) {
	forwarded := middleware.WithForwardedClientCert(middleware.ClientCertRFC9440, "", "192.0.2.0/24")
	for _, c := range []struct {
		name   string
		opts   []middleware.Option
		meta   middleware.ResourceMetadata
		routes []popguard.Mode
		want   *bool
	}{
		{"forwarded, DPoP-only routes", []middleware.Option{forwarded}, middleware.ResourceMetadata{}, []popguard.Mode{popguard.DPoPOnly}, nil},
		{"forwarded, a Bearer route", []middleware.Option{forwarded}, middleware.ResourceMetadata{}, []popguard.Mode{popguard.DPoPOnly, popguard.BearerOnly}, ptr(true)},
		{"forwarded, a Mixed route", []middleware.Option{forwarded}, middleware.ResourceMetadata{}, []popguard.Mode{popguard.Mixed}, ptr(true)},
		{"declared, a Mixed route", nil, middleware.ResourceMetadata{CertificateBoundTokens: true}, []popguard.Mode{popguard.Mixed}, ptr(true)},
		{"declared, PoP-only routes", []middleware.Option{middleware.WithPoP()}, middleware.ResourceMetadata{CertificateBoundTokens: true}, []popguard.Mode{popguard.PoPOnly}, nil},
		{"neither, a Bearer route", nil, middleware.ResourceMetadata{}, []popguard.Mode{popguard.BearerOnly}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := append([]middleware.Option{middleware.WithPublicURL(publicURL), middleware.WithResourceMetadata(c.meta)}, c.opts...)
			h := newHarness(t, opts...)
			for _, m := range c.routes {
				h.route(m)
			}
			rr, d := fetchDoc(t, h.guard, "GET")
			if rr.Code != 200 || !reflect.DeepEqual(d.CertBound, c.want) {
				t.Errorf("tls_client_certificate_bound_access_tokens = %v, want %v\n%s", d.CertBound, c.want, rr.Body)
			}
		})
	}
}

func TestMetadataBearerMethodsAndIssuers(t *testing.T) {
	keys := poptest.NewStaticIssuer("https://b.issuer.test").KeySet()
	a, _ := validate.NewJWTVerifier("https://a.issuer.test", keys, validate.Audience("https://api.test/v1"))
	b, _ := validate.NewJWTVerifier("https://b.issuer.test/realms/x", keys, validate.Audience("https://api.test/v1", "other"))
	set, err := validate.NewIssuerSet(a, b)
	if err != nil {
		t.Fatal(err)
	}
	cache, err := validate.NewTokenCache(set)
	if err != nil {
		t.Fatal(err)
	}
	for name, tokens := range map[string]validate.TokenVerifier{"IssuerSet": set, "TokenCache over an IssuerSet": cache} {
		t.Run(name, func(t *testing.T) {
			g, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.test/v1/"),
				middleware.WithQueryTokens(), middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			// The public URL's path, without its trailing slash, is the
			// resource's; the well-known segment goes before it.
			if g.MetadataPath() != "/.well-known/oauth-protected-resource/v1" || g.MetadataURL() != "https://api.test/.well-known/oauth-protected-resource/v1" {
				t.Errorf("path %q url %q", g.MetadataPath(), g.MetadataURL())
			}
			g.Require(popguard.Mixed)(http.NotFoundHandler())
			_, d := fetchDoc(t, g, "GET")
			if d.Resource != "https://api.test/v1" || !slices.Equal(d.Servers, []string{"https://a.issuer.test", "https://b.issuer.test/realms/x"}) ||
				!slices.Equal(d.BearerMethods, []string{"header", "query"}) || d.Scopes != nil || *d.DPoPRequired {
				t.Errorf("%+v", d)
			}
		})
	}
}

func TestMetadataDPoPAlgsFollowTheProofVerifier(t *testing.T) {
	pv, err := validate.NewProofVerifier(validate.Algs("ES256", "EdDSA"))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithProofVerifier(pv), middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if _, d := fetchDoc(t, h.guard, "GET"); !slices.Equal(d.DPoPAlgs, []string{"ES256", "EdDSA"}) {
		t.Errorf("dpop_signing_alg_values_supported = %q", d.DPoPAlgs)
	}
}

func TestMetadataConfigErrors(t *testing.T) {
	keys := newIssuer().KeySet()
	jwt, _ := validate.NewJWTVerifier(issuerURL, keys, validate.Audience(audience))
	anyAud, _ := validate.NewJWTVerifier(issuerURL, keys, validate.SkipAudienceCheck())
	entra, err := validate.NewJWTVerifier("https://login.microsoftonline.com/{tenantid}/v2.0", keys,
		validate.Audience(audience), validate.UseProfile(validate.Entra()), validate.AnyTenant())
	if err != nil {
		t.Fatal(err)
	}
	intro, err := validate.NewIntrospector("https://as.test/introspect", validate.ClientSecretBasic("rs", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	cases := []struct {
		name   string
		tokens validate.TokenVerifier
		opts   []middleware.Option
		m      middleware.ResourceMetadata
		err    string // "" means accepted
	}{
		{"no resource identifier", jwt, []middleware.Option{middleware.WithPublicHosts("api.test")}, middleware.ResourceMetadata{}, "needs a resource identifier"},
		{"resource given without public URL", jwt, []middleware.Option{middleware.WithPublicHosts("api.test")}, middleware.ResourceMetadata{Resource: audience}, ""},
		{"audience mismatch (RFC 8707)", jwt, nil, middleware.ResourceMetadata{Resource: "https://other.test"}, `does not accept the audience "https://other.test"`},
		{"trailing slash is another audience", jwt, nil, middleware.ResourceMetadata{Resource: audience + "/"}, "does not accept the audience"},
		{"any audience", anyAud, nil, middleware.ResourceMetadata{Resource: "https://other.test"}, ""},
		{"multi-tenant issuer", entra, nil, middleware.ResourceMetadata{}, "is multi-tenant"},
		{"multi-tenant issuer, servers listed", entra, nil, middleware.ResourceMetadata{AuthorizationServers: []string{"https://login.microsoftonline.com/t1/v2.0"}}, ""},
		{"introspection without servers", intro, nil, middleware.ResourceMetadata{}, "names no issuer"},
		{"introspection, servers listed", intro, nil, middleware.ResourceMetadata{AuthorizationServers: []string{"https://as.test"}}, ""},
		{"server with a template", intro, nil, middleware.ResourceMetadata{AuthorizationServers: []string{"https://as.test/{tenantid}"}}, "is not a URL"},
		{"server not a URL", intro, nil, middleware.ResourceMetadata{AuthorizationServers: []string{"as.test"}}, "not an absolute http(s) URL"},
		{"server with a query", intro, nil, middleware.ResourceMetadata{AuthorizationServers: []string{"https://as.test/?a=b"}}, "query or fragment"},
		{"resource with a fragment", anyAud, nil, middleware.ResourceMetadata{Resource: "https://api.test/#x"}, "query or fragment"},
		{"resource with userinfo", anyAud, nil, middleware.ResourceMetadata{Resource: "https://u@api.test/"}, "user information"},
		{"resource not http", anyAud, nil, middleware.ResourceMetadata{Resource: "urn:api"}, "not an absolute http(s) URL"},
		{"resource with a quote", anyAud, nil, middleware.ResourceMetadata{Resource: `https://api.test/a"b`}, "quotes"},
		{"resource with a backslash", anyAud, nil, middleware.ResourceMetadata{Resource: `https://api.test/a\b`}, "backslashes"},
		{"resource with a control character", anyAud, nil, middleware.ResourceMetadata{Resource: "https://api.test/a\x7f"}, "not an absolute http(s) URL"},
		{"scope with a space", jwt, nil, middleware.ResourceMetadata{Scopes: []string{"a b"}}, `invalid scope "a b"`},
		{"scope with a quote", jwt, nil, middleware.ResourceMetadata{Scopes: []string{`a"`}}, "invalid scope"},
		{"scope not ASCII", jwt, nil, middleware.ResourceMetadata{Scopes: []string{"é"}}, "invalid scope"},
		{"name with a newline", jwt, nil, middleware.ResourceMetadata{Name: "a\nb"}, "without control characters"},
		{"documentation not a URL", jwt, nil, middleware.ResourceMetadata{Documentation: "docs"}, "resource_documentation"},
		{"kid without key", jwt, nil, middleware.ResourceMetadata{SigningKeyID: "k"}, "need a SigningKey"},
		{"small RSA key", jwt, nil, middleware.ResourceMetadata{SigningKey: rsa1024}, "at least 2048 bits"},
		{"nil key", jwt, nil, middleware.ResourceMetadata{SigningKey: (*ecdsa.PrivateKey)(nil)}, "nil key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			if opts == nil {
				opts = []middleware.Option{middleware.WithPublicURL(publicURL)}
			}
			opts = append(opts, middleware.WithTokens(c.tokens), middleware.WithResourceMetadata(c.m))
			g, err := middleware.New(opts...)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("err = %v, want it to contain %q", err, c.err)
			}
			if g != nil {
				_ = g.Close()
			}
		})
	}
}

// TestMetadataWithoutConfiguration: no metadata, no resource_metadata, and
// the handler answers 404.
func TestMetadataWithoutConfiguration(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	if h.guard.MetadataPath() != "" || h.guard.MetadataURL() != "" || h.guard.Resource() != "" {
		t.Error("metadata locations without WithResourceMetadata")
	}
	if rr, _ := fetchDoc(t, h.guard, "GET"); rr.Code != 404 {
		t.Errorf("%d", rr.Code)
	}
	resp := h.do(h.route(popguard.Mixed), request("GET", target))
	for _, c := range resp.header.Values("WWW-Authenticate") {
		if strings.Contains(c, "resource_metadata") {
			t.Errorf("challenge %q", c)
		}
	}
}

func TestSignedMetadata(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	for _, c := range []struct {
		alg string
		key crypto.Signer
	}{{"ES256", ec}, {"ES384", ec384}, {"RS256", rk}, {"EdDSA", ed}} {
		t.Run(c.alg, func(t *testing.T) {
			h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithResourceMetadata(middleware.ResourceMetadata{
				SigningKey: c.key, SigningKeyID: "rs-1", Scopes: []string{"read"},
			}))
			h.route(popguard.DPoPOnly)
			_, d := fetchDoc(t, h.guard, "GET")
			parts := strings.Split(d.Signed, ".")
			if len(parts) != 3 {
				t.Fatalf("signed_metadata %q", d.Signed)
			}
			var hdr map[string]any
			var claims map[string]any
			hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
			cb, _ := base64.RawURLEncoding.DecodeString(parts[1])
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			if json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
				t.Fatalf("not JSON: %s %s", hb, cb)
			}
			if hdr["alg"] != c.alg || hdr["kid"] != "rs-1" || len(hdr) != 2 {
				t.Errorf("header %v", hdr)
			}
			if claims["iss"] != publicURL || claims["resource"] != publicURL || claims["dpop_bound_access_tokens_required"] != true || claims["signed_metadata"] != nil {
				t.Errorf("claims %v", claims)
			}
			if iat, ok := claims["iat"].(float64); !ok || time.Since(time.Unix(int64(iat), 0)) > time.Minute {
				t.Errorf("iat %v", claims["iat"])
			}
			input := []byte(parts[0] + "." + parts[1])
			if !verifySig(t, c.key.Public(), c.alg, input, sig) {
				t.Error("signature does not verify")
			}
			input[len(input)-1] ^= 1
			if verifySig(t, c.key.Public(), c.alg, input, sig) {
				t.Error("signature verifies a changed payload")
			}
		})
	}
}

func verifySig(t *testing.T, pub crypto.PublicKey, alg string, input, sig []byte) bool {
	t.Helper()
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*size {
			t.Fatalf("ECDSA signature of %d bytes", len(sig))
		}
		var digest []byte
		if alg == "ES256" {
			d := sha256.Sum256(input)
			digest = d[:]
		} else {
			hh := crypto.SHA384.New()
			hh.Write(input)
			digest = hh.Sum(nil)
		}
		return ecdsa.Verify(k, digest, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case *rsa.PublicKey:
		d := sha256.Sum256(input)
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, d[:], sig) == nil
	case ed25519.PublicKey:
		return ed25519.Verify(k, input, sig)
	}
	t.Fatalf("key %T", pub)
	return false
}

// TestResourceOtherThanPublicURL: the resource identifier decides where
// the document is and what resource_metadata says, not the public URL.
func TestResourceOtherThanPublicURL(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL+"/v1"),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: audience}))
	if h.guard.MetadataURL() != "https://api.test/.well-known/oauth-protected-resource" || h.guard.Resource() != audience {
		t.Fatalf("MetadataURL %q resource %q", h.guard.MetadataURL(), h.guard.Resource())
	}
	resp := h.do(h.route(popguard.BearerOnly), request("GET", publicURL+"/v1/x"))
	if got := resp.header.Get("WWW-Authenticate"); got != `Bearer realm="api", resource_metadata="https://api.test/.well-known/oauth-protected-resource"` {
		t.Errorf("challenge %q", got)
	}
	// The harness's verifier accepts "https://api.test" only: the public
	// URL with its path is no audience of it, and New says so.
	keys := newIssuer().KeySet()
	v, _ := validate.NewJWTVerifier(issuerURL, keys, validate.Audience(audience))
	_, err := middleware.New(middleware.WithTokens(v), middleware.WithPublicURL(publicURL+"/v1"), middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	if err == nil || !strings.Contains(err.Error(), `"https://api.test/v1"`) {
		t.Errorf("err = %v", err)
	}
}

func TestChallengesCarryResourceMetadata(t *testing.T) {
	const rm = `resource_metadata="https://api.test/.well-known/oauth-protected-resource"`
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithPoP(),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	const dpopAlgs = `algs="` + defaultAlgs + `"`
	t.Run("401 without credentials, every scheme", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed, middleware.RequireScopes("read", "admin")), request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`Bearer realm="api", scope="read admin", ` + rm,
			`DPoP scope="read admin", ` + rm + `, ` + dpopAlgs,
			`PoP realm="api", scope="read admin", ` + rm,
		}, reason: popguard.ReasonNoCredentials})
	})
	t.Run("401 with an error, route without scopes", func(t *testing.T) {
		resp := h.do(h.route(popguard.DPoPOnly), request("GET", target, "Authorization", "DPoP "+h.bound()))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{
			`DPoP error="invalid_dpop_proof", error_description="` + descProofMissing + `", ` + rm + `, ` + dpopAlgs,
		}, code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofMissing, scheme: popguard.DPoP})
	})
	t.Run("403 names the missing scopes", func(t *testing.T) {
		tok := h.bound()
		resp := h.do(h.route(popguard.DPoPOnly, middleware.RequireScopes("read", "admin")),
			request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
		h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
			`DPoP error="insufficient_scope", error_description="` + descScope + `", scope="admin", ` + rm + `, ` + dpopAlgs,
		}, code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientScope, scheme: popguard.DPoP})
	})
	t.Run("403 for a role: no scope", func(t *testing.T) {
		resp := h.do(h.route(popguard.BearerOnly, middleware.RequireScopes("read"), middleware.RequireRoles("Admin")),
			request("GET", target, "Authorization", "Bearer "+h.unbound()))
		h.expectRejected(t, resp, rejectWant{status: 403, challenges: []string{
			`Bearer realm="api", error="insufficient_scope", error_description="The access token does not grant the required role: Admin", ` + rm,
		}, code: popguard.CodeInsufficientScope, reason: popguard.ReasonInsufficientRole, scheme: popguard.Bearer})
	})
	t.Run("400 on every challenge", func(t *testing.T) {
		resp := h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer a", "Authorization", "Bearer b"))
		h.expectRejected(t, resp, rejectWant{status: 400, challenges: []string{
			`Bearer realm="api", error="invalid_request", error_description="` + descMultiple + `", ` + rm,
			`DPoP error="invalid_request", error_description="` + descMultiple + `", ` + rm + `, ` + dpopAlgs,
			`PoP realm="api", error="invalid_request", error_description="` + descMultiple + `", ` + rm,
		}, code: popguard.CodeInvalidRequest, reason: popguard.ReasonRequestMultipleAuthorization})
	})
}

// TestCORSPreflight: a preflight carries no credentials and is never
// answered 401, but it never reaches the handler either: anyone can send one,
// and an unauthenticated request must not run a protected handler. The guard
// answers 204 and keeps the headers a CORS middleware in front set. An
// OPTIONS request that is no preflight is checked like any other.
func TestCORSPreflight(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithResourceMetadata(middleware.ResourceMetadata{}))
	rt, err := h.guard.Route(popguard.DPoPOnly)
	if err != nil {
		t.Fatal(err)
	}
	var ran int
	var got *popguard.Result
	handler := rt.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		got = popguard.FromContext(r.Context())
		w.WriteHeader(http.StatusNoContent)
	}))
	preflight := request("OPTIONS", target, "Origin", "https://app.test", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "authorization, dpop")
	resp := h.do(handler, preflight)
	if resp.status != 204 || ran != 0 || got != nil || resp.header.Get("WWW-Authenticate") != "" || len(resp.body) != 0 {
		t.Errorf("preflight: %d ran=%d result=%v %v %q", resp.status, ran, got, resp.header, resp.body)
	}
	// A preflight that would move money if it reached the handler: it does not.
	for _, m := range []string{"POST", "DELETE", "PUT"} {
		resp := h.do(handler, request("OPTIONS", target+"?amount=1000", "Origin", "https://evil.test", "Access-Control-Request-Method", m))
		if resp.status != 204 || ran != 0 {
			t.Errorf("preflight for %s: %d, handler ran %d times", m, resp.status, ran)
		}
	}
	// Behind a CORS middleware that passes preflights on, its headers stay.
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://app.test")
		w.Header().Set("Access-Control-Allow-Headers", "Authorization, DPoP")
		handler.ServeHTTP(w, r)
	})
	if resp := h.do(cors, preflight); resp.status != 204 || ran != 0 || resp.header.Get("Access-Control-Allow-Origin") != "https://app.test" {
		t.Errorf("behind CORS: %d ran=%d %v", resp.status, ran, resp.header)
	}
	res, hdr, err := rt.Check(preflight)
	var rej *middleware.Rejection
	if res != nil || hdr != nil || !errors.As(err, &rej) || rej.Status != 204 || rej.Err.Reason != popguard.ReasonCORSPreflight || len(rej.Header) != 0 {
		t.Errorf("Check(preflight) = %v %v %v", res, hdr, err)
	}
	for name, r := range map[string]*http.Request{
		"OPTIONS without Access-Control-Request-Method": request("OPTIONS", target, "Origin", "https://app.test"),
		"OPTIONS without Origin":                        request("OPTIONS", target, "Access-Control-Request-Method", "POST"),
		"GET with preflight headers":                    request("GET", target, "Origin", "https://app.test", "Access-Control-Request-Method", "POST"),
	} {
		t.Run(name, func(t *testing.T) {
			ran = 0
			resp := h.do(handler, r)
			if resp.status != 401 || ran != 0 {
				t.Errorf("%d, handler ran %d times", resp.status, ran)
			}
		})
	}
}

// TestExposeHeadersBehindCORS: a CORS middleware in front sets its own
// Access-Control-Expose-Headers; an accepted request with a rotated nonce
// keeps them and adds the guard's, and so does a rejection.
func TestExposeHeadersBehindCORS(t *testing.T) {
	clk := newClock()
	src := newNonces(t, clk)
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(src))
	inner := h.route(popguard.DPoPOnly, middleware.RequireNonce())
	cors := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "https://app.test")
		w.Header().Set("Access-Control-Expose-Headers", "X-Request-Id")
		inner.ServeHTTP(w, r)
	})
	tok := h.bound()
	resp := h.do(cors, h.dpopReq(tok, ""))
	if got := resp.header.Values("Access-Control-Expose-Headers"); !slices.Equal(got, []string{"X-Request-Id", exposeHeaders}) || resp.status != 401 {
		t.Errorf("rejection: %d Access-Control-Expose-Headers = %q", resp.status, got)
	}
	n := resp.header.Get("DPoP-Nonce")
	clk.Advance(time.Minute)
	resp = h.do(cors, h.dpopReq(tok, n))
	if resp.status != 200 || resp.header.Get("DPoP-Nonce") == "" {
		t.Fatalf("%d, DPoP-Nonce %q", resp.status, resp.header.Get("DPoP-Nonce"))
	}
	if got := resp.header.Values("Access-Control-Expose-Headers"); !slices.Equal(got, []string{"X-Request-Id", exposeHeaders}) {
		t.Errorf("rotated nonce: Access-Control-Expose-Headers = %q", got)
	}
	dst := http.Header{}
	middleware.AddHeaders(dst, http.Header{"Dpop-Nonce": {"n"}, "Access-Control-Expose-Headers": {exposeHeaders}})
	if dst.Get("DPoP-Nonce") != "n" || dst.Get("Access-Control-Expose-Headers") != exposeHeaders {
		t.Errorf("AddHeaders into an empty header: %v", dst)
	}
}
