package middleware_test

// Shared harness of the end-to-end tests: an issuer playing the
// authorization server, a JWT verifier, a Guard whose logs, metrics and
// rejections are captured, a protected handler that records whether it ran
// and what popguard.FromContext returned, and assertion helpers that check
// every rejection completely (status, exact WWW-Authenticate lines, nonce
// and cache headers, reason, body, handler not called).

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

const (
	issuerURL   = "https://issuer.test"
	audience    = "https://api.test"
	publicURL   = "https://api.test"
	defaultAlgs = "ES256 PS256 RS256 EdDSA"
	// exposeHeaders is what every rejection (and every nonce rotation) sends
	// for browser clients.
	exposeHeaders = "WWW-Authenticate, DPoP-Nonce, Authentication-Info"
)

// Challenges without error information.
const (
	bearerPlain = `Bearer realm="api"`
	dpopPlain   = `DPoP algs="` + defaultAlgs + `"`
)

// bearerErr is a Bearer challenge carrying an error (RFC 6750 §3).
func bearerErr(code popguard.ErrorCode, desc string) string {
	return `Bearer realm="api", error="` + string(code) + `", error_description="` + desc + `"`
}

// dpopErr is a DPoP challenge carrying an error (RFC 9449 §7.1, Figure 16 shape).
func dpopErr(code popguard.ErrorCode, desc string) string {
	return `DPoP error="` + string(code) + `", error_description="` + desc + `", algs="` + defaultAlgs + `"`
}

// Descriptions the library sends (copied from the code under test: a change
// of wording is a visible API change and should fail here).
const (
	descMultiple        = "Multiple methods used to include access token"
	descMalformedAuth   = "The Authorization header is malformed"
	descOneToken        = "The Authorization header must hold exactly one token"
	descNoToken         = "The Authorization header has no token"
	descAuthTooLarge    = "The Authorization header is too large"
	descQueryDisabled   = "Access tokens are not accepted in the URI query"
	descBoundAsBearer   = "The access token is bound to a key and cannot be used as a Bearer token"
	descTokenMalformed  = "The access token is not a well-formed JWT"
	descTokenExpired    = "The access token expired"
	descTokenTyp        = "The access token typ is not accepted"
	descNotDPoPBound    = "The access token is not DPoP-bound"
	descNotDPoPKey      = "The access token is not bound to a DPoP key"
	descKeyBinding      = "Invalid DPoP key binding"
	descProofMissing    = "The DPoP proof is missing"
	descProofMultiple   = "Multiple DPoP proofs are not allowed"
	descProofTooLarge   = "The DPoP proof is too large"
	descProofTyp        = "The DPoP proof typ is not dpop+jwt"
	descProofHTU        = "The DPoP proof htu does not match the request URI"
	descProofHTUInvalid = "The DPoP proof htu is not a valid http(s) URI without query and fragment"
	descProofATH        = "The DPoP proof ath does not match the access token"
	descProofMalformed  = "The DPoP proof is not a well-formed JWT"
	descReplay          = "The proof has already been used"
	descStoreFull       = "The server is busy; retry shortly"
	descStoreDown       = "The server cannot check proofs right now; retry shortly"
	descNonceMissing    = "Resource server requires nonce in DPoP proof"
	descNonceInvalid    = "The DPoP proof nonce is invalid or expired"
	descBadHost         = "The request host is not valid"
	descBadForwarded    = "The forwarding headers are not valid"
	descScope           = "The access token does not grant the required scope"
)

// ---- captured logs, metrics and rejections ----

type logRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

type capture struct {
	mu         sync.Mutex
	logs       []logRecord
	events     []middleware.Event
	rejections []*middleware.Rejection
}

func (c *capture) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logs, c.events, c.rejections = nil, nil, nil
}

func (c *capture) snapshot() ([]logRecord, []middleware.Event, []*middleware.Rejection) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.logs), slices.Clone(c.events), slices.Clone(c.rejections)
}

// Observe records what tests compare: route, scheme, outcome and reason
// (the timing fields are checked in TestEventTimingFields).
func (c *capture) Observe(e middleware.Event) {
	c.mu.Lock()
	c.events = append(c.events, middleware.Event{Route: e.Route, Scheme: e.Scheme, Outcome: e.Outcome, Reason: e.Reason, CertBound: e.CertBound})
	c.mu.Unlock()
}

// logHandler is a slog.Handler that records into a capture.
type logHandler struct {
	c     *capture
	attrs []slog.Attr
}

func (h *logHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	for _, a := range h.attrs {
		rec.attrs[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.String()
		return true
	})
	h.c.mu.Lock()
	h.c.logs = append(h.c.logs, rec)
	h.c.mu.Unlock()
	return nil
}

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &logHandler{c: h.c, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *logHandler) WithGroup(string) slog.Handler { return h }

// ---- the harness ----

type harness struct {
	t   testing.TB
	iss *poptest.Issuer
	key *poptest.Client // the client's DPoP key (ES256)
	// priv is key's private half, for the adversarial tests that sign what
	// poptest will not write (a raw JSON payload, an exposed d).
	priv  *ecdsa.PrivateKey
	cap   *capture
	guard *middleware.Guard

	calls  atomic.Int64
	result atomic.Pointer[popguard.Result]
}

// newIssuer returns the issuer the harness trusts: issuerURL, minting for
// audience.
func newIssuer() *poptest.Issuer {
	iss := poptest.NewStaticIssuer(issuerURL)
	iss.Audience = audience
	return iss
}

// newClient returns a client with a new key for alg.
func newClient(t testing.TB, alg string) *poptest.Client {
	t.Helper()
	k, err := dpopclient.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return poptest.NewClientWithKey(k)
}

// newHarness builds an issuer, a verifier for it and a Guard with captured
// logs, metrics and rejections. opts are applied after the defaults
// (WithTokens, WithLogger, WithMetrics, WithErrorHandler) and may override
// them. Without an explicit WithPublicURL the caller decides the target.
func newHarness(t testing.TB, opts ...middleware.Option) *harness {
	t.Helper()
	return newHarnessFor(t, newIssuer(), opts...)
}

// newHarnessFor is newHarness trusting an existing issuer: several
// instances of one API.
func newHarnessFor(t testing.TB, iss *poptest.Issuer, opts ...middleware.Option) *harness {
	t.Helper()
	tokens, err := validate.NewJWTVerifier(issuerURL, iss.KeySet(), validate.Audience(audience))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := dpopclient.NewKey(priv, "ES256")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, iss: iss, key: poptest.NewClientWithKey(dk), priv: priv, cap: &capture{}}
	base := []middleware.Option{
		middleware.WithTokens(tokens),
		middleware.WithLogger(slog.New(&logHandler{c: h.cap})),
		middleware.WithMetrics(h.cap),
		middleware.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, rej *middleware.Rejection) {
			h.cap.mu.Lock()
			h.cap.rejections = append(h.cap.rejections, rej)
			h.cap.mu.Unlock()
			middleware.WriteRejection(w, r, rej)
		}),
	}
	g, err := middleware.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	h.guard = g
	return h
}

// protected is the handler behind the guard: it counts calls, keeps the
// result and echoes it as JSON.
func (h *harness) protected() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		res := popguard.FromContext(r.Context())
		h.result.Store(res)
		w.Header().Set("Content-Type", "application/json")
		if res == nil {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"scheme": res.Scheme.String(), "sub": res.Subject, "client_id": res.ClientID,
			"scope": strings.Join(res.Scopes, " "), "jkt": res.KeyThumbprint,
		})
	})
}

// route wraps the protected handler with mode and opts (a fresh policy per
// call, so tests never share route state).
func (h *harness) route(mode popguard.Mode, opts ...middleware.RouteOption) http.Handler {
	h.t.Helper()
	rt, err := h.guard.Route(mode, opts...)
	if err != nil {
		h.t.Fatalf("Route(%v): %v", mode, err)
	}
	return rt.Handler(h.protected())
}

// freshRoute builds a new route for every request it serves.
func (h *harness) freshRoute(mode popguard.Mode, opts ...middleware.RouteOption) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.route(mode, opts...).ServeHTTP(w, r)
	})
}

// response is what a test inspects, from a recorder or a real connection.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do resets the captures, serves req through handler and returns the response.
func (h *harness) do(handler http.Handler, req *http.Request) response {
	h.cap.reset()
	h.calls.Store(0)
	h.result.Store(nil)
	rr := httptest.NewRecorder()
	handler.ServeHTTP(rr, req)
	return response{status: rr.Code, header: rr.Header(), body: rr.Body.Bytes()}
}

// ---- tokens, proofs, requests ----

// The two callers of the tests.
var (
	alice = popguard.Result{Scheme: popguard.Bearer, Subject: "alice", ClientID: "legacy-app", Scopes: []string{"read", "write"}}
	bob   = popguard.Result{Scheme: popguard.DPoP, Subject: "bob", ClientID: "dpop-app", Scopes: []string{"read", "transfer"}}
)

// token mints a token for audience; unlike poptest's defaults, the tests
// name sub and client_id themselves.
func (h *harness) token(o poptest.TokenOptions) string {
	h.t.Helper()
	if o.Audience == "" {
		o.Audience = audience
	}
	return h.iss.Token(o)
}

// unbound is alice's plain Bearer token.
func (h *harness) unbound() string {
	return h.token(poptest.TokenOptions{Subject: alice.Subject, ClientID: alice.ClientID, Scope: "read write"})
}

// bound is bob's token, bound to h.key by cnf.jkt.
func (h *harness) bound() string {
	return h.token(poptest.TokenOptions{Subject: bob.Subject, ClientID: bob.ClientID, Scope: "read transfer", DPoP: h.key})
}

// boundWith is bob's token with another cnf.
func (h *harness) boundWith(cnf map[string]any) string {
	return h.token(poptest.TokenOptions{Subject: bob.Subject, ClientID: bob.ClientID, Scope: "read transfer",
		Claims: map[string]any{"cnf": cnf}})
}

// expired is alice's token that expired five minutes ago (beyond the 30 s leeway).
func (h *harness) expired() string {
	return h.token(poptest.TokenOptions{Subject: alice.Subject, ClientID: alice.ClientID, Scope: "read write",
		IssuedAt: time.Now().Add(-10 * time.Minute), TTL: 5 * time.Minute})
}

// proof is a DPoP proof by h.key for method and htu, with ath over token.
func (h *harness) proof(method, htu, token string) string {
	return h.proofWith(h.key, method, htu, token, poptest.ProofOptions{})
}

// proofWith is a DPoP proof by c for method and htu, with ath over token
// (none when empty). htu is written exactly as given, query and all, unless
// o.Claims sets it.
func (h *harness) proofWith(c *poptest.Client, method, htu, token string, o poptest.ProofOptions) string {
	h.t.Helper()
	if _, set := o.Claims["htu"]; !set {
		claims := map[string]any{"htu": htu}
		for n, v := range o.Claims {
			claims[n] = v
		}
		o.Claims = claims
	}
	return c.Proof(method, htu, token, o)
}

// request builds a request; hdr are name/value pairs added in order
// (Header.Add, so the same name twice gives two field lines).
func request(method, target string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

// ---- assertions ----

// rejectWant is everything a rejection is checked for.
type rejectWant struct {
	status     int
	challenges []string // exact WWW-Authenticate field lines, in order
	code       popguard.ErrorCode
	reason     popguard.Reason
	nonce      bool   // DPoP-Nonce (and Cache-Control: no-store) expected
	retryAfter string // expected Retry-After, "" for none
	scheme     popguard.Scheme
}

// expectRejected checks a rejection completely.
func (h *harness) expectRejected(t *testing.T, resp response, w rejectWant) {
	t.Helper()
	if resp.status != w.status {
		t.Errorf("status = %d, want %d", resp.status, w.status)
	}
	if got := resp.header.Values("WWW-Authenticate"); !slices.Equal(got, w.challenges) {
		t.Errorf("WWW-Authenticate =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(w.challenges, "\n\t"))
	}
	if got := resp.header.Values("Access-Control-Expose-Headers"); !slices.Equal(got, []string{exposeHeaders}) {
		t.Errorf("Access-Control-Expose-Headers = %q, want %q", got, exposeHeaders)
	}
	nonces := resp.header.Values("DPoP-Nonce")
	cc := resp.header.Values("Cache-Control")
	if w.nonce {
		if len(nonces) != 1 || nonces[0] == "" {
			t.Errorf("DPoP-Nonce = %q, want exactly one nonce", nonces)
		}
		if !slices.Equal(cc, []string{"no-store"}) {
			t.Errorf("Cache-Control = %q, want no-store with a DPoP-Nonce", cc)
		}
	} else {
		if len(nonces) != 0 {
			t.Errorf("DPoP-Nonce = %q, want none", nonces)
		}
		if len(cc) != 0 {
			t.Errorf("Cache-Control = %q, want none", cc)
		}
	}
	if got := resp.header.Get("Retry-After"); got != w.retryAfter {
		t.Errorf("Retry-After = %q, want %q", got, w.retryAfter)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("protected handler called %d times on a rejected request", n)
	}
	logs, events, rejs := h.cap.snapshot()
	if len(rejs) != 1 {
		t.Fatalf("error handler called %d times, want 1", len(rejs))
	}
	rej := rejs[0]
	if rej.Status != w.status || rej.Err.Code != w.code || rej.Err.Reason != w.reason {
		t.Errorf("Rejection = {status %d, code %q, reason %q}, want {%d, %q, %q} (err: %v)",
			rej.Status, rej.Err.Code, rej.Err.Reason, w.status, w.code, w.reason, rej.Err)
	}
	want := middleware.Event{Route: events0Route(events), Scheme: w.scheme, Outcome: middleware.Rejected, Reason: w.reason}
	if len(events) != 1 || events[0] != want {
		t.Errorf("metrics events = %+v, want [%+v]", events, want)
	}
	level := slog.LevelInfo
	if w.status >= 500 {
		level = slog.LevelError
	}
	if !slices.ContainsFunc(logs, func(l logRecord) bool {
		return l.level == level && l.msg == "popguard: request rejected" && l.attrs["reason"] == string(w.reason)
	}) {
		t.Errorf("no %v log line \"popguard: request rejected\" with reason %q in %+v", level, w.reason, logs)
	}
	checkBody(t, resp, rej)
	checkHeadersSafe(t, resp.header)
}

func events0Route(ev []middleware.Event) string {
	if len(ev) == 0 {
		return ""
	}
	return ev[0].Route
}

// checkBody checks the default body: JSON {"error","error_description"}
// for errors with a code, nothing for a plain challenge.
func checkBody(t *testing.T, resp response, rej *middleware.Rejection) {
	t.Helper()
	if rej.Err.Code == popguard.CodeNone {
		if len(resp.body) != 0 {
			t.Errorf("body = %q, want empty for a challenge without error", resp.body)
		}
		return
	}
	if ct := resp.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body map[string]string
	if err := json.Unmarshal(resp.body, &body); err != nil {
		t.Fatalf("body %q: %v", resp.body, err)
	}
	want := map[string]string{"error": string(rej.Err.Code), "error_description": rej.Err.Description}
	if len(body) != 2 || body["error"] != want["error"] || body["error_description"] != want["error_description"] {
		t.Errorf("body = %v, want %v", body, want)
	}
}

// checkHeadersSafe asserts that every response header value is printable
// ASCII and that every WWW-Authenticate line is a well-formed challenge
// whose quoted strings hold no quote or backslash (RFC 6750 §3).
func checkHeadersSafe(t *testing.T, hdr http.Header) {
	t.Helper()
	for name, vals := range hdr {
		for _, v := range vals {
			for i := 0; i < len(v); i++ {
				if v[i] < 0x20 || v[i] > 0x7e {
					t.Errorf("header %s value %q has byte %#x outside printable ASCII", name, v, v[i])
					break
				}
			}
		}
	}
	for _, c := range hdr.Values("WWW-Authenticate") {
		if err := parseChallenge(c); err != nil {
			t.Errorf("WWW-Authenticate %q: %v", c, err)
		}
	}
}

// parseChallenge accepts exactly: scheme SP name="value" *(", " name="value"),
// values in %x20-21 / %x23-5B / %x5D-7E.
func parseChallenge(c string) error {
	scheme, rest, ok := strings.Cut(c, " ")
	if !ok || (scheme != "Bearer" && scheme != "DPoP" && scheme != "PoP") {
		return fmt.Errorf("bad scheme or missing auth-param")
	}
	seen := map[string]bool{}
	for rest != "" {
		name, after, ok := strings.Cut(rest, `="`)
		if !ok || name == "" || strings.ContainsAny(name, ` ",=`) {
			return fmt.Errorf("bad auth-param name in %q", rest)
		}
		if seen[name] {
			return fmt.Errorf("auth-param %s repeated", name)
		}
		seen[name] = true
		end := strings.IndexByte(after, '"')
		if end < 0 {
			return fmt.Errorf("unterminated quoted-string")
		}
		for _, b := range []byte(after[:end]) {
			if b < 0x20 || b > 0x7e || b == '\\' {
				return fmt.Errorf("value of %s has byte %#x", name, b)
			}
		}
		rest = after[end+1:]
		if rest != "" {
			if !strings.HasPrefix(rest, ", ") {
				return fmt.Errorf("expected \", \" before %q", rest)
			}
			rest = rest[2:]
		}
	}
	return nil
}

// expectAccepted checks that the handler ran once with want and that the
// request was counted with outcome.
func (h *harness) expectAccepted(t *testing.T, resp response, want popguard.Result, outcome middleware.Outcome) {
	t.Helper()
	if resp.status != http.StatusOK {
		t.Errorf("status = %d, want 200 (WWW-Authenticate %q, body %s)", resp.status, resp.header.Values("WWW-Authenticate"), resp.body)
	}
	if got := resp.header.Values("WWW-Authenticate"); len(got) != 0 {
		t.Errorf("WWW-Authenticate = %q on an accepted request", got)
	}
	if n := h.calls.Load(); n != 1 {
		t.Fatalf("protected handler called %d times, want 1", n)
	}
	res := h.result.Load()
	if res == nil {
		t.Fatal("popguard.FromContext returned nil in the protected handler")
	}
	if res.Scheme != want.Scheme || res.Subject != want.Subject || res.ClientID != want.ClientID ||
		!slices.Equal(res.Scopes, want.Scopes) || res.KeyThumbprint != want.KeyThumbprint || res.CertificateThumbprint != want.CertificateThumbprint {
		t.Errorf("Result = {%v %q %q %q %q %q}, want {%v %q %q %q %q %q}",
			res.Scheme, res.Subject, res.ClientID, res.Scopes, res.KeyThumbprint, res.CertificateThumbprint,
			want.Scheme, want.Subject, want.ClientID, want.Scopes, want.KeyThumbprint, want.CertificateThumbprint)
	}
	if res.Issuer != issuerURL || !slices.Equal(res.Audience, []string{audience}) {
		t.Errorf("Result issuer/audience = %q %q", res.Issuer, res.Audience)
	}
	_, events, rejs := h.cap.snapshot()
	if len(rejs) != 0 {
		t.Errorf("error handler called on an accepted request: %+v", rejs[0].Err)
	}
	if len(events) != 1 || events[0].Outcome != outcome || events[0].Scheme != want.Scheme || events[0].Reason != "" ||
		events[0].CertBound != (want.CertificateThumbprint != "") {
		t.Errorf("metrics events = %+v, want one %s event for %v", events, outcome, want.Scheme)
	}
	checkHeadersSafe(t, resp.header)
}

// withJKT returns r with the thumbprint of k's key.
func withJKT(r popguard.Result, k *poptest.Client) popguard.Result {
	r.KeyThumbprint = k.Thumbprint()
	return r
}

// ---- raw HTTP/1.1 over TCP, for framing a client library would normalize ----

// rawServer serves handler on a real listener.
func rawServer(t *testing.T, handler http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// rawDo writes head (request line and header lines, without the final empty
// line) to addr and reads the response.
func (h *harness) rawDo(t *testing.T, addr string, head ...string) response {
	t.Helper()
	h.cap.reset()
	h.calls.Store(0)
	h.result.Store(nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	msg := strings.Join(head, "\r\n") + "\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, msg); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}
