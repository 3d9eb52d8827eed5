package middleware_test

// Server nonces (RFC 9449 §8, §9; conformance §3.5) and replay detection
// (RFC 9449 §11.1; DESIGN "Decisions already taken").

import (
	"context"
	"crypto/elliptic"
	"encoding/base64"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
)

// fakeClock is a settable clock for nonce.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_750_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newNonces returns a nonce source with a fixed 32-byte secret on clk
// (time.Now when nil); default step 60 s, window 2 steps.
func newNonces(t testing.TB, clk *fakeClock, opts ...nonce.Option) *nonce.Source {
	t.Helper()
	secret := []byte("0123456789abcdef0123456789abcdef")
	if clk != nil {
		opts = append(opts, nonce.Clock(clk.Now))
	}
	src, err := nonce.New(secret, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// dpopReq is a DPoP request for GET target with a proof by h.key.
func (h *harness) dpopReq(tok, nonceValue string) *http.Request {
	return request("GET", target, "Authorization", "DPoP "+tok, "DPoP",
		h.proofWith(h.key, "GET", target, tok, poptest.ProofOptions{Nonce: nonceValue}))
}

func TestNonces(t *testing.T) {
	clk := newClock()
	src := newNonces(t, clk)
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(src))
	route := h.route(popguard.DPoPOnly, middleware.RequireNonce())
	tok := h.bound()
	nonceErr := func(desc string, reason popguard.Reason) rejectWant {
		return rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeUseDPoPNonce, desc)},
			code: popguard.CodeUseDPoPNonce, reason: reason, nonce: true, scheme: popguard.DPoP}
	}
	expectNonce := func(t *testing.T, resp response, want string) {
		t.Helper()
		if got := resp.header.Get("DPoP-Nonce"); got != want {
			t.Errorf("DPoP-Nonce = %q, want %q", got, want)
		}
	}

	var first string
	t.Run("no nonce: use_dpop_nonce with a nonce", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, ""))
		h.expectRejected(t, resp, nonceErr(descNonceMissing, popguard.ReasonNonceMissing))
		first = resp.header.Get("DPoP-Nonce")
		expectNonce(t, resp, src.Issue())
	})
	t.Run("retry with it: 200, no new nonce while fresh", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, first))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
		for _, name := range []string{"DPoP-Nonce", "Cache-Control", "Access-Control-Expose-Headers"} {
			if v := resp.header.Values(name); len(v) != 0 {
				t.Errorf("%s = %q on a 200 with a fresh nonce", name, v)
			}
		}
	})
	clk.Advance(time.Minute)
	t.Run("one step later: 200 with a rotated nonce", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, first))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
		next := resp.header.Get("DPoP-Nonce")
		if next == "" || next == first {
			t.Errorf("DPoP-Nonce = %q, want a fresh nonce (old %q)", next, first)
		}
		expectNonce(t, resp, src.Issue())
		if got := resp.header.Values("Cache-Control"); len(got) != 1 || got[0] != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", got)
		}
		if got := resp.header.Get("Access-Control-Expose-Headers"); got != exposeHeaders {
			t.Errorf("Access-Control-Expose-Headers = %q", got)
		}
		if len(resp.header.Values("DPoP-Nonce")) != 1 {
			t.Errorf("more than one DPoP-Nonce (N-3): %q", resp.header.Values("DPoP-Nonce"))
		}
	})
	clk.Advance(time.Duration(2) * time.Minute)
	t.Run("expired nonce", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, first))
		h.expectRejected(t, resp, nonceErr(descNonceInvalid, popguard.ReasonNonceInvalid))
		expectNonce(t, resp, src.Issue())
	})
	t.Run("forged nonce", func(t *testing.T) {
		forged := base64.RawURLEncoding.EncodeToString(make([]byte, 24)) // well-formed, wrong MAC
		resp := h.do(route, h.dpopReq(tok, forged))
		h.expectRejected(t, resp, nonceErr(descNonceInvalid, popguard.ReasonNonceInvalid))
	})
	t.Run("nonce of another server", func(t *testing.T) {
		other, err := nonce.New([]byte("another secret of thirty-two b!!"), nonce.Clock(clk.Now))
		if err != nil {
			t.Fatal(err)
		}
		resp := h.do(route, h.dpopReq(tok, other.Issue()))
		h.expectRejected(t, resp, nonceErr(descNonceInvalid, popguard.ReasonNonceInvalid))
	})
	t.Run("garbage nonce", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, "not a nonce"))
		h.expectRejected(t, resp, nonceErr(descNonceInvalid, popguard.ReasonNonceInvalid))
	})
	t.Run("current nonce again", func(t *testing.T) {
		resp := h.do(route, h.dpopReq(tok, src.Issue()))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
	})
	t.Run("no credentials: challenge carries a nonce", func(t *testing.T) {
		resp := h.do(route, request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopPlain}, code: popguard.CodeNone,
			reason: popguard.ReasonNoCredentials, nonce: true})
		expectNonce(t, resp, src.Issue())
	})
	t.Run("route without RequireNonce ignores nonces", func(t *testing.T) {
		resp := h.do(h.route(popguard.DPoPOnly), h.dpopReq(tok, ""))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
		if v := resp.header.Get("DPoP-Nonce"); v != "" {
			t.Errorf("DPoP-Nonce = %q", v)
		}
	})
}

// TestNoncesMixed: a nonce route that also takes Bearer requires nothing of
// Bearer requests, and only DPoP answers carry a nonce.
func TestNoncesMixed(t *testing.T) {
	src := newNonces(t, nil)
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(src))
	route := func() http.Handler { return h.route(mixed, middleware.RequireNonce()) }
	t.Run("no credentials", func(t *testing.T) {
		resp := h.do(route(), request("GET", target))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{bearerPlain, dpopPlain}, code: popguard.CodeNone,
			reason: popguard.ReasonNoCredentials, nonce: true})
	})
	t.Run("Bearer accepted without nonce", func(t *testing.T) {
		resp := h.do(route(), request("GET", target, "Authorization", "Bearer "+h.unbound()))
		h.expectAccepted(t, resp, alice, middleware.Accepted)
		if v := resp.header.Get("DPoP-Nonce"); v != "" {
			t.Errorf("DPoP-Nonce = %q on a Bearer 200", v)
		}
	})
	t.Run("Bearer failure carries no nonce", func(t *testing.T) {
		resp := h.do(route(), request("GET", target, "Authorization", "Bearer "+h.expired()))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{bearerErr(popguard.CodeInvalidToken, descTokenExpired), dpopPlain},
			code: popguard.CodeInvalidToken, reason: popguard.ReasonTokenExpired, scheme: popguard.Bearer})
	})
	t.Run("DPoP without nonce", func(t *testing.T) {
		resp := h.do(route(), h.dpopReq(h.bound(), ""))
		h.expectRejected(t, resp, rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeUseDPoPNonce, descNonceMissing), bearerPlain},
			code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceMissing, nonce: true, scheme: popguard.DPoP})
	})
}

func TestRequireNonceNeedsSource(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	if mw, err := h.guard.Route(popguard.DPoPOnly, middleware.RequireNonce()); err == nil || mw != nil {
		t.Fatalf("Route(RequireNonce) without WithNonces: err = %v", err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Require(RequireNonce) without WithNonces did not panic")
		}
	}()
	h.guard.Require(popguard.DPoPOnly, middleware.RequireNonce())
}

func TestReplay(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	tok := h.bound()
	replayed := rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descReplay)},
		code: popguard.CodeInvalidDPoPProof, reason: popguard.ReasonReplayDetected, scheme: popguard.DPoP}
	t.Run("same proof twice", func(t *testing.T) {
		route := h.route(popguard.DPoPOnly)
		proof := h.proof("GET", target, tok)
		mk := func() *http.Request { return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof) }
		h.expectAccepted(t, h.do(route, mk()), withJKT(bob, h.key), middleware.Accepted)
		h.expectRejected(t, h.do(route, mk()), replayed)
	})
	t.Run("same proof on another route of the Guard", func(t *testing.T) {
		proof := h.proof("GET", target, tok)
		mk := func() *http.Request { return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof) }
		h.expectAccepted(t, h.do(h.route(popguard.DPoPOnly), mk()), withJKT(bob, h.key), middleware.Accepted)
		h.expectRejected(t, h.do(h.route(popguard.DPoPOnly, middleware.Name("other")), mk()), replayed)
	})
	t.Run("malleated ECDSA signature (r, n-s)", func(t *testing.T) {
		route := h.route(popguard.DPoPOnly)
		proof := h.proof("GET", target, tok)
		h.expectAccepted(t, h.do(route, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof)), withJKT(bob, h.key), middleware.Accepted)
		h.expectRejected(t, h.do(route, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", malleate(t, proof))), replayed)
	})
}

// malleate returns proof with its ECDSA signature (r, s) replaced by the
// equally valid (r, n-s): different bytes, same jkt and jti.
func malleate(t *testing.T, proof string) string {
	t.Helper()
	i := strings.LastIndexByte(proof, '.')
	sig, err := base64.RawURLEncoding.DecodeString(proof[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %v (%d bytes)", err, len(sig))
	}
	n := elliptic.P256().Params().N // the harness key's curve
	s := new(big.Int).SetBytes(sig[32:])
	s.Sub(n, s)
	out := append([]byte{}, sig[:32]...)
	out = append(out, s.FillBytes(make([]byte, 32))...)
	return proof[:i+1] + base64.RawURLEncoding.EncodeToString(out)
}

func TestReplayStoreFull(t *testing.T) {
	store, err := replay.NewMemory(replay.Capacity(1), replay.Shards(1))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(store))
	tok := h.bound()
	h.expectAccepted(t, h.do(h.route(popguard.DPoPOnly), h.dpopReq(tok, "")), withJKT(bob, h.key), middleware.Accepted)
	resp := h.do(h.route(popguard.Mixed), h.dpopReq(tok, ""))
	// 503 carries no error parameter in the challenges; the JSON body says
	// temporarily_unavailable.
	h.expectRejected(t, resp, rejectWant{status: 503, challenges: []string{dpopPlain, bearerPlain},
		code: popguard.CodeTemporarilyUnavailable, reason: popguard.ReasonReplayStoreFull, retryAfter: "1", scheme: popguard.DPoP})
	if !strings.Contains(string(resp.body), descStoreFull) {
		t.Errorf("body %s", resp.body)
	}
}

// failingStore is a replay store whose backend is down.
type failingStore struct{}

func (failingStore) InsertIfAbsent(context.Context, string, time.Duration) error {
	return fmt.Errorf("%w: dial tcp 10.0.0.1:6379: connection refused", replay.ErrUnavailable)
}

func TestReplayStoreUnavailable(t *testing.T) {
	t.Run("fails closed by default", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(failingStore{}))
		resp := h.do(h.route(popguard.DPoPOnly), h.dpopReq(h.bound(), ""))
		h.expectRejected(t, resp, rejectWant{status: 503, challenges: []string{dpopPlain},
			code: popguard.CodeTemporarilyUnavailable, reason: popguard.ReasonReplayStoreUnavailable, retryAfter: "1", scheme: popguard.DPoP})
		if !strings.Contains(string(resp.body), descStoreDown) {
			t.Errorf("body %s", resp.body)
		}
		logs, _, _ := h.cap.snapshot()
		if len(logs) != 1 || !strings.Contains(logs[0].attrs["cause"], "connection refused") {
			t.Errorf("logs = %+v, want the cause logged", logs)
		}
	})
	t.Run("fail-open lets the request through, loudly", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(failingStore{}), middleware.WithReplayFailOpen())
		resp := h.do(h.route(popguard.DPoPOnly), h.dpopReq(h.bound(), ""))
		h.expectAccepted(t, resp, withJKT(bob, h.key), middleware.Accepted)
		logs, _, _ := h.cap.snapshot()
		if len(logs) != 1 || logs[0].level != slog.LevelError || logs[0].msg != "popguard: replay check skipped (fail-open)" ||
			logs[0].attrs["reason"] != string(popguard.ReasonReplayStoreUnavailable) || !strings.Contains(logs[0].attrs["cause"], "connection refused") {
			t.Errorf("logs = %+v, want one Error line for the skipped check", logs)
		}
	})
	t.Run("fail-open does not forgive a replay", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplayFailOpen())
		tok := h.bound()
		proof := h.proof("GET", target, tok)
		mk := func() *http.Request { return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof) }
		h.expectAccepted(t, h.do(h.route(popguard.DPoPOnly), mk()), withJKT(bob, h.key), middleware.Accepted)
		h.expectRejected(t, h.do(h.route(popguard.DPoPOnly), mk()), rejectWant{status: 401,
			challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, descReplay)}, code: popguard.CodeInvalidDPoPProof,
			reason: popguard.ReasonReplayDetected, scheme: popguard.DPoP})
	})
}

// TestWithoutReplayDetection: WithoutReplayDetection is documented as
// turning the check off ("Proofs can then be replayed within their
// acceptance window: only for routes that require server nonces with a
// short lifetime, or for tests"). RFC 9449 §11.1 makes jti tracking a "can",
// and server nonces bound how long a captured proof stays usable. So a
// replay within the window is accepted by configuration, and the nonce
// still ends it.
func TestWithoutReplayDetection(t *testing.T) {
	clk := newClock()
	src := newNonces(t, clk)
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithoutReplayDetection(), middleware.WithNonces(src))
	tok := h.bound()
	proof := h.proofWith(h.key, "GET", target, tok, poptest.ProofOptions{Nonce: src.Issue()})
	mk := func() *http.Request { return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof) }
	route := h.route(popguard.DPoPOnly, middleware.RequireNonce())
	for i := range 3 {
		t.Run(fmt.Sprintf("replay %d accepted", i), func(t *testing.T) {
			h.expectAccepted(t, h.do(route, mk()), withJKT(bob, h.key), middleware.Accepted)
		})
	}
	clk.Advance(time.Duration(2+1) * time.Minute)
	t.Run("the nonce ends the replay window", func(t *testing.T) {
		h.expectRejected(t, h.do(route, mk()), rejectWant{status: 401, challenges: []string{dpopErr(popguard.CodeUseDPoPNonce, descNonceInvalid)},
			code: popguard.CodeUseDPoPNonce, reason: popguard.ReasonNonceInvalid, nonce: true, scheme: popguard.DPoP})
	})
}

// TestConcurrentReplay: 50 goroutines send the same proof through one Guard
// at once; the atomic insert-if-absent lets exactly one through. Each
// request gets a fresh route of the same Guard (see
// TestConcurrentRejectionsOneRoute for one shared route).
func TestConcurrentReplay(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	tok := h.bound()
	proof := h.proof("GET", target, tok)
	ok, replays := concurrentSend(t, h.freshRoute(popguard.DPoPOnly), tok, proof, 50)
	if ok != 1 || replays != 49 {
		t.Errorf("200s = %d, replay 401s = %d; want 1 and 49", ok, replays)
	}
	if n := h.calls.Load(); n != 1 {
		t.Errorf("protected handler called %d times", n)
	}
	_, events, rejs := h.cap.snapshot()
	if len(events) != 50 || len(rejs) != 49 {
		t.Errorf("%d events, %d rejections", len(events), len(rejs))
	}
	for _, r := range rejs {
		if r.Err.Reason != popguard.ReasonReplayDetected {
			t.Errorf("rejection reason %q", r.Err.Reason)
		}
	}
}

// TestConcurrentRejectionsOneRoute: the same through one shared route, as
// every real deployment does (mux.Handle(pattern, guard.Require(...)(h))).
func TestConcurrentRejectionsOneRoute(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	tok := h.bound()
	proof := h.proof("GET", target, tok)
	ok, replays := concurrentSend(t, h.route(popguard.DPoPOnly), tok, proof, 50)
	if ok != 1 || replays != 49 {
		t.Errorf("200s = %d, replay 401s = %d; want 1 and 49", ok, replays)
	}
}

func concurrentSend(t *testing.T, route http.Handler, tok, proof string, n int) (ok, replays int) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		start = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof)
			rr := httptest.NewRecorder()
			<-start
			route.ServeHTTP(rr, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case rr.Code == 200:
				ok++
			case rr.Code == 401 && rr.Header().Get("WWW-Authenticate") == dpopErr(popguard.CodeInvalidDPoPProof, descReplay):
				replays++
			default:
				t.Errorf("unexpected answer %d %q", rr.Code, rr.Header().Values("WWW-Authenticate"))
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, replays
}
