package middleware_test

// RequireBoundToken: a route that accepts only sender-constrained tokens.

import (
	"net/http"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

const descNotBound = "This resource accepts only access tokens bound to a key or a client certificate"

// TestRequireBoundToken: on BearerOnly and Mixed routes that require bound
// tokens, an unbound token is refused 401 token_not_bound (and the handler
// never runs), whatever else it grants; a certificate-bound token with its
// certificate and a DPoP-bound token with its proof are accepted; a bound
// token with the wrong certificate keeps its own, more precise refusal.
func TestRequireBoundToken(t *testing.T) {
	mine := testcert.Client(t, nil, "svc")
	other := testcert.Client(t, nil, "thief")
	h := newHarness(t, middleware.WithPublicURL(publicURL),
		middleware.WithForwardedClientCert(middleware.ClientCertRFC9440, "", "192.0.2.0/24"))
	fromProxy := func(r *http.Request, cert *testcert.Cert) *http.Request {
		r.RemoteAddr = proxyAddr
		if cert != nil {
			r.Header.Set("Client-Cert", rfc9440(cert))
		}
		return r
	}
	certTok, unbound := h.certToken(mine), h.unbound()
	for _, c := range []struct {
		mode       popguard.Mode
		challenges func(code popguard.ErrorCode, desc string) []string
	}{
		// A 401 names the scope the route requires (RFC 6750 §3).
		{popguard.BearerOnly, func(code popguard.ErrorCode, desc string) []string {
			return []string{bearerErr(code, desc) + `, scope="read"`}
		}},
		{popguard.Mixed, func(code popguard.ErrorCode, desc string) []string {
			return []string{bearerErr(code, desc) + `, scope="read"`, `DPoP scope="read", algs="` + defaultAlgs + `"`}
		}},
	} {
		t.Run(c.mode.String(), func(t *testing.T) {
			route := h.route(c.mode, middleware.RequireBoundToken(), middleware.RequireScopes("read"))
			refused := func(t *testing.T, r *http.Request, desc string, reason popguard.Reason) {
				t.Helper()
				h.expectRejected(t, h.do(route, r), rejectWant{status: 401, challenges: c.challenges(popguard.CodeInvalidToken, desc),
					code: popguard.CodeInvalidToken, reason: reason, scheme: popguard.Bearer})
			}
			t.Run("unbound Bearer token", func(t *testing.T) {
				refused(t, request("GET", target, "Authorization", "Bearer "+unbound), descNotBound, popguard.ReasonTokenNotBound)
			})
			t.Run("unbound Bearer token with a client certificate", func(t *testing.T) {
				refused(t, fromProxy(request("GET", target, "Authorization", "Bearer "+unbound), mine), descNotBound, popguard.ReasonTokenNotBound)
			})
			t.Run("certificate-bound token, its certificate", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, fromProxy(request("GET", target, "Authorization", "Bearer "+certTok), mine)),
					popguard.Result{Scheme: popguard.Bearer, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
						CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}, middleware.Accepted)
			})
			t.Run("certificate-bound token, mtls_pop, its certificate", func(t *testing.T) {
				h.expectAccepted(t, h.do(route, fromProxy(request("GET", target, "Authorization", "mtls_pop "+certTok), mine)),
					popguard.Result{Scheme: popguard.MTLSPoP, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
						CertificateThumbprint: validate.CertificateThumbprint(mine.DER)}, middleware.Accepted)
			})
			t.Run("certificate-bound token, another certificate", func(t *testing.T) {
				refused(t, fromProxy(request("GET", target, "Authorization", "Bearer "+certTok), other), descCertBinding, popguard.ReasonTokenCertBinding)
			})
			t.Run("certificate-bound token, no certificate", func(t *testing.T) {
				refused(t, fromProxy(request("GET", target, "Authorization", "Bearer "+certTok), nil), descCertMissing, popguard.ReasonTokenCertMissing)
			})
		})
	}
	t.Run("Mixed, DPoP-bound token with its proof", func(t *testing.T) {
		route := h.route(popguard.Mixed, middleware.RequireBoundToken())
		tok := h.bound()
		resp := h.do(route, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok)))
		h.expectAccepted(t, resp, popguard.Result{Scheme: popguard.DPoP, Subject: bob.Subject, ClientID: bob.ClientID,
			Scopes: []string{"read", "transfer"}, KeyThumbprint: h.key.Thumbprint()}, middleware.Accepted)
	})
	// Without the option the same route takes the unbound token: the
	// refusal above is the option's.
	t.Run("Mixed without the option, unbound token", func(t *testing.T) {
		h.expectAccepted(t, h.do(h.route(popguard.Mixed), request("GET", target, "Authorization", "Bearer "+unbound)),
			popguard.Result{Scheme: popguard.Bearer, Subject: alice.Subject, ClientID: alice.ClientID, Scopes: []string{"read", "write"}}, middleware.Accepted)
	})
	// A report-only route lets through, and reports, what its stricter
	// mode would refuse: the option does not turn it into a refusal.
	t.Run("report-only DPoP route, unbound Bearer token", func(t *testing.T) {
		h.expectAccepted(t, h.do(h.route(popguard.ReportOnly(popguard.DPoPOnly), middleware.RequireBoundToken()),
			request("GET", target, "Authorization", "Bearer "+unbound)),
			popguard.Result{Scheme: popguard.Bearer, Subject: alice.Subject, ClientID: alice.ClientID, Scopes: []string{"read", "write"}}, middleware.Reported)
	})
}
