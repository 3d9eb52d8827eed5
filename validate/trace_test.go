package validate_test

import (
	"context"
	"errors"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/trace"
	"github.com/popguard/popguard/validate"
)

// traceAgrees checks a traced run against an untraced one: the same
// verdict, and a trace that reports a rejection exactly once, as its last
// event, with the very error returned; an accepted input has no failed
// event. run is called twice, with a nil tracer and with a recorder.
func traceAgrees(t testing.TB, run func(trace.Tracer) error) []trace.Event {
	t.Helper()
	plain := run(nil)
	var events []trace.Event
	traced := run(func(ev trace.Event) { events = append(events, ev) })
	if (plain == nil) != (traced == nil) || popguard.ReasonOf(plain) != popguard.ReasonOf(traced) {
		t.Fatalf("traced verdict %v, untraced %v", traced, plain)
	}
	failed := 0
	for _, ev := range events {
		if ev.Err != nil {
			failed++
		}
		if ev.Check == "" || (ev.Err != nil && ev.Skipped) {
			t.Fatalf("bad event %+v", ev)
		}
	}
	switch {
	case traced == nil && failed > 0:
		t.Fatalf("accepted, but the trace has a failure: %+v", events)
	case traced != nil && (failed != 1 || !errors.Is(events[len(events)-1].Err, traced) || events[len(events)-1].Err != traced):
		t.Fatalf("rejected with %v, but the trace reports %+v", traced, events)
	}
	return events
}

func TestTraceProofAccepted(t *testing.T) {
	v := dpopVerifierAt(t, dpopNow)
	proof := dpopBase(dpopES256()).sign(t)
	events := traceAgrees(t, func(tr trace.Tracer) error {
		_, err := trace.With(v, trace.Options{Tracer: tr}).Verify(proof, dpopRequest())
		return err
	})
	var names []string
	for _, ev := range events {
		names = append(names, ev.Check)
	}
	want := []string{"structure", "typ", "alg", "jwk", "claims", "jti", "htm", "target", "htu", "iat", "ath", "nonce", "key", "alg-key", "signature", "replay"}
	if len(names) != len(want) {
		t.Fatalf("checks %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("checks %q, want %q", names, want)
		}
	}
	// Tracing is on the copy only.
	if v.Traced() {
		t.Fatal("trace.With changed the verifier it copied")
	}
}

func TestTraceMissingInputsSkip(t *testing.T) {
	v := dpopVerifierAt(t, dpopNow)
	proof := dpopBase(dpopES256()).sign(t)
	var skipped []string
	tv := trace.With(v, trace.Options{Missing: trace.Method | trace.Target, Tracer: func(ev trace.Event) {
		if ev.Skipped {
			skipped = append(skipped, ev.Check)
		}
	}})
	if _, err := tv.Verify(proof, validate.ProofRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := len(skipped); got != 6 { // htm, target, htu, ath, nonce, replay
		t.Fatalf("skipped %q", skipped)
	}
	// The same request without the declaration is refused.
	if _, err := v.Verify(proof, validate.ProofRequest{}); err == nil {
		t.Fatal("accepted without method and target")
	}
}

func TestTraceVerifyRequest(t *testing.T) {
	e := shrEnvOnce()
	k := dpopES256()
	at := e.token(t, map[string]any{"jkt": k.Thumbprint()})
	p := dpopBase(k)
	p.claims["ath"] = dpopATH(at)
	proof := p.sign(t)
	req := dpopRequest()
	req.AccessToken = at
	pv := dpopVerifierAt(t, dpopNow)
	events := traceAgrees(t, func(tr trace.Tracer) error {
		_, _, err := trace.With(pv, trace.Options{Tracer: tr}).VerifyRequest(context.Background(), e.tokens, proof, req)
		return err
	})
	if last := events[len(events)-1]; last.Check != "replay" || events[len(events)-2].Check != "binding" {
		t.Fatalf("events %+v", events)
	}
	other := e.token(t, map[string]any{"jkt": dpopES256b().Thumbprint()})
	p.claims["ath"] = dpopATH(other)
	proof = p.sign(t)
	req.AccessToken = other
	events = traceAgrees(t, func(tr trace.Tracer) error {
		_, _, err := trace.With(pv, trace.Options{Tracer: tr}).VerifyRequest(context.Background(), e.tokens, proof, req)
		return err
	})
	if last := events[len(events)-1]; last.Check != "binding" || popguard.ReasonOf(last.Err) != popguard.ReasonTokenKeyBinding {
		t.Fatalf("events %+v", events)
	}
}

func TestTracePrintable(t *testing.T) {
	for in, want := range map[string]string{
		"plain":                   "plain",
		"a\nb":                    `a\nb`,
		"\x00\xff":                `\x00\xff`,
		"héllo":                   "héllo",
		"\u202eevil":              `\u202eevil`,
		string(make([]byte, 300)): "",
	} {
		got := trace.Printable(in)
		if want != "" && got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
		if len(got) > trace.MaxValue+len("…")+8 {
			t.Errorf("Printable(%d bytes) is %d bytes", len(in), len(got))
		}
	}
}
