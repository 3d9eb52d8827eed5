// Package ginpop adapts popguard to the Gin web framework: start from
// [Require], which turns a middleware.Guard and a popguard.Mode into a
// gin.HandlerFunc, and read the caller in the handler with [Result].
//
// It lives in its own module so that the core popguard module never pulls
// Gin into programs that do not use it:
//
//	go get github.com/popguard/popguard/adapters/ginpop
//
// Usage:
//
//	guard, err := middleware.New(middleware.WithTokens(verifier),
//		middleware.WithPublicURL("https://api.example.com"))
//	if err != nil { ... }
//	defer guard.Close()
//
//	r := gin.New()
//	r.POST("/transfers", ginpop.Require(guard, popguard.DPoPOnly), func(c *gin.Context) {
//		caller := ginpop.Result(c) // never nil behind Require
//		c.JSON(http.StatusOK, gin.H{"sub": caller.Subject, "jkt": caller.KeyThumbprint})
//	})
//	accounts := r.Group("/accounts", ginpop.Require(guard, popguard.Mixed,
//		middleware.RequireScopes("accounts:read")))
//	accounts.GET("", listAccounts)
//
// Handlers can also read the caller with popguard.FromContext(c.Request.Context()),
// so code shared with plain net/http handlers keeps working.
//
// A CORS preflight (OPTIONS with Origin and Access-Control-Request-Method)
// is never answered 401, and never reaches the next handler: Require
// answers it 204. Put a CORS middleware (such as gin-contrib/cors) before
// Require, allowing the Authorization and DPoP request headers; it answers
// preflights itself, or sets its headers before Require's 204.
//
// Rejections are written by the route's error handler: the Guard's
// (middleware.WithErrorHandler, by default middleware.WriteRejection with
// RFC 6750 / RFC 9449 challenges and a JSON error body) or the route's own
// (middleware.RouteErrorHandler).
package ginpop

import (
	"github.com/gin-gonic/gin"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
)

// ContextKey is the gin.Context key under which Require stores the
// *popguard.Result of an accepted request.
const ContextKey = "popguard.result"

// Require returns Gin middleware enforcing mode (and opts) with g.
//
// A rejected request gets the guard's challenge (status, WWW-Authenticate,
// DPoP-Nonce, ...) and the chain is aborted: later handlers do not run. An
// accepted request continues with the result stored under ContextKey (see
// Result) and in the request context (see popguard.FromContext); response
// headers the guard asks for, such as a fresh DPoP-Nonce, are set on
// c.Writer.
//
// The route is prepared once, here. Like middleware.Guard.Require, Require
// panics on invalid route options (for example RequireNonce on a Guard
// without WithNonces), so mistakes surface when routes are registered
// rather than at the first request; Handler takes a route prepared with
// middleware.Guard.Route, for callers who want the error instead.
func Require(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) gin.HandlerFunc {
	rt, err := g.Route(mode, opts...)
	if err != nil {
		panic(err)
	}
	return Handler(rt)
}

// Handler returns Gin middleware enforcing the prepared route rt (see
// Require).
func Handler(rt *middleware.Route) gin.HandlerFunc {
	return func(c *gin.Context) {
		res, hdr, err := rt.Check(c.Request)
		if err != nil {
			rt.WriteRejection(c.Writer, c.Request, err)
			c.Abort()
			return
		}
		middleware.AddHeaders(c.Writer.Header(), hdr)
		c.Set(ContextKey, res)
		c.Request = c.Request.WithContext(popguard.NewContext(c.Request.Context(), res))
		c.Next()
	}
}

// Result returns the caller Require accepted, or nil when the route is not
// protected by Require.
func Result(c *gin.Context) *popguard.Result {
	if v, ok := c.Get(ContextKey); ok {
		if r, ok := v.(*popguard.Result); ok {
			return r
		}
	}
	if c.Request == nil {
		return nil
	}
	return popguard.FromContext(c.Request.Context())
}
