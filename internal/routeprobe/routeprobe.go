// Package routeprobe drives route-confusion probes against a protected
// router in tests: requests whose path holds dot-segments, sent exactly as
// written over HTTP/1.1 and unencrypted HTTP/2, each with a DPoP proof for
// the path it resolves to and for itself. The core's middleware tests and
// the gin, echo and chi adapter modules share it.
package routeprobe

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// Probe records the reasons a Guard rejected requests for (through its
// metrics hook, which every adapter reaches) and counts handler runs.
type Probe struct {
	mu      sync.Mutex
	reasons []popguard.Reason
	handled atomic.Int64
}

// Option returns the Guard option that reports rejections to p.
func (p *Probe) Option() middleware.Option { return middleware.WithMetrics(p) }

// Observe implements middleware.Metrics.
func (p *Probe) Observe(e middleware.Event) {
	if e.Outcome == middleware.Rejected {
		p.mu.Lock()
		p.reasons = append(p.reasons, e.Reason)
		p.mu.Unlock()
	}
}

// Handled counts one run of a protected handler.
func (p *Probe) Handled() { p.handled.Add(1) }

// Reset returns and clears what was recorded.
func (p *Probe) Reset() (reasons []popguard.Reason, handled int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	reasons, p.reasons = p.reasons, nil
	return reasons, p.handled.Swap(0)
}

// Serve serves h over HTTP/1.1 and unencrypted HTTP/2 until the test ends.
func Serve(t testing.TB, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// Send sends method and rawPath exactly as written (no cleaning, no
// re-escaping), over HTTP/2 with prior knowledge when h2, without following
// redirects, and returns the response with its body closed.
func Send(t testing.TB, srv *httptest.Server, h2 bool, method, rawPath string, header http.Header) *http.Response {
	t.Helper()
	u, err := url.Parse(srv.URL + rawPath)
	if err != nil || u.EscapedPath() != rawPath {
		t.Fatalf("cannot send %q as written (%v)", rawPath, err)
	}
	req, err := http.NewRequest(method, u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.URL = u
	for k, vs := range header {
		req.Header[k] = vs
	}
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetHTTP1(!h2)
	tr.Protocols.SetUnencryptedHTTP2(h2)
	defer tr.CloseIdleConnections()
	cl := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if want := map[bool]int{false: 1, true: 2}[h2]; res.ProtoMajor != want {
		t.Fatalf("answered over HTTP/%d, want HTTP/%d", res.ProtoMajor, want)
	}
	return res
}

// DotSegmentCases are GET requests, for a router with DPoP-only routes
// under /dpop/ and Mixed routes under /mixed/, whose dot-segments resolve to
// another route than the one a router picks, each with the path they
// resolve to.
var DotSegmentCases = []struct{ Sent, Resolved string }{
	{"/dpop/%2E%2E/mixed/profile", "/mixed/profile"},
	{"/dpop/%2e%2e/mixed/profile", "/mixed/profile"},
	{"/dpop/.%2E/mixed/profile", "/mixed/profile"},
	{"/dpop/%2E./mixed/profile", "/mixed/profile"},
	{"/dpop/../mixed/profile", "/mixed/profile"},
	{"/dpop/a/./../../mixed/profile", "/mixed/profile"},
	{"/dpop/a%2F..%2F..%2Fmixed/profile", "/mixed/profile"},
	{"/mixed/x/%2E%2E/profile", "/mixed/profile"},
}

// CheckDotSegments sends every DotSegmentCases request to srv (a router
// whose protected handlers call p.Handled) over both protocols with the
// access token tok and a proof made by proof(htuPath) for the path it
// resolves to and for itself. Each must get 400 with reason
// request_dot_segment and run no handler; a control GET /mixed/profile must
// get 200.
func CheckDotSegments(t *testing.T, srv *httptest.Server, p *Probe, tok string, proof func(htuPath string) string) {
	t.Helper()
	dpop := func(path string) http.Header {
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(path)}}
	}
	for _, h2 := range []bool{false, true} {
		for _, c := range DotSegmentCases {
			for _, signed := range []string{c.Resolved, c.Sent} {
				res := Send(t, srv, h2, "GET", c.Sent, dpop(signed))
				reasons, handled := p.Reset()
				if res.StatusCode != http.StatusBadRequest || handled != 0 || len(reasons) != 1 || reasons[0] != popguard.ReasonRequestDotSegment {
					t.Errorf("HTTP/%d GET %s with a proof for %s: status %d, handler ran %d times, reasons %v; want 400 request_dot_segment and no run",
						res.ProtoMajor, c.Sent, signed, res.StatusCode, handled, reasons)
				}
			}
		}
		res := Send(t, srv, h2, "GET", "/mixed/profile", dpop("/mixed/profile"))
		if _, handled := p.Reset(); res.StatusCode != http.StatusOK || handled != 1 {
			t.Errorf("HTTP/%d control GET /mixed/profile: status %d, handler ran %d times", res.ProtoMajor, res.StatusCode, handled)
		}
	}
}
