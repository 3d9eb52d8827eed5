package connectexample_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/connectexample"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

// The public URL clients sign (testAudience); the test server listens on a
// loopback address behind it, as behind a proxy.
const greetURL = testAudience + connectexample.GreetProcedure

type events struct {
	mu sync.Mutex
	ev []middleware.Event
}

func (e *events) Observe(ev middleware.Event) {
	e.mu.Lock()
	e.ev = append(e.ev, ev)
	e.mu.Unlock()
}

func (e *events) last() middleware.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.ev[len(e.ev)-1]
}

type rig struct {
	client     *connect.Client[wrapperspb.StringValue, wrapperspb.StringValue]
	issuer     *poptest.Issuer
	key        *poptest.Client // the client's DPoP key
	events     *events
	served     atomic.Int32 // calls that reached the Connect handler
	mu         sync.Mutex
	lastHeader http.Header // the last response's header, as sent
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{issuer: poptest.NewStaticIssuer(testIssuer), key: poptest.NewClient(), events: &events{}}
	g := r.issuer.Guard(t, middleware.WithMetrics(r.events))
	h := connectexample.NewServer(g)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, req)
		if rec.code == http.StatusOK {
			r.served.Add(1)
		}
		r.mu.Lock()
		r.lastHeader = w.Header().Clone()
		r.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	r.client = connect.NewClient[wrapperspb.StringValue, wrapperspb.StringValue](srv.Client(), srv.URL+connectexample.GreetProcedure)
	return r
}

// statusRecorder notes the status: the Guard answers rejections with 4xx or
// 5xx, so a 200 comes from the Connect handler.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (r *rig) call(hdr ...string) (*connect.Response[wrapperspb.StringValue], error) {
	req := connect.NewRequest(wrapperspb.String("hello"))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header().Set(hdr[i], hdr[i+1])
	}
	return r.client.CallUnary(context.Background(), req)
}

func TestConnectDPoP(t *testing.T) {
	r := newRig(t)
	tok := accessToken(r.issuer, r.key)
	proof := r.key.Proof("POST", greetURL, tok, poptest.ProofOptions{})
	resp, err := r.call("Authorization", "DPoP "+tok, "DPoP", proof)
	if err != nil {
		t.Fatalf("Greet: %v", err)
	}
	if got := resp.Msg.GetValue(); got != "hello, alice" {
		t.Fatalf("Greet answered %q", got)
	}
	if e := r.events.last(); e.Outcome != middleware.Accepted || e.Scheme != popguard.DPoP || r.served.Load() != 1 {
		t.Fatalf("event %+v, served %d", e, r.served.Load())
	}
}

func TestConnectRejections(t *testing.T) {
	r := newRig(t)
	tok := accessToken(r.issuer, r.key)
	used := r.key.Proof("POST", greetURL, tok, poptest.ProofOptions{})
	if _, err := r.call("Authorization", "DPoP "+tok, "DPoP", used); err != nil {
		t.Fatal(err)
	}
	r.served.Store(0)
	for _, tc := range []struct {
		name      string
		hdr       []string
		code      connect.Code
		reason    popguard.Reason
		challenge string
	}{
		{"no credentials", nil, connect.CodeUnauthenticated, popguard.ReasonNoCredentials, `DPoP algs="`},
		{"replayed proof", []string{"Authorization", "DPoP " + tok, "DPoP", used},
			connect.CodeUnauthenticated, popguard.ReasonReplayDetected, `error="invalid_dpop_proof"`},
		{"proof for another procedure", []string{"Authorization", "DPoP " + tok, "DPoP", r.key.Proof("POST", testAudience+"/greet.v1.GreetService/Other", tok, poptest.ProofOptions{})},
			connect.CodeUnauthenticated, popguard.ReasonProofHTU, `error="invalid_dpop_proof"`},
		{"proof for GET (Connect's GET form is another request)", []string{"Authorization", "DPoP " + tok, "DPoP", r.key.Proof("GET", greetURL, tok, poptest.ProofOptions{})},
			connect.CodeUnauthenticated, popguard.ReasonProofHTM, `error="invalid_dpop_proof"`},
		{"Bearer token on a DPoP route", []string{"Authorization", "Bearer " + accessToken(r.issuer, nil)},
			connect.CodeUnauthenticated, popguard.ReasonRequestSchemeNotAllowed, `DPoP algs="`},
		{"bound token sent as Bearer", []string{"Authorization", "Bearer " + tok},
			connect.CodeUnauthenticated, popguard.ReasonRequestSchemeNotAllowed, `DPoP algs="`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.call(tc.hdr...)
			var ce *connect.Error
			if !errors.As(err, &ce) || ce.Code() != tc.code {
				t.Fatalf("error %v, want a connect error with code %v", err, tc.code)
			}
			if got := r.events.last().Reason; got != tc.reason {
				t.Errorf("reason %q, want %q", got, tc.reason)
			}
			r.mu.Lock()
			ch := strings.Join(r.lastHeader.Values("WWW-Authenticate"), "\n")
			r.mu.Unlock()
			if !strings.Contains(ch, tc.challenge) {
				t.Errorf("WWW-Authenticate %q, want one containing %q", ch, tc.challenge)
			}
			if n := r.served.Load(); n != 0 {
				t.Errorf("the Connect handler ran %d times for a rejected call", n)
			}
		})
	}
}
