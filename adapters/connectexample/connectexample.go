// Package connectexample shows a Connect service (connectrpc.com/connect)
// protected by popguard's plain net/http middleware, DPoP included: Connect
// handlers are net/http handlers, so no adapter is needed.
//
// A Connect unary call is an HTTP POST to the procedure's path, so a DPoP
// proof for it names htm POST and htu the procedure URL: the Guard's public
// URL plus /package.Service/Method, for example
// https://api.example.com/greet.v1.GreetService/Greet. That is the htu
// convention of adapters/grpcpop as well, so one client signs calls the
// same way whichever protocol carries them.
//
// The service here uses well-known protobuf types (wrapperspb) so that the
// example needs no generated code; a real service mounts the handler that
// its generated package's NewXxxServiceHandler returns in the same way.
package connectexample

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// GreetProcedure is the procedure served by [NewServer].
const GreetProcedure = "/greet.v1.GreetService/Greet"

// NewServer returns the HTTP handler of the greet service, every procedure
// behind guard in DPoP-only mode. The handler answers "hello, <subject>"
// with the accepted caller's subject.
func NewServer(guard *middleware.Guard) http.Handler {
	greet := connect.NewUnaryHandler(GreetProcedure,
		func(ctx context.Context, req *connect.Request[wrapperspb.StringValue]) (*connect.Response[wrapperspb.StringValue], error) {
			caller := popguard.FromContext(ctx) // set by the Guard
			return connect.NewResponse(wrapperspb.String(req.Msg.GetValue() + ", " + caller.Subject)), nil
		})
	mux := http.NewServeMux()
	mux.Handle(GreetProcedure, guard.Require(popguard.DPoPOnly, middleware.Name("greet"))(greet))
	return mux
}
