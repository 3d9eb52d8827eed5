package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/popguard/popguard/middleware"
)

const (
	testIssuer   = "https://issuer.example"
	testAudience = "https://api.example"
)

var quiet = slog.New(slog.DiscardHandler)

// dpopProof is a DPoP proof (RFC 9449 §4.2) by k for method and htu, with
// ath over token.
func dpopProof(t *testing.T, k *ecdsa.PrivateKey, method, htu, token string) string {
	t.Helper()
	ath := sha256.Sum256([]byte(token))
	p, err := signES256(k, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": publicJWK(&k.PublicKey)},
		map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": time.Now().Unix(), "ath": b64.EncodeToString(ath[:])})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func call(t *testing.T, srv *httptest.Server, method, path, auth, proof string) int {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func get(t *testing.T, url, accept string) (string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b), resp.Header
}

// exercise sends a few requests through the API and checks the series on
// /metrics and the migration view on /debug/popguard.
// testPublicURL is the origin the app is configured with and clients sign.
const testPublicURL = "https://api.example.test"

func exercise(t *testing.T, a *app, d *demoIssuer) {
	t.Helper()
	api := httptest.NewServer(a.api)
	defer api.Close()
	admin := httptest.NewServer(a.admin)
	defer admin.Close()

	client, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bearer, err := d.Token("alice", "legacy-app", testAudience, "", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	bound, err := d.Token("bob", "dpop-app", testAudience, thumbprint(&client.PublicKey), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Proofs are made for the configured public URL, whatever the test
	// server's address.
	for _, c := range []struct {
		method, path, auth string
		dpop               bool
		want               int
	}{
		{"POST", "/transfers/1", "DPoP " + bound, true, 200},
		{"POST", "/transfers/2", "DPoP " + bound, true, 200},
		{"POST", "/transfers/3", "Bearer " + bearer, false, 401},
		{"GET", "/accounts/1", "Bearer " + bearer, false, 200}, // reported
		{"GET", "/accounts/1", "DPoP " + bound, true, 200},
		{"GET", "/accounts/1", "", false, 401},
		{"GET", "/legacy/1", "Bearer " + bearer, false, 200},
		{"GET", "/legacy/1", "Bearer " + bound, false, 401}, // a bound token is never a Bearer token
	} {
		proof := ""
		if c.dpop {
			proof = dpopProof(t, client, c.method, testPublicURL+c.path, bound)
		}
		if got := call(t, api, c.method, c.path, c.auth, proof); got != c.want {
			t.Errorf("%s %s %.6s: status %d, want %d", c.method, c.path, c.auth, got, c.want)
		}
	}

	metrics, hdr := get(t, admin.URL+"/metrics", "")
	if ct := hdr.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("/metrics Content-Type %q", ct)
	}
	for _, want := range []string{
		"# TYPE popguard_requests_total counter\n",
		`popguard_requests_total{outcome="accepted",reason="",route="transfers",scheme="DPoP"} 2` + "\n",
		`popguard_requests_total{outcome="rejected",reason="request_scheme_not_allowed",route="transfers",scheme="Bearer"} 1` + "\n",
		`popguard_requests_total{outcome="reported",reason="",route="accounts",scheme="Bearer"} 1` + "\n",
		`popguard_requests_total{outcome="accepted",reason="",route="accounts",scheme="DPoP"} 1` + "\n",
		`popguard_requests_total{outcome="rejected",reason="no_credentials",route="accounts",scheme="none"} 1` + "\n",
		`popguard_requests_total{outcome="accepted",reason="",route="legacy",scheme="Bearer"} 1` + "\n",
		`popguard_requests_total{outcome="rejected",reason="token_bound_used_as_bearer",route="legacy",scheme="Bearer"} 1` + "\n",
		"go_goroutines ",
	} {
		if !strings.Contains(metrics, "\n"+want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if n := strings.Count(metrics, "\npopguard_requests_total{"); n != 7 {
		t.Errorf("%d popguard_requests_total series, want 7:\n%s", n, metrics)
	}

	body, _ := get(t, admin.URL+"/debug/popguard", "")
	var doc struct{ Routes []middleware.RouteStats }
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("/debug/popguard: %v\n%s", err, body)
	}
	if len(doc.Routes) != 3 || doc.Routes[0].Route != "accounts" || doc.Routes[0].Reported["Bearer"] != 1 ||
		doc.Routes[2].Route != "transfers" || doc.Routes[2].Accepted["DPoP"] != 2 {
		t.Errorf("/debug/popguard:\n%s", body)
	}
	table, _ := get(t, admin.URL+"/debug/popguard", "text/plain")
	if !strings.Contains(table, "accounts   reported         0         1         0         0\n") {
		t.Errorf("/debug/popguard table:\n%s", table)
	}
	if _, h := get(t, api.URL+"/healthz", ""); h == nil {
		t.Error("healthz")
	}
}

func TestDemoIssuer(t *testing.T) {
	a, err := newApp(config{issuer: testIssuer, audience: testAudience, publicURL: testPublicURL}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.guard.Close()
	if a.demo == nil {
		t.Fatal("no demo issuer without -jwks")
	}
	exercise(t, a, a.demo)
}

func TestJWKSFile(t *testing.T) {
	d, err := newDemoIssuer(testIssuer) // plays an external issuer
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, d.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := newApp(config{issuer: testIssuer, audience: testAudience, publicURL: testPublicURL, jwks: path}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer a.guard.Close()
	if a.demo != nil {
		t.Fatal("demo issuer with -jwks")
	}
	exercise(t, a, d)

	if _, err := newApp(config{issuer: testIssuer, audience: testAudience, publicURL: testPublicURL, jwks: filepath.Join(t.TempDir(), "missing.json")}, quiet); err == nil {
		t.Error("newApp accepted a missing JWKS file")
	}
}

func TestPromMetricsRegisterTwice(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := newPromMetrics(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := newPromMetrics(reg); err == nil {
		t.Error("second registration of popguard_requests_total succeeded")
	}
}
