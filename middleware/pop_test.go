package middleware_test

import (
	"crypto/rand"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// popHarness is a Guard with PoP enabled and an RSA key bound to carol's
// token the way Microsoft Entra ID binds it: cnf.kid = RFC 7638 thumbprint.
type popHarness struct {
	*harness
	rsa   *poptest.Client
	token string
}

func newPoPHarness(t *testing.T, opts ...middleware.Option) *popHarness {
	t.Helper()
	h := newHarness(t, append([]middleware.Option{middleware.WithPublicURL(publicURL), middleware.WithPoP()}, opts...)...)
	k := newClient(t, "PS256")
	tok := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}}})
	return &popHarness{harness: h, rsa: k, token: tok}
}

// shr is carol's SHR for method and target, in MSAL.NET's form unless o
// says otherwise.
func (p *popHarness) shr(method, target string, o poptest.SHROptions) string {
	return p.rsa.SHR(method, target, p.token, o)
}

const popPlain = `PoP realm="api"`

func popErr(desc string) string {
	return `PoP realm="api", error="invalid_token", error_description="` + desc + `"`
}

// popReject checks a PoP rejection: status, exact challenges, reason, and
// that the handler never ran.
func (p *popHarness) popReject(t *testing.T, resp response, challenges []string, reason popguard.Reason) {
	t.Helper()
	if resp.status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.status)
	}
	if got := resp.header.Values("WWW-Authenticate"); !slices.Equal(got, challenges) {
		t.Errorf("WWW-Authenticate =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(challenges, "\n\t"))
	}
	if n := p.calls.Load(); n != 0 {
		t.Errorf("handler called %d times", n)
	}
	_, events, rejs := p.cap.snapshot()
	if len(rejs) != 1 || rejs[0].Err.Reason != reason || len(events) != 1 || events[0].Reason != reason {
		t.Errorf("rejections %v events %v, want reason %q", rejs, events, reason)
	}
	checkHeadersSafe(t, resp.header)
}

func TestPoPAcceptedMSALNet(t *testing.T) {
	p := newPoPHarness(t)
	for _, mode := range []popguard.Mode{popguard.PoPOnly, popguard.Mixed, popguard.ProofOnly} {
		shr := p.shr("GET", "https://api.test/accounts/1", poptest.SHROptions{})
		resp := p.do(p.route(mode), request("GET", "https://api.test/accounts/1?x=1", "Authorization", "PoP "+shr))
		if resp.status != http.StatusOK || p.calls.Load() != 1 {
			t.Fatalf("%v: status %d, calls %d, body %s", mode, resp.status, p.calls.Load(), resp.body)
		}
		res := p.result.Load()
		if res.Scheme != popguard.PoP || res.Subject != "carol" || res.KeyThumbprint != p.rsa.Thumbprint() {
			t.Errorf("%v: result %+v", mode, res)
		}
	}
}

func TestPoPSchemeCaseInsensitive(t *testing.T) {
	p := newPoPHarness(t)
	for _, scheme := range []string{"pop", "POP", "Pop"} {
		shr := p.shr("GET", "https://api.test/a", poptest.SHROptions{})
		resp := p.do(p.route(popguard.PoPOnly), request("GET", "https://api.test/a", "Authorization", scheme+" "+shr))
		if resp.status != http.StatusOK {
			t.Errorf("%s: status %d", scheme, resp.status)
		}
	}
}

func TestPoPRejected(t *testing.T) {
	p := newPoPHarness(t)
	good := func() string { return p.shr("GET", "https://api.test/a", poptest.SHROptions{}) }
	replayed := good()
	p.do(p.route(popguard.PoPOnly), request("GET", "https://api.test/a", "Authorization", "PoP "+replayed))
	cases := []struct {
		name   string
		mode   popguard.Mode
		req    *http.Request
		want   []string
		reason popguard.Reason
	}{
		{"no credentials on PoPOnly", popguard.PoPOnly, request("GET", "https://api.test/a"),
			[]string{popPlain}, popguard.ReasonNoCredentials},
		{"no credentials on Mixed", popguard.Mixed, request("GET", "https://api.test/a"),
			[]string{bearerPlain, dpopPlain, popPlain}, popguard.ReasonNoCredentials},
		{"Bearer on PoPOnly", popguard.PoPOnly, request("GET", "https://api.test/a", "Authorization", "Bearer "+p.unbound()),
			[]string{popPlain}, popguard.ReasonRequestSchemeNotAllowed},
		{"PoP-bound token as Bearer on Mixed", popguard.Mixed, request("GET", "https://api.test/a", "Authorization", "Bearer "+p.token),
			[]string{bearerErr(popguard.CodeInvalidToken, descBoundAsBearer), dpopPlain, popPlain}, popguard.ReasonTokenBoundUsedAsBearer},
		{"PoP-bound token with DPoP scheme", popguard.Mixed, request("GET", "https://api.test/a", "Authorization", "DPoP "+p.token,
			"DPoP", p.proofWith(p.rsa, "GET", "https://api.test/a", p.token, poptest.ProofOptions{})),
			[]string{dpopErr(popguard.CodeInvalidToken, descNotDPoPKey), bearerPlain, popPlain}, popguard.ReasonTokenKeyBinding},
		{"wrong method", popguard.PoPOnly, request("POST", "https://api.test/a", "Authorization", "PoP "+good()),
			[]string{popErr("The PoP signed request m does not match the request method")}, popguard.ReasonSHRM},
		{"wrong path case", popguard.PoPOnly, request("GET", "https://api.test/A", "Authorization", "PoP "+good()),
			[]string{popErr("The PoP signed request p does not match the request path")}, popguard.ReasonSHRP},
		{"replayed", popguard.PoPOnly, request("GET", "https://api.test/a", "Authorization", "PoP "+replayed),
			[]string{popErr("The proof has already been used")}, popguard.ReasonReplayDetected},
		{"DPoP proof as SHR", popguard.PoPOnly, request("GET", "https://api.test/a", "Authorization", "PoP "+p.proof("GET", "https://api.test/a", p.token)),
			[]string{popErr("The PoP signed request typ is not pop")}, popguard.ReasonSHRTyp},
		{"stale ts", popguard.PoPOnly, request("GET", "https://api.test/a", "Authorization", "PoP "+p.shr("GET", "https://api.test/a", poptest.SHROptions{Time: time.Now().Add(-time.Hour)})),
			nil, popguard.ReasonSHRTs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := p.do(p.route(c.mode), c.req)
			want := c.want
			if want == nil { // description checked elsewhere: only the reason matters here
				want = resp.header.Values("WWW-Authenticate")
				if len(want) != 1 || !strings.HasPrefix(want[0], `PoP realm="api", error="invalid_token"`) {
					t.Errorf("challenge %q", want)
				}
			}
			p.popReject(t, resp, want, c.reason)
		})
	}
}

// Server nonces for PoP travel the way MSAL reads them.
func TestPoPNonceChallengeAndRotation(t *testing.T) {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	now := time.Now()
	clock := func() time.Time { return now }
	src, err := nonce.New(secret, nonce.Clock(clock))
	if err != nil {
		t.Fatal(err)
	}
	p := newPoPHarness(t, middleware.WithNonces(src))
	route := p.route(popguard.PoPOnly, middleware.RequireNonce())

	// 1. No nonce: 401 with the nonce FIRST in the PoP challenge (MSAL's
	// parser splits on "," and "=" and does not trim keys).
	resp := p.do(route, request("GET", "https://api.test/a", "Authorization", "PoP "+p.shr("GET", "https://api.test/a", poptest.SHROptions{Claims: map[string]any{"nonce": nil}})))
	ch := resp.header.Values("WWW-Authenticate")
	if resp.status != 401 || len(ch) != 1 || !strings.HasPrefix(ch[0], `PoP nonce="`) {
		t.Fatalf("status %d challenges %q", resp.status, ch)
	}
	n := strings.TrimPrefix(ch[0], `PoP nonce="`)
	n = n[:strings.IndexByte(n, '"')]
	if want := `PoP nonce="` + n + `", realm="api", error="invalid_token", error_description="Resource server requires nonce in PoP signed request"`; ch[0] != want {
		t.Errorf("challenge\n\t%s\nwant\n\t%s", ch[0], want)
	}
	if resp.header.Get("Cache-Control") != "no-store" || resp.header.Get("DPoP-Nonce") != "" || p.calls.Load() != 0 {
		t.Errorf("headers %v calls %d", resp.header, p.calls.Load())
	}
	if strings.ContainsAny(n, "=,") {
		t.Errorf("nonce %q has characters MSAL's parser splits on", n)
	}

	// 2. Retry with the nonce: accepted, no rotation while fresh.
	resp = p.do(route, request("GET", "https://api.test/a", "Authorization", "PoP "+p.shr("GET", "https://api.test/a", poptest.SHROptions{Nonce: n})))
	if resp.status != 200 || resp.header.Get("Authentication-Info") != "" {
		t.Fatalf("status %d, Authentication-Info %q", resp.status, resp.header.Get("Authentication-Info"))
	}

	// 3. One step later the old nonce still works and the 200 carries the
	// next one. (Another path: an SHR with the same server nonce, URL and
	// second as the one before is the same signed statement, a replay.)
	now = now.Add(61 * time.Second)
	resp = p.do(route, request("GET", "https://api.test/b", "Authorization", "PoP "+p.shr("GET", "https://api.test/b", poptest.SHROptions{Nonce: n})))
	info := resp.header.Get("Authentication-Info")
	if resp.status != 200 || !strings.HasPrefix(info, `nextnonce="`) || info == `nextnonce="`+n+`"` || resp.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, Authentication-Info %q", resp.status, info)
	}

	// 4. A forged nonce: rejected with a fresh one in the challenge.
	resp = p.do(route, request("GET", "https://api.test/a", "Authorization", "PoP "+p.shr("GET", "https://api.test/a", poptest.SHROptions{Nonce: strings.Repeat("A", 32)})))
	if resp.status != 401 || !strings.HasPrefix(resp.header.Get("WWW-Authenticate"), `PoP nonce="`) || p.calls.Load() != 0 {
		t.Fatalf("forged nonce: status %d challenge %q", resp.status, resp.header.Get("WWW-Authenticate"))
	}
}

// The b claim is checked against the exact body, which the handler still
// receives in full afterwards.
func TestPoPBodyHash(t *testing.T) {
	p := newPoPHarness(t, middleware.WithPoP(validate.SHRRequireBody("POST")))
	body := `{"amount":100}`
	shr := p.shr("POST", "https://api.test/transfers", poptest.SHROptions{Body: []byte(body)})
	var got string
	h := p.guard.Require(popguard.PoPOnly)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = string(b)
	}))
	req := bodyRequest("POST", "https://api.test/transfers", body)
	req.Header.Set("Authorization", "PoP "+shr)
	resp := p.do(h, req)
	if resp.status != 200 || got != body {
		t.Fatalf("status %d, handler body %q", resp.status, got)
	}
	// Tampered body.
	req = bodyRequest("POST", "https://api.test/transfers", `{"amount":100000}`)
	req.Header.Set("Authorization", "PoP "+p.shr("POST", "https://api.test/transfers", poptest.SHROptions{Body: []byte(body)}))
	resp = p.do(p.route(popguard.PoPOnly), req)
	p.popReject(t, resp, resp.header.Values("WWW-Authenticate"), popguard.ReasonSHRB)
	// Body required on POST but the SHR has no b.
	req = bodyRequest("POST", "https://api.test/transfers", body)
	req.Header.Set("Authorization", "PoP "+p.shr("POST", "https://api.test/transfers", poptest.SHROptions{}))
	resp = p.do(p.route(popguard.PoPOnly), req)
	p.popReject(t, resp, resp.header.Values("WWW-Authenticate"), popguard.ReasonSHRB)
}

func bodyRequest(method, target, body string) *http.Request {
	r := request(method, target)
	r.Body = readCloser{strings.NewReader(body)}
	r.ContentLength = int64(len(body))
	return r
}

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// A body larger than the PoP body limit is not hashed: 400 invalid_request
// (shr_b), and the handler never runs.
func TestPoPBodyTooLarge(t *testing.T) {
	p := newPoPHarness(t, middleware.WithPoPBodyLimit(16))
	body := `{"amount":100,"to":"x"}` // 23 bytes
	req := bodyRequest("POST", "https://api.test/transfers", body)
	req.Header.Set("Authorization", "PoP "+p.shr("POST", "https://api.test/transfers", poptest.SHROptions{Body: []byte(body)}))
	resp := p.do(p.route(popguard.PoPOnly), req)
	if resp.status != http.StatusBadRequest || p.calls.Load() != 0 {
		t.Fatalf("status %d, handler calls %d; want 400 and none", resp.status, p.calls.Load())
	}
	want := `PoP realm="api", error="invalid_request", error_description="The request body is too large to verify"`
	if got := resp.header.Values("WWW-Authenticate"); !slices.Equal(got, []string{want}) {
		t.Errorf("WWW-Authenticate = %q, want %q", got, want)
	}
	_, events, _ := p.cap.snapshot()
	if len(events) != 1 || events[0].Reason != popguard.ReasonSHRB || events[0].Outcome != middleware.Rejected {
		t.Errorf("events %+v", events)
	}
}
