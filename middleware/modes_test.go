package middleware_test

// Mode x scheme x outcome matrix (TestModeMatrix checks that this table is
// exactly what the middleware does; edit both together).
//
// Cells: "200 <scheme>" accepted; "200 Bearer*" accepted on a report-only
// route although the target mode would reject it (Warn log + metrics
// Outcome "reported"); "401 -" challenges without error parameters (reason
// no_credentials, or request_scheme_not_allowed when the route does not take
// the scheme used); "401 B:<code>" / "401 D:<code>" error on the Bearer /
// DPoP challenge only, that challenge listed first. The last column is the
// reason of the cells with an error.
//
// BEGIN MODE TABLE
// | request                            | BearerOnly          | Mixed                    | DPoPOnly                 | ReportOnly(DPoPOnly)     | Accepting(Bearer,DPoP)   | reason                     |
// | no credentials                     | 401 -               | 401 -                    | 401 -                    | 401 -                    | 401 -                    | no_credentials             |
// | Bearer, unbound token              | 200 Bearer          | 200 Bearer               | 401 -                    | 200 Bearer*              | 200 Bearer               | -                          |
// | Bearer, cnf.jkt-bound token        | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_bound_used_as_bearer |
// | Bearer, cnf.jkt token + valid DPoP | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_bound_used_as_bearer |
// | Bearer, cnf.kid-bound token        | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_bound_used_as_bearer |
// | DPoP, valid proof                  | 401 -               | 200 DPoP                 | 200 DPoP                 | 200 DPoP                 | 200 DPoP                 | -                          |
// | DPoP, unbound token                | 401 -               | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | token_not_bound            |
// | DPoP, token bound by cnf.kid       | 401 -               | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | token_key_binding          |
// | DPoP, token bound by cnf.x5t#S256  | 401 -               | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | token_key_binding          |
// | DPoP, proof by another key         | 401 -               | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | token_key_binding          |
// | DPoP scheme, no DPoP header        | 401 -               | 401 D:invalid_dpop_proof | 401 D:invalid_dpop_proof | 401 D:invalid_dpop_proof | 401 D:invalid_dpop_proof | proof_missing              |
// | Bearer, forged token               | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_unknown_key          |
// | Bearer, expired token              | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_expired              |
// | DPoP, expired token                | 401 -               | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | 401 D:invalid_token      | token_expired              |
// | Bearer, cnf.x5t#S256 + its cert    | 200 Bearer          | 200 Bearer               | 401 -                    | 200 Bearer*              | 200 Bearer               | -                          |
// | Bearer, cnf.x5t#S256, no cert      | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_cert_missing         |
// | Bearer, cnf.x5t#S256, other cert   | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_cert_binding         |
// | mtls_pop, cnf.x5t#S256 + its cert  | 200 mtls_pop        | 200 mtls_pop             | 401 -                    | 200 mtls_pop*            | 200 mtls_pop             | -                          |
// | mtls_pop, unbound token            | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_not_bound            |
// | mtls_pop, cnf.jkt-bound token      | 401 B:invalid_token | 401 B:invalid_token      | 401 -                    | 401 B:invalid_token      | 401 B:invalid_token      | token_key_binding          |
// END MODE TABLE
//
// Challenge lines: BearerOnly sends `Bearer realm="api"`; DPoPOnly sends
// `DPoP algs="ES256 PS256 RS256 EdDSA"`; Mixed,
// ReportOnly(DPoPOnly) and Accepting(Bearer, DPoP) send both (Bearer first
// unless the DPoP challenge carries the error). PoP is never advertised:
// these Guards have no SHR verifier.

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testcert"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

type modeCase struct {
	name   string // column title
	mode   popguard.Mode
	bearer bool // the route takes Bearer
	dpop   bool // the route takes DPoP
	report bool // report-only against DPoPOnly
}

var matrixModes = []modeCase{
	{"BearerOnly", popguard.BearerOnly, true, false, false},
	{"Mixed", popguard.Mixed, true, true, false},
	{"DPoPOnly", popguard.DPoPOnly, false, true, false},
	{"ReportOnly(DPoPOnly)", popguard.ReportOnly(popguard.DPoPOnly), true, true, true},
	{"Accepting(Bearer,DPoP)", popguard.Accepting(popguard.Bearer, popguard.DPoP), true, true, false},
}

// plain lists the route's challenges without error information.
func (m modeCase) plain() []string {
	var out []string
	if m.bearer {
		out = append(out, bearerPlain)
	}
	if m.dpop {
		out = append(out, dpopPlain)
	}
	return out
}

// errOn lists the challenges with line (the challenge of used) first.
func (m modeCase) errOn(used popguard.Scheme, line string) []string {
	out := []string{line}
	if used == popguard.DPoP && m.bearer {
		out = append(out, bearerPlain)
	}
	if (used == popguard.Bearer || used == popguard.MTLSPoP) && m.dpop {
		out = append(out, dpopPlain)
	}
	return out
}

// outcome of one scenario: accepted as who, or rejected with an error on the
// challenge of scheme (code "" = challenges without error).
type scenario struct {
	name  string
	build func(h *harness) *http.Request
	// uses is the scheme of the Authorization header (0: none).
	uses popguard.Scheme
	// accept: the caller when the route takes the scheme; nil when the
	// request is always rejected.
	accept func(h *harness) popguard.Result
	code   popguard.ErrorCode
	desc   string
	reason popguard.Reason
}

const target = publicURL + "/r"

var scenarios = []scenario{
	{name: "no credentials",
		build: func(h *harness) *http.Request { return request("GET", target) },
		code:  popguard.CodeNone, reason: popguard.ReasonNoCredentials},
	{name: "Bearer, unbound token", uses: popguard.Bearer,
		build:  func(h *harness) *http.Request { return request("GET", target, "Authorization", "Bearer "+h.unbound()) },
		accept: func(h *harness) popguard.Result { return alice }},
	{name: "Bearer, cnf.jkt-bound token", uses: popguard.Bearer,
		build: func(h *harness) *http.Request { return request("GET", target, "Authorization", "Bearer "+h.bound()) },
		code:  popguard.CodeInvalidToken, desc: descBoundAsBearer, reason: popguard.ReasonTokenBoundUsedAsBearer},
	{name: "Bearer, cnf.jkt token + valid DPoP", uses: popguard.Bearer,
		build: func(h *harness) *http.Request {
			tok := h.bound()
			return request("GET", target, "Authorization", "Bearer "+tok, "DPoP", h.proof("GET", target, tok))
		},
		code: popguard.CodeInvalidToken, desc: descBoundAsBearer, reason: popguard.ReasonTokenBoundUsedAsBearer},
	{name: "Bearer, cnf.kid-bound token", uses: popguard.Bearer,
		build: func(h *harness) *http.Request {
			return request("GET", target, "Authorization", "Bearer "+h.boundWith(map[string]any{"kid": h.key.Thumbprint()}))
		},
		code: popguard.CodeInvalidToken, desc: descBoundAsBearer, reason: popguard.ReasonTokenBoundUsedAsBearer},
	{name: "DPoP, valid proof", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			tok := h.bound()
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		},
		accept: func(h *harness) popguard.Result { return withJKT(bob, h.key) }},
	{name: "DPoP, unbound token", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			tok := h.unbound()
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		},
		code: popguard.CodeInvalidToken, desc: descNotDPoPBound, reason: popguard.ReasonTokenNotBound},
	{name: "DPoP, token bound by cnf.kid", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			// cnf.kid holds the very thumbprint of the proof key (as Entra
			// PoP tokens do): still not a DPoP binding.
			tok := h.boundWith(map[string]any{"kid": h.key.Thumbprint()})
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		},
		code: popguard.CodeInvalidToken, desc: descNotDPoPKey, reason: popguard.ReasonTokenKeyBinding},
	{name: "DPoP, token bound by cnf.x5t#S256", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			tok := h.boundWith(map[string]any{"x5t#S256": h.key.Thumbprint()})
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		},
		code: popguard.CodeInvalidToken, desc: descNotDPoPKey, reason: popguard.ReasonTokenKeyBinding},
	{name: "DPoP, proof by another key", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			tok := h.bound()
			thief := poptest.NewClient()
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP",
				h.proofWith(thief, "GET", target, tok, poptest.ProofOptions{}))
		},
		code: popguard.CodeInvalidToken, desc: descKeyBinding, reason: popguard.ReasonTokenKeyBinding},
	{name: "DPoP scheme, no DPoP header", uses: popguard.DPoP,
		build: func(h *harness) *http.Request { return request("GET", target, "Authorization", "DPoP "+h.bound()) },
		code:  popguard.CodeInvalidDPoPProof, desc: descProofMissing, reason: popguard.ReasonProofMissing},
	{name: "Bearer, forged token", uses: popguard.Bearer,
		build: func(h *harness) *http.Request {
			// Same iss, signed by a key the issuer never published.
			rogue := poptest.NewStaticIssuer(issuerURL)
			tok := rogue.Token(poptest.TokenOptions{Subject: "mallory", ClientID: "x", Audience: audience, Scope: "read write"})
			return request("GET", target, "Authorization", "Bearer "+tok)
		},
		code: popguard.CodeInvalidToken, desc: "No issuer key matches the access token", reason: popguard.ReasonTokenUnknownKey},
	{name: "Bearer, expired token", uses: popguard.Bearer,
		build: func(h *harness) *http.Request { return request("GET", target, "Authorization", "Bearer "+h.expired()) },
		code:  popguard.CodeInvalidToken, desc: descTokenExpired, reason: popguard.ReasonTokenExpired},
	{name: "DPoP, expired token", uses: popguard.DPoP,
		build: func(h *harness) *http.Request {
			tok := h.token(poptest.TokenOptions{Subject: bob.Subject, ClientID: bob.ClientID, Scope: "read transfer",
				DPoP: h.key, IssuedAt: time.Now().Add(-10 * time.Minute), TTL: 5 * time.Minute})
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
		},
		code: popguard.CodeInvalidToken, desc: descTokenExpired, reason: popguard.ReasonTokenExpired},
	{name: "Bearer, cnf.x5t#S256 + its cert", uses: popguard.Bearer,
		build:  func(h *harness) *http.Request { return withCert(h.certBound(), serviceCert(h.t)) },
		accept: func(h *harness) popguard.Result { return carol(popguard.Bearer, h) }},
	{name: "Bearer, cnf.x5t#S256, no cert", uses: popguard.Bearer,
		build: func(h *harness) *http.Request {
			return request("GET", target, "Authorization", "Bearer "+h.certBound())
		},
		code: popguard.CodeInvalidToken, desc: descCertMissing, reason: popguard.ReasonTokenCertMissing},
	{name: "Bearer, cnf.x5t#S256, other cert", uses: popguard.Bearer,
		build: func(h *harness) *http.Request { return withCert(h.certBound(), testcert.Client(h.t, nil, "thief")) },
		code:  popguard.CodeInvalidToken, desc: descCertBinding, reason: popguard.ReasonTokenCertBinding},
	{name: "mtls_pop, cnf.x5t#S256 + its cert", uses: popguard.MTLSPoP,
		build: func(h *harness) *http.Request {
			r := withCert(h.certBound(), serviceCert(h.t))
			r.Header.Set("Authorization", "mtls_pop"+strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer"))
			return r
		},
		accept: func(h *harness) popguard.Result { return carol(popguard.MTLSPoP, h) }},
	{name: "mtls_pop, unbound token", uses: popguard.MTLSPoP,
		build: func(h *harness) *http.Request {
			r := request("GET", target, "Authorization", "mtls_pop "+h.unbound())
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{serviceCert(h.t).Cert}}
			return r
		},
		code: popguard.CodeInvalidToken, desc: "The mtls_pop scheme needs a certificate-bound access token", reason: popguard.ReasonTokenNotBound},
	{name: "mtls_pop, cnf.jkt-bound token", uses: popguard.MTLSPoP,
		build: func(h *harness) *http.Request {
			r := request("GET", target, "Authorization", "MTLS_POP "+h.bound())
			r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{serviceCert(h.t).Cert}}
			return r
		},
		code: popguard.CodeInvalidToken, desc: "The access token is not bound to a certificate", reason: popguard.ReasonTokenKeyBinding},
}

const (
	descCertMissing = "The access token is bound to a client certificate and none was presented"
	descCertBinding = "The access token is bound to another client certificate"
)

// serviceCert is the client certificate of the certificate-bound scenarios,
// made once.
var serviceCert = func() func(t testing.TB) *testcert.Cert {
	var once sync.Once
	var c *testcert.Cert
	return func(t testing.TB) *testcert.Cert {
		once.Do(func() { c = testcert.Client(t, nil, "svc") })
		return c
	}
}()

// certBound mints carol's token bound to serviceCert (RFC 8705).
func (h *harness) certBound() string {
	return h.token(poptest.TokenOptions{Subject: "carol", ClientID: "svc-app", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"x5t#S256": validate.CertificateThumbprint(serviceCert(h.t).DER)}}})
}

// carol is the caller of the certificate-bound scenarios.
func carol(s popguard.Scheme, h *harness) popguard.Result {
	return popguard.Result{Scheme: s, Subject: "carol", ClientID: "svc-app", Scopes: []string{"read"},
		CertificateThumbprint: validate.CertificateThumbprint(serviceCert(h.t).DER)}
}

// withCert is a Bearer request with tok that came over TLS with c.
func withCert(tok string, c *testcert.Cert) *http.Request {
	r := request("GET", target, "Authorization", "Bearer "+tok)
	r.TLS = &tls.ConnectionState{HandshakeComplete: true, PeerCertificates: []*x509.Certificate{c.Cert}}
	return r
}

// takes reports whether m lets scheme s be tried at all.
func (m modeCase) takes(s popguard.Scheme) bool {
	return ((s == popguard.Bearer || s == popguard.MTLSPoP) && m.bearer) || (s == popguard.DPoP && m.dpop)
}

func TestModeMatrix(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	cells := map[string]map[string]string{}
	reasons := map[string]string{}
	for _, sc := range scenarios {
		cells[sc.name] = map[string]string{}
		for _, m := range matrixModes {
			t.Run(sc.name+"/"+m.name, func(t *testing.T) {
				resp := h.do(h.route(m.mode), sc.build(h))
				cells[sc.name][m.name] = cellOf(h, resp)
				switch {
				case sc.uses == 0:
					h.expectRejected(t, resp, rejectWant{status: 401, challenges: m.plain(), code: popguard.CodeNone, reason: sc.reason})
				case !m.takes(sc.uses):
					h.expectRejected(t, resp, rejectWant{status: 401, challenges: m.plain(), code: popguard.CodeNone,
						reason: popguard.ReasonRequestSchemeNotAllowed, scheme: sc.uses})
				case sc.accept != nil:
					outcome := middleware.Accepted
					if m.report && sc.uses != popguard.DPoP {
						outcome = middleware.Reported
					}
					h.expectAccepted(t, resp, sc.accept(h), outcome)
					checkReportLog(t, h, outcome == middleware.Reported, m.mode.String(), sc.accept(h))
				default:
					line := bearerErr(sc.code, sc.desc)
					if sc.uses == popguard.DPoP {
						line = dpopErr(sc.code, sc.desc)
					}
					h.expectRejected(t, resp, rejectWant{status: 401, challenges: m.errOn(sc.uses, line), code: sc.code,
						reason: sc.reason, scheme: sc.uses})
				}
				if sc.code != popguard.CodeNone || sc.uses == 0 {
					reasons[sc.name] = string(sc.reason)
				} else {
					reasons[sc.name] = "-"
				}
			})
		}
	}
	// The table at the top of this file must be what happened.
	var got []string
	for _, sc := range scenarios {
		row := []string{sc.name}
		for _, m := range matrixModes {
			row = append(row, cells[sc.name][m.name])
		}
		got = append(got, strings.Join(append(row, reasons[sc.name]), " | "))
	}
	want := tableFromComment(t)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the mode table at the top of modes_test.go is out of date; observed:\n%s\ncomment:\n%s",
			strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// cellOf renders one response in the notation of the table.
func cellOf(h *harness, resp response) string {
	if resp.status == http.StatusOK {
		_, events, _ := h.cap.snapshot()
		res := h.result.Load()
		if res == nil || len(events) != 1 {
			return "200 ?"
		}
		if events[0].Outcome == middleware.Reported {
			return "200 " + res.Scheme.String() + "*"
		}
		return "200 " + res.Scheme.String()
	}
	for _, c := range resp.header.Values("WWW-Authenticate") {
		if m := regexp.MustCompile(`^(\w+) .*error="([a-z_]+)"`).FindStringSubmatch(c); m != nil {
			return strconv.Itoa(resp.status) + " " + m[1][:1] + ":" + m[2]
		}
	}
	return strconv.Itoa(resp.status) + " -"
}

// tableFromComment reads the table between the markers of this file's
// header comment, one row per line, cells joined by " | ".
func tableFromComment(t *testing.T) []string {
	t.Helper()
	src, err := os.ReadFile("modes_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, _ := strings.Cut(string(src), "// BEGIN MODE TABLE\n")
	body, _, _ := strings.Cut(rest, "// END MODE TABLE")
	var rows []string
	for i, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if i == 0 {
			continue // column titles
		}
		line = strings.Trim(strings.TrimPrefix(line, "//"), " |")
		var cells []string
		for _, c := range strings.Split(line, "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, strings.Join(cells, " | "))
	}
	return rows
}

// checkReportLog checks the Warn line of a request let through by a
// report-only route, and that no such line is written otherwise.
func checkReportLog(t *testing.T, h *harness, reported bool, route string, who popguard.Result) {
	t.Helper()
	logs, _, _ := h.cap.snapshot()
	var warns []logRecord
	for _, l := range logs {
		if l.level == slog.LevelWarn {
			warns = append(warns, l)
		}
	}
	if !reported {
		if len(warns) != 0 {
			t.Errorf("unexpected Warn log lines %+v", warns)
		}
		return
	}
	if len(warns) != 1 {
		t.Fatalf("Warn log lines = %+v, want one report-only line", warns)
	}
	w := warns[0]
	if w.msg != "popguard: request allowed by report-only mode" || w.attrs["route"] != route ||
		w.attrs["scheme"] != (middleware.Event{Scheme: who.Scheme, CertBound: who.CertificateThumbprint != ""}).SchemeLabel() ||
		w.attrs["would_require"] != "DPoP" || w.attrs["client_id"] != who.ClientID {
		t.Errorf("report-only log line = %+v", w)
	}
}

// TestReportOnlyStillRejectsInvalid: report-only lets a weaker but valid
// scheme through; it never lets invalid credentials through.
func TestReportOnlyStillRejectsInvalid(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	report := popguard.ReportOnly(popguard.DPoPOnly)
	cases := []struct {
		name string
		req  func() *http.Request
		want rejectWant
	}{
		{"malformed token", func() *http.Request { return request("GET", target, "Authorization", "Bearer not-a-jwt") },
			rejectWant{status: 401, challenges: []string{bearerErr(popguard.CodeInvalidToken, descTokenMalformed), dpopPlain},
				code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenMalformed, scheme: popguard.Bearer}},
		{"DPoP proof for another URI", func() *http.Request {
			tok := h.bound()
			return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", publicURL+"/other", tok))
		}, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descProofHTU), bearerPlain},
			code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonProofHTU, scheme: popguard.DPoP}},
		{"two Authorization lines", func() *http.Request {
			return request("GET", target, "Authorization", "Bearer "+h.unbound(), "Authorization", "Bearer "+h.unbound())
		}, rejectWant{status: 400, challenges: []string{bearerErr(popguard.CodeInvalidRequest, descMultiple),
			dpopErr(popguard.CodeInvalidRequest, descMultiple)}, code: popguard.CodeInvalidRequest,
			reason: popguard.ReasonRequestMultipleAuthorization}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := h.do(h.route(report), c.req())
			h.expectRejected(t, resp, c.want)
			checkReportLog(t, h, false, "", popguard.Result{})
		})
	}
}

// TestRouteNames: events and logs carry the route name (default: the mode).
func TestRouteNames(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	for _, c := range []struct {
		mode popguard.Mode
		opts []middleware.RouteOption
		want string
	}{
		{popguard.Mixed, nil, "Bearer|DPoP|PoP"},
		{popguard.ReportOnly(popguard.DPoPOnly), nil, "report-only(DPoP)"},
		{popguard.DPoPOnly, []middleware.RouteOption{middleware.Name("transfers")}, "transfers"},
	} {
		t.Run(c.want, func(t *testing.T) {
			h.do(h.route(c.mode, c.opts...), request("GET", target))
			logs, events, _ := h.cap.snapshot()
			if len(events) != 1 || events[0].Route != c.want {
				t.Errorf("events = %+v, want route %q", events, c.want)
			}
			if len(logs) != 1 || logs[0].attrs["route"] != c.want {
				t.Errorf("logs = %+v, want route %q", logs, c.want)
			}
		})
	}
}

// TestPoPNotSupported: without an SHR verifier PoP is never advertised, the
// PoP scheme is an unsupported scheme (challenges without error), and a
// PoP-only route cannot be built.
func TestPoPNotSupported(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	if h.guard.Supports(popguard.PoP) {
		t.Fatal("Supports(PoP) = true without an SHR verifier")
	}
	if !h.guard.Supports(popguard.Bearer) || !h.guard.Supports(popguard.DPoP) {
		t.Fatal("Supports(Bearer/DPoP) = false")
	}
	for _, mode := range []popguard.Mode{popguard.PoPOnly, popguard.Accepting(popguard.PoP), 0} {
		if rt, err := h.guard.Route(mode); err == nil || rt != nil {
			t.Errorf("Route(%v) = (non-nil %t, nil error); want an error", mode, rt != nil)
		}
	}
	tok := h.boundWith(map[string]any{"kid": h.key.Thumbprint()})
	for _, m := range []modeCase{matrixModes[1], matrixModes[3], {"ProofOnly", popguard.ProofOnly, false, true, false}} {
		t.Run(m.name, func(t *testing.T) {
			for _, scheme := range []string{"PoP", "pop", "POP"} {
				resp := h.do(h.route(m.mode), request("GET", target, "Authorization", scheme+" "+tok))
				h.expectRejected(t, resp, rejectWant{status: 401, challenges: m.plain(), code: popguard.CodeNone,
					reason: popguard.ReasonRequestSchemeNotAllowed, scheme: popguard.PoP})
			}
		})
	}
}
