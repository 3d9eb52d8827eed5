package otelpop_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/otelpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/replay"
	"github.com/popguard/popguard/validate"
)

type rig struct {
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
	inst   *otelpop.Instrumentation
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	inst, err := otelpop.New(otelpop.WithTracerProvider(r.tp), otelpop.WithMeterProvider(mp),
		otelpop.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		t.Fatal(err)
	}
	r.inst = inst
	return r
}

func (r *rig) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != otelpop.ScopeName {
			t.Errorf("scope %q", sm.Scope.Name)
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

func attrMap(kvs []attribute.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func sameMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// send runs one request with an incoming trace context through
// Handler(guard route(ok)) and reports whether the protected handler ran.
func send(t *testing.T, h http.Handler, hdr ...string) (int, bool) {
	t.Helper()
	ran := false
	req := httptest.NewRequest("GET", "https://api.example.test/r", nil)
	req.Header.Set("traceparent", traceparent)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), ranKey{}, &ran)))
	return w.Code, ran
}

type ranKey struct{}

var ok = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { *r.Context().Value(ranKey{}).(*bool) = true })

func TestSpansAndMetrics(t *testing.T) {
	r := newRig(t)
	issuer, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	g := issuer.Guard(t, middleware.WithMetrics(r.inst))
	h := r.inst.Handler(g.Require(popguard.DPoPOnly, middleware.Name("transfers"))(ok))

	tok := accessToken(issuer, client)
	proof := client.Proof("GET", "https://api.example.test/r", tok, poptest.ProofOptions{IssuedAt: time.Now().Add(-5 * time.Second)})
	if code, ran := send(t, h, "Authorization", "DPoP "+tok, "DPoP", proof); code != 200 || !ran {
		t.Fatalf("fresh proof: status %d, handler ran %v", code, ran)
	}
	if code, ran := send(t, h, "Authorization", "DPoP "+tok, "DPoP", proof); code != 401 || ran {
		t.Fatalf("replayed proof: status %d, handler ran %v; want 401, not run", code, ran)
	}
	bearer := accessToken(issuer, nil)
	if code, ran := send(t, h, "Authorization", "Bearer "+bearer); code != 401 || ran {
		t.Fatalf("Bearer on a DPoP route: status %d, handler ran %v; want 401, not run", code, ran)
	}

	spans := r.spans.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	want := []map[string]string{
		{"popguard.route": "transfers", "popguard.scheme": "DPoP", "popguard.outcome": "accepted"},
		{"popguard.route": "transfers", "popguard.scheme": "DPoP", "popguard.outcome": "rejected",
			"popguard.reason": "replay_detected", "error.type": "replay_detected"},
		{"popguard.route": "transfers", "popguard.scheme": "Bearer", "popguard.outcome": "rejected",
			"popguard.reason": "request_scheme_not_allowed", "error.type": "request_scheme_not_allowed"},
	}
	parent, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	for i, s := range spans {
		if s.Name() != otelpop.SpanName || s.SpanKind() != trace.SpanKindInternal {
			t.Errorf("span %d: %q kind %v", i, s.Name(), s.SpanKind())
		}
		if s.SpanContext().TraceID() != parent || s.Parent().SpanID().String() != "00f067aa0ba902b7" || !s.Parent().IsRemote() {
			t.Errorf("span %d: trace %v parent %v, want the incoming traceparent's", i, s.SpanContext().TraceID(), s.Parent().SpanID())
		}
		if got := attrMap(s.Attributes()); !sameMap(got, want[i]) {
			t.Errorf("span %d attributes %v, want %v", i, got, want[i])
		}
		for _, kv := range s.Attributes() {
			v := kv.Value.String()
			for _, secret := range []string{tok, proof, bearer, client.Thumbprint(), tok[:20], proof[:20]} {
				if strings.Contains(v, secret) || strings.Contains(secret, v) && len(v) > 16 {
					t.Errorf("span %d attribute %s carries credential material", i, kv.Key)
				}
			}
		}
		if s.Status().Code != codes.Unset {
			t.Errorf("span %d status %v: a client's bad credentials are no server error", i, s.Status())
		}
		if !s.EndTime().After(s.StartTime()) {
			t.Errorf("span %d: start %v end %v", i, s.StartTime(), s.EndTime())
		}
	}

	m := r.metrics(t)
	reqs, okSum := m["popguard.requests"].(metricdata.Sum[int64])
	if !okSum || !reqs.IsMonotonic {
		t.Fatalf("popguard.requests: %T", m["popguard.requests"])
	}
	counted := map[string]int64{}
	for _, dp := range reqs.DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		counted[a["popguard.route"]+"/"+a["popguard.scheme"]+"/"+a["popguard.outcome"]+"/"+a["popguard.reason"]] += dp.Value
	}
	wantCounts := map[string]int64{
		"transfers/DPoP/accepted/":                             1,
		"transfers/DPoP/rejected/replay_detected":              1,
		"transfers/Bearer/rejected/request_scheme_not_allowed": 1,
	}
	if len(counted) != len(wantCounts) {
		t.Errorf("popguard.requests %v, want %v", counted, wantCounts)
	}
	for k, v := range wantCounts {
		if counted[k] != v {
			t.Errorf("popguard.requests %v, want %v", counted, wantCounts)
			break
		}
	}

	iat := m["popguard.proof.iat_offset"].(metricdata.Histogram[float64])
	if len(iat.DataPoints) != 1 || iat.DataPoints[0].Count != 2 {
		t.Fatalf("iat offsets: %+v, want 2 DPoP observations", iat.DataPoints)
	}
	if mean := iat.DataPoints[0].Sum / 2; math.Abs(mean+5) > 1.5 {
		t.Errorf("mean iat offset %.2fs, want about -5s", mean)
	}
	if a := attrMap(iat.DataPoints[0].Attributes.ToSlice()); !sameMap(a, map[string]string{"popguard.scheme": "DPoP"}) {
		t.Errorf("iat offset attributes %v", a)
	}
	replays := m["popguard.replay.rejections"].(metricdata.Sum[int64])
	if len(replays.DataPoints) != 1 || replays.DataPoints[0].Value != 1 {
		t.Errorf("replay rejections %+v, want 1", replays.DataPoints)
	}
	lat := m["popguard.replay.duration"].(metricdata.Histogram[float64])
	if len(lat.DataPoints) != 1 || lat.DataPoints[0].Count != 2 || lat.DataPoints[0].Sum <= 0 {
		t.Errorf("replay latency %+v, want 2 positive observations", lat.DataPoints)
	}
	dur := m["popguard.authentication.duration"].(metricdata.Histogram[float64])
	var n uint64
	for _, dp := range dur.DataPoints {
		n += dp.Count
	}
	if n != 3 {
		t.Errorf("authentication durations: %d observations, want 3", n)
	}
}

// A span already in the request context (otelhttp's server span) is the
// parent; a traceparent header is then not read again.
func TestParentFromContext(t *testing.T) {
	r := newRig(t)
	issuer := poptest.NewStaticIssuer(testIssuer)
	g := issuer.Guard(t, middleware.WithMetrics(r.inst))
	h := r.inst.Handler(g.Require(popguard.Mixed)(ok))
	ctx, server := r.tp.Tracer("test").Start(context.Background(), "server", trace.WithSpanKind(trace.SpanKindServer))
	req := httptest.NewRequest("GET", "https://api.example.test/r", nil).WithContext(ctx)
	req.Header.Set("traceparent", traceparent)
	req.Header.Set("Authorization", "Bearer "+accessToken(issuer, nil))
	ran := false
	h.ServeHTTP(httptest.NewRecorder(), req.WithContext(context.WithValue(req.Context(), ranKey{}, &ran)))
	server.End()
	if !ran {
		t.Fatal("the Bearer request was refused")
	}
	var auth sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == otelpop.SpanName {
			auth = s
		}
	}
	if auth == nil || auth.Parent().SpanID() != server.SpanContext().SpanID() || auth.Parent().IsRemote() {
		t.Fatalf("authentication span's parent is not the server span in the context")
	}
}

type downStore struct{}

func (downStore) InsertIfAbsent(context.Context, string, time.Duration) error {
	return errors.Join(replay.ErrUnavailable, errors.New("connection refused"))
}

// A replay store that cannot answer is a server fault: 503, span status
// Error, and the latency still recorded.
func TestServerFaultStatus(t *testing.T) {
	r := newRig(t)
	issuer, client := poptest.NewStaticIssuer(testIssuer), poptest.NewClient()
	g := issuer.Guard(t, middleware.WithMetrics(r.inst), middleware.WithReplay(downStore{}))
	h := r.inst.Handler(g.Require(popguard.DPoPOnly)(ok))
	tok := accessToken(issuer, client)
	code, ran := send(t, h, "Authorization", "DPoP "+tok, "DPoP", client.Proof("GET", "https://api.example.test/r", tok, poptest.ProofOptions{}))
	if code != 503 || ran {
		t.Fatalf("status %d, handler ran %v; want 503, not run", code, ran)
	}
	s := r.spans.Ended()
	if len(s) != 1 || s[0].Status().Code != codes.Error || s[0].Status().Description != string(popguard.ReasonReplayStoreUnavailable) {
		t.Fatalf("spans %v", s)
	}
	if got := attrMap(s[0].Attributes())["popguard.reason"]; got != string(popguard.ReasonReplayStoreUnavailable) {
		t.Errorf("reason %q", got)
	}
	lat := r.metrics(t)["popguard.replay.duration"].(metricdata.Histogram[float64])
	if len(lat.DataPoints) != 1 || lat.DataPoints[0].Count != 1 {
		t.Errorf("replay latency %+v", lat.DataPoints)
	}
}

func TestKeySetRefreshes(t *testing.T) {
	r := newRig(t)
	issuer := poptest.NewStaticIssuer(testIssuer)
	jwks := issuer.JWKS()
	var fail bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		if fail {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write(jwks)
	}))
	defer srv.Close()
	client := r.inst.KeySetClient(srv.Client())
	ks, err := validate.NewRemoteKeySet(context.Background(), srv.URL, validate.HTTPClient(client))
	if err != nil {
		t.Fatal(err)
	}
	_ = ks.Close()
	fail = true
	if _, err := validate.NewRemoteKeySet(context.Background(), srv.URL, validate.HTTPClient(client)); err == nil {
		t.Fatal("a key set whose server answers 503 was built")
	}
	sum := r.metrics(t)["popguard.keyset.refreshes"].(metricdata.Sum[int64])
	got := map[string]int64{}
	for _, dp := range sum.DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		if a["server.address"] != "127.0.0.1" {
			t.Errorf("server.address %q", a["server.address"])
		}
		got[a["error.type"]] += dp.Value
	}
	if got[""] < 1 || got["503"] < 1 || len(got) != 2 {
		t.Errorf("refreshes by error.type %v, want successes and 503 failures", got)
	}
}

// A certificate-bound token let through with its certificate is labelled
// Bearer+mTLS, as in the migration view, apart from plain Bearer.
func TestSchemeLabelCertBound(t *testing.T) {
	r := newRig(t)
	r.inst.Observe(middleware.Event{Route: "orders", Scheme: popguard.Bearer, Outcome: middleware.Accepted, CertBound: true})
	r.inst.Observe(middleware.Event{Route: "orders", Scheme: popguard.Bearer, Outcome: middleware.Accepted})
	s := r.spans.Ended()
	if len(s) != 2 || attrMap(s[0].Attributes())["popguard.scheme"] != "Bearer+mTLS" || attrMap(s[1].Attributes())["popguard.scheme"] != "Bearer" {
		t.Fatalf("spans %v", s)
	}
	reqs := r.metrics(t)["popguard.requests"].(metricdata.Sum[int64])
	got := map[string]int64{}
	for _, dp := range reqs.DataPoints {
		v, _ := dp.Attributes.Value("popguard.scheme")
		got[v.AsString()] += dp.Value
	}
	if got["Bearer+mTLS"] != 1 || got["Bearer"] != 1 {
		t.Errorf("requests by scheme %v", got)
	}
}
