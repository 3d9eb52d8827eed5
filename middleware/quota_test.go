package middleware_test

import (
	"net/http"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
)

// One client cannot fill the memory replay store for the others: with
// replay.OwnerQuota a proof key holds at most its quota of live entries,
// beyond which its proofs get 429 (reason replay_key_quota) while other keys
// keep working. Without the quota, the same client makes every proof of
// every client fail closed with 503 once the store is full.
func TestReplayKeyQuota(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opts      []replay.MemoryOption
		hogStatus int
		hogReason popguard.Reason
		otherOK   bool
	}{
		{"with a per-key quota", []replay.MemoryOption{replay.Capacity(64), replay.Shards(1), replay.OwnerQuota(8)}, http.StatusTooManyRequests, popguard.ReasonReplayKeyQuota, true},
		{"without (control)", []replay.MemoryOption{replay.Capacity(8), replay.Shards(1)}, http.StatusServiceUnavailable, popguard.ReasonReplayStoreFull, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store, err := replay.NewMemory(tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithReplay(store))
			srv := advServer(t, h.route(popguard.DPoPOnly))
			hog := h.bound() // bound to h.key
			for i := range 8 {
				resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+hog, "DPoP", h.proof("GET", target, hog))
				if resp.status != http.StatusOK {
					t.Fatalf("proof %d of the first key: status %d", i+1, resp.status)
				}
			}
			resp := h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+hog, "DPoP", h.proof("GET", target, hog))
			advReject(t, h, resp, tc.hogStatus, popguard.CodeTemporarilyUnavailable, tc.hogReason)
			if resp.header.Get("Retry-After") == "" {
				t.Errorf("no Retry-After on %d", resp.status)
			}
			if _, events, _ := h.cap.snapshot(); len(events) != 1 || events[0].Reason != tc.hogReason {
				t.Errorf("metrics events %+v, want one with reason %s", events, tc.hogReason)
			}
			other := poptest.NewClient()
			tok := h.boundWith(map[string]any{"jkt": other.Thumbprint()})
			resp = h.advHTTP(t, srv, "GET", "/r", "Authorization", "DPoP "+tok, "DPoP", h.proofWith(other, "GET", target, tok, poptest.ProofOptions{}))
			if got := resp.status == http.StatusOK; got != tc.otherOK {
				t.Errorf("another key's proof: status %d", resp.status)
			}
		})
	}
}
