package otelpop_test

// The adapter's cost per request, as BENCHMARKS.md reports it: a cached
// Bearer request through the Guard with no metrics hook (the floor), with
// the adapter on no-op providers, and with the SDK recording in memory.
// Observe alone is measured the same way. Report ratios to the floor:
//
//	GOWORK=off go test -run '^$' -bench . -count 6 > otel.txt && benchstat otel.txt

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/otelpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
)

func noopInst(b *testing.B) *otelpop.Instrumentation {
	inst, err := otelpop.New(otelpop.WithTracerProvider(tracenoop.NewTracerProvider()),
		otelpop.WithMeterProvider(metricnoop.NewMeterProvider()), otelpop.WithPropagator(propagation.TraceContext{}))
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

func sdkInst(b *testing.B) *otelpop.Instrumentation {
	tp := sdktrace.NewTracerProvider() // records spans, exports none: no memory growth over b.N

	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	inst, err := otelpop.New(otelpop.WithTracerProvider(tp), otelpop.WithMeterProvider(mp))
	if err != nil {
		b.Fatal(err)
	}
	return inst
}

func BenchmarkBearerRequest(b *testing.B) {
	issuer := poptest.NewStaticIssuer(testIssuer)
	tok := accessToken(issuer, nil)
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	run := func(b *testing.B, opts ...middleware.Option) {
		g := issuer.Guard(b, opts...)
		h := g.Require(popguard.Mixed, middleware.Name("accounts"))(noop)
		req := httptest.NewRequest("GET", "https://api.example.test/r", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req) // verify once: the token is cached from here on
		if w.Code != 200 {
			b.Fatalf("status %d", w.Code)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			h.ServeHTTP(w, req)
		}
	}
	b.Run("floor=no-hook", func(b *testing.B) { run(b) })
	b.Run("otel=noop", func(b *testing.B) { run(b, middleware.WithMetrics(noopInst(b))) })
	b.Run("otel=sdk", func(b *testing.B) { run(b, middleware.WithMetrics(sdkInst(b))) })
}

func BenchmarkObserve(b *testing.B) {
	now := time.Now()
	e := middleware.Event{Route: "transfers", Scheme: popguard.DPoP, Outcome: middleware.Accepted, Context: context.Background(),
		Start: now, Duration: 40 * time.Microsecond, ProofIssuedAt: now.Add(-time.Second), ReplayDuration: time.Microsecond}
	for _, c := range []struct {
		name string
		m    middleware.Metrics
	}{
		{"floor=MigrationStats", middleware.NewMigrationStats()},
		{"otel=noop", noopInst(b)},
		{"otel=sdk", sdkInst(b)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.m.Observe(e)
			}
		})
	}
}
