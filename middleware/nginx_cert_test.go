package middleware_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// nginx terminates mutual TLS and forwards the client certificate as
// $ssl_client_escaped_cert: the nginx form as nginx itself writes it.
func TestForwardedClientCertNginx(t *testing.T) {
	nginx := testenv.LookPath(t, "nginx", "install nginx (apt-get install nginx)")
	h := newHarness(t, middleware.WithPublicURL(publicURL),
		middleware.WithForwardedClientCert(middleware.ClientCertNginx, "X-SSL-Client-Cert", "127.0.0.1"))
	backend := httptest.NewServer(h.route(popguard.BearerOnly))
	t.Cleanup(backend.Close)

	dir := t.TempDir()
	ca := testcert.CA(t, "test CA")
	caFile, _ := ca.Files(t, dir, "ca")
	srvCert, srvKey := testcert.Server(t, ca).Files(t, dir, "server")
	mine, other := testcert.Client(t, ca, "svc"), testcert.Client(t, ca, "thief")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  server {
    listen %[2]s ssl;
    ssl_certificate %[3]s;
    ssl_certificate_key %[4]s;
    ssl_client_certificate %[5]s;
    ssl_verify_client optional;
    location / {
      proxy_pass %[6]s;
      proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
    }
  }
}
`, dir, addr, srvCert, srvKey, caFile, backend.URL)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", confFile)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if i == 100 {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx does not listen on %s: %s", addr, log)
		}
		time.Sleep(50 * time.Millisecond)
	}

	tok := h.certToken(mine)
	get := func(forged string) *http.Request {
		req, _ := http.NewRequest("GET", "https://"+addr+"/r", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		if forged != "" {
			req.Header.Set("X-SSL-Client-Cert", forged) // nginx must replace it
		}
		return req
	}
	t.Run("its certificate", func(t *testing.T) {
		h.expectAccepted(t, h.send(t, tlsClient(ca, mine), get("")), popguard.Result{Scheme: popguard.Bearer, Subject: "carol",
			ClientID: "svc-app", Scopes: []string{"read"}, CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}, middleware.Accepted)
	})
	t.Run("another certificate, the right one forged in the header", func(t *testing.T) {
		h.expectRejected(t, h.send(t, tlsClient(ca, other), get(nginxForm(mine))), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertBinding)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertBinding, scheme: popguard.Bearer})
	})
	t.Run("no certificate, the right one forged in the header", func(t *testing.T) {
		h.expectRejected(t, h.send(t, tlsClient(ca, nil), get(nginxForm(mine))), rejectWant{status: 401,
			challenges: []string{bearerErr(popguard.CodeInvalidToken, descCertMissing)},
			code:       popguard.CodeInvalidToken, reason: popguard.ReasonTokenCertMissing, scheme: popguard.Bearer})
	})
}
