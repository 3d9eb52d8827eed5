package middleware_test

// Certificate-bound tokens (RFC 8705): over real mutual TLS, from curl, and
// forwarded by a TLS-terminating proxy in each header form, from trusted and
// untrusted peers.

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const descClientCert = "The forwarded client certificate is malformed"

// certToken is a token bound to c (cnf.x5t#S256).
func (h *harness) certToken(c *testcert.Cert) string {
	return h.token(poptest.TokenOptions{Subject: "carol", ClientID: "svc-app", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(c.DER)}}})
}

// send resets the captures and sends req with client.
func (h *harness) send(t *testing.T, client *http.Client, req *http.Request) response {
	t.Helper()
	h.cap.reset()
	h.calls.Store(0)
	h.result.Store(nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// mtlsServer serves the BearerOnly route over TLS on loopback, asking for a
// client certificate and verifying any against ca (the Go TLS server's
// tls.VerifyClientCertIfGiven).
func mtlsServer(t *testing.T, h *harness, ca, server *testcert.Cert) *httptest.Server {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	srv := httptest.NewUnstartedServer(h.route(popguard.BearerOnly))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{server.TLS()}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func tlsClient(ca *testcert.Cert, cert *testcert.Cert) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	cfg := &tls.Config{RootCAs: pool}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
}

func TestCertBoundOverMutualTLS(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	ca := testcert.CA(t, "test CA")
	srv := mtlsServer(t, h, ca, testcert.Server(t, ca))
	mine, other := testcert.Client(t, ca, "svc"), testcert.Client(t, ca, "thief")
	tok := h.certToken(mine)
	get := func(scheme, tok string) *http.Request {
		req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
		req.Header.Set("Authorization", scheme+" "+tok)
		return req
	}
	want := popguard.Result{Scheme: popguard.Bearer, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
		CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}

	t.Run("its certificate", func(t *testing.T) {
		h.expectAccepted(t, h.send(t, tlsClient(ca, mine), get("Bearer", tok)), want, middleware.Accepted)
	})
	t.Run("its certificate, mtls_pop scheme", func(t *testing.T) {
		w := want
		w.Scheme = popguard.MTLSPoP
		h.expectAccepted(t, h.send(t, tlsClient(ca, mine), get("mtls_pop", tok)), w, middleware.Accepted)
	})
	t.Run("no certificate", func(t *testing.T) {
		h.expectRejected(t, h.send(t, tlsClient(ca, nil), get("Bearer", tok)), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertMissing)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertMissing, scheme: popguard.Bearer})
	})
	t.Run("another certificate of the same CA", func(t *testing.T) {
		h.expectRejected(t, h.send(t, tlsClient(ca, other), get("Bearer", tok)), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertBinding)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertBinding, scheme: popguard.Bearer})
	})
	t.Run("mtls_pop scheme, another certificate", func(t *testing.T) {
		h.expectRejected(t, h.send(t, tlsClient(ca, other), get("mtls_pop", tok)), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertBinding)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertBinding, scheme: popguard.MTLSPoP})
	})
	t.Run("unbound token with a certificate", func(t *testing.T) {
		h.expectAccepted(t, h.send(t, tlsClient(ca, mine), get("Bearer", h.unbound())), alice, middleware.Accepted)
	})
}

// RFC 8705 §3 lets a resource server accept self-signed client certificates:
// the TLS handshake proves the key, the token's thumbprint names the
// certificate. Chain validation is the TLS server's choice (here
// tls.RequireAnyClientCert, no CA).
func TestCertBoundSelfSigned(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	ca := testcert.CA(t, "server CA")
	self := testcert.Client(t, nil, "self-signed")
	srv := httptest.NewUnstartedServer(h.route(popguard.Mixed))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{testcert.Server(t, ca).TLS()}, ClientAuth: tls.RequireAnyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
	req.Header.Set("Authorization", "Bearer "+h.certToken(self))
	h.expectAccepted(t, h.send(t, tlsClient(ca, self), req), popguard.Result{Scheme: popguard.Bearer, Subject: "carol",
		ClientID: "svc-app", Scopes: []string{"read"}, CertificateThumbprint: validate.CertificateThumbprint(self.DER)}, middleware.Accepted)
}

// curl, a client no one here wrote, presents the certificate from files.
func TestCertBoundCurl(t *testing.T) {
	curl := testenv.LookPath(t, "curl", "install curl (apt-get install curl)")
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	ca := testcert.CA(t, "test CA")
	srv := mtlsServer(t, h, ca, testcert.Server(t, ca))
	dir := t.TempDir()
	mine, other := testcert.Client(t, ca, "svc"), testcert.Client(t, ca, "thief")
	caFile, _ := ca.Files(t, dir, "ca")
	certFile, keyFile := mine.Files(t, dir, "client")
	otherFile, otherKey := other.Files(t, dir, "other")
	tok := h.certToken(mine)
	run := func(t *testing.T, args ...string) (status string, headers string) {
		t.Helper()
		h.cap.reset()
		h.calls.Store(0)
		cmd := exec.Command(curl, append([]string{"-sS", "--cacert", caFile, "-D", "-", "-o", "/dev/null",
			"-H", "Authorization: Bearer " + tok}, append(args, srv.URL+"/r")...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		first, rest, _ := strings.Cut(string(out), "\n")
		f := strings.Fields(first)
		if len(f) < 2 {
			t.Fatalf("curl printed %q", out)
		}
		return f[1], rest
	}
	t.Run("its certificate", func(t *testing.T) {
		if status, hdr := run(t, "--cert", certFile, "--key", keyFile); status != "200" {
			t.Fatalf("status %s, headers %s", status, hdr)
		}
		if res := h.result.Load(); res == nil || res.CertificateThumbprint != validate.CertificateThumbprint(mine.DER) {
			t.Fatalf("result %+v", res)
		}
	})
	for _, c := range []struct {
		name   string
		args   []string
		reason popguard.Reason
	}{
		{"no certificate", nil, popguard.ReasonTokenCertMissing},
		{"another certificate", []string{"--cert", otherFile, "--key", otherKey}, popguard.ReasonTokenCertBinding},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, hdr := run(t, c.args...)
			if status != "401" || !strings.Contains(hdr, `error="invalid_token"`) {
				t.Errorf("status %s, headers %s", status, hdr)
			}
			if n := h.calls.Load(); n != 0 {
				t.Errorf("handler ran %d times", n)
			}
			if _, ev, _ := h.cap.snapshot(); len(ev) != 1 || ev[0].Reason != c.reason {
				t.Errorf("events %+v, want reason %s", ev, c.reason)
			}
		})
	}
}

// The forms a proxy sends a certificate in.
func rfc9440(c *testcert.Cert) string { return ":" + base64.StdEncoding.EncodeToString(c.DER) + ":" }
func nginxForm(c *testcert.Cert) string {
	return strings.ReplaceAll(url.QueryEscape(string(c.PEM())), "+", "%20")
}
func envoyHash(c *testcert.Cert) string {
	sum := sha256.Sum256(c.DER)
	return hex.EncodeToString(sum[:])
}
func envoyForm(c *testcert.Cert) string {
	return `By=spiffe://cluster.local/ns/default/sa/api;Hash=` + envoyHash(c) + `;Cert="` + nginxForm(c) +
		`";Subject="CN=svc,O=Example\, Inc";URI=spiffe://cluster.local/ns/default/sa/svc`
}

const (
	proxyAddr     = "192.0.2.10:44321" // the trusted proxy
	untrustedAddr = "198.51.100.7:5555"
)

func TestForwardedClientCert(t *testing.T) {
	mine := testcert.Client(t, nil, "svc")
	other := testcert.Client(t, nil, "thief")
	forms := []struct {
		form   middleware.ClientCertHeader
		header string
		value  func(*testcert.Cert) string
		bad    map[string][]string // malformed header lines
	}{
		{middleware.ClientCertRFC9440, "Client-Cert", rfc9440, map[string][]string{
			"not a byte sequence":  {base64.StdEncoding.EncodeToString(mine.DER)},
			"unterminated":         {":" + base64.StdEncoding.EncodeToString(mine.DER)},
			"not base64":           {":" + strings.Repeat("*", 40) + ":"},
			"base64url":            {":" + base64.URLEncoding.EncodeToString(other.DER) + "-_:"},
			"a list":               {rfc9440(mine) + ", " + rfc9440(other)},
			"two lines":            {rfc9440(mine), rfc9440(mine)},
			"not DER":              {":" + base64.StdEncoding.EncodeToString([]byte("hello, world")) + ":"},
			"DER and trailing":     {":" + base64.StdEncoding.EncodeToString(append(append([]byte{}, mine.DER...), 0)) + ":"},
			"a bare string":        {`"<script>alert(1)</script>"`},
			"control bytes inside": {":\x01\x02:"},
		}},
		{middleware.ClientCertNginx, "X-SSL-Client-Cert", nginxForm, map[string][]string{
			"bad escape":        {"%zz" + nginxForm(mine)},
			"raw DER base64":    {base64.StdEncoding.EncodeToString(mine.DER)},
			"a private key":     {url.QueryEscape(string(mine.KeyPEM(t)))},
			"two certificates":  {nginxForm(mine) + nginxForm(other)},
			"two lines":         {nginxForm(mine), nginxForm(mine)},
			"PEM of not-DER":    {url.PathEscape("-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n")},
			"attacker's markup": {"<b>%0A\"quoted\""},
		}},
		{middleware.ClientCertEnvoy, "X-Forwarded-Client-Cert", envoyForm, map[string][]string{
			"no Hash, no Cert":         {`By=spiffe://x;Subject="CN=a"`},
			"Hash not hex":             {`Hash=zz` + envoyHash(mine)[2:]},
			"Hash too short":           {`Hash=` + envoyHash(mine)[:62]},
			"Hash and Cert disagree":   {`Hash=` + envoyHash(other) + `;Cert="` + nginxForm(mine) + `"`},
			"Cert not PEM":             {`Hash=` + envoyHash(mine) + `;Cert="hello"`},
			"pair without =":           {`Hash`},
			"empty last element":       {envoyForm(mine) + ","},
			"stray quote":              {`Hash=` + envoyHash(mine) + `;Subject=CN"x`},
			"two Hash":                 {`Hash=` + envoyHash(mine) + `;Hash=` + envoyHash(mine)},
			"unterminated quoted Cert": {`Hash=` + envoyHash(mine) + `;Cert="` + nginxForm(mine)},
		}},
	}
	for _, f := range forms {
		t.Run(f.form.String(), func(t *testing.T) {
			h := newHarness(t, middleware.WithPublicURL(publicURL),
				middleware.WithForwardedClientCert(f.form, "", "192.0.2.0/24", "2001:db8::/32"))
			route := h.route(popguard.Mixed)
			tok := h.certToken(mine)
			want := popguard.Result{Scheme: popguard.Bearer, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
				CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}
			req := func(peer string, tls *tls.ConnectionState, hdr ...string) *http.Request {
				r := request("GET", target, append([]string{"Authorization", "Bearer " + tok}, hdr...)...)
				r.RemoteAddr, r.TLS = peer, tls
				return r
			}
			connOf := func(c *testcert.Cert) *tls.ConnectionState {
				return &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{c.Cert}}
			}
			refused := func(t *testing.T, r *http.Request, status int, code popguard.ErrorCode, desc string, reason popguard.Reason) response {
				t.Helper()
				resp := h.do(route, r)
				h.expectRejected(t, resp, rejectWant{status: status, challenges: []string{
					bearerErr(code, desc), dpopPlain}, code: code, reason: reason, scheme: popguard.Bearer})
				return resp
			}
			t.Run("trusted proxy, its certificate", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, req(proxyAddr, nil, f.header, f.value(mine))), want, middleware.Accepted)
			})
			t.Run("trusted proxy over IPv6, its certificate", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, req("[2001:db8::5]:443", nil, f.header, f.value(mine))), want, middleware.Accepted)
			})
			t.Run("trusted proxy, another certificate", func(t *testing.T) {
				refused(t, req(proxyAddr, nil, f.header, f.value(other)), 401, popguard.CodeInvalidToken, descCertBinding, popguard.ReasonTokenCertBinding)
			})
			t.Run("trusted proxy, no header", func(t *testing.T) {
				refused(t, req(proxyAddr, nil), 401, popguard.CodeInvalidToken, descCertMissing, popguard.ReasonTokenCertMissing)
			})
			// The proxy's own TLS certificate is not the client's.
			t.Run("trusted proxy, no header, the right certificate on the proxy's connection", func(t *testing.T) {
				refused(t, req(proxyAddr, connOf(mine)), 401, popguard.CodeInvalidToken, descCertMissing, popguard.ReasonTokenCertMissing)
			})
			t.Run("untrusted peer sends the header", func(t *testing.T) {
				refused(t, req(untrustedAddr, nil, f.header, f.value(mine)), 401, popguard.CodeInvalidToken, descCertMissing, popguard.ReasonTokenCertMissing)
			})
			t.Run("untrusted peer with another certificate sends the header", func(t *testing.T) {
				refused(t, req(untrustedAddr, connOf(other), f.header, f.value(mine)), 401, popguard.CodeInvalidToken, descCertBinding, popguard.ReasonTokenCertBinding)
			})
			t.Run("untrusted peer with its certificate over TLS", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, req(untrustedAddr, connOf(mine))), want, middleware.Accepted)
			})
			t.Run("untrusted peer sends a malformed header: ignored", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, req(untrustedAddr, connOf(mine), f.header, "%zz:<junk>")), want, middleware.Accepted)
			})
			t.Run("header in another form is not read", func(t *testing.T) {
				for _, g := range forms {
					if g.form != f.form {
						refused(t, req(proxyAddr, nil, g.header, g.value(mine)), 401, popguard.CodeInvalidToken, descCertMissing, popguard.ReasonTokenCertMissing)
					}
				}
			})
			t.Run("oversized header", func(t *testing.T) {
				refused(t, req(proxyAddr, nil, f.header, f.value(mine)+strings.Repeat("A", 70<<10)), 400,
					popguard.CodeInvalidRequest, descClientCert, popguard.ReasonRequestClientCert)
			})
			for name, lines := range f.bad {
				t.Run("malformed: "+name, func(t *testing.T) {
					var hdr []string
					for _, l := range lines {
						hdr = append(hdr, f.header, l)
					}
					resp := refused(t, req(proxyAddr, nil, hdr...), 400, popguard.CodeInvalidRequest, descClientCert, popguard.ReasonRequestClientCert)
					answer := append(append([]byte{}, resp.body...), strings.Join(resp.header.Values("WWW-Authenticate"), " ")...)
					for _, echo := range []string{"<", "%", "alert", "Hash", "BEGIN", "MII"} {
						if bytes.Contains(answer, []byte(echo)) {
							t.Errorf("the answer echoes the header (%q): %s", echo, answer)
						}
					}
				})
			}
			// The header is read for certificate-bound tokens only.
			t.Run("unbound token, malformed header", func(t *testing.T) {
				r := request("GET", target, "Authorization", "Bearer "+h.unbound(), f.header, "%zz")
				r.RemoteAddr = proxyAddr
				h.expectAccepted(t, h.do(route, r), alice, middleware.Accepted)
			})
		})
	}
}

// Envoy appends an element per hop (APPEND_FORWARD): the last one is the
// nearest proxy's, the only one popguard reads.
func TestForwardedClientCertEnvoyElements(t *testing.T) {
	mine := testcert.Client(t, nil, "svc")
	other := testcert.Client(t, nil, "thief")
	h := newHarness(t, middleware.WithPublicURL(publicURL),
		middleware.WithForwardedClientCert(middleware.ClientCertEnvoy, "", "192.0.2.10"))
	route := h.route(popguard.BearerOnly)
	tok := h.certToken(mine)
	want := popguard.Result{Scheme: popguard.Bearer, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
		CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}
	do := func(lines ...string) response {
		r := request("GET", target, "Authorization", "Bearer "+tok)
		for _, l := range lines {
			r.Header.Add("X-Forwarded-Client-Cert", l)
		}
		r.RemoteAddr = proxyAddr
		return h.do(route, r)
	}
	t.Run("Hash alone", func(t *testing.T) {
		h.expectAccepted(t, do("By=spiffe://a;Hash="+envoyHash(mine)), want, middleware.Accepted)
	})
	t.Run("Cert alone", func(t *testing.T) {
		h.expectAccepted(t, do(`Cert="`+nginxForm(mine)+`"`), want, middleware.Accepted)
	})
	t.Run("the client's element first, the proxy's last", func(t *testing.T) {
		h.expectAccepted(t, do(envoyForm(other)+","+envoyForm(mine)), want, middleware.Accepted)
	})
	t.Run("elements on two field lines", func(t *testing.T) {
		h.expectAccepted(t, do(envoyForm(other), envoyForm(mine)), want, middleware.Accepted)
	})
	t.Run("a forged element before the proxy's", func(t *testing.T) {
		h.expectRejected(t, do(envoyForm(mine)+","+envoyForm(other)), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertBinding)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertBinding, scheme: popguard.Bearer})
	})
}

func TestWithForwardedClientCertConfig(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	v, err := validate.NewJWTVerifier(issuerURL, h.iss.KeySet(), validate.Audience(audience))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := middleware.New(middleware.WithTokens(v), middleware.WithPublicURL(publicURL),
		middleware.WithForwardedClientCert(middleware.ClientCertNginx, "", "10.0.0.0/8", "fd00::1")); err != nil {
		t.Fatalf("a valid configuration: %v", err)
	}
	for name, opt := range map[string]middleware.Option{
		"zero form":       middleware.WithForwardedClientCert(0, "", "10.0.0.0/8"),
		"no proxies":      middleware.WithForwardedClientCert(middleware.ClientCertNginx, ""),
		"bad CIDR":        middleware.WithForwardedClientCert(middleware.ClientCertNginx, "", "10.0.0.0/33"),
		"bad name":        middleware.WithForwardedClientCert(middleware.ClientCertNginx, "X SSL", "10.0.0.1"),
		"name with colon": middleware.WithForwardedClientCert(middleware.ClientCertRFC9440, "Client-Cert:", "10.0.0.1"),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := middleware.New(middleware.WithTokens(v), middleware.WithPublicURL(publicURL), opt); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}
