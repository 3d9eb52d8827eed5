package main

import (
	"context"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/popguard/popguard"
	popmw "github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Example_chi is the chi snippet of the repository README. chi has a
// middleware package of its own: import one of the two under another name.
func Example_chi() {
	guard := exampleGuard()
	r := chi.NewRouter()
	r.Use(chimw.RequestID)
	r.With(guard.Require(popguard.DPoPOnly, popmw.Name("transfers"))).Post("/transfers", transfer)
	r.Route("/accounts", func(r chi.Router) {
		r.Use(guard.Require(popguard.Mixed, popmw.Name("accounts")))
		r.Get("/", listAccounts)
	})
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", r))
}

func transfer(w http.ResponseWriter, r *http.Request) {
	caller := popguard.FromContext(r.Context()) // never nil behind Require
	writeJSON(w, http.StatusCreated, map[string]string{"created_by": caller.Subject, "jkt": caller.KeyThumbprint})
}

func listAccounts(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"sub": popguard.FromContext(r.Context()).Subject})
}

// exampleGuard is the Guard of the README's quick start.
func exampleGuard() *popmw.Guard {
	keys, err := validate.NewRemoteKeySet(context.Background(), "https://login.example.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := popmw.New(popmw.WithTokens(tokens), popmw.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	return guard
}
