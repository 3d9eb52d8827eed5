package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/internal/nodetest"
)

// The server, run as its users run it, called by the Go DPoP client with a
// token from oidc-provider (nonces required at both ends).
func TestServerWithOIDCProviderToken(t *testing.T) {
	op := nodetest.StartOIDCProviderInfo(t, nodetest.OIDCProviderConfig{
		Clients:      []nodetest.Client{{ID: "svc", Secret: "s3cret"}},
		Resource:     "https://api.example.test",
		RequireNonce: true,
		RequireDPoP:  true,
	})
	bin := filepath.Join(t.TempDir(), "server")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "-listen", addr, "-issuer", op.Issuer, "-audience", "https://api.example.test",
		"-jwks", op.JWKSURI, "-nonce")
	var logs lockedLog
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the server did not come up: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
	}

	md, err := dpopclient.Discover(ctx, nil, op.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	key, err := dpopclient.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	cfg := dpopclient.Config{TokenURL: md.TokenEndpoint, ClientID: "svc", ClientSecret: "s3cret"}
	client := (&dpopclient.Transport{Key: key, Tokens: cfg.ClientCredentials(key)}).Client()
	for _, path := range []string{"/dpop/accounts/1", "/mixed/reports"} {
		res, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		_ = json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		if res.StatusCode != 200 || got["scheme"] != "DPoP" || got["jkt"] != key.Thumbprint() || got["client_id"] != "svc" {
			t.Fatalf("%s: HTTP %d %v", path, res.StatusCode, got)
		}
	}
}

type lockedLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
