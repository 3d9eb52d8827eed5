package main

import (
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// A certificate-bound token (RFC 8705) through nginx auth_request: nginx
// terminates mutual TLS and forwards $ssl_client_escaped_cert as
// X-SSL-Client-Cert. popguard believes the header from the gateway only.
func TestClientCertFromGateway(t *testing.T) {
	f := newFixture(t)
	cfg := f.config("10.0.0.0/24")
	cfg.ClientCert = ClientCertConfig{Form: "nginx"}
	sv := startPopguard(t, cfg)
	ca := testcert.CA(t, "gateway CA")
	cert, other := testcert.Client(t, ca, "svc"), testcert.Client(t, ca, "thief")
	tok := f.iss.Token(poptest.TokenOptions{Subject: "svc", ClientID: "svc", Audience: "https://api.example.test",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(cert.DER)}}})
	escaped := func(c *testcert.Cert) string {
		return url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})))
	}
	decide := func(peer string, c *testcert.Cert) *http.Response {
		r := nginxShape("", "")
		r.Header.Set("X-Original-URI", "/bearer/orders")
		r.Header.Set("X-Original-Method", "GET")
		r.Header.Del("DPoP")
		r.Header.Set("Authorization", "Bearer "+tok)
		if c != nil {
			r.Header.Set("X-SSL-Client-Cert", escaped(c))
		}
		return ask(sv, peer, r).Result()
	}
	if res := decide(gatewayPeer, cert); res.StatusCode != 200 || res.Header.Get("X-Auth-Subject") != "svc" {
		t.Errorf("its certificate through the gateway: %d", res.StatusCode)
	}
	for name, c := range map[string]struct {
		cert   *testcert.Cert
		reason string
	}{
		"another certificate": {other, "token_cert_binding"},
		"no certificate":      {nil, "token_cert_missing"},
	} {
		res := decide(gatewayPeer, c.cert)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s: %d %q", name, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
		if got := sv.metrics.count("/bearer", "Bearer", "rejected", c.reason); got != 1 {
			t.Errorf("%s: %s count %d, want 1", name, c.reason, got)
		}
	}
	// From a peer that is not a gateway, nothing is believed at all.
	if res := decide(otherPeer, cert); res.StatusCode != http.StatusForbidden {
		t.Errorf("untrusted peer: %d, want 403", res.StatusCode)
	}
}

func TestClientCertConfigErrors(t *testing.T) {
	for _, c := range []ClientCertConfig{{Form: "apache"}, {Header: "X-Cert"}} {
		if _, err := c.option([]string{"10.0.0.0/24"}); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
