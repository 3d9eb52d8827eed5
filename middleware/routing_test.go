package middleware_test

// Route confusion through dot-segments: a proof made for one URL must never
// run the handler of another route. Go's ServeMux (1.22+) cleans only the
// unescaped path, so "/dpop/%2E%2E/mixed/profile" reaches the "/dpop/"
// handler with r.URL.Path "/dpop/../mixed/profile"; a check that resolved
// dot-segments compared "/mixed/profile" with the proof and accepted it on
// the DPoP-only route. Every spelling is refused on every scheme, over
// HTTP/1.1 and HTTP/2. chi, gin and echo are covered in their modules under
// adapters/.

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/routeprobe"
	"github.com/popguard/popguard/middleware"
)

// routedServer serves a ServeMux with a subtree pattern per mode and a
// {path...} wildcard, over HTTP/1.1 and unencrypted HTTP/2.
func routedServer(t *testing.T, h *harness) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("/dpop/", h.route(popguard.DPoPOnly))
	mux.Handle("/mixed/", h.route(popguard.Mixed))
	mux.Handle("/bearer/", h.route(popguard.BearerOnly))
	mux.Handle("GET /files/{path...}", h.route(popguard.DPoPOnly))
	return routeprobe.Serve(t, mux)
}

// sendRaw sends method and the escaped path exactly as given over HTTP/1.1
// or HTTP/2, with header pairs hdr, after resetting the harness.
func (h *harness) sendRaw(t *testing.T, srv *httptest.Server, http2 bool, method, rawPath string, hdr ...string) response {
	t.Helper()
	h.advReset()
	header := http.Header{}
	for i := 0; i+1 < len(hdr); i += 2 {
		header.Add(hdr[i], hdr[i+1])
	}
	res := routeprobe.Send(t, srv, http2, method, rawPath, header)
	return response{status: res.StatusCode, header: res.Header}
}

func TestRouteConfusionDotSegments(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithPoP())
	srv := routedServer(t, h)
	for _, proto := range []struct {
		name  string
		http2 bool
	}{{"HTTP/1.1", false}, {"HTTP/2", true}} {
		t.Run(proto.name, func(t *testing.T) {
			// The attack: a proof made for the URL the dot-segments resolve
			// to, sent to a path that routes elsewhere.
			for _, c := range []struct{ method, sent, signed string }{
				{"GET", "/dpop/%2E%2E/mixed/profile", "/mixed/profile"},
				{"GET", "/dpop/%2e%2e/mixed/profile", "/mixed/profile"},
				{"GET", "/dpop/.%2E/mixed/profile", "/mixed/profile"},
				{"GET", "/dpop/%2E./mixed/profile", "/mixed/profile"},
				{"POST", "/dpop/transfers/%2e%2e/%2e%2e/mixed/comments", "/mixed/comments"},
				{"GET", "/dpop/a/%2E%2E/x", "/dpop/x"},
				{"GET", "/dpop/%2E/x", "/dpop/x"},
				{"GET", "/files/a/%2e%2e/b", "/files/b"},
				{"GET", "/dpop/a%2F..%2Fx", "/dpop/x"},
				{"GET", "/mixed/a%2f%2E%2E%2fb", "/mixed/b"},
			} {
				t.Run(c.method+" "+c.sent+" with a proof for "+c.signed, func(t *testing.T) {
					tok := h.bound()
					resp := h.sendRaw(t, srv, proto.http2, c.method, c.sent, "Authorization", "DPoP "+tok, "DPoP", h.proof(c.method, publicURL+c.signed, tok))
					advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
				})
				t.Run(c.method+" "+c.sent+" with a proof for itself", func(t *testing.T) {
					tok := h.bound()
					resp := h.sendRaw(t, srv, proto.http2, c.method, c.sent, "Authorization", "DPoP "+tok, "DPoP", h.proof(c.method, publicURL+c.sent, tok))
					advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
				})
			}
			// The same paths on a Bearer route and without credentials:
			// the answer does not depend on the scheme.
			for _, sent := range []string{"/bearer/%2E%2E/mixed/profile", "/bearer/a/.%2e/b", "/mixed/%2e/profile"} {
				t.Run("Bearer "+sent, func(t *testing.T) {
					resp := h.sendRaw(t, srv, proto.http2, "GET", sent, "Authorization", "Bearer "+h.unbound())
					advReject(t, h, resp, 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
				})
				t.Run("no credentials "+sent, func(t *testing.T) {
					advReject(t, h, h.sendRaw(t, srv, proto.http2, "GET", sent), 400, popguard.CodeInvalidRequest, popguard.ReasonRequestDotSegment)
				})
			}
			// Plain dot-segments: ServeMux redirects them before any
			// handler runs; the guard never sees them.
			t.Run("plain /dpop/../mixed/profile is redirected by ServeMux", func(t *testing.T) {
				tok := h.bound()
				resp := h.sendRaw(t, srv, proto.http2, "GET", "/dpop/../mixed/profile", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", publicURL+"/mixed/profile", tok))
				advServerReject(t, h, resp, http.StatusMovedPermanently, http.StatusTemporaryRedirect)
			})
			// Controls: the same requests without dot-segments.
			t.Run("control: proof for /mixed/profile on /mixed/profile", func(t *testing.T) {
				tok := h.bound()
				resp := h.sendRaw(t, srv, proto.http2, "GET", "/mixed/profile", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", publicURL+"/mixed/profile", tok))
				if resp.status != http.StatusOK || h.calls.Load() != 1 {
					t.Fatalf("status %d, handler calls %d; want 200 and 1", resp.status, h.calls.Load())
				}
			})
			t.Run("control: %2E inside a segment is no dot-segment", func(t *testing.T) {
				tok := h.bound()
				resp := h.sendRaw(t, srv, proto.http2, "GET", "/files/v1%2E2/a.b", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", publicURL+"/files/v1%2E2/a.b", tok))
				if resp.status != http.StatusOK || h.calls.Load() != 1 {
					t.Fatalf("status %d, handler calls %d; want 200 and 1", resp.status, h.calls.Load())
				}
			})
		})
	}
}
