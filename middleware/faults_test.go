package middleware_test

// Faults underneath the Guard: a replay store (Redis) that is down, slow or
// drops connections mid-command; a JWKS endpoint that is down, slow,
// failing, serving garbage or rotating keys; clocks at the edges of the
// acceptance windows; many goroutines at once. The Guard must fail closed
// (503 + Retry-After within the replay timeout, never a pass), recover on
// its own when the dependency comes back, and leave no goroutine behind.
//
// The Redis cases need a real server: POPGUARD_TEST_REDIS (for example
// redis://127.0.0.1:6379/0); they put a TCP proxy of their own between the
// Guard's client and that server to inject the faults.

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/faultkit"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/replay/redisstore"
	"github.com/popguard/popguard/validate"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const fltReplayTimeout = 150 * time.Millisecond

// fltHungMiddleware is set once a request was abandoned: the goroutine
// leak check is then moot (the stuck goroutines are the bug).
var fltHungMiddleware atomic.Bool

// fltUnavailable asserts a fail-closed answer within the replay timeout.
func fltUnavailable(t *testing.T, h *harness, resp response, took time.Duration) {
	t.Helper()
	advReject(t, h, resp, 503, popguard.CodeTemporarilyUnavailable, popguard.ReasonReplayStoreUnavailable)
	if got := resp.header.Get("Retry-After"); got != "1" {
		t.Errorf("Retry-After = %q, want 1", got)
	}
	if took > fltReplayTimeout+750*time.Millisecond {
		t.Errorf("fail-closed answer took %v, replay timeout %v", took, fltReplayTimeout)
	}
}

// fltServe serves req through route and waits at most 5 s for the answer.
// ok is false when the handler has not returned by then (it is abandoned).
func fltServe(h *harness, route http.Handler, req *http.Request) (resp response, took time.Duration, ok bool) {
	h.advReset()
	rr := httptest.NewRecorder()
	done := make(chan struct{})
	start := time.Now()
	go func() { route.ServeHTTP(rr, req); close(done) }()
	select {
	case <-done:
		return response{status: rr.Code, header: rr.Header(), body: rr.Body.Bytes()}, time.Since(start), true
	case <-time.After(5 * time.Second):
		return response{}, time.Since(start), false
	}
}

// fltHangMsg names the hang the Redis fault tests report.
const fltHangMsg = "BUG: replay/redisstore/redisstore.go (*Store).process, direct path (client.Process with ContextTimeoutEnabled): " +
	"go-redis v9.17.0 (go.mod) can block forever in internal.(*FastSemaphore).Release under pool contention " +
	"(redis/go-redis#3619, fixed in v9.17.2), so the replay check ignores its timeout and the request hangs " +
	"instead of failing closed with 503; bump github.com/redis/go-redis/v9 to >= v9.17.2 and/or race Process " +
	"against ctx.Done() on the direct path too"

func TestFaultRedisReplayStore(t *testing.T) {
	o := faultkit.RedisOptions(t)
	prefix := faultkit.Prefix(t, o)
	before := faultkit.Goroutines()
	for _, direct := range []bool{true, false} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", direct), func(t *testing.T) {
			proxy := faultkit.NewProxy(t, o.Addr)
			client := faultkit.Client(o, proxy.Addr(), direct)
			defer client.Close()
			store := redisstore.New(client, redisstore.Timeout(fltReplayTimeout), redisstore.Prefix(prefix))
			h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(store))
			route := h.route(popguard.DPoPOnly)
			tok := h.bound()
			var hung atomic.Bool // a request through this client never returned
			serve := func(t *testing.T, proof string) (response, time.Duration) {
				t.Helper()
				if hung.Load() {
					t.Skip("this client's pool is wedged by the hang reported above")
				}
				resp, took, ok := fltServe(h, route, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof))
				if !ok {
					hung.Store(true)
					fltHungMiddleware.Store(true)
					t.Fatalf("a request has not been answered %v after it started. %s", took.Round(time.Millisecond), fltHangMsg)
				}
				return resp, took
			}
			send := func(t *testing.T) (response, time.Duration) { return serve(t, h.proof("GET", target, tok)) }
			recovers := func(t *testing.T) {
				t.Helper()
				proxy.Set(faultkit.Forward, 0)
				deadline := time.Now().Add(3 * time.Second)
				for {
					resp, _ := send(t)
					if resp.status == http.StatusOK {
						advAccept(t, h, resp, bob.Subject, popguard.DPoP)
						return
					}
					if resp.status != http.StatusServiceUnavailable || h.calls.Load() != 0 {
						t.Fatalf("while recovering: status %d, handler calls %d", resp.status, h.calls.Load())
					}
					if time.Now().After(deadline) {
						t.Fatal("the Guard did not recover once Redis answered again")
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
			t.Run("healthy", func(t *testing.T) {
				resp, _ := send(t)
				advAccept(t, h, resp, bob.Subject, popguard.DPoP)
			})
			t.Run("replay through the proxy", func(t *testing.T) {
				p := h.proof("GET", target, tok)
				resp, _ := serve(t, p)
				advAccept(t, h, resp, bob.Subject, popguard.DPoP)
				resp, _ = serve(t, p)
				advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonReplayDetected)
			})
			t.Run("slow: every command held 2s", func(t *testing.T) {
				proxy.Set(faultkit.Delay, 2*time.Second)
				for range 3 {
					resp, took := send(t)
					fltUnavailable(t, h, resp, took)
				}
				recovers(t)
			})
			t.Run("drop: connection closed after the command is read", func(t *testing.T) {
				proxy.Set(faultkit.Drop, 0)
				for range 3 {
					resp, took := send(t)
					fltUnavailable(t, h, resp, took)
				}
				recovers(t)
			})
			t.Run("slow then healthy: a proof refused with 503 is not burnt", func(t *testing.T) {
				proxy.Set(faultkit.Delay, 2*time.Second)
				p := h.proof("GET", target, tok)
				resp, took := serve(t, p)
				fltUnavailable(t, h, resp, took)
				recovers(t)
				// The held SET may or may not have reached Redis: either the
				// retry is accepted once, or it is a replay. Never twice.
				first, _ := serve(t, p)
				second, _ := serve(t, p)
				if first.status == http.StatusOK && second.status == http.StatusOK {
					t.Error("the same proof was accepted twice")
				}
				if second.status != http.StatusUnauthorized {
					t.Errorf("third use of a proof: status %d, want 401 replay", second.status)
				}
			})
			t.Run("slow: 64 concurrent requests", func(t *testing.T) {
				proxy.Set(faultkit.Delay, 2*time.Second)
				h.advReset()
				var wg sync.WaitGroup
				var late, unanswered atomic.Int64
				for range 64 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						req := request("GET", target, "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
						rr := httptest.NewRecorder()
						done := make(chan struct{})
						start := time.Now()
						go func() { route.ServeHTTP(rr, req); close(done) }()
						select {
						case <-done:
							if rr.Code != http.StatusServiceUnavailable || rr.Header().Get("Retry-After") != "1" {
								t.Errorf("status %d, Retry-After %q; want 503, 1", rr.Code, rr.Header().Get("Retry-After"))
							}
							if time.Since(start) > fltReplayTimeout+time.Second {
								late.Add(1)
							}
						case <-time.After(5 * time.Second):
							unanswered.Add(1)
						}
					}()
				}
				wg.Wait()
				if unanswered.Load() != 0 {
					hung.Store(true)
					fltHungMiddleware.Store(true)
					t.Fatalf("%d of 64 concurrent requests were never answered. %s", unanswered.Load(), fltHangMsg)
				}
				if late.Load() != 0 {
					t.Errorf("%d of 64 requests failed closed later than the replay timeout + 1s", late.Load())
				}
				if h.calls.Load() != 0 {
					t.Errorf("handler ran %d times", h.calls.Load())
				}
				recovers(t)
			})
			t.Run("down: proxy closed", func(t *testing.T) {
				proxy.Close()
				for range 3 {
					resp, took := send(t)
					fltUnavailable(t, h, resp, took)
				}
			})
		})
	}
	t.Run("down: nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		client := faultkit.Client(o, addr, true)
		defer client.Close()
		h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(redisstore.New(client, redisstore.Timeout(fltReplayTimeout))))
		srv := httptest.NewServer(h.route(popguard.Mixed))
		defer srv.Close()
		tok := h.bound()
		for range 3 {
			start := time.Now()
			resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", h.proof("GET", target, tok))
			fltUnavailable(t, h, resp, time.Since(start))
		}
		// Bearer needs no replay check: unaffected.
		advAccept(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+h.unbound()), alice.Subject, popguard.Bearer)
	})
	if !fltHungMiddleware.Load() {
		faultkit.NoLeak(t, before, 3)
	}
}

func TestFaultRedisSameProofRaced(t *testing.T) {
	o := faultkit.RedisOptions(t)
	client := faultkit.Client(o, o.Addr, true)
	defer client.Close()
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(redisstore.New(client, redisstore.Prefix(faultkit.Prefix(t, o)), redisstore.Timeout(2*time.Second))))
	fltRaceOneProof(t, h, 100)
}

// ---- the same proof from many goroutines at once ----

func TestFaultSameProofRaced(t *testing.T) {
	h := newHarness(t, middleware.WithPublicURL(publicURL))
	fltRaceOneProof(t, h, 100)
}

// fltRaceOneProof sends one proof from n goroutines through a real server:
// exactly one is accepted, the others are replays.
func fltRaceOneProof(t *testing.T, h *harness, n int) {
	t.Helper()
	srv := httptest.NewServer(h.route(popguard.DPoPOnly))
	defer srv.Close()
	tok := h.bound()
	proof := h.proof("GET", target, tok)
	h.advReset()
	var (
		wg       sync.WaitGroup
		ok, repl atomic.Int64
		start    = make(chan struct{})
	)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
			req.Header.Set("Authorization", "DPoP "+tok)
			req.Header.Set("DPoP", proof)
			<-start
			resp, err := client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			switch {
			case resp.StatusCode == 200:
				ok.Add(1)
			case resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == dpopErr(popguard.CodeInvalidDPoPProof, descReplay):
				repl.Add(1)
			default:
				t.Errorf("unexpected answer %d %q", resp.StatusCode, resp.Header.Values("WWW-Authenticate"))
			}
		}()
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || repl.Load() != int64(n-1) || h.calls.Load() != 1 {
		t.Errorf("200s = %d, replays = %d, handler calls = %d; want 1, %d, 1", ok.Load(), repl.Load(), h.calls.Load(), n-1)
	}
}

// ---- many goroutines mixing valid and invalid requests on one route ----

func TestFaultConcurrentMixedRequests(t *testing.T) {
	p := newAdvPoP(t, publicURL, popguard.Mixed)
	h := p.harness
	route := h.route(popguard.Mixed)
	srv := httptest.NewServer(route)
	defer srv.Close()
	before := faultkit.Goroutines()
	unbound, bound := h.unbound(), h.bound()
	used := h.proof("GET", target, bound)
	{
		resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+bound, "DPoP", used)
		if resp.status != 200 {
			t.Fatalf("setup: status %d", resp.status)
		}
	}
	h.advReset()
	type kind struct {
		name   string
		build  func() *http.Request
		status int
		valid  bool
	}
	mk := func(hdr ...string) *http.Request {
		req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Add(hdr[i], hdr[i+1])
		}
		return req
	}
	kinds := []kind{
		{"bearer", func() *http.Request { return mk("Authorization", "Bearer "+unbound) }, 200, true},
		{"dpop", func() *http.Request { return mk("Authorization", "DPoP "+bound, "DPoP", h.proof("GET", target, bound)) }, 200, true},
		{"pop", func() *http.Request { return mk("Authorization", "PoP "+p.shr(t, poptest.SHROptions{})) }, 200, true},
		{"replayed proof", func() *http.Request { return mk("Authorization", "DPoP "+bound, "DPoP", used) }, 401, false},
		{"wrong htm", func() *http.Request {
			return mk("Authorization", "DPoP "+bound, "DPoP", h.proof("POST", target, bound))
		}, 401, false},
		{"bound as bearer", func() *http.Request { return mk("Authorization", "Bearer "+bound) }, 401, false},
		{"garbage token", func() *http.Request { return mk("Authorization", "Bearer e30.e30.e30") }, 401, false},
		{"two Authorization lines", func() *http.Request {
			return mk("Authorization", "Bearer "+unbound, "Authorization", "Bearer "+unbound)
		}, 400, false},
		{"no credentials", func() *http.Request { return mk() }, 401, false},
		{"foreign proof key", func() *http.Request {
			return mk("Authorization", "DPoP "+bound, "DPoP", h.proofWith(poptest.NewClient(), "GET", target, bound, poptest.ProofOptions{}))
		}, 401, false},
	}
	const workers, each = 16, 30
	var wg sync.WaitGroup
	var valid atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	defer client.CloseIdleConnections()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				k := kinds[(w*7+i)%len(kinds)]
				resp, err := client.Do(k.build())
				if err != nil {
					t.Error(err)
					return
				}
				var body map[string]any
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode != k.status {
					t.Errorf("%s: status %d, want %d", k.name, resp.StatusCode, k.status)
				}
				if k.valid {
					valid.Add(1)
				} else if body["error"] == nil && resp.StatusCode != 401 {
					t.Errorf("%s: no error body", k.name)
				}
			}
		}()
	}
	wg.Wait()
	if h.calls.Load() != valid.Load() {
		t.Errorf("handler ran %d times for %d valid requests", h.calls.Load(), valid.Load())
	}
	_, events, rejs := h.cap.snapshot()
	if int64(len(events)) != workers*each || int64(len(rejs)) != workers*each-valid.Load() {
		t.Errorf("%d events, %d rejections for %d requests (%d valid)", len(events), len(rejs), workers*each, valid.Load())
	}
	srv.Close()
	client.CloseIdleConnections()
	faultkit.NoLeak(t, before, 3)
}

// ---- JWKS endpoint faults, through the middleware ----

// fltJWKS is a JWKS endpoint whose behaviour can be switched.
type fltJWKS struct {
	srv     *httptest.Server
	mode    atomic.Value // "ok", "down", "slow", "500", "garbage"
	doc     atomic.Pointer[[]byte]
	delay   time.Duration
	fetches atomic.Int64
}

func newFltJWKS(t *testing.T, doc []byte) *fltJWKS {
	t.Helper()
	j := &fltJWKS{delay: time.Second}
	j.mode.Store("ok")
	j.doc.Store(&doc)
	j.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		switch j.mode.Load().(string) {
		case "down":
			if hj, ok := w.(http.Hijacker); ok {
				if c, _, err := hj.Hijack(); err == nil {
					_ = c.Close()
					return
				}
			}
			panic(http.ErrAbortHandler)
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		case "garbage":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"keys":[{"kty":"EC","crv":"P-256","x":"!!"`)
			return
		case "slow":
			select {
			case <-time.After(j.delay):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = w.Write(*j.doc.Load())
	}))
	t.Cleanup(j.srv.Close)
	return j
}

func (j *fltJWKS) set(mode string, doc ...[]byte) {
	if len(doc) > 0 {
		j.doc.Store(&doc[0])
	}
	j.mode.Store(mode)
}

// fltJWKSDoc is a JWKS document of the given issuers' keys.
func fltJWKSDoc(t *testing.T, issuers ...*fltIss) []byte {
	t.Helper()
	var keys []json.RawMessage
	for _, iss := range issuers {
		var d struct{ Keys []map[string]any }
		if err := json.Unmarshal(iss.JWKS(), &d); err != nil {
			t.Fatal(err)
		}
		for _, k := range d.Keys {
			k["kid"] = iss.kid
			b, err := json.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, b)
		}
	}
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

const fltMinRefresh = 300 * time.Millisecond

// fltRemoteGuard builds a Guard whose tokens are checked against a
// RemoteKeySet on j, and a real server for it. It returns after the first
// fetch.
func fltRemoteGuard(t *testing.T, j *fltJWKS, iss *fltIss, minRefresh time.Duration) (*harness, *httptest.Server, *validate.RemoteKeySet) {
	t.Helper()
	ks, err := validate.NewRemoteKeySet(context.Background(), j.srv.URL, validate.KeySetRefresh(minRefresh, time.Hour),
		validate.HTTPClient(&http.Client{Timeout: 3 * time.Second}), validate.KeySetLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	v, err := validate.NewJWTVerifier(issuerURL, ks, validate.Audience(audience))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessFor(t, iss.Issuer, middleware.WithPublicURL(publicURL), middleware.WithTokens(v))
	srv := httptest.NewServer(h.route(mixed))
	t.Cleanup(srv.Close)
	return h, srv, ks
}

// fltIss is an issuer whose key goes by a kid of the test's choosing (in
// fltJWKSDoc and in its tokens).
type fltIss struct {
	*poptest.Issuer
	kid string
}

// fltIssuer is an issuer of issuerURL with the given kid.
func fltIssuer(kid string) *fltIss {
	return &fltIss{Issuer: poptest.NewStaticIssuer(issuerURL), kid: kid}
}

func fltTokenOf(t *testing.T, iss *fltIss, sub string) string {
	t.Helper()
	return iss.Token(poptest.TokenOptions{Subject: sub, ClientID: "app", Audience: audience, Scope: "read",
		Header: map[string]any{"kid": iss.kid}})
}

func TestFaultJWKSUnknownKidStorm(t *testing.T) {
	before := faultkit.Goroutines()
	a, stranger := fltIssuer("kid-a"), fltIssuer("kid-unknown")
	j := newFltJWKS(t, fltJWKSDoc(t, a))
	// The forced-refresh gap is 1 s: the whole storm normally fits in one
	// gap, so it may cause one fetch (two if the background refresh fires).
	const gap = time.Second
	h, srv, ks := fltRemoteGuard(t, j, a, gap)
	advAccept(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+fltTokenOf(t, a, "alice")), "alice", popguard.Bearer)
	time.Sleep(gap + 50*time.Millisecond) // a forced refresh is allowed again
	h.advReset()
	start := j.fetches.Load()
	began := time.Now()
	const n, workers = 500, 50
	var wg sync.WaitGroup
	var next atomic.Int64
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers}}
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= n {
				req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
				req.Header.Set("Authorization", "Bearer "+fltTokenOf(t, stranger, "mallory"))
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 401 {
					t.Errorf("unknown kid: status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	client.CloseIdleConnections()
	// A storm slower than the gap (a loaded machine) may refresh once per gap.
	allowed := 2 + int64(time.Since(began)/gap)
	if got := j.fetches.Load() - start; got < 1 || got > allowed {
		t.Errorf("%d unknown-kid requests in %v caused %d JWKS fetches, want 1..%d", n, time.Since(began), got, allowed)
	}
	if h.calls.Load() != 0 {
		t.Errorf("handler ran %d times", h.calls.Load())
	}
	_, events, _ := h.cap.snapshot()
	for _, e := range events {
		if e.Reason != popguard.ReasonTokenUnknownKey {
			t.Fatalf("event %+v, want reason %s", e, popguard.ReasonTokenUnknownKey)
		}
	}
	// Known keys were never blocked behind the storm's refresh.
	advAccept(t, h, h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+fltTokenOf(t, a, "alice")), "alice", popguard.Bearer)
	srv.Close()
	if err := ks.Close(); err != nil {
		t.Error(err)
	}
	j.srv.Close()
	faultkit.NoLeak(t, before, 3)
}

func TestFaultJWKSEndpoint(t *testing.T) {
	before := faultkit.Goroutines()
	a, b, c := fltIssuer("kid-a"), fltIssuer("kid-b"), fltIssuer("kid-c")
	j := newFltJWKS(t, fltJWKSDoc(t, a))
	h, srv, ks := fltRemoteGuard(t, j, a, fltMinRefresh)
	bearer := func(t *testing.T, tok string) response {
		return h.advHTTP(t, srv, "GET", "/r", "Authorization", "Bearer "+tok)
	}
	cachedA := fltTokenOf(t, a, "alice")
	advAccept(t, h, bearer(t, cachedA), "alice", popguard.Bearer)
	for _, mode := range []string{"500", "garbage", "down"} {
		t.Run("endpoint "+mode, func(t *testing.T) {
			j.set(mode)
			time.Sleep(fltMinRefresh + 50*time.Millisecond)
			fetches := j.fetches.Load()
			// A token under an unknown kid forces a refresh, which fails:
			// refused, and the keys already held stay.
			advReject(t, h, bearer(t, fltTokenOf(t, b, "bob")), 401, popguard.CodeInvalidToken, popguard.ReasonTokenUnknownKey)
			if j.fetches.Load() == fetches {
				t.Error("no refresh attempted for an unknown kid")
			}
			for range 3 {
				advAccept(t, h, bearer(t, fltTokenOf(t, a, "alice")), "alice", popguard.Bearer)
			}
			advAccept(t, h, bearer(t, cachedA), "alice", popguard.Bearer)
		})
	}
	t.Run("endpoint slow: known keys are not held up", func(t *testing.T) {
		j.set("slow", fltJWKSDoc(t, a, b))
		time.Sleep(fltMinRefresh + 50*time.Millisecond)
		var slow response
		var slowTook time.Duration
		done := make(chan struct{})
		tokB := fltTokenOf(t, b, "bob")
		go func() {
			defer close(done)
			start := time.Now()
			req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
			req.Header.Set("Authorization", "Bearer "+tokB)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			slow = response{status: resp.StatusCode, header: resp.Header}
			slowTook = time.Since(start)
		}()
		time.Sleep(100 * time.Millisecond) // the refresh is under way
		for range 5 {
			start := time.Now()
			req, _ := http.NewRequest("GET", srv.URL+"/r", nil)
			req.Header.Set("Authorization", "Bearer "+fltTokenOf(t, a, "alice"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 || time.Since(start) > 500*time.Millisecond {
				t.Errorf("known kid during a slow refresh: status %d after %v", resp.StatusCode, time.Since(start))
			}
		}
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("a request waiting on a slow JWKS refresh never returned")
		}
		if slow.status != 200 || slowTook < j.delay/2 {
			t.Errorf("new kid behind a slow endpoint: status %d after %v, want 200 once the set arrived", slow.status, slowTook)
		}
	})
	t.Run("rotation: a new key works, a withdrawn key stops, cached tokens too", func(t *testing.T) {
		j.set("ok", fltJWKSDoc(t, c))
		time.Sleep(fltMinRefresh + 50*time.Millisecond)
		advAccept(t, h, bearer(t, fltTokenOf(t, c, "carol")), "carol", popguard.Bearer)
		advReject(t, h, bearer(t, fltTokenOf(t, a, "alice")), 401, popguard.CodeInvalidToken, popguard.ReasonTokenUnknownKey)
		advReject(t, h, bearer(t, cachedA), 401, popguard.CodeInvalidToken, popguard.ReasonTokenUnknownKey)
	})
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	if err := ks.Close(); err != nil {
		t.Error(err)
	}
	j.srv.Close()
	faultkit.NoLeak(t, before, 3)
}

// ---- clocks at the edges of the windows ----

func TestFaultClockEdges(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	clock := func() time.Time { return now }
	pv, err := validate.NewProofVerifier(validate.Clock(clock))
	if err != nil {
		t.Fatal(err)
	}
	p := newAdvPoP(t, publicURL, popguard.Mixed, middleware.WithProofVerifier(pv), middleware.WithPoP(validate.Clock(clock)))
	h := p.harness
	tok := h.bound()
	proofAt := func(iat any) string {
		hdr, claims := advProofParts(h.key, target, tok, nil, map[string]any{"iat": iat})
		return advSigned(t, h.key, hdr, claims)
	}
	dpop := func(t *testing.T, proof string) response {
		return h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", proof)
	}
	for _, c := range []struct {
		name string
		iat  any
		ok   bool
	}{
		{"iat now-60s", now.Unix() - 60, true},
		{"iat now-61s", now.Unix() - 61, false},
		{"iat now-60.5s", float64(now.Unix()) - 60.5, false},
		{"iat now+10s", now.Unix() + 10, true},
		{"iat now+11s", now.Unix() + 11, false},
		{"iat now+10.5s", float64(now.Unix()) + 10.5, false},
		{"iat now", now.Unix(), true},
		{"iat 0", 0, false},
	} {
		t.Run("DPoP "+c.name, func(t *testing.T) {
			resp := dpop(t, proofAt(c.iat))
			if c.ok {
				advAccept(t, h, resp, bob.Subject, popguard.DPoP)
			} else {
				advReject(t, h, resp, 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT)
			}
		})
	}
	for _, c := range []struct {
		name string
		ts   time.Duration
		ok   bool
	}{
		{"ts now-300s", -300 * time.Second, true},
		{"ts now-301s", -301 * time.Second, false},
		{"ts now+30s", 30 * time.Second, true},
		{"ts now+31s", 31 * time.Second, false},
	} {
		t.Run("SHR "+c.name, func(t *testing.T) {
			resp := h.advHTTP(t, p.srv, "GET", "/r", "Authorization", "PoP "+p.shr(t, poptest.SHROptions{Time: now.Add(c.ts)}))
			if c.ok {
				advAccept(t, h, resp, "carol", popguard.PoP)
			} else {
				advReject(t, h, resp, 401, popguard.CodeInvalidToken, popguard.ReasonSHRTs)
			}
		})
	}
}

// TestRegressionReplayWindowBoundary: a proof dated the full future skew
// ahead (iat = t0+10s) is acceptable until iat+MaxAge = t0+70s inclusive.
// The Guard kept it for exactly Window() = 70s, and the memory store treats
// an entry as expired when expiry == now: at t0+70s the proof was both
// still acceptable and forgotten, and was accepted a second time (fixed in
// 873d630: entries live Window()+1s).
func TestRegressionReplayWindowBoundary(t *testing.T) {
	var mu sync.Mutex
	now := time.Unix(1_750_000_000, 0)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	pv, err := validate.NewProofVerifier(validate.Clock(clock))
	if err != nil {
		t.Fatal(err)
	}
	store, err := replay.NewMemory(replay.Clock(clock))
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithProofVerifier(pv), middleware.WithReplay(store))
	route := h.route(popguard.DPoPOnly)
	tok := h.bound()
	hdr, claims := advProofParts(h.key, target, tok, nil, map[string]any{"iat": clock().Unix() + 10})
	proof := advSigned(t, h.key, hdr, claims)
	send := func() response {
		return h.do(route, request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof))
	}
	advAccept(t, h, send(), bob.Subject, popguard.DPoP)
	advance(pv.Window()) // t0+70s: the last instant the proof is acceptable
	advReject(t, h, send(), 401, popguard.CodeInvalidDPoPProof, popguard.ReasonReplayDetected)
	advance(time.Second) // t0+71s: too old, whatever the store says
	advReject(t, h, send(), 401, popguard.CodeInvalidDPoPProof, popguard.ReasonProofIAT)
}
