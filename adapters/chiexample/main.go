// Command chiexample shows popguard with the chi router. chi middleware has
// the net/http shape func(http.Handler) http.Handler, so Guard.Require plugs
// in directly and no adapter package is needed:
//
//	r := chi.NewRouter()
//	r.With(guard.Require(popguard.DPoPOnly)).Post("/transfers", transfer)
//	r.Route("/accounts", func(r chi.Router) {
//		r.Use(guard.Require(popguard.Mixed, middleware.RequireScopes("accounts:read")))
//		r.Get("/", listAccounts)
//	})
//
// Handlers read the caller with popguard.FromContext(r.Context()).
//
// Run it against any issuer that publishes a JWKS:
//
//	go run . -issuer https://issuer.example -audience https://api.example.test \
//	    -jwks https://issuer.example/jwks.json [-listen 127.0.0.1:8080] [-public-url https://api.example.test]
//
// It lives in its own module only so that the core popguard module does not
// depend on chi.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Routes returns the example API: POST /transfers accepts only DPoP; the
// /accounts routes accept Bearer, DPoP or PoP (Mixed) during a migration.
func Routes(guard *middleware.Guard) http.Handler {
	r := chi.NewRouter()
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })

	r.With(guard.Require(popguard.DPoPOnly)).Post("/transfers", func(w http.ResponseWriter, r *http.Request) {
		caller := popguard.FromContext(r.Context())
		writeJSON(w, http.StatusCreated, map[string]string{"created_by": caller.Subject, "jkt": caller.KeyThumbprint})
	})

	r.Route("/accounts", func(r chi.Router) {
		r.Use(guard.Require(popguard.Mixed))
		r.Get("/", func(w http.ResponseWriter, r *http.Request) {
			caller := popguard.FromContext(r.Context())
			writeJSON(w, http.StatusOK, map[string]string{"sub": caller.Subject, "scheme": caller.Scheme.String()})
		})
		r.Get("/{id}", func(w http.ResponseWriter, r *http.Request) {
			caller := popguard.FromContext(r.Context())
			writeJSON(w, http.StatusOK, map[string]string{"id": chi.URLParam(r, "id"), "sub": caller.Subject, "scheme": caller.Scheme.String()})
		})
	})
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "chiexample:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:8080", "address to listen on")
	issuer := flag.String("issuer", "", "trusted token issuer (exact iss)")
	audience := flag.String("audience", "", "this API's audience (aud)")
	jwks := flag.String("jwks", "", "issuer JWKS URL")
	publicURL := flag.String("public-url", "", "external origin clients sign DPoP proofs for (default http://<listen>)")
	flag.Parse()
	if *issuer == "" || *audience == "" || *jwks == "" {
		flag.Usage()
		return errors.New("-issuer, -audience and -jwks are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	keys, err := validate.NewRemoteKeySet(ctx, *jwks)
	if err != nil {
		return err
	}
	defer keys.Close()
	tokens, err := validate.NewJWTVerifier(*issuer, keys, validate.Audience(*audience))
	if err != nil {
		return err
	}
	// The origin clients sign comes from configuration, never from the
	// request's Host: -public-url, or else the listen address.
	if *publicURL == "" {
		*publicURL = "http://" + *listen
	}
	opts := []middleware.Option{middleware.WithTokens(tokens), middleware.WithPublicURL(*publicURL)}
	guard, err := middleware.New(opts...)
	if err != nil {
		return err
	}
	defer guard.Close()

	srv := &http.Server{Addr: *listen, Handler: Routes(guard), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("chiexample listening", "addr", *listen)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
