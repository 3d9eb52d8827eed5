// Package echopop adapts popguard to the Echo web framework (v4): start from
// [Require], which turns a middleware.Guard and a popguard.Mode into an
// echo.MiddlewareFunc, and read the caller in the handler with [Result].
//
// It lives in its own module so that the core popguard module never pulls
// Echo into programs that do not use it:
//
//	go get github.com/popguard/popguard/adapters/echopop
//
// Echo has a middleware package of its own
// (github.com/labstack/echo/v4/middleware), so import popguard's under
// another name, by convention popmw:
//
//	import popmw "github.com/popguard/popguard/middleware"
//
//	guard, err := popmw.New(popmw.WithTokens(verifier),
//		popmw.WithPublicURL("https://api.example.com"))
//	if err != nil { ... }
//	defer guard.Close()
//
//	e := echo.New()
//	e.POST("/transfers", transfer, echopop.Require(guard, popguard.DPoPOnly))
//	accounts := e.Group("/accounts", echopop.Require(guard, popguard.Mixed,
//		popmw.RequireScopes("accounts:read")))
//	accounts.GET("", func(c echo.Context) error {
//		caller := echopop.Result(c) // never nil behind Require
//		return c.JSON(http.StatusOK, map[string]string{"sub": caller.Subject})
//	})
//
// Handlers can also read the caller with
// popguard.FromContext(c.Request().Context()), so code shared with plain
// net/http handlers keeps working.
//
// A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
// is never answered 401, and never reaches the next handler: Require
// answers it 204. Put a CORS middleware (such as Echo's middleware.CORS)
// before Require, allowing the Authorization and DPoP request headers; it
// answers preflights itself, or sets its headers before Require's 204.
//
// Rejections are written by the route's error handler: the Guard's
// (middleware.WithErrorHandler, by default middleware.WriteRejection with
// RFC 6750 / RFC 9449 challenges and a JSON error body) or the route's own
// (middleware.RouteErrorHandler); the middleware then returns nil, so Echo's
// HTTPErrorHandler is not involved.
package echopop

import (
	"github.com/labstack/echo/v4"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// ContextKey is the echo.Context key under which Require stores the
// *popguard.Result of an accepted request.
const ContextKey = "popguard.result"

// Require returns Echo middleware enforcing mode (and opts) with g.
//
// A rejected request gets the guard's challenge (status, WWW-Authenticate,
// DPoP-Nonce, ...) and the next handler is not called. An accepted request
// continues with the result stored under ContextKey (see Result) and in the
// request context (see popguard.FromContext); response headers the guard
// asks for, such as a fresh DPoP-Nonce, are set on c.Response().
//
// The route is prepared once, here. Like middleware.Guard.Require, Require
// panics on invalid route options (for example RequireNonce on a Guard
// without WithNonces), so mistakes surface when routes are registered
// rather than at the first request; Handler takes a route prepared with
// middleware.Guard.Route, for callers who want the error instead.
func Require(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) echo.MiddlewareFunc {
	rt, err := g.Route(mode, opts...)
	if err != nil {
		panic(err)
	}
	return Handler(rt)
}

// Handler returns Echo middleware enforcing the prepared route rt (see
// Require).
func Handler(rt *middleware.Route) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			res, hdr, err := rt.Check(req)
			if err != nil {
				rt.WriteRejection(c.Response(), req, err)
				return nil
			}
			middleware.AddHeaders(c.Response().Header(), hdr)
			c.Set(ContextKey, res)
			c.SetRequest(req.WithContext(popguard.NewContext(req.Context(), res)))
			return next(c)
		}
	}
}

// Result returns the caller Require accepted, or nil when the route is not
// protected by Require.
func Result(c echo.Context) *popguard.Result {
	if r, ok := c.Get(ContextKey).(*popguard.Result); ok {
		return r
	}
	if req := c.Request(); req != nil {
		return popguard.FromContext(req.Context())
	}
	return nil
}
