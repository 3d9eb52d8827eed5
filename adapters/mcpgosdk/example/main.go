// Command example is an MCP server (official Go SDK) whose tools require
// DPoP-bound access tokens, protected by popguard. MCP clients discover
// where to get a token from the challenge of their first request: its
// resource_metadata points to the RFC 9728 document, which names the
// authorization server, the scopes and that DPoP is required.
//
//	go run ./example -issuer https://login.example.com [-jwks URL|FILE] \
//	    [-listen 127.0.0.1:8090] [-public-url https://mcp.example.com] [-mixed] [-scope tools]
//
// The MCP endpoint is /mcp and its resource identifier the public URL plus
// /mcp: tokens must be issued for it (their aud). -mixed also accepts Bearer
// tokens, for clients that do not send DPoP yet (a migration); the
// metadata then no longer says DPoP is required. Tools: whoami (who called,
// with which scheme and key) and add.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/mcpgosdk"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

// config is what the flags set.
type config struct {
	issuer, jwks, publicURL string
	mixed                   bool
	scope                   string
	log                     *slog.Logger
}

func run() error {
	var c config
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	flag.StringVar(&c.issuer, "issuer", "", "the authorization server's issuer (required)")
	flag.StringVar(&c.jwks, "jwks", "", "the issuer's JWKS URL (default: discovered from -issuer)")
	flag.StringVar(&c.publicURL, "public-url", "", "external origin clients address (default http://<listen address>)")
	flag.BoolVar(&c.mixed, "mixed", false, "also accept Bearer tokens (migration)")
	flag.StringVar(&c.scope, "scope", "tools", "scope the tools require (empty: none)")
	flag.Parse()
	if c.issuer == "" {
		flag.Usage()
		return errors.New("-issuer is required")
	}
	c.log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	if c.publicURL == "" {
		c.publicURL = "http://" + ln.Addr().String()
	}
	h, closeAll, err := newServer(ctx, c)
	if err != nil {
		return err
	}
	defer closeAll()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	c.log.Info("MCP server listening", "addr", ln.Addr().String(), "endpoint", c.publicURL+"/mcp", "mixed", c.mixed)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newServer builds the MCP server behind popguard: /mcp and its metadata.
func newServer(ctx context.Context, c config) (http.Handler, func(), error) {
	var keys validate.KeySet
	var closeKeys func()
	if c.jwks != "" {
		rks, err := validate.NewRemoteKeySet(ctx, c.jwks, validate.KeySetLogger(c.log))
		if err != nil {
			return nil, nil, err
		}
		keys, closeKeys = rks, func() { _ = rks.Close() }
	} else {
		p, err := validate.Discover(ctx, c.issuer, validate.KeySetLogger(c.log))
		if err != nil {
			return nil, nil, err
		}
		keys, closeKeys = p, func() { _ = p.Close() }
	}
	resource := strings.TrimRight(c.publicURL, "/") + "/mcp"
	tokens, err := validate.NewJWTVerifier(c.issuer, keys, validate.Audience(resource))
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	guard, err := middleware.New(
		middleware.WithTokens(tokens),
		middleware.WithPublicURL(c.publicURL),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: resource, Name: "popguard example MCP server"}),
		middleware.WithLogger(c.log),
	)
	if err != nil {
		closeKeys()
		return nil, nil, err
	}
	mode := popguard.DPoPOnly
	if c.mixed {
		mode = popguard.Mixed
	}
	var routeOpts []middleware.RouteOption
	if c.scope != "" {
		routeOpts = append(routeOpts, middleware.RequireScopes(c.scope))
	}

	server := mcp.NewServer(&mcp.Implementation{Name: "popguard-example", Version: "1.0.0"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "whoami", Description: "Who called, with which scheme and key"}, whoami)
	mcp.AddTool(server, &mcp.Tool{Name: "add", Description: "Adds two numbers"}, add)
	handler := mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)

	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpgosdk.Require(guard, mode, routeOpts...)(handler))
	mux.Handle(guard.MetadataPath(), mcpgosdk.MetadataHandler(guard))
	return mux, func() { _ = guard.Close(); closeKeys() }, nil
}

// Caller is what whoami answers.
type Caller struct {
	Scheme   string   `json:"scheme"`
	Subject  string   `json:"sub"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	JKT      string   `json:"jkt,omitempty"`
}

func whoami(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, Caller, error) {
	res := mcpgosdk.ResultOf(req.Extra.TokenInfo)
	if res == nil {
		return nil, Caller{}, errors.New("no authenticated caller")
	}
	return nil, Caller{Scheme: res.Scheme.String(), Subject: res.Subject, ClientID: res.ClientID, Scopes: res.Scopes, JKT: res.KeyThumbprint}, nil
}

// AddIn is the input of add.
type AddIn struct {
	A float64 `json:"a"`
	B float64 `json:"b"`
}

// AddOut is the output of add.
type AddOut struct {
	Sum float64 `json:"sum"`
}

func add(_ context.Context, _ *mcp.CallToolRequest, in AddIn) (*mcp.CallToolResult, AddOut, error) {
	return nil, AddOut{Sum: in.A + in.B}, nil
}
