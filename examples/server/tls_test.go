package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// The server over HTTPS with -client-ca: a certificate-bound token is
// accepted on /bearer/ and /mixed/ with its certificate, from Go's client and
// from curl --cert, and refused without it or with another; with
// -client-cert-header the certificate a trusted proxy forwards counts, the
// same header from an untrusted peer does not.
func TestServerCertificateBound(t *testing.T) {
	curl := testenv.LookPath(t, "curl", "install curl (apt-get install curl)")
	const aud = "https://api.example.test"
	iss := poptest.NewStaticIssuer("https://issuer.example.test")
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	ca := testcert.CA(t, "test CA")
	caFile, _ := ca.Files(t, dir, "ca")
	srvCert, srvKey := testcert.Server(t, ca).Files(t, dir, "server")
	mine, other := testcert.Client(t, ca, "svc"), testcert.Client(t, ca, "thief")
	certFile, keyFile := mine.Files(t, dir, "client")
	bin := filepath.Join(dir, "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	// The test itself, on 127.0.0.1, is the trusted proxy; nothing else is.
	cmd := exec.CommandContext(ctx, bin, "-listen", addr, "-issuer", "https://issuer.example.test", "-audience", aud,
		"-jwks", jwks, "-tls-cert", srvCert, "-tls-key", srvKey, "-client-ca", caFile,
		"-client-cert-header", "rfc9440", "-trusted-proxy", "127.0.0.2/32")
	logs := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	base := "https://" + addr
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	client := func(c *testcert.Cert) *http.Client {
		cfg := &tls.Config{RootCAs: pool}
		if c != nil {
			cfg.Certificates = []tls.Certificate{c.TLS()}
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client(nil).Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not start: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok := iss.Token(poptest.TokenOptions{Subject: "svc", ClientID: "svc", Audience: aud, Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(mine.DER)}}})
	call := func(c *http.Client, path string, hdr ...string) (int, map[string]any, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body, res.Header.Get("WWW-Authenticate")
	}
	for _, path := range []string{"/bearer/x", "/mixed/x"} {
		if st, body, _ := call(client(mine), path); st != 200 || body["scheme"] != "Bearer" || body["x5t#S256"] != validate.CertificateThumbprint(mine.DER) {
			t.Errorf("%s with its certificate: %d %v\n%s", path, st, body, logs.String())
		}
		if st, _, ch := call(client(nil), path); st != 401 || !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("%s without a certificate: %d %q", path, st, ch)
		}
		if st, _, ch := call(client(other), path); st != 401 || !strings.Contains(ch, `error="invalid_token"`) {
			t.Errorf("%s with another certificate: %d %q", path, st, ch)
		}
	}
	if st, _, _ := call(client(mine), "/dpop/x"); st != 401 {
		t.Errorf("/dpop/ took a certificate-bound Bearer token: %d", st)
	}
	// 127.0.0.1 is not a trusted proxy: its Client-Cert header is ignored.
	forged := ":" + base64.StdEncoding.EncodeToString(mine.DER) + ":"
	if st, _, _ := call(client(other), "/bearer/x", "Client-Cert", forged); st != 401 {
		t.Errorf("an untrusted peer's Client-Cert header counted: %d", st)
	}

	// From 127.0.0.2, the trusted proxy, the forwarded certificate counts
	// (and the proxy's own TLS certificate does not).
	fromProxy := func(c *testcert.Cert) *http.Client {
		cl := client(c)
		cl.Transport.(*http.Transport).DialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext
		return cl
	}
	proxy := fromProxy(other)
	if st, body, _ := call(proxy, "/bearer/x", "Client-Cert", forged); st != 200 || body["x5t#S256"] != validate.CertificateThumbprint(mine.DER) {
		t.Errorf("the trusted proxy's Client-Cert: %d %v", st, body)
	}
	if st, _, _ := call(fromProxy(mine), "/bearer/x"); st != 401 {
		t.Errorf("the trusted proxy's own TLS certificate counted: %d", st)
	}
	if st, _, _ := call(proxy, "/bearer/x", "Client-Cert", "junk"); st != 400 {
		t.Errorf("a malformed Client-Cert from the trusted proxy: %d, want 400", st)
	}

	// curl presents the certificate from files.
	out, err := exec.Command(curl, "-sS", "--cacert", caFile, "--cert", certFile, "--key", keyFile,
		"-H", "Authorization: Bearer "+tok, base+"/mixed/items").CombinedOutput()
	if err != nil || !strings.Contains(string(out), validate.CertificateThumbprint(mine.DER)) {
		t.Errorf("curl --cert: %v\n%s", err, out)
	}
	out, err = exec.Command(curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", caFile,
		"-H", "Authorization: Bearer "+tok, base+"/mixed/items").CombinedOutput()
	if err != nil || string(out) != "401" {
		t.Errorf("curl without --cert: %v %s", err, out)
	}
}

func TestClientCertFlags(t *testing.T) {
	for _, c := range []struct {
		form    string
		proxies []string
		ok      bool
	}{
		{"", nil, true},
		{"nginx", []string{"10.0.0.0/8"}, true},
		{"envoy", []string{"10.0.0.1", "fd00::/8"}, true},
		{"rfc9440", nil, false},
		{"", []string{"10.0.0.0/8"}, false},
		{"haproxy", []string{"10.0.0.0/8"}, false},
	} {
		_, err := clientCertOption(c.form, c.proxies)
		if (err == nil) != c.ok {
			t.Errorf("clientCertOption(%q, %q) = %v", c.form, c.proxies, err)
		}
	}
	if _, err := serverTLS("", "", "ca.pem"); err == nil {
		t.Error("-client-ca without -tls-cert was accepted")
	}
	if cfg, err := serverTLS("", "", ""); cfg != nil || err != nil {
		t.Errorf("no TLS flags: %v %v", cfg, err)
	}
}
