package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/popguard/popguard/internal/nodetest"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/poptest"
)

// TestDiscoveryAgainstOIDCProvider runs the server with -issuer alone (no
// -jwks) in front of a real OpenID provider, the npm package oidc-provider
// on loopback: the server discovers the provider's metadata and keys, and
// accepts the DPoP-bound and Bearer tokens the provider issues.
func TestDiscoveryAgainstOIDCProvider(t *testing.T) {
	const resource = "https://api.example.test"
	op := nodetest.StartOIDCProviderInfo(t, nodetest.OIDCProviderConfig{
		Clients:  []nodetest.Client{{ID: "svc", Secret: "s3cret"}},
		Resource: resource,
		Scopes:   []string{"read"},
	})
	bin := buildServer(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-listen", addr, "-issuer", op.Issuer, "-audience", resource,
		"-public-url", "http://"+addr)
	logs := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	waitHealthy(t, "http://"+addr, logs)
	if !strings.Contains(logs.String(), "discovered issuer metadata") {
		t.Errorf("the server did not log discovery:\n%s", logs.String())
	}

	key := poptest.NewClient()
	dpopTok := clientCredentials(t, op.TokenEndpoint, key)
	bearerTok := clientCredentials(t, op.TokenEndpoint, nil)

	call := func(path, scheme, tok string, k *poptest.Client) (int, map[string]any) {
		t.Helper()
		u := "http://" + addr + path
		req, _ := http.NewRequest("GET", u, nil)
		req.Header.Set("Authorization", scheme+" "+tok)
		if k != nil {
			addProof(t, req, k, tok, poptest.ProofOptions{})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	if st, body := call("/dpop/items", "DPoP", dpopTok, key); st != 200 || body["scheme"] != "DPoP" || body["jkt"] != key.Thumbprint() || body["client_id"] != "svc" {
		t.Errorf("DPoP-bound token of the discovered issuer: %d %v\n%s", st, body, logs.String())
	}
	if st, body := call("/mixed/items", "Bearer", bearerTok, nil); st != 200 || body["scheme"] != "Bearer" {
		t.Errorf("Bearer token of the discovered issuer: %d %v", st, body)
	}
	// The bound token is never a Bearer token, and a proof by another key
	// fails the binding.
	if st, _ := call("/mixed/items", "Bearer", dpopTok, nil); st != 401 {
		t.Errorf("DPoP-bound token sent as Bearer: %d, want 401", st)
	}
	if st, _ := call("/dpop/items", "DPoP", dpopTok, poptest.NewClient()); st != 401 {
		t.Errorf("proof by another key: %d, want 401", st)
	}
}

// clientCredentials gets a token from the provider: DPoP-bound to key, or a
// Bearer token when key is nil.
func clientCredentials(t *testing.T, endpoint string, key *poptest.Client) string {
	t.Helper()
	nonce := ""
	for range 2 {
		form := url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}
		req, _ := http.NewRequest("POST", endpoint, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("svc", "s3cret")
		if key != nil {
			addProof(t, req, key, "", poptest.ProofOptions{Nonce: nonce})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == 400 && strings.Contains(string(body), "use_dpop_nonce") {
			nonce = res.Header.Get("DPoP-Nonce")
			continue
		}
		var tok struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
		}
		if err := json.Unmarshal(body, &tok); err != nil || res.StatusCode != 200 {
			t.Fatalf("token endpoint: %d %s", res.StatusCode, body)
		}
		if want := map[bool]string{true: "DPoP", false: "Bearer"}[key != nil]; tok.TokenType != want {
			t.Fatalf("token_type %q, want %q", tok.TokenType, want)
		}
		return tok.AccessToken
	}
	t.Fatal("the token endpoint kept asking for a nonce")
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHealthy(t *testing.T, base string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(base + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the server did not become healthy:\n%s", logs.String())
}

// addProof signs a DPoP proof for req with k, carrying ath of accessToken
// unless it is empty, and sets it.
func addProof(t *testing.T, req *http.Request, k *poptest.Client, accessToken string, o poptest.ProofOptions) {
	t.Helper()
	req.Header.Set("DPoP", k.Proof(req.Method, req.URL.String(), accessToken, o))
}
