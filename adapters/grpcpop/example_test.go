package grpcpop_test

import (
	"log"
	"net"

	"google.golang.org/grpc"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/grpcpop"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

// Proofs name htm POST and htu https://api.example.com/<package.Service>/<Method>:
// the Guard's public URL is the origin, the full method the path.
func ExampleNew() {
	var tokens validate.TokenVerifier // a *validate.JWTVerifier, as for HTTP
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://api.example.com"))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()
	auth, err := grpcpop.New(guard, popguard.DPoPOnly,
		grpcpop.RouteOptions(middleware.RequireScopes("payments")))
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.Unary()), grpc.StreamInterceptor(auth.Stream()))
	// register services; handlers read the caller with popguard.FromContext(ctx)
	ln, err := net.Listen("tcp", ":8443")
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(srv.Serve(ln))
}
