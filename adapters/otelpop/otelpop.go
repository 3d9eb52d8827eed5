// Package otelpop reports popguard's authentication to OpenTelemetry: a span
// per authenticated or rejected request, and metrics. Start from [New], whose
// [Instrumentation] is a middleware.Metrics to pass to middleware.WithMetrics
// (alone, or beside other hooks with middleware.Tee).
//
// It is a module of its own so that the core depends on no telemetry
// library; it reads only what the core's middleware.Event carries.
//
// # Spans
//
// One span per request, named "popguard.authenticate", of kind internal,
// from the moment the Guard began the check to its end (replay store
// included). Its parent is the span in the request's context: wrap the
// server with otelhttp (or any instrumentation that puts the server span in
// the request context), or with [Instrumentation.Handler], which extracts
// the incoming trace context (traceparent) when no span is there yet. The
// attributes are the route's name, the scheme, the outcome and, for a
// rejection, the reason (also as error.type); never a token, a proof, a key
// or a thumbprint. The status is Error only for faults of the server
// (replay store or key set unavailable, store full, internal): a client's
// bad credentials are an expected outcome, as 4xx answers are for HTTP
// server spans.
//
// # Metrics
//
// OpenTelemetry's semantic conventions define no authentication metrics, so
// the names follow its naming rules (a popguard. namespace, seconds for
// durations, error.type for failures):
//
//   - popguard.requests (counter, {request}): requests by popguard.route,
//     popguard.scheme, popguard.outcome and popguard.reason.
//   - popguard.authentication.duration (histogram, s): how long the check took.
//   - popguard.proof.iat_offset (histogram, s): the verified proof's iat (DPoP)
//     or ts (PoP) minus the server clock when the check began, by
//     popguard.scheme: negative for clients behind (or proofs in transit),
//     positive for clients ahead. Use it to set the allowed skew.
//   - popguard.replay.rejections (counter, {proof}): proofs refused as
//     replays, by popguard.route and popguard.scheme.
//   - popguard.replay.duration (histogram, s): the replay store's latency, by
//     popguard.route.
//   - popguard.keyset.refreshes (counter, {refresh}): key-set fetches through
//     [Instrumentation.KeySetClient], by server.address, with error.type on
//     failures.
package otelpop

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/popguard/popguard/adapters/otelpop"

// SpanName is the name of the span recorded per request.
const SpanName = "popguard.authenticate"

// Attribute keys. None of them ever holds credential material.
const (
	RouteKey   = attribute.Key("popguard.route")
	SchemeKey  = attribute.Key("popguard.scheme")
	OutcomeKey = attribute.Key("popguard.outcome")
	ReasonKey  = attribute.Key("popguard.reason")
	errorType  = attribute.Key("error.type")
	serverAddr = attribute.Key("server.address")
)

var internalKind = trace.WithSpanKind(trace.SpanKindInternal)

// maxAttrSets bounds the cache of attribute sets (route × scheme × outcome
// × reason); beyond it, sets are built per request.
const maxAttrSets = 4096

// Instrumentation records spans and metrics for a Guard. It implements
// middleware.Metrics. It is safe for concurrent use.
type Instrumentation struct {
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator

	requests      metric.Int64Counter
	duration      metric.Float64Histogram
	iatOffset     metric.Float64Histogram
	replays       metric.Int64Counter
	replayLatency metric.Float64Histogram
	keySets       metric.Int64Counter

	sets  sync.Map // eventKey -> *attrs
	nsets atomic.Int64
}

var _ middleware.Metrics = (*Instrumentation)(nil)

// Option configures [New].
type Option func(*config)

type config struct {
	tp   trace.TracerProvider
	mp   metric.MeterProvider
	prop propagation.TextMapPropagator
}

// WithTracerProvider sets where spans go (default: otel.GetTracerProvider()
// when New runs).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) { c.tp = tp }
}

// WithMeterProvider sets where metrics go (default:
// otel.GetMeterProvider() when New runs).
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) { c.mp = mp }
}

// WithPropagator sets how [Instrumentation.Handler] reads the incoming
// trace context (default: otel.GetTextMapPropagator() when New runs).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(c *config) { c.prop = p }
}

// New returns the instrumentation. It fails only when the meter refuses an
// instrument.
func New(opts ...Option) (*Instrumentation, error) {
	c := config{}
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.prop == nil {
		c.prop = otel.GetTextMapPropagator()
	}
	m := c.mp.Meter(ScopeName)
	i := &Instrumentation{tracer: c.tp.Tracer(ScopeName), propagator: c.prop}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	i.requests, err = m.Int64Counter("popguard.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Requests checked by popguard, by route, scheme, outcome and reason."))
	add(err)
	i.duration, err = m.Float64Histogram("popguard.authentication.duration", metric.WithUnit("s"),
		metric.WithDescription("Time popguard took to check a request, replay store included."),
		metric.WithExplicitBucketBoundaries(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1))
	add(err)
	i.iatOffset, err = m.Float64Histogram("popguard.proof.iat_offset", metric.WithUnit("s"),
		metric.WithDescription("Verified proof iat (DPoP) or ts (PoP) minus the server clock."),
		metric.WithExplicitBucketBoundaries(-300, -120, -60, -30, -15, -10, -5, -2, -1, 0, 1, 2, 5, 10, 15, 30, 60, 120, 300))
	add(err)
	i.replays, err = m.Int64Counter("popguard.replay.rejections", metric.WithUnit("{proof}"),
		metric.WithDescription("Proofs refused because they were used before."))
	add(err)
	i.replayLatency, err = m.Float64Histogram("popguard.replay.duration", metric.WithUnit("s"),
		metric.WithDescription("Time the replay store took to answer."),
		metric.WithExplicitBucketBoundaries(0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25))
	add(err)
	i.keySets, err = m.Int64Counter("popguard.keyset.refreshes", metric.WithUnit("{refresh}"),
		metric.WithDescription("Key-set fetches; error.type is set on failures."))
	add(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return i, nil
}

type eventKey struct {
	route   string
	scheme  string // Event.SchemeLabel: a fixed set, Bearer+mTLS included
	outcome middleware.Outcome
	reason  popguard.Reason
}

// attrs are the precomputed attributes of one eventKey, as the option
// slices the instruments take (built once, so a measurement allocates no
// option slice).
type attrs struct {
	span        []attribute.KeyValue
	addRequest  []metric.AddOption    // route, scheme, outcome, reason
	recRequest  []metric.RecordOption // route, scheme, outcome, reason
	recRoute    []metric.RecordOption // route
	addReplay   []metric.AddOption    // route, scheme
	recScheme   []metric.RecordOption // scheme
	serverFault bool
}

func newAttrs(k eventKey) *attrs {
	route, scheme := RouteKey.String(k.route), SchemeKey.String(k.scheme)
	span := []attribute.KeyValue{route, scheme, OutcomeKey.String(string(k.outcome))}
	req := []attribute.KeyValue{route, scheme, OutcomeKey.String(string(k.outcome)), ReasonKey.String(string(k.reason))}
	if k.reason != "" {
		span = append(span, ReasonKey.String(string(k.reason)), errorType.String(string(k.reason)))
	}
	request := metric.WithAttributeSet(attribute.NewSet(req...))
	a := &attrs{
		span:       span,
		addRequest: []metric.AddOption{request},
		recRequest: []metric.RecordOption{request},
		recRoute:   []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(route))},
		addReplay:  []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(route, scheme))},
		recScheme:  []metric.RecordOption{metric.WithAttributeSet(attribute.NewSet(scheme))},
	}
	switch k.reason {
	case popguard.ReasonInternal, popguard.ReasonTokenKeySetUnavailable, popguard.ReasonReplayStoreFull, popguard.ReasonReplayStoreUnavailable:
		a.serverFault = true
	}
	return a
}

func (i *Instrumentation) attrsOf(k eventKey) *attrs {
	if a, ok := i.sets.Load(k); ok {
		return a.(*attrs)
	}
	a := newAttrs(k)
	if i.nsets.Load() < maxAttrSets {
		if prev, loaded := i.sets.LoadOrStore(k, a); loaded {
			return prev.(*attrs)
		}
		i.nsets.Add(1)
	}
	return a
}

// Observe implements middleware.Metrics: it records the span and the
// metrics of one request.
func (i *Instrumentation) Observe(e middleware.Event) {
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	start := e.Start
	if start.IsZero() {
		start = time.Now().Add(-e.Duration)
	}
	a := i.attrsOf(eventKey{e.Route, e.SchemeLabel(), e.Outcome, e.Reason})

	_, span := i.tracer.Start(ctx, SpanName, trace.WithTimestamp(start), internalKind)
	if span.IsRecording() {
		span.SetAttributes(a.span...)
		if a.serverFault {
			span.SetStatus(codes.Error, string(e.Reason))
		}
	}
	span.End(trace.WithTimestamp(start.Add(e.Duration)))

	i.requests.Add(ctx, 1, a.addRequest...)
	i.duration.Record(ctx, e.Duration.Seconds(), a.recRequest...)
	if !e.ProofIssuedAt.IsZero() {
		i.iatOffset.Record(ctx, e.ProofIssuedAt.Sub(start).Seconds(), a.recScheme...)
	}
	if e.ReplayDuration > 0 {
		i.replayLatency.Record(ctx, e.ReplayDuration.Seconds(), a.recRoute...)
	}
	if e.Reason == popguard.ReasonReplayDetected {
		i.replays.Add(ctx, 1, a.addReplay...)
	}
}

// Handler puts the incoming trace context (traceparent, as the propagator
// reads it) into the request context when that holds no span yet, so that
// the authentication span joins the caller's trace without other HTTP
// instrumentation. Wrap the whole server (outside the Guard).
func (i *Instrumentation) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !trace.SpanContextFromContext(r.Context()).IsValid() {
			r = r.WithContext(i.propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header)))
		}
		next.ServeHTTP(w, r)
	})
}

// KeySetClient returns a copy of base (http.DefaultClient when nil) whose
// requests are counted as key-set refreshes (popguard.keyset.refreshes):
// pass it to validate.NewRemoteKeySet with validate.HTTPClient. A transport
// error or a status other than 2xx counts as a failure, with error.type set
// to the status code or "transport"; a 2xx whose body is not a key set is
// counted as a refresh (the key set keeps its last good keys and logs it).
func (i *Instrumentation) KeySetClient(base *http.Client) *http.Client {
	if base == nil {
		base = http.DefaultClient
	}
	c := *base
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = keySetTransport{next: rt, counter: i.keySets}
	return &c
}

type keySetTransport struct {
	next    http.RoundTripper
	counter metric.Int64Counter
}

func (t keySetTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	kv := []attribute.KeyValue{serverAddr.String(r.URL.Hostname())}
	switch {
	case err != nil:
		kv = append(kv, errorType.String("transport"))
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		kv = append(kv, errorType.String(strconv.Itoa(resp.StatusCode)))
	}
	t.counter.Add(r.Context(), 1, metric.WithAttributes(kv...))
	return resp, err
}
