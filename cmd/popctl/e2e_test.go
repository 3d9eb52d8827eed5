package main

// End to end: popctl plays the issuer and the client against the example
// API's routes, served by a popguard Guard on an httptest server.

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/validate"
)

const (
	e2eIssuer   = "https://issuer.popctl.test"
	e2eAudience = "https://api.popctl.test"
)

// answer is the example API's JSON answer (examples/internal/api.Answer).
type answer struct {
	Scheme   string `json:"scheme"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Scope    string `json:"scope"`
	JKT      string `json:"jkt"`
	Method   string `json:"method"`
	Path     string `json:"path"`
}

// exampleRoutes mirrors examples/internal/api.Routes, which cmd/popctl
// cannot import (it is internal to examples/).
func exampleRoutes(g *middleware.Guard) http.Handler {
	who := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := popguard.FromContext(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer{
			Scheme: c.Scheme.String(), Subject: c.Subject, ClientID: c.ClientID,
			Scope: strings.Join(c.Scopes, " "), JKT: c.KeyThumbprint, Method: r.Method, Path: r.URL.Path,
		})
	})
	mux := http.NewServeMux()
	mux.Handle("/bearer/", g.Require(popguard.BearerOnly)(who))
	mux.Handle("/mixed/", g.Require(popguard.Mixed)(who))
	mux.Handle("/dpop/", g.Require(popguard.DPoPOnly)(who))
	mux.Handle("/pop/", g.Require(popguard.PoPOnly)(who))
	return mux
}

// e2eSetup makes an issuer key, a client key, the JWKS file and a server
// trusting it, configured as examples/server is (PoP with msal-browser
// compatibility).
func e2eSetup(t *testing.T, clientAlg string) (dir, issuer, client, jwks string, srv *httptest.Server) {
	t.Helper()
	dir = t.TempDir()
	issuer = keygen(t, dir, "issuer.json", "ES256")
	client = keygen(t, dir, "client.json", clientAlg)
	jwks = filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte(mustRun(t, "jwks", "-key", issuer)), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(jwks)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := validate.NewStaticKeySet(doc)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := validate.NewJWTVerifier(e2eIssuer, keys, validate.Audience(e2eAudience))
	if err != nil {
		t.Fatal(err)
	}
	// The listener first: its address is the public URL clients sign.
	srv = httptest.NewUnstartedServer(nil)
	guard, err := middleware.New(middleware.WithTokens(tokens),
		middleware.WithPublicURL("http://"+srv.Listener.Addr().String()),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		middleware.WithPoP(validate.MSALBrowserCompat()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = guard.Close() })
	srv.Config.Handler = exampleRoutes(guard)
	srv.Start()
	t.Cleanup(srv.Close)
	return dir, issuer, client, jwks, srv
}

func mintToken(t *testing.T, issuer string, bind ...string) string {
	t.Helper()
	args := append([]string{"token", "-issuer-key", issuer, "-iss", e2eIssuer, "-aud", e2eAudience,
		"-sub", "alice", "-client-id", "popctl-test", "-scope", "read write"}, bind...)
	return strings.TrimSpace(mustRun(t, args...))
}

// curlRequest builds the request curl would send for popctl's --curl
// arguments.
func curlRequest(t *testing.T, curlArgs string, body io.Reader) *http.Request {
	t.Helper()
	words, err := shellSplit(strings.TrimSpace(curlArgs))
	if err != nil {
		t.Fatalf("--curl output is not safely quoted: %v\n%s", err, curlArgs)
	}
	method, url := "GET", ""
	var headers [][2]string
	for i := 0; i < len(words); i++ {
		switch words[i] {
		case "-X":
			i++
			method = words[i]
		case "-H":
			i++
			name, value, ok := strings.Cut(words[i], ": ")
			if !ok {
				t.Fatalf("bad -H %q", words[i])
			}
			headers = append(headers, [2]string{name, value})
		case "--data-binary":
			i++ // the body is passed in
		default:
			if url != "" {
				t.Fatalf("two URLs in %q", words)
			}
			url = words[i]
		}
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range headers {
		req.Header.Add(h[0], h[1])
	}
	return req
}

func send(t *testing.T, req *http.Request) (int, answer, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a answer
	if resp.StatusCode == http.StatusOK {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("200 body is not JSON: %v: %s", err, b)
		}
	}
	return resp.StatusCode, a, resp.Header
}

func TestEndToEndDPoP(t *testing.T) {
	_, issuer, client, jwks, srv := e2eSetup(t, "ES256")
	ck, _ := loadKey(client)
	at := mintToken(t, issuer, "-bind", client)

	// The token as popctl sees it, with the issuer's keys.
	if out, _, code := popctl(t, "", "inspect", "-jwks", jwks, "-iss", e2eIssuer, "-aud", e2eAudience, at); code != exitOK {
		t.Fatalf("inspect token: exit %d\n%s", code, out)
	}

	url := srv.URL + "/dpop/things?x=1"
	proof := strings.TrimSpace(mustRun(t, "proof", "-key", client, "-method", "GET", "-url", url, "-token", at))
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "DPoP "+at)
	req.Header.Set("DPoP", proof)
	code, a, hdr := send(t, req)
	if code != http.StatusOK || a.Scheme != "DPoP" || a.Subject != "alice" || a.ClientID != "popctl-test" || a.JKT != ck.Thumbprint() || a.Scope != "read write" {
		t.Fatalf("DPoP request: %d %+v %v", code, a, hdr)
	}
	// The same proof again is a replay.
	req2, _ := http.NewRequest("GET", url, nil)
	req2.Header = req.Header.Clone()
	if code, _, _ := send(t, req2); code != http.StatusUnauthorized {
		t.Errorf("replayed proof: %d, want 401", code)
	}
	// What popctl inspect says about that proof for this request: every
	// check it can make passes (exit 0), but it does not claim a plain OK
	// for a proof the server has just refused as a replay.
	out, _, code := popctl(t, "", "inspect", "-method", "GET", "-url", url, "-token", at, proof)
	if code != exitOK || !strings.Contains(out, "– replay") || !strings.Contains(out, "not checked offline: a server refuses what it has already accepted once (replay_detected)") ||
		!strings.Contains(out, "\nOK offline: ") || strings.Contains(out, "\nOK: ") {
		t.Errorf("inspect proof: exit %d\n%s", code, out)
	}

	// --curl: a POST, with the arguments a shell would pass to curl.
	curl := mustRun(t, "proof", "-key", client, "-method", "POST", "-url", srv.URL+"/dpop/transfers", "-token", at, "--curl")
	if !strings.HasPrefix(curl, "-X POST -H 'Authorization: DPoP ") || !strings.Contains(curl, " -H 'DPoP: ey") || !strings.HasSuffix(curl, " '"+srv.URL+"/dpop/transfers'\n") {
		t.Errorf("--curl: %s", curl)
	}
	code, a, _ = send(t, curlRequest(t, curl, nil))
	if code != http.StatusOK || a.Scheme != "DPoP" || a.Method != "POST" || a.Path != "/dpop/transfers" {
		t.Errorf("--curl request: %d %+v", code, a)
	}

	// A proof made by another key is refused: the token is bound to client.
	otherKey := keygen(t, t.TempDir(), "other.json", "ES256")
	bad := strings.TrimSpace(mustRun(t, "proof", "-key", otherKey, "-url", url, "-token", at))
	req3, _ := http.NewRequest("GET", url, nil)
	req3.Header.Set("Authorization", "DPoP "+at)
	req3.Header.Set("DPoP", bad)
	if code, _, hdr := send(t, req3); code != http.StatusUnauthorized || !strings.Contains(hdr.Get("WWW-Authenticate"), "Invalid DPoP key binding") {
		t.Errorf("other key: %d %v", code, hdr)
	}
	out, _, code = popctl(t, "", "inspect", "-method", "GET", "-url", url, "-token", at, bad)
	if code != exitFail || !strings.Contains(out, "✘ binding") || !strings.Contains(out, "[token_key_binding]") {
		t.Errorf("inspect of the other key's proof: exit %d\n%s", code, out)
	}

	// An unbound token still works as Bearer on /bearer/.
	bearer := mintToken(t, issuer)
	req4, _ := http.NewRequest("GET", srv.URL+"/bearer/x", nil)
	req4.Header.Set("Authorization", "Bearer "+bearer)
	if code, a, _ := send(t, req4); code != http.StatusOK || a.Scheme != "Bearer" {
		t.Errorf("bearer: %d %+v", code, a)
	}
}

func TestEndToEndPoP(t *testing.T) {
	for _, tc := range []struct{ format, alg string }{{"msal-net", "RS256"}, {"msal-net", "ES256"}, {"msal-browser", "RS256"}} {
		t.Run(tc.format+"-"+tc.alg, func(t *testing.T) {
			dir, issuer, client, jwks, srv := e2eSetup(t, tc.alg)
			ck, _ := loadKey(client)
			tp := strings.TrimSpace(mustRun(t, "thumbprint", client))
			at := mintToken(t, issuer, "-kid-cnf", tp)

			url := srv.URL + "/pop/Items/7?sort=asc"
			shr := strings.TrimSpace(mustRun(t, "shr", "-format", tc.format, "-key", client, "-token", at, "-method", "GET", "-url", url))
			req, _ := http.NewRequest("GET", url, nil)
			req.Header.Set("Authorization", "PoP "+shr)
			code, a, hdr := send(t, req)
			if code != http.StatusOK || a.Scheme != "PoP" || a.Subject != "alice" || a.JKT != ck.Thumbprint() {
				t.Fatalf("PoP request: %d %+v %v", code, a, hdr)
			}
			args := []string{"inspect", "-method", "GET", "-url", url, "-jwks", jwks, "-iss", e2eIssuer, "-aud", e2eAudience}
			if tc.format == "msal-browser" {
				args = append(args, "-msal-browser-compat")
			}
			if out, _, code := popctl(t, "", append(args, shr)...); code != exitOK || !strings.Contains(out, "PoP signed HTTP request") {
				t.Errorf("inspect SHR: exit %d\n%s", code, out)
			}

			// A POST with a signed body, through --curl.
			body := filepath.Join(dir, "body.json")
			if err := os.WriteFile(body, []byte(`{"amount":10}`), 0o600); err != nil {
				t.Fatal(err)
			}
			curl := mustRun(t, "shr", "-format", tc.format, "-key", client, "-token", at, "-method", "POST", "-url", srv.URL+"/pop/pay", "-body", body, "--curl")
			if !strings.Contains(curl, "--data-binary '@"+body+"'") {
				t.Errorf("--curl: %s", curl)
			}
			code, a, _ = send(t, curlRequest(t, curl, bytes.NewReader([]byte(`{"amount":10}`))))
			if code != http.StatusOK || a.Scheme != "PoP" || a.Method != "POST" {
				t.Errorf("POST with body: %d %+v", code, a)
			}
			// The same SHR with another body is refused.
			code, _, _ = send(t, curlRequest(t, curl, bytes.NewReader([]byte(`{"amount":1000}`))))
			if code != http.StatusUnauthorized {
				t.Errorf("tampered body: %d, want 401", code)
			}
		})
	}
}
