// Package ginpop adapts popguard to the Gin web framework.
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
//		caller := ginpop.Result(c) // never nil after Require
//		c.JSON(http.StatusOK, gin.H{"sub": caller.Subject, "jkt": caller.KeyThumbprint})
//	})
//	accounts := r.Group("/accounts", ginpop.Require(guard, popguard.Mixed,
//		middleware.RequireScopes("accounts:read")))
//	accounts.GET("", listAccounts)
//
// Handlers can also read the caller with popguard.FromContext(c.Request.Context()),
// so code shared with plain net/http handlers keeps working.
//
// Rejections are rendered with middleware.WriteRejection (RFC 6750 / RFC 9449
// challenges, JSON error body); an ErrorHandler set with
// middleware.WithErrorHandler is not used by this adapter — add your own
// Gin middleware around middleware.Guard.Check if you need another format.
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
// Like middleware.Guard.Require, it panics on invalid route options (for
// example RequireNonce on a Guard without WithNonces), so mistakes surface
// when routes are registered rather than at the first request.
func Require(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) gin.HandlerFunc {
	if _, err := g.Route(mode, opts...); err != nil {
		panic(err)
	}
	return func(c *gin.Context) {
		res, hdr, rej := g.Check(c.Request, mode, opts...)
		if rej != nil {
			middleware.WriteRejection(c.Writer, c.Request, rej)
			c.Abort()
			return
		}
		h := c.Writer.Header()
		for k, v := range hdr {
			h[k] = v
		}
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
