package connectexample_test

import (
	"log"
	"net/http"

	"github.com/popguard/popguard/adapters/connectexample"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// The Guard's public URL is the origin of every procedure URL that proofs
// name in htu.
func ExampleNewServer() {
	var tokens validate.TokenVerifier // a *validate.JWTVerifier, as for any HTTP API
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	// Clients sign htm POST, htu https://api.example.com/greet.v1.GreetService/Greet.
	log.Fatal(http.ListenAndServe(":8080", connectexample.NewServer(guard)))
}
