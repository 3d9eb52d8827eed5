package mcpgosdk_test

import (
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/adapters/mcpgosdk"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// An MCP server whose tools require DPoP: a client without a token learns
// from the challenge where the metadata is, and from the metadata which
// authorization server to ask.
func ExampleRequire() {
	iss := poptest.NewStaticIssuer("https://login.example.com") // the authorization server
	tokens, err := validate.NewJWTVerifier("https://login.example.com", iss.KeySet(), validate.Audience("https://mcp.example.com/mcp"))
	if err != nil {
		log.Fatal(err)
	}
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("https://mcp.example.com"),
		middleware.WithResourceMetadata(middleware.ResourceMetadata{Resource: "https://mcp.example.com/mcp"}),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		log.Fatal(err)
	}
	defer guard.Close()

	server := mcp.NewServer(&mcp.Implementation{Name: "tools", Version: "1.0.0"}, nil)
	mux := http.NewServeMux()
	mux.Handle("/mcp", mcpgosdk.Require(guard, popguard.DPoPOnly, middleware.RequireScopes("tools"))(
		mcp.NewStreamableHTTPHandler(func(*http.Request) *mcp.Server { return server }, nil)))
	mux.Handle(guard.MetadataPath(), mcpgosdk.MetadataHandler(guard))

	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest("POST", "/mcp", nil))
	fmt.Println(rr.Code, rr.Header().Get("WWW-Authenticate"))
	meta, err := mcpgosdk.Metadata(guard)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(meta.AuthorizationServers, meta.ScopesSupported, meta.DPOPBoundAccessTokensRequired)
	// Output:
	// 401 DPoP scope="tools", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp", algs="ES256 PS256 RS256 EdDSA"
	// [https://login.example.com] [tools] true
}
