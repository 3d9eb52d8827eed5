package middleware_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

// eventLog keeps whole Events, timing fields included.
type eventLog struct {
	mu     sync.Mutex
	events []middleware.Event
}

func (l *eventLog) Observe(e middleware.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) last(t *testing.T) middleware.Event {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) == 0 {
		t.Fatal("no Event observed")
	}
	return l.events[len(l.events)-1]
}

type ctxKey struct{}

// TestEventTimingFields: every Event carries the request's context, when
// the check started and how long it took; a DPoP proof that verified adds
// its iat, and a consulted replay store its latency.
func TestEventTimingFields(t *testing.T) {
	log := &eventLog{}
	h := newHarness(t, middleware.WithPublicURL(publicURL), middleware.WithMetrics(log))
	route := h.route(popguard.Mixed)
	send := func(hdr ...string) middleware.Event {
		t.Helper()
		before := time.Now()
		req := request("GET", publicURL+"/r", hdr...)
		req = req.WithContext(context.WithValue(req.Context(), ctxKey{}, "req-1"))
		h.do(route, req)
		e := log.last(t)
		if e.Context == nil || e.Context.Value(ctxKey{}) != "req-1" {
			t.Errorf("Event.Context is not the request's context")
		}
		if e.Start.Before(before) || e.Start.After(time.Now()) || e.Duration <= 0 {
			t.Errorf("Start %v (request sent at %v), Duration %v", e.Start, before, e.Duration)
		}
		return e
	}

	tok := h.bound()
	skew := -7 * time.Second // a client clock 7 s behind
	proof := h.proofWith(h.key, "GET", publicURL+"/r", tok, poptest.ProofOptions{IssuedAt: time.Now().Add(skew)})
	e := send("Authorization", "DPoP "+tok, "DPoP", proof)
	if e.Outcome != middleware.Accepted || e.Scheme != popguard.DPoP {
		t.Fatalf("DPoP: %+v", e)
	}
	if off := e.ProofIssuedAt.Sub(e.Start); off > skew+time.Second || off < skew-time.Second {
		t.Errorf("ProofIssuedAt - Start = %v, want about %v", off, skew)
	}
	if e.ReplayDuration <= 0 {
		t.Errorf("ReplayDuration = %v after a replay check", e.ReplayDuration)
	}

	e = send("Authorization", "DPoP "+tok, "DPoP", proof) // the same proof again
	if e.Outcome != middleware.Rejected || e.Reason != popguard.ReasonReplayDetected || e.ProofIssuedAt.IsZero() || e.ReplayDuration <= 0 {
		t.Errorf("replayed proof: %+v", e)
	}

	e = send("Authorization", "Bearer "+h.unbound())
	if e.Outcome != middleware.Accepted || !e.ProofIssuedAt.IsZero() || e.ReplayDuration != 0 {
		t.Errorf("Bearer: %+v, want no proof iat and no replay latency", e)
	}

	e = send("Authorization", "DPoP "+tok, "DPoP", h.proofWith(h.key, "POST", publicURL+"/r", tok, poptest.ProofOptions{}))
	if e.Reason != popguard.ReasonProofHTM || !e.ProofIssuedAt.IsZero() || e.ReplayDuration != 0 {
		t.Errorf("proof for another method: %+v, want no iat (not verified) and no replay check", e)
	}
}
