package echopop_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/echopop"
	"github.com/popguard/popguard/internal/adaptertest"
	"github.com/popguard/popguard/middleware"
)

// handler records what a protected echo handler sees into c.
func handler(c *adaptertest.Calls, status int) echo.HandlerFunc {
	return func(ctx echo.Context) error {
		c.Handler++
		c.Got, c.FromCtx = echopop.Result(ctx), popguard.FromContext(ctx.Request().Context())
		return ctx.String(status, "ok")
	}
}

// echo: Require is a route or group middleware; a refusal returns without
// calling next, so the middleware after it never runs.
var adapter = adaptertest.Adapter{
	Routes: func(g *middleware.Guard, c *adaptertest.Calls, opts ...middleware.RouteOption) http.Handler {
		e := echo.New()
		after := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(ctx echo.Context) error { c.After++; return next(ctx) }
		}
		e.POST("/transfers", handler(c, http.StatusOK), echopop.Require(g, popguard.DPoPOnly, opts...), after)
		e.Group("/accounts", echopop.Require(g, popguard.Mixed, opts...), after).GET("", handler(c, http.StatusOK))
		return e
	},
	// echo routes on the raw path when it differs from the decoded one and
	// never removes dot-segments, so "/dpop/%2E%2E/mixed/profile" reaches
	// /dpop/*.
	Wildcards: func(g *middleware.Guard, handled func()) http.Handler {
		e := echo.New()
		h := func(ctx echo.Context) error { handled(); return ctx.String(http.StatusOK, "ok") }
		e.GET("/dpop/*", h, echopop.Require(g, popguard.DPoPOnly))
		e.GET("/mixed/*", h, echopop.Require(g, popguard.Mixed))
		return e
	},
	Errors: func(g *middleware.Guard, rt *middleware.Route, reached func()) http.Handler {
		e := echo.New()
		ok := func(ctx echo.Context) error { reached(); return ctx.NoContent(http.StatusOK) }
		e.GET("/guard", ok, echopop.Require(g, popguard.DPoPOnly))
		e.GET("/route", ok, echopop.Handler(rt))
		return e
	},
	Preflight: func(g *middleware.Guard, c *adaptertest.Calls) http.Handler {
		e := echo.New()
		e.OPTIONS("/transfers", handler(c, http.StatusNoContent), echopop.Require(g, popguard.DPoPOnly))
		return e
	},
	Require: func(g *middleware.Guard, mode popguard.Mode, opts ...middleware.RouteOption) {
		echopop.Require(g, mode, opts...)
	},
}

// TestAdapter runs the behaviour every adapter shares.
func TestAdapter(t *testing.T) { adaptertest.Run(t, adapter) }

func TestResultWithoutRequire(t *testing.T) {
	c := echo.New().NewContext(httptest.NewRequest("GET", "/", nil), httptest.NewRecorder())
	if echopop.Result(c) != nil {
		t.Fatal("Result on an unprotected route is not nil")
	}
}
