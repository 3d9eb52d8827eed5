package otelpop_test

import (
	"context"
	"log"
	"net/http"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/otelpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// The instrumentation is the Guard's metrics hook; the key set's HTTP
// client counts refreshes; Handler joins the caller's trace.
func ExampleNew() {
	ctx := context.Background()
	inst, err := otelpop.New() // the global tracer, meter and propagator
	if err != nil {
		log.Fatal(err)
	}
	keys, err := validate.NewRemoteKeySet(ctx, "https://login.example.com/.well-known/jwks.json",
		validate.HTTPClient(inst.KeySetClient(nil)))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	tokens, err := validate.NewJWTVerifier("https://login.example.com/", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"),
		middleware.WithMetrics(inst)) // or middleware.Tee(inst, stats)
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	mux := http.NewServeMux()
	mux.Handle("/transfers/", guard.Require(popguard.DPoPOnly, middleware.Name("transfers"))(http.NotFoundHandler()))
	log.Fatal(http.ListenAndServe(":8080", inst.Handler(mux)))
}
