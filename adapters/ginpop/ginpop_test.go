package ginpop_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/ginpop"
	"github.com/popguard/popguard/internal/adaptertest"
	"github.com/popguard/popguard/middleware"
)

func init() { gin.SetMode(gin.TestMode) }

// handler records what a protected gin handler sees into c.
func handler(c *adaptertest.Calls, status int) gin.HandlerFunc {
	return func(ctx *gin.Context) {
		c.Handler++
		c.Got, c.FromCtx = ginpop.Result(ctx), popguard.FromContext(ctx.Request.Context())
		ctx.String(status, "ok")
	}
}

// gin: Require is a gin.HandlerFunc before the handler, on a route or a
// group; a refusal must Abort, so the middleware after it never runs.
var adapter = adaptertest.Adapter{
	Routes: func(g *middleware.Guard, c *adaptertest.Calls, opts ...middleware.RouteOption) http.Handler {
		r := gin.New()
		after := func(ctx *gin.Context) { c.After++; ctx.Next() }
		r.POST("/transfers", ginpop.Require(g, popguard.DPoPOnly, opts...), after, handler(c, http.StatusOK))
		r.Group("/accounts", ginpop.Require(g, popguard.Mixed, opts...), after).GET("", handler(c, http.StatusOK))
		return r
	},
	// gin routes on the decoded path (r.URL.Path) and does not remove
	// dot-segments, so "/dpop/../mixed/profile" and ".../a%2F..%2F..."
	// reach /dpop/*any.
	Wildcards: func(g *middleware.Guard, handled func()) http.Handler {
		r := gin.New()
		h := func(ctx *gin.Context) { handled(); ctx.String(http.StatusOK, "ok") }
		r.GET("/dpop/*any", ginpop.Require(g, popguard.DPoPOnly), h)
		r.GET("/mixed/*any", ginpop.Require(g, popguard.Mixed), h)
		return r
	},
	Errors: func(g *middleware.Guard, rt *middleware.Route, reached func()) http.Handler {
		r := gin.New()
		ok := func(ctx *gin.Context) { reached(); ctx.Status(http.StatusOK) }
		r.GET("/guard", ginpop.Require(g, popguard.DPoPOnly), ok)
		r.GET("/route", ginpop.Handler(rt), ok)
		return r
	},
	Preflight: func(g *middleware.Guard, c *adaptertest.Calls) http.Handler {
		r := gin.New()
		r.OPTIONS("/transfers", ginpop.Require(g, popguard.DPoPOnly), handler(c, http.StatusNoContent))
		return r
	},
	Require: func(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) {
		ginpop.Require(g, mode, opts...)
	},
}

// TestAdapter runs the behaviour every adapter shares.
func TestAdapter(t *testing.T) { adaptertest.Run(t, adapter) }

func TestResultWithoutRequire(t *testing.T) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest("GET", "/", nil)
	if ginpop.Result(c) != nil {
		t.Fatal("Result on an unprotected route is not nil")
	}
}
