package middleware_test

// Proof freshness per route (validate.Freshness): by the client's iat (the
// default), by the server nonce the proof carries, or both; clients whose
// clocks are ten minutes off; and replays at every boundary of the
// acceptance window, which the replay store's TTL must cover.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

// stepStart is the start of a 60 s nonce step, so boundaries fall on round
// offsets from it.
var stepStart = time.Unix(29_166_667*60, 0)

// freshEnv is a Guard whose nonce source, proof and SHR verifiers and
// replay store all read one settable clock (the access tokens are checked
// against the real clock, which the fake one never moves them past).
type freshEnv struct {
	*harness
	clk *fakeClock
	src *nonce.Source
	rsa *poptest.Client // the PoP key, bound by cnf.kid
	pop string          // carol's PoP token
}

func newFreshEnv(t *testing.T) *freshEnv {
	t.Helper()
	clk := &fakeClock{t: stepStart}
	src := newNonces(t, clk) // step 60 s, window 2, fleet skew one step
	store, err := replay.NewMemory(replay.Clock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	proofs, err := validate.NewProofVerifier(validate.Clock(clk.Now)) // iat: 60 s back, 10 s ahead
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(src), middleware.WithReplay(store),
		middleware.WithProofVerifier(proofs), middleware.WithPoP(validate.Clock(clk.Now))) // ts: 5 min back, 30 s ahead
	k := newClient(t, "PS256")
	pop := h.token(poptest.TokenOptions{Subject: "carol", ClientID: "msal-app", Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}}})
	return &freshEnv{harness: h, clk: clk, src: src, rsa: k, pop: pop}
}

// nonceAt is the nonce an instance sharing the secret issues at t.
func (e *freshEnv) nonceAt(t *testing.T, at time.Time) string {
	return newNonces(t, &fakeClock{t: at}).Issue()
}

// dpop is a DPoP request for GET target whose proof says iat and nonce.
func (e *freshEnv) dpop(tok, proof string) *http.Request {
	return request("GET", target, "Authorization", "DPoP "+tok, "DPoP", proof)
}

func (e *freshEnv) proofAt(tok string, iat time.Time, n string) string {
	return e.proofWith(e.key, "GET", target, tok, poptest.ProofOptions{Nonce: n, IssuedAt: iat})
}

func dpopReject(code popguard.ErrorCode, desc string, reason popguard.Reason, withNonce bool) rejectWant {
	return rejectWant{status: 401, challenges: []string{dpopErr(code, desc)}, code: code, reason: reason,
		nonce: withNonce, scheme: popguard.DPoP}
}

var (
	descProofOld    = "The DPoP proof is too old"
	descProofFuture = "The DPoP proof iat is in the future"
)

func TestFreshnessClientClockSkew(t *testing.T) {
	e := newFreshEnv(t)
	tok := e.bound()
	byIAT := e.route(popguard.DPoPOnly)
	byIATWithNonce := e.route(popguard.DPoPOnly, middleware.RequireNonce())
	byNonce := e.route(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessNonce))
	byBoth := e.route(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessBoth))
	for _, c := range []struct {
		name string
		skew time.Duration
		desc string // the iat rejection
	}{
		{"client clock 10 minutes fast", 10 * time.Minute, descProofFuture},
		{"client clock 10 minutes slow", -10 * time.Minute, descProofOld},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.clk.Advance(17 * time.Second) // somewhere inside a step
			clientNow := e.clk.Now().Add(c.skew)
			fresh := e.src.Issue()
			stale := e.nonceAt(t, e.clk.Now().Add(-3*time.Minute)) // three steps back: past the window of 2
			t.Run("iat freshness: refused", func(t *testing.T) {
				resp := e.do(byIAT, e.dpop(tok, e.proofAt(tok, clientNow, "")))
				e.expectRejected(t, resp, dpopReject(popguard.CodeInvalidDPoPProof, c.desc, popguard.ReasonProofIAT, false))
			})
			t.Run("iat freshness with a fresh nonce: still refused", func(t *testing.T) {
				resp := e.do(byIATWithNonce, e.dpop(tok, e.proofAt(tok, clientNow, fresh)))
				e.expectRejected(t, resp, dpopReject(popguard.CodeInvalidDPoPProof, c.desc, popguard.ReasonProofIAT, true))
			})
			t.Run("nonce freshness, fresh nonce: accepted", func(t *testing.T) {
				resp := e.do(byNonce, e.dpop(tok, e.proofAt(tok, clientNow, fresh)))
				e.expectAccepted(t, resp, withJKT(bob, e.key), middleware.Accepted)
			})
			t.Run("nonce freshness, stale nonce: refused with a new nonce", func(t *testing.T) {
				resp := e.do(byNonce, e.dpop(tok, e.proofAt(tok, clientNow, stale)))
				e.expectRejected(t, resp, dpopReject(popguard.CodeUseDPoPNonce, descNonceInvalid, popguard.ReasonNonceInvalid, true))
				if got := resp.header.Get("DPoP-Nonce"); got != e.src.Issue() {
					t.Errorf("DPoP-Nonce = %q, want the current nonce", got)
				}
			})
			t.Run("nonce freshness, no nonce: refused with a nonce", func(t *testing.T) {
				resp := e.do(byNonce, e.dpop(tok, e.proofAt(tok, clientNow, "")))
				e.expectRejected(t, resp, dpopReject(popguard.CodeUseDPoPNonce, descNonceMissing, popguard.ReasonNonceMissing, true))
			})
			t.Run("both, fresh nonce: refused by iat", func(t *testing.T) {
				resp := e.do(byBoth, e.dpop(tok, e.proofAt(tok, clientNow, fresh)))
				e.expectRejected(t, resp, dpopReject(popguard.CodeInvalidDPoPProof, c.desc, popguard.ReasonProofIAT, true))
			})
		})
	}
	t.Run("client clock right", func(t *testing.T) {
		for name, route := range map[string]http.Handler{"iat": byIAT, "nonce": byNonce, "both": byBoth} {
			resp := e.do(route, e.dpop(tok, e.proofAt(tok, e.clk.Now(), e.src.Issue())))
			if resp.status != http.StatusOK {
				t.Errorf("%s: status %d", name, resp.status)
			}
		}
		// Both: a stale nonce is refused however right the clock.
		resp := e.do(byBoth, e.dpop(tok, e.proofAt(tok, e.clk.Now(), e.nonceAt(t, e.clk.Now().Add(-3*time.Minute)))))
		e.expectRejected(t, resp, dpopReject(popguard.CodeUseDPoPNonce, descNonceInvalid, popguard.ReasonNonceInvalid, true))
	})
	t.Run("a proof without iat is refused under nonce freshness", func(t *testing.T) {
		raw := e.proofWith(e.key, "GET", target, tok, poptest.ProofOptions{Nonce: e.src.Issue(), Claims: map[string]any{"iat": nil}})
		resp := e.do(byNonce, e.dpop(tok, raw))
		e.expectRejected(t, resp, dpopReject(popguard.CodeInvalidDPoPProof, "The DPoP proof has no iat", popguard.ReasonProofIAT, true))
	})
	t.Run("an iat that is no NumericDate is refused under nonce freshness", func(t *testing.T) {
		for _, iat := range []any{"now", -1, 1e12} {
			raw := e.proofWith(e.key, "GET", target, tok, poptest.ProofOptions{Nonce: e.src.Issue(), Claims: map[string]any{"iat": iat}})
			resp := e.do(byNonce, e.dpop(tok, raw))
			e.expectRejected(t, resp, dpopReject(popguard.CodeInvalidDPoPProof, "The DPoP proof claim iat has the wrong type", popguard.ReasonProofClaims, true))
		}
	})
}

// TestFreshnessReplayBoundaries replays an accepted proof at the last
// instant the route could accept it (a replay, refused as such: the replay
// entry must still be there) and at the first instant after (refused as
// stale). Without a replay store that follows the mode, the replay at the
// last instant would be accepted.
func TestFreshnessReplayBoundaries(t *testing.T) {
	replayed := func(withNonce bool) rejectWant {
		return dpopReject(popguard.CodeInvalidDPoPProof, descReplay, popguard.ReasonReplayDetected, withNonce)
	}
	staleNonce := dpopReject(popguard.CodeUseDPoPNonce, descNonceInvalid, popguard.ReasonNonceInvalid, true)
	for _, c := range []struct {
		name      string
		freshness validate.Freshness
		nonces    bool
		// Relative to stepStart: when the client signs (iat), which instant
		// the nonce was issued at (by an instance sharing the secret), when
		// the proof is first accepted, and the last instant it could be.
		iat, nonceAt, first, last time.Duration
		after                     rejectWant // just after last
	}{
		{name: "iat: proof dated the full skew ahead", freshness: validate.FreshnessIAT,
			iat: 10 * time.Second, first: 0, last: 70 * time.Second,
			after: dpopReject(popguard.CodeInvalidDPoPProof, descProofOld, popguard.ReasonProofIAT, false)},
		{name: "nonce: nonce of this step, client 10 minutes fast", freshness: validate.FreshnessNonce, nonces: true,
			iat: 10 * time.Minute, nonceAt: 0, first: 0, last: 3*time.Minute - time.Nanosecond, after: staleNonce},
		{name: "nonce: nonce from an instance one step ahead, client 10 minutes slow", freshness: validate.FreshnessNonce, nonces: true,
			iat: -10 * time.Minute, nonceAt: time.Minute, first: 0, last: 4*time.Minute - time.Nanosecond, after: staleNonce},
		{name: "both: iat ends first", freshness: validate.FreshnessBoth, nonces: true,
			iat: 10 * time.Second, nonceAt: 0, first: 0, last: 70 * time.Second,
			after: dpopReject(popguard.CodeInvalidDPoPProof, descProofOld, popguard.ReasonProofIAT, true)},
		{name: "both: nonce ends first", freshness: validate.FreshnessBoth, nonces: true,
			iat: 30 * time.Second, nonceAt: -2 * time.Minute, first: 30 * time.Second, last: time.Minute - time.Nanosecond, after: staleNonce},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newFreshEnv(t)
			tok := e.bound()
			route := e.route(popguard.DPoPOnly, middleware.Freshness(c.freshness))
			n := ""
			if c.nonces {
				n = e.nonceAt(t, stepStart.Add(c.nonceAt))
			}
			proof := e.proofAt(tok, stepStart.Add(c.iat), n)
			e.clk.t = stepStart.Add(c.first)
			resp := e.do(route, e.dpop(tok, proof))
			e.expectAccepted(t, resp, withJKT(bob, e.key), middleware.Accepted)
			t.Run("replay at once", func(t *testing.T) {
				e.expectRejected(t, e.do(route, e.dpop(tok, proof)), replayed(c.nonces))
			})
			t.Run("replay at the last instant", func(t *testing.T) {
				e.clk.t = stepStart.Add(c.last)
				e.expectRejected(t, e.do(route, e.dpop(tok, proof)), replayed(c.nonces))
			})
			t.Run("replay just after", func(t *testing.T) {
				e.clk.t = stepStart.Add(c.last + time.Nanosecond)
				e.expectRejected(t, e.do(route, e.dpop(tok, proof)), c.after)
			})
			if c.freshness == validate.FreshnessNonce {
				t.Run("a new proof with the same nonce at the last instant is accepted", func(t *testing.T) {
					e.clk.t = stepStart.Add(c.last)
					resp := e.do(route, e.dpop(tok, e.proofAt(tok, stepStart.Add(c.iat), n)))
					e.expectAccepted(t, resp, withJKT(bob, e.key), middleware.Accepted)
				})
			}
		})
	}
}

// TestFreshnessPoP: the same choice for Microsoft PoP signed requests,
// whose time is ts.
func TestFreshnessPoP(t *testing.T) {
	e := newFreshEnv(t)
	byTS := e.route(popguard.PoPOnly)
	byNonce := e.route(popguard.PoPOnly, middleware.Freshness(validate.FreshnessNonce))
	shr := func(ts time.Time, n string) *http.Request {
		s := e.rsa.SHR("GET", "https://api.test/r", e.pop, poptest.SHROptions{Nonce: n, Time: ts})
		return request("GET", target, "Authorization", "PoP "+s)
	}
	popChallenge := func(desc string) []string {
		return []string{`PoP nonce="` + e.src.Issue() + `", realm="api", error="invalid_token", error_description="` + desc + `"`}
	}
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute} {
		e.clk.Advance(23 * time.Second)
		clientNow := e.clk.Now().Add(skew)
		desc := "The PoP signed request is too old"
		if skew > 0 {
			desc = "The PoP signed request ts is in the future"
		}
		resp := e.do(byTS, shr(clientNow, e.src.Issue()))
		popReject(t, e, resp, []string{popErr(desc)}, popguard.ReasonSHRTs)

		accepted := shr(clientNow, e.src.Issue())
		resp = e.do(byNonce, accepted.Clone(accepted.Context()))
		if resp.status != http.StatusOK || e.result.Load().ClientID != "msal-app" {
			t.Fatalf("skew %v, nonce freshness: status %d, %q", skew, resp.status, resp.header.Values("WWW-Authenticate"))
		}
		resp = e.do(byNonce, accepted)
		popReject(t, e, resp, popChallenge("The proof has already been used"), popguard.ReasonReplayDetected)

		stale := e.nonceAt(t, e.clk.Now().Add(-3*time.Minute))
		resp = e.do(byNonce, shr(clientNow, stale))
		popReject(t, e, resp, popChallenge("The PoP signed request nonce is invalid or expired"), popguard.ReasonNonceInvalid)
	}
	t.Run("replay at the last instant of a nonce from an instance a step ahead", func(t *testing.T) {
		e.clk.t = stepStart
		req := shr(stepStart.Add(-10*time.Minute), e.nonceAt(t, stepStart.Add(time.Minute)))
		if resp := e.do(byNonce, req.Clone(req.Context())); resp.status != http.StatusOK {
			t.Fatalf("status %d", resp.status)
		}
		e.clk.t = stepStart.Add(4*time.Minute - time.Nanosecond)
		popReject(t, e, e.do(byNonce, req.Clone(req.Context())), popChallenge("The proof has already been used"), popguard.ReasonReplayDetected)
		e.clk.t = stepStart.Add(4 * time.Minute)
		popReject(t, e, e.do(byNonce, req), popChallenge("The PoP signed request nonce is invalid or expired"), popguard.ReasonNonceInvalid)
	})
}

// popReject checks a PoP rejection completely: status 401, the exact
// challenge, no-store when the challenge carries a nonce, the reason, and
// that the handler never ran.
func popReject(t *testing.T, e *freshEnv, resp response, challenges []string, reason popguard.Reason) {
	t.Helper()
	if resp.status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401", resp.status)
	}
	if got := resp.header.Values("WWW-Authenticate"); strings.Join(got, "\n") != strings.Join(challenges, "\n") {
		t.Errorf("WWW-Authenticate =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(challenges, "\n\t"))
	}
	wantCC := ""
	if strings.HasPrefix(challenges[0], `PoP nonce="`) {
		wantCC = "no-store"
	}
	if got := resp.header.Get("Cache-Control"); got != wantCC {
		t.Errorf("Cache-Control = %q, want %q", got, wantCC)
	}
	if n := e.calls.Load(); n != 0 {
		t.Errorf("handler called %d times", n)
	}
	_, events, rejs := e.cap.snapshot()
	if len(rejs) != 1 || rejs[0].Err.Code != popguard.CodeInvalidToken || rejs[0].Err.Reason != reason || len(events) != 1 || events[0].Reason != reason {
		t.Fatalf("rejections %v events %v, want invalid_token (%s)", rejs, events, reason)
	}
	checkHeadersSafe(t, resp.header)
}

func TestFreshnessRouteOptions(t *testing.T) {
	t.Run("nonce freshness needs WithNonces", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL))
		for _, f := range []validate.Freshness{validate.FreshnessNonce, validate.FreshnessBoth} {
			if rt, err := h.guard.Route(popguard.DPoPOnly, middleware.Freshness(f)); err == nil || rt != nil {
				t.Errorf("Freshness(%d) without WithNonces: %v", f, err)
			}
		}
		if _, err := h.guard.Route(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessIAT)); err != nil {
			t.Errorf("Freshness(FreshnessIAT): %v", err)
		}
	})
	t.Run("nonce freshness needs a nonce lifetime", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithNonces(lifelessNonces{}))
		if _, err := h.guard.Route(popguard.DPoPOnly, middleware.RequireNonce()); err != nil {
			t.Fatalf("RequireNonce: %v", err)
		}
		if rt, err := h.guard.Route(popguard.DPoPOnly, middleware.Freshness(validate.FreshnessNonce)); err == nil || rt != nil ||
			!strings.Contains(err.Error(), "Lifetime") {
			t.Errorf("Freshness(FreshnessNonce) with a source without Lifetime: %v", err)
		}
	})
	t.Run("unknown freshness", func(t *testing.T) {
		h := newHarness(t, middleware.WithPublicURL(publicURL))
		if rt, err := h.guard.Route(popguard.DPoPOnly, middleware.Freshness(7)); err == nil || rt != nil {
			t.Errorf("Freshness(7): %v", err)
		}
	})
}

// lifelessNonces is a nonce source that does not say how long its nonces
// live.
type lifelessNonces struct{}

func (lifelessNonces) Issue() string                { return "n" }
func (lifelessNonces) Check(n string) (bool, error) { return n == "n", nil }
