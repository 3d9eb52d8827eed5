package middleware_test

import (
	"net/http"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// FuzzForwardedClientCert sends arbitrary certificate headers from a trusted
// proxy in each form. Whatever arrives, the answer is 200 only with the
// token's own certificate, else 401 (token_cert_missing, token_cert_binding)
// or 400 (request_client_cert): never a 500, never a panic, and the handler
// runs only for a 200.
func FuzzForwardedClientCert(f *testing.F) {
	mine, other := testcert.Client(f, nil, "svc"), testcert.Client(f, nil, "thief")
	for _, der := range [][]byte{mine.DER, other.DER} {
		c := &testcert.Cert{DER: der}
		f.Add(rfc9440(c), "")
		f.Add(nginxForm(c), "")
		f.Add(envoyForm(c), "")
		f.Add(envoyForm(c), envoyForm(mine))
		f.Add("Hash="+envoyHash(c), "")
	}
	f.Add(":", "")
	f.Add("", ":AA==:")
	f.Add(`Cert="`, "")
	f.Add("%", "x")
	type fixture struct {
		h     *harness
		route http.Handler
		name  string
		tok   string // bound to mine, from this harness's issuer
	}
	var fxs []fixture
	for _, form := range []struct {
		form middleware.ClientCertHeader
		name string
	}{{middleware.ClientCertRFC9440, "Client-Cert"}, {middleware.ClientCertNginx, "X-SSL-Client-Cert"}, {middleware.ClientCertEnvoy, "X-Forwarded-Client-Cert"}} {
		h := newHarness(f, middleware.WithPublicURL(publicURL), middleware.WithForwardedClientCert(form.form, "", "192.0.2.0/24"))
		fxs = append(fxs, fixture{h, h.route(popguard.BearerOnly), form.name, h.certToken(mine)})
	}
	want := validate.CertificateThumbprint(mine.DER)
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		for _, fx := range fxs {
			r := request("GET", target, "Authorization", "Bearer "+fx.tok)
			r.RemoteAddr = proxyAddr
			r.Header[fx.name] = []string{line1}
			if line2 != "" {
				r.Header[fx.name] = append(r.Header[fx.name], line2)
			}
			resp := fx.h.do(fx.route, r)
			_, _, rejs := fx.h.cap.snapshot()
			switch resp.status {
			case 200:
				if res := fx.h.result.Load(); res == nil || res.CertificateThumbprint != want {
					t.Fatalf("%s %q %q: accepted with %+v", fx.name, line1, line2, res)
				}
			case 400, 401:
				if fx.h.calls.Load() != 0 || len(rejs) != 1 {
					t.Fatalf("%s: handler ran %d times, %d rejections", fx.name, fx.h.calls.Load(), len(rejs))
				}
				switch rejs[0].Err.Reason {
				case popguard.ReasonRequestClientCert, popguard.ReasonTokenCertMissing, popguard.ReasonTokenCertBinding:
				default:
					t.Fatalf("%s %q %q: reason %s", fx.name, line1, line2, rejs[0].Err.Reason)
				}
				checkHeadersSafe(t, resp.header)
			default:
				t.Fatalf("%s %q %q: status %d", fx.name, line1, line2, resp.status)
			}
		}
	})
}
