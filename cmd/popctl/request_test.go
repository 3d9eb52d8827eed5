package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// guardedAPI is a popguard-protected API (DPoP only, nonce required) that
// trusts iss.
func guardedAPI(t *testing.T, iss *poptest.Issuer) *httptest.Server {
	t.Helper()
	keys, err := validate.NewRemoteKeySet(t.Context(), iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = keys.Close() })
	tokens, err := validate.NewJWTVerifier(iss.URL, keys, validate.Audience(poptest.DefaultAudience))
	if err != nil {
		t.Fatal(err)
	}
	nonces, err := nonce.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(nil)
	srv.Start()
	t.Cleanup(srv.Close)
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL(srv.URL),
		middleware.WithNonces(nonces), middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = guard.Close() })
	srv.Config.Handler = guard.Require(popguard.DPoPOnly, middleware.RequireNonce())(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			res := popguard.FromContext(r.Context())
			body, _ := io.ReadAll(r.Body)
			_ = json.NewEncoder(w).Encode(map[string]string{"sub": res.Subject, "method": r.Method, "body": string(body)})
		}))
	return srv
}

func TestRequest(t *testing.T) {
	iss := poptest.NewIssuer()
	defer iss.Close()
	api := guardedAPI(t, iss)

	var out, errb bytes.Buffer
	code := run([]string{"request", "-issuer", iss.URL, "-client-id", "svc", "-client-secret", "s3cret",
		"-d", "hello", "-v", api.URL + "/transfers?x=1"}, nil, &out, &errb)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	lines := strings.SplitN(out.String(), "\n", 2)
	if lines[0] != "HTTP/1.1 200 OK" || !strings.Contains(lines[1], `"sub":"svc"`) || !strings.Contains(lines[1], `"method":"POST"`) || !strings.Contains(lines[1], `"body":"hello"`) {
		t.Fatalf("stdout:\n%s", out.String())
	}
	trace := errb.String()
	// Discovery, token, the API's nonce challenge, the retry.
	if n := strings.Count(trace, "* exchange "); n != 4 {
		t.Fatalf("%d exchanges shown, want 4:\n%s", n, trace)
	}
	if !strings.Contains(trace, "use_dpop_nonce") || !strings.Contains(trace, "Basic [hidden]") || strings.Contains(trace, "s3cret") {
		t.Fatalf("trace:\n%s", trace)
	}
}

func TestRequestRefusesPlainHTTPElsewhere(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"request", "-issuer", "http://issuer.example.com", "-client-id", "a", "-client-secret", "b",
		"https://api.example.com/"}, nil, &out, &errb)
	if code != exitUsage || !strings.Contains(errb.String(), "loopback") {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
}

func TestRequestNon2xxExitsOne(t *testing.T) {
	iss := poptest.NewIssuer()
	defer iss.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "nope", http.StatusForbidden)
	}))
	defer api.Close()
	var out, errb bytes.Buffer
	code := run([]string{"request", "-issuer", iss.URL, "-client-id", "svc", "-client-secret", "x", api.URL}, nil, &out, &errb)
	if code != exitFail || !strings.HasPrefix(out.String(), "HTTP/1.1 403 Forbidden\nnope") {
		t.Fatalf("exit %d, stdout %q", code, out.String())
	}
}
