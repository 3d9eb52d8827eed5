package middleware_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/internal/nodetest"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// corsInFront is the CORS middleware a browser-facing API puts in front of
// the guard: it answers preflights itself, allowing the Authorization and
// DPoP request headers, and lets the page's origin read the answers. It
// sets no Access-Control-Expose-Headers: the guard adds WWW-Authenticate,
// DPoP-Nonce and Authentication-Info wherever it sends them.
func corsInFront(origin string, preflights *atomic.Int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") == origin {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				preflights.Add(1)
				w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
				w.Header().Set("Access-Control-Allow-Headers", "Authorization, DPoP, Content-Type")
				w.Header().Set("Access-Control-Max-Age", "600")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// TestBrowserCrossOriginDPoP drives a real browser (Debian's Chromium,
// headless, through playwright-core): a page on one loopback origin calls
// a DPoP-only, nonce-requiring API on another with a proof it makes with
// WebCrypto (ES256). The browser's preflight passes the CORS middleware in
// front of the guard; the first call gets 401 use_dpop_nonce, whose
// WWW-Authenticate and DPoP-Nonce the page can read because the guard
// exposes them; the retry with the nonce is accepted.
func TestBrowserCrossOriginDPoP(t *testing.T) {
	nodetest.Require(t)
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		testenv.Missing(t, "/usr/bin/chromium", "apt-get install chromium (Debian's package; .ci/run installs it)")
	}
	iss := poptest.NewStaticIssuer(issuerURL)
	// The handlers need the servers' URLs, so they are set once both
	// listen; atomically, since the race detector cannot see that the
	// browser only connects after they are set.
	var pageHandler, apiHandler atomic.Pointer[http.Handler]
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*pageHandler.Load()).ServeHTTP(w, r) }))
	defer page.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*apiHandler.Load()).ServeHTTP(w, r) }))
	defer api.Close()
	apiURL := api.URL + "/transfers"

	keys, err := validate.NewStaticKeySet(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(issuerURL, keys, validate.Audience(api.URL))
	if err != nil {
		t.Fatal(err)
	}
	g, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL(api.URL),
		middleware.WithNonces(newNonces(t, nil)), middleware.WithResourceMetadata(middleware.ResourceMetadata{}),
		middleware.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var calls, preflights atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("POST /transfers", g.Require(popguard.DPoPOnly, middleware.RequireNonce())(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		res := popguard.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"scheme": res.Scheme.String(), "jkt": res.KeyThumbprint, "sub": res.Subject})
	})))
	ah := corsInFront(page.URL, &preflights, mux)
	apiHandler.Store(&ah)

	html, err := os.ReadFile("testdata/browser/dpop.html")
	if err != nil {
		t.Fatal(err)
	}
	var minted atomic.Value
	var ph http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write(html)
		case "/token": // the authorization server, same origin as the page
			jkt := r.URL.Query().Get("jkt")
			minted.Store(jkt)
			tok := iss.Token(poptest.TokenOptions{Subject: "browser-user", ClientID: "spa", Audience: api.URL, Scope: "read",
				Claims: map[string]any{"cnf": map[string]any{"jkt": jkt}}})
			_, _ = w.Write([]byte(tok))
		default:
			http.NotFound(w, r)
		}
	})

	pageHandler.Store(&ph)

	line := nodetest.StartScript(t, "browser.mjs", "BROWSER_URL="+page.URL+"/?api="+apiURL)
	var out struct {
		Error   string   `json:"error"`
		Console []string `json:"console"`
		Result  struct {
			Error       string `json:"error"`
			Origin, JKT string
			First       struct {
				Status                           int
				WWWAuthenticate, DPoPNonce, Body string
			}
			Second *struct {
				Status int
				Body   string
			}
		} `json:"result"`
	}
	if err := json.Unmarshal([]byte(line), &out); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	if out.Error != "" || out.Result.Error != "" {
		t.Fatalf("browser: %s%s\nconsole: %q", out.Error, out.Result.Error, out.Console)
	}
	r := out.Result
	if r.Origin != page.URL || strings.HasPrefix(apiURL, r.Origin) {
		t.Fatalf("the page is on %q, the API on %q: not cross-origin", r.Origin, apiURL)
	}
	if r.JKT == "" || minted.Load() != r.JKT {
		t.Errorf("thumbprint the page computed %q, the token endpoint got %v", r.JKT, minted.Load())
	}
	wantChallenge := `DPoP error="use_dpop_nonce", error_description="` + descNonceMissing + `", resource_metadata="` + api.URL + `/.well-known/oauth-protected-resource", algs="` + defaultAlgs + `"`
	if r.First.Status != 401 || r.First.WWWAuthenticate != wantChallenge || r.First.DPoPNonce == "" {
		t.Errorf("first call, as the page saw it: %d WWW-Authenticate %q DPoP-Nonce %q", r.First.Status, r.First.WWWAuthenticate, r.First.DPoPNonce)
	}
	if r.Second == nil {
		t.Fatalf("the page did not retry: %+v\nconsole: %q", r.First, out.Console)
	}
	var body map[string]string
	if err := json.Unmarshal([]byte(r.Second.Body), &body); err != nil || r.Second.Status != 200 {
		t.Fatalf("retry with the nonce: %d %s", r.Second.Status, r.Second.Body)
	}
	if body["scheme"] != "DPoP" || body["jkt"] != r.JKT || body["sub"] != "browser-user" {
		t.Errorf("the API saw %v", body)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the protected handler ran %d times, want 1 (the retry)", n)
	}
	if n := preflights.Load(); n < 1 {
		t.Errorf("the browser sent no preflight (%d): the call was not cross-origin with credentials headers", n)
	}
}
