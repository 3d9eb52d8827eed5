package dpopclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/popguard/popguard"
	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/middleware"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
	"github.com/popguard/popguard/validate"
)

// api is a popguard-protected API on loopback: /dpop/ (DPoP, nonce
// required), /pop/ (Microsoft PoP, nonce required), /mixed/.
type api struct {
	*httptest.Server
	iss      *poptest.Issuer
	requests atomic.Int32 // requests that reached the guard
}

func newAPI(t *testing.T) *api {
	t.Helper()
	a := &api{iss: poptest.NewStaticIssuer("https://issuer.example.test")}
	tokens, err := validate.NewJWTVerifier(a.iss.URL, a.iss.KeySet(), validate.Audience(poptest.DefaultAudience))
	if err != nil {
		t.Fatal(err)
	}
	nonces, err := nonce.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		mux.ServeHTTP(w, r)
	}))
	a.Start()
	t.Cleanup(a.Close)
	guard, err := middleware.New(middleware.WithTokens(tokens), middleware.WithPublicURL(a.URL),
		middleware.WithNonces(nonces), middleware.WithPoP(),
		middleware.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = guard.Close() })
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res := popguard.FromContext(r.Context())
		body, _ := io.ReadAll(r.Body)
		_ = json.NewEncoder(w).Encode(map[string]string{
			"scheme": res.Scheme.String(), "jkt": res.KeyThumbprint, "body": string(body),
		})
	})
	mux.Handle("/dpop/", guard.Require(popguard.DPoPOnly, middleware.RequireNonce())(echo))
	mux.Handle("/pop/", guard.Require(popguard.PoPOnly, middleware.RequireNonce())(echo))
	mux.Handle("/mixed/", guard.Require(popguard.Mixed)(echo))
	return a
}

func decode(t *testing.T, res *http.Response) map[string]string {
	t.Helper()
	defer res.Body.Close()
	var m map[string]string
	if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
		t.Fatalf("HTTP %d: %v", res.StatusCode, err)
	}
	return m
}

func TestTransportDPoPNonceRetryAndMemory(t *testing.T) {
	a := newAPI(t)
	c := poptest.NewClient()
	tok := a.iss.Token(poptest.TokenOptions{DPoP: c})
	client := (&dpopclient.Transport{Key: c.Key(), Tokens: dpopclient.StaticToken(tok)}).Client()

	res, err := client.Get(a.URL + "/dpop/accounts?page=2#frag")
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := decode(t, res); got["scheme"] != "DPoP" || got["jkt"] != c.Thumbprint() {
		t.Fatalf("result %v", got)
	}
	if n := a.requests.Load(); n != 2 {
		t.Fatalf("first call: %d requests reached the server, want 2 (challenge, retry)", n)
	}
	// The nonce is remembered for the origin: one request, no challenge.
	res, err = client.Post(a.URL+"/dpop/transfers", "text/plain", strings.NewReader("100 EUR"))
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, res); res.StatusCode != 200 || got["body"] != "100 EUR" {
		t.Fatalf("status %d, %v", res.StatusCode, got)
	}
	if n := a.requests.Load(); n != 3 {
		t.Fatalf("second call: %d requests in all, want 3", n)
	}
}

func TestTransportRetriesBodyOnlyWithGetBody(t *testing.T) {
	a := newAPI(t)
	c := poptest.NewClient()
	tok := a.iss.Token(poptest.TokenOptions{DPoP: c})
	client := (&dpopclient.Transport{Key: c.Key(), Tokens: dpopclient.StaticToken(tok)}).Client()

	// A body that cannot be replayed: the nonce challenge comes back.
	req, _ := http.NewRequest("POST", a.URL+"/dpop/transfers", io.NopCloser(strings.NewReader("once")))
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("DPoP-Nonce") == "" {
		t.Fatalf("status %d, want the 401 nonce challenge", res.StatusCode)
	}
	if n := a.requests.Load(); n != 1 {
		t.Fatalf("%d requests, want 1 (no retry without GetBody)", n)
	}
	// The nonce was still learnt: the same request now passes first time.
	req, _ = http.NewRequest("POST", a.URL+"/dpop/transfers", io.NopCloser(strings.NewReader("twice")))
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := decode(t, res); res.StatusCode != 200 || got["body"] != "twice" {
		t.Fatalf("status %d %v", res.StatusCode, got)
	}
}

func TestTransportRetriesOnlyOnce(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("DPoP-Nonce", "n"+string(rune('0'+n)))
		w.Header().Set("WWW-Authenticate", `DPoP error="use_dpop_nonce", algs="ES256"`)
		w.WriteHeader(401)
	}))
	defer srv.Close()
	c := poptest.NewClient()
	client := (&dpopclient.Transport{Key: c.Key(), Tokens: dpopclient.StaticToken("tok")}).Client()
	res, err := client.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls, want 401 after 2", res.StatusCode, calls.Load())
	}
}

func TestTransportProofClaims(t *testing.T) {
	var proof, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proof, auth = r.Header.Get("DPoP"), r.Header.Get("Authorization")
	}))
	defer srv.Close()
	c := poptest.NewClient()
	client := (&dpopclient.Transport{Key: c.Key(), Tokens: dpopclient.StaticToken("the-token")}).Client()
	target := srv.URL + "/a/b%2Fc?q=1#f"
	res, err := client.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if auth != "DPoP the-token" {
		t.Fatalf("Authorization %q", auth)
	}
	pv, _ := validate.NewProofVerifier()
	p, err := pv.Verify(proof, validate.ProofRequest{Method: "GET", Target: target, AccessToken: "the-token"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(p.HTU, "/a/b%2Fc") || p.Thumbprint != c.Thumbprint() {
		t.Fatalf("htu %q thumbprint %q", p.HTU, p.Thumbprint)
	}
	// A second request carries another jti.
	var first = p.JTI
	res, _ = client.Get(target)
	res.Body.Close()
	p2, err := pv.Verify(proof, validate.ProofRequest{Method: "GET", Target: target, AccessToken: "the-token"})
	if err != nil || p2.JTI == first {
		t.Fatalf("second proof: %v, jti %q reused", err, p2.JTI)
	}
}

func TestTransportMicrosoftPoP(t *testing.T) {
	a := newAPI(t)
	key, err := dpopclient.GenerateKey("PS256")
	if err != nil {
		t.Fatal(err)
	}
	c := poptest.NewClientWithKey(key)
	tok := a.iss.Token(poptest.TokenOptions{PoP: c})
	client := (&dpopclient.Transport{Key: key, Tokens: dpopclient.StaticToken(tok), MicrosoftPoP: true}).Client()
	for i := range 2 {
		res, err := client.Get(a.URL + "/pop/things/1")
		if err != nil {
			t.Fatal(err)
		}
		if got := decode(t, res); res.StatusCode != 200 || got["scheme"] != "PoP" {
			t.Fatalf("call %d: status %d %v", i, res.StatusCode, got)
		}
	}
	if n := a.requests.Load(); n != 3 {
		t.Fatalf("%d requests, want 3 (challenge, retry, then the remembered nextnonce)", n)
	}
}

func TestTransportErrors(t *testing.T) {
	var tr dpopclient.Transport
	if _, err := tr.RoundTrip(httptest.NewRequest("GET", "http://x/", nil)); !errors.Is(err, dpopclient.ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	tr.Key = poptest.NewClient().Key()
	if _, err := tr.RoundTrip(httptest.NewRequest("GET", "http://x/", nil)); !errors.Is(err, dpopclient.ErrNoTokens) {
		t.Fatalf("no tokens: %v", err)
	}
	tr.Tokens = dpopclient.StaticToken("t")
	req, _ := http.NewRequestWithContext(context.Background(), "GET", "/relative", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, dpopclient.ErrURL) {
		t.Fatalf("relative URL: %v", err)
	}
}
