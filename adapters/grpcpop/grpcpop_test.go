package grpcpop_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/grpcpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
)

const (
	checkURL = testAudience + "/grpc.health.v1.Health/Check"
	watchURL = testAudience + "/grpc.health.v1.Health/Watch"
)

// events records the reason of every check, so each rejection test can
// assert the exact reason (the client sees the code and description only).
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
	if len(e.ev) == 0 {
		return middleware.Event{}
	}
	return e.ev[len(e.ev)-1]
}

type server struct {
	client  healthpb.HealthClient
	issuer  *poptest.Issuer
	key     *poptest.Client // the client's DPoP key
	events  *events
	ran     atomic.Int32 // calls that reached the service
	results chan *popguard.Result
}

// newServer serves the gRPC health service on a loopback port behind the
// interceptors, and dials it with a real client.
func newServer(t *testing.T, mode popguard.Mode, guardOpts []middleware.Option, opts ...grpcpop.Option) *server {
	t.Helper()
	s := &server{issuer: poptest.NewStaticIssuer(testIssuer), key: poptest.NewClient(), events: &events{}, results: make(chan *popguard.Result, 16)}
	g := s.issuer.Guard(t, append([]middleware.Option{middleware.WithMetrics(s.events)}, guardOpts...)...)
	ic, err := grpcpop.New(g, mode, opts...)
	if err != nil {
		t.Fatal(err)
	}
	seen := func(ctx context.Context) {
		s.ran.Add(1)
		s.results <- popguard.FromContext(ctx)
	}
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(ic.Unary(), func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			seen(ctx)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(ic.Stream(), func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			seen(ss.Context())
			return h(srv, ss)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	s.client = healthpb.NewHealthClient(conn)
	return s
}

func (s *server) boundToken() string { return accessToken(s.issuer, s.key) }

func withCreds(kv ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = cancel // the test process ends the calls; the timeout only bounds a hang
	return metadata.AppendToOutgoingContext(ctx, kv...)
}

// rejected asserts a call failed with code, the challenge in the trailer,
// the exact reason on the server, and that the service never ran.
func (s *server) rejected(t *testing.T, err error, tr metadata.MD, code codes.Code, reason popguard.Reason, challenge string) {
	t.Helper()
	if st, _ := status.FromError(err); st.Code() != code {
		t.Errorf("status %v (%v), want %v", st.Code(), err, code)
	}
	if got := s.events.last().Reason; got != reason {
		t.Errorf("reason %q, want %q", got, reason)
	}
	if challenge != "" && !strings.Contains(strings.Join(tr.Get("www-authenticate"), "\n"), challenge) {
		t.Errorf("www-authenticate trailer %q, want one containing %q", tr.Get("www-authenticate"), challenge)
	}
	if n := s.ran.Load(); n != 0 {
		t.Errorf("the service ran %d times for a rejected call", n)
	}
}

func TestUnaryDPoP(t *testing.T) {
	s := newServer(t, popguard.DPoPOnly, nil)
	tok := s.boundToken()
	proof := s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})
	resp, err := s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", proof), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("status %v", resp.GetStatus())
	}
	res := <-s.results
	if res == nil || res.Scheme != popguard.DPoP || res.Subject != "alice" || res.KeyThumbprint != s.key.Thumbprint() {
		t.Fatalf("result in the handler's context: %+v", res)
	}
	s.ran.Store(0)

	var tr metadata.MD
	_, err = s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", proof), &healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
	s.rejected(t, err, tr, codes.Unauthenticated, popguard.ReasonReplayDetected, `error="invalid_dpop_proof"`)
}

func TestUnaryRejections(t *testing.T) {
	s := newServer(t, popguard.DPoPOnly, nil, grpcpop.RouteOptions(middleware.RequireScopes("admin")))
	tok := s.boundToken()
	for _, tc := range []struct {
		name      string
		md        []string
		code      codes.Code
		reason    popguard.Reason
		challenge string
	}{
		{"no credentials", nil, codes.Unauthenticated, popguard.ReasonNoCredentials, `DPoP scope="admin", algs="`},
		{"Bearer on a DPoP route", []string{"authorization", "Bearer " + accessToken(s.issuer, nil)},
			codes.Unauthenticated, popguard.ReasonRequestSchemeNotAllowed, `DPoP scope="admin", algs="`},
		{"proof for another procedure", []string{"authorization", "DPoP " + tok, "dpop", s.key.Proof("POST", watchURL, tok, poptest.ProofOptions{})},
			codes.Unauthenticated, popguard.ReasonProofHTU, `error="invalid_dpop_proof"`},
		{"proof for GET", []string{"authorization", "DPoP " + tok, "dpop", s.key.Proof("GET", checkURL, tok, poptest.ProofOptions{})},
			codes.Unauthenticated, popguard.ReasonProofHTM, `error="invalid_dpop_proof"`},
		{"proof with the request's own host as origin", []string{"authorization", "DPoP " + tok, "dpop", s.key.Proof("POST", "http://127.0.0.1/grpc.health.v1.Health/Check", tok, poptest.ProofOptions{})},
			codes.Unauthenticated, popguard.ReasonProofHTU, `error="invalid_dpop_proof"`},
		{"proof by another key", []string{"authorization", "DPoP " + tok, "dpop", poptest.NewClient().Proof("POST", checkURL, tok, poptest.ProofOptions{})},
			codes.Unauthenticated, popguard.ReasonTokenKeyBinding, `error="invalid_token"`},
		{"two authorization values", []string{"authorization", "DPoP " + tok, "authorization", "Bearer x", "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})},
			codes.InvalidArgument, popguard.ReasonRequestMultipleAuthorization, `error="invalid_request"`},
		{"scope missing", []string{"authorization", "DPoP " + tok, "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})},
			codes.PermissionDenied, popguard.ReasonInsufficientScope, `error="insufficient_scope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tr metadata.MD
			_, err := s.client.Check(withCreds(tc.md...), &healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
			s.rejected(t, err, tr, tc.code, tc.reason, tc.challenge)
			if st, _ := status.FromError(err); strings.Contains(st.Message(), tok[:24]) {
				t.Errorf("the status message carries the token: %q", st.Message())
			}
		})
	}
}

type downStore struct{}

func (downStore) InsertIfAbsent(context.Context, string, time.Duration) error {
	return errors.Join(replay.ErrUnavailable, errors.New("connection refused"))
}

func TestUnaryStoreDown(t *testing.T) {
	s := newServer(t, popguard.DPoPOnly, []middleware.Option{middleware.WithReplay(downStore{})})
	tok := s.boundToken()
	var tr metadata.MD
	_, err := s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})),
		&healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
	s.rejected(t, err, tr, codes.Unavailable, popguard.ReasonReplayStoreUnavailable, "")
	if len(tr.Get("retry-after")) != 1 {
		t.Errorf("retry-after trailer %q", tr.Get("retry-after"))
	}
}

// A route with server nonces: the first call gets the nonce in the
// trailer, the retry with it passes.
func TestUnaryNonce(t *testing.T) {
	src, err := nonce.New([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, popguard.DPoPOnly, []middleware.Option{middleware.WithNonces(src)}, grpcpop.RouteOptions(middleware.RequireNonce()))
	tok := s.boundToken()
	var tr metadata.MD
	_, err = s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})),
		&healthpb.HealthCheckRequest{}, grpc.Trailer(&tr))
	s.rejected(t, err, tr, codes.Unauthenticated, popguard.ReasonNonceMissing, `error="use_dpop_nonce"`)
	n := tr.Get("dpop-nonce")
	if len(n) != 1 {
		t.Fatalf("dpop-nonce trailer %q", n)
	}
	if _, err := s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{Nonce: n[0]})),
		&healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("with the nonce: %v", err)
	}
}

func TestStream(t *testing.T) {
	s := newServer(t, popguard.DPoPOnly, nil)
	tok := s.boundToken()

	ctx, cancel := context.WithCancel(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", checkURL, tok, poptest.ProofOptions{})))
	w, err := s.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Recv()
	s.rejected(t, err, w.Trailer(), codes.Unauthenticated, popguard.ReasonProofHTU, `error="invalid_dpop_proof"`)
	cancel()

	ctx, cancel = context.WithCancel(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", watchURL, tok, poptest.ProofOptions{})))
	defer cancel()
	w, err = s.client.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := w.Recv()
	if err != nil || msg.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch: %v, %v", msg, err)
	}
	if res := <-s.results; res == nil || res.Scheme != popguard.DPoP {
		t.Fatalf("result in the stream's context: %+v", res)
	}
}

// Path maps the procedure to another path, as behind a gateway that
// publishes the service under a prefix.
func TestPath(t *testing.T) {
	s := newServer(t, popguard.DPoPOnly, nil, grpcpop.Path(func(m string) string { return "/rpc" + m }))
	tok := s.boundToken()
	if _, err := s.client.Check(withCreds("authorization", "DPoP "+tok, "dpop", s.key.Proof("POST", testAudience+"/rpc/grpc.health.v1.Health/Check", tok, poptest.ProofOptions{})),
		&healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	g := poptest.NewStaticIssuer(testIssuer).Guard(t)
	if _, err := grpcpop.New(nil, popguard.DPoPOnly); err == nil {
		t.Error("New(nil Guard) succeeded")
	}
	if _, err := grpcpop.New(g, popguard.DPoPOnly, grpcpop.RouteOptions(middleware.RequireNonce())); err == nil {
		t.Error("RequireNonce without WithNonces succeeded")
	}
	if _, err := grpcpop.New(g, popguard.DPoPOnly, grpcpop.Path(nil)); err == nil {
		t.Error("Path(nil) succeeded")
	}
}

func TestCode(t *testing.T) {
	for status, want := range map[int]codes.Code{400: codes.InvalidArgument, 401: codes.Unauthenticated, 403: codes.PermissionDenied,
		429: codes.Unavailable, 431: codes.InvalidArgument, 503: codes.Unavailable, 500: codes.Unknown} {
		if got := grpcpop.Code(status); got != want {
			t.Errorf("Code(%d) = %v, want %v", status, got, want)
		}
	}
}
