package echopop_test

import (
	"context"
	"log"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/echopop"
	popmw "github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Example is the echo snippet of the repository README. echo has a
// middleware package of its own (github.com/labstack/echo/v4/middleware):
// import one of the two under another name, here popmw.
func Example() {
	guard := exampleGuard()
	e := echo.New()
	e.POST("/transfers", func(c echo.Context) error {
		caller := echopop.Result(c) // never nil after Require
		return c.JSON(http.StatusOK, map[string]string{"sub": caller.Subject})
	}, echopop.Require(guard, popguard.DPoPOnly, popmw.Name("transfers")))
	accounts := e.Group("/accounts", echopop.Require(guard, popguard.Mixed, popmw.Name("accounts")))
	accounts.GET("", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"sub": echopop.Result(c).Subject})
	})
	log.Fatal(e.Start("127.0.0.1:8080"))
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
