package ginpop_test

import (
	"context"
	"log"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/ginpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Example is the gin snippet of the repository README.
func Example() {
	guard := exampleGuard()
	r := gin.New()
	r.POST("/transfers", ginpop.Require(guard, popguard.DPoPOnly, middleware.Name("transfers")),
		func(c *gin.Context) {
			caller := ginpop.Result(c) // never nil after Require
			c.JSON(http.StatusOK, gin.H{"sub": caller.Subject, "jkt": caller.KeyThumbprint})
		})
	accounts := r.Group("/accounts", ginpop.Require(guard, popguard.Mixed, middleware.Name("accounts")))
	accounts.GET("", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"sub": ginpop.Result(c).Subject}) })
	log.Fatal(r.Run("127.0.0.1:8080"))
}

// exampleGuard is the Guard of the README's quick start.
func exampleGuard() *middleware.Guard {
	keys, err := validate.NewRemoteKeySet(context.Background(), "https://login.example.com/.well-known/jwks.json")
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier("https://login.example.com", keys, validate.Audience("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	return guard
}
