package middleware_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay/redisstore"
)

// fleetRedis runs test once per Redis topology: one server
// (POPGUARD_TEST_REDIS) and a Redis Cluster (POPGUARD_TEST_REDIS_CLUSTER,
// which .ci/run starts).
func fleetRedis(t *testing.T, test func(t *testing.T, url string)) {
	t.Run("single", func(t *testing.T) {
		url := os.Getenv("POPGUARD_TEST_REDIS")
		if url == "" {
			t.Skip("POPGUARD_TEST_REDIS is not set; skipping fleet tests (example: POPGUARD_TEST_REDIS=redis://127.0.0.1:6379/0)")
		}
		test(t, url)
	})
	t.Run("cluster", func(t *testing.T) {
		url := os.Getenv("POPGUARD_TEST_REDIS_CLUSTER")
		if url == "" {
			testenv.Missing(t, "a Redis Cluster (POPGUARD_TEST_REDIS_CLUSTER)",
				"start one as .ci/run does and set POPGUARD_TEST_REDIS_CLUSTER=redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003")
		}
		test(t, url)
	})
}

// fleetSameIssuer builds two instances of the same API, as two replicas
// behind a load balancer: each its own Guard and Redis client, sharing one
// Redis replay store (by address and prefix, not by object; url names one
// server or a cluster), one nonce secret and one issuer. The client uses
// the same key on both.
func fleetSameIssuer(t *testing.T, url string) (a, b *harness, routeA, routeB http.Handler) {
	t.Helper()
	var id [8]byte
	_, _ = rand.Read(id[:])
	prefix := "popguard-test:fleet:" + hex.EncodeToString(id[:]) + ":"
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	iss := newIssuer()
	instance := func() *harness {
		client, err := redisstore.ParseUniversalURL(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		store := redisstore.New(client, redisstore.Prefix(prefix), redisstore.Timeout(5*time.Second))
		// Generous: a cluster client first loads the slot map, and CI
		// machines are busy; an unreachable server still fails at once.
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			t.Fatalf("Redis (%T) is not reachable: %v", client, err)
		}
		src, err := nonce.New(secret)
		if err != nil {
			t.Fatal(err)
		}
		return newHarnessFor(t, iss, middleware.WithPublicURL(publicURL), middleware.WithReplay(store), middleware.WithNonces(src))
	}
	a, b = instance(), instance()
	b.key = a.key
	return a, b, a.route(popguard.DPoPOnly), b.route(popguard.DPoPOnly)
}

func TestFleetReplayAcrossInstances(t *testing.T) { fleetRedis(t, testFleetReplayAcrossInstances) }

func testFleetReplayAcrossInstances(t *testing.T, url string) {
	a, b, routeA, routeB := fleetSameIssuer(t, url)
	tok := a.bound()
	proof := a.proof("GET", publicURL+"/r", tok)
	if resp := a.do(routeA, request("GET", publicURL+"/r", "Authorization", "DPoP "+tok, "DPoP", proof)); resp.status != 200 {
		t.Fatalf("instance A: status %d", resp.status)
	}
	resp := b.do(routeB, request("GET", publicURL+"/r", "Authorization", "DPoP "+tok, "DPoP", proof))
	b.expectRejected(t, resp, rejectWant{status: 401, scheme: popguard.DPoP,
		challenges: []string{dpopErr(popguard.CodeInvalidDPoPProof, "The proof has already been used")},
		code:       popguard.CodeInvalidDPoPProof, reason: popguard.ReasonReplayDetected})
}

func TestFleetNonceAcrossInstances(t *testing.T) { fleetRedis(t, testFleetNonceAcrossInstances) }

func testFleetNonceAcrossInstances(t *testing.T, url string) {
	a, b, _, _ := fleetSameIssuer(t, url)
	strictA := a.route(popguard.DPoPOnly, middleware.RequireNonce())
	strictB := b.route(popguard.DPoPOnly, middleware.RequireNonce())
	tok := a.bound()
	resp := a.do(strictA, request("GET", publicURL+"/r", "Authorization", "DPoP "+tok, "DPoP", a.proof("GET", publicURL+"/r", tok)))
	n := resp.header.Get("DPoP-Nonce")
	if resp.status != 401 || n == "" {
		t.Fatalf("instance A without nonce: status %d nonce %q", resp.status, n)
	}
	// The nonce A handed out works on B: instances share a secret, not state.
	p := a.proofWith(a.key, "GET", publicURL+"/r", tok, poptest.ProofOptions{Nonce: n})
	if resp := b.do(strictB, request("GET", publicURL+"/r", "Authorization", "DPoP "+tok, "DPoP", p)); resp.status != 200 {
		t.Fatalf("instance B with A's nonce: status %d", resp.status)
	}
}

// 50 goroutines send the same proof, spread over both instances: exactly one
// is accepted.
func TestFleetConcurrentSameProof(t *testing.T) { fleetRedis(t, testFleetConcurrentSameProof) }

func testFleetConcurrentSameProof(t *testing.T, url string) {
	a, _, routeA, routeB := fleetSameIssuer(t, url)
	tok := a.bound()
	proof := a.proof("GET", publicURL+"/r", tok)
	var ok atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			route := routeA
			if i%2 == 1 {
				route = routeB
			}
			w := httptest.NewRecorder()
			route.ServeHTTP(w, request("GET", publicURL+"/r", "Authorization", "DPoP "+tok, "DPoP", proof))
			if w.Code == 200 {
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := ok.Load(); n != 1 {
		t.Fatalf("%d of 50 identical proofs accepted across two instances, want exactly 1", n)
	}
}
