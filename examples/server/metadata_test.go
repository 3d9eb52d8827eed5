package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/popguard/popguard/internal/nodetest"
	"github.com/popguard/popguard/internal/testenv"
	"github.com/popguard/popguard/poptest"
)

const testIssuer = "https://issuer.example.test"

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// TestMain removes the server binary the tests built.
// buildServer builds the server once for all the tests of the package.
func buildServer(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "popguard-server-test")
		if binErr != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(binDir, "server"), ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "server")
}

// startServer builds and runs the server trusting testIssuer (keys from a
// JWKS file) with args added, and returns its address and issuer.
func startMetadataServer(t *testing.T, args ...string) (string, *poptest.Issuer) {
	t.Helper()
	iss := poptest.NewStaticIssuer(testIssuer)
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	bin := buildServer(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	all := append([]string{"-listen", addr, "-issuer", testIssuer, "-jwks", jwks, "-audience", "https://api.example.test"}, args...)
	for i, a := range all {
		all[i] = strings.ReplaceAll(a, "ADDR", addr)
	}
	cmd := exec.CommandContext(ctx, bin, all...)
	logs := &testenv.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("server logs:\n%s", logs.String())
		}
	})
	waitHealthy(t, "http://"+addr, logs)
	return addr, iss
}

type metadataDoc struct {
	Resource      string   `json:"resource"`
	Servers       []string `json:"authorization_servers"`
	Scopes        []string `json:"scopes_supported"`
	BearerMethods []string `json:"bearer_methods_supported"`
	DPoPAlgs      []string `json:"dpop_signing_alg_values_supported"`
	DPoPRequired  bool     `json:"dpop_bound_access_tokens_required"`
}

func getDoc(t *testing.T, u string) (*http.Response, metadataDoc) {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var d metadataDoc
	if res.StatusCode == 200 {
		if err := json.NewDecoder(res.Body).Decode(&d); err != nil {
			t.Fatal(err)
		}
	}
	return res, d
}

// TestResourceMetadata: the document of the public URL is served at the
// RFC 9728 location with the public URL's path, every challenge points to
// it, -scopes adds to scopes_supported, and -resource moves it; a token for
// the resource identifier is accepted.
func TestResourceMetadata(t *testing.T) {
	t.Run("public URL with a path", func(t *testing.T) {
		addr, _ := startMetadataServer(t, "-public-url", "http://ADDR/v1", "-scopes", "read, write  admin")
		want := "http://" + addr + "/.well-known/oauth-protected-resource/v1"
		res, d := getDoc(t, want)
		if res.StatusCode != 200 || d.Resource != "http://"+addr+"/v1" || !slices.Equal(d.Servers, []string{testIssuer}) ||
			!slices.Equal(d.Scopes, []string{"read", "write", "admin"}) || !slices.Equal(d.BearerMethods, []string{"header"}) ||
			d.DPoPRequired || !slices.Contains(d.DPoPAlgs, "ES256") {
			t.Errorf("%d %+v", res.StatusCode, d)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.HasPrefix(res.Header.Get("Cache-Control"), "public, max-age=") {
			t.Errorf("headers %v", res.Header)
		}
		// Not at the origin's document: that would be another resource.
		if res, _ := getDoc(t, "http://"+addr+"/.well-known/oauth-protected-resource"); res.StatusCode == 200 {
			t.Error("the origin's location serves the /v1 resource's document")
		}
		for _, p := range []string{"/bearer/x", "/mixed/x", "/dpop/x", "/pop/x"} {
			res, err := http.Get("http://" + addr + p)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			chs := res.Header.Values("WWW-Authenticate")
			if res.StatusCode != 401 || len(chs) == 0 {
				t.Fatalf("%s: %d %q", p, res.StatusCode, chs)
			}
			for _, c := range chs {
				if !strings.Contains(c, `resource_metadata="`+want+`"`) {
					t.Errorf("%s: challenge %q has no resource_metadata", p, c)
				}
			}
		}
	})
	t.Run("-resource", func(t *testing.T) {
		addr, iss := startMetadataServer(t, "-resource", "https://api.example.test/orders")
		res, d := getDoc(t, "http://"+addr+"/.well-known/oauth-protected-resource/orders")
		if res.StatusCode != 200 || d.Resource != "https://api.example.test/orders" || d.Scopes != nil {
			t.Errorf("%d %+v", res.StatusCode, d)
		}
		// A token issued for the resource identifier (RFC 8707) is
		// accepted, as is one for -audience.
		for _, aud := range []string{"https://api.example.test/orders", "https://api.example.test"} {
			tok := iss.Token(poptest.TokenOptions{Subject: "s", ClientID: "c", Audience: aud, Scope: "read"})
			req, _ := http.NewRequest("GET", "http://"+addr+"/bearer/x", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != 200 {
				t.Errorf("token for %s: %d", aud, res.StatusCode)
			}
		}
	})
	t.Run("preflight is not refused", func(t *testing.T) {
		addr, _ := startMetadataServer(t)
		req, _ := http.NewRequest("OPTIONS", "http://"+addr+"/dpop/x", nil)
		req.Header.Set("Origin", "https://app.example.test")
		req.Header.Set("Access-Control-Request-Method", "POST")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 204 || res.Header.Get("WWW-Authenticate") != "" || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("%d %v", res.StatusCode, res.Header)
		}
	})
}

// TestOauth4webapiReadsMetadata: the npm package oauth4webapi parses the
// server's challenges and accepts its document (resourceDiscoveryRequest,
// processResourceDiscoveryResponse), for a resource at the origin and one
// with a path.
func TestOauth4webapiReadsMetadata(t *testing.T) {
	nodetest.Require(t)
	for _, path := range []string{"", "/v1"} {
		t.Run("path "+path, func(t *testing.T) {
			addr, _ := startMetadataServer(t, "-public-url", "http://ADDR"+path, "-scopes", "read,write")
			resource := "http://" + addr + path
			line := nodetest.StartScript(t, "rfc9728-client.mjs", "RS_RESOURCE="+resource, "RS_PROTECTED=http://"+addr+"/dpop/items")
			var out struct {
				Error      string `json:"error"`
				Challenges []struct {
					Scheme     string            `json:"scheme"`
					Parameters map[string]string `json:"parameters"`
				} `json:"challenges"`
				MetadataURL string      `json:"metadata_url"`
				Metadata    metadataDoc `json:"metadata"`
			}
			if err := json.Unmarshal([]byte(line), &out); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			if out.Error != "" {
				t.Fatalf("oauth4webapi: %s", out.Error)
			}
			wantURL := "http://" + addr + "/.well-known/oauth-protected-resource" + path
			if len(out.Challenges) != 1 || out.Challenges[0].Scheme != "dpop" ||
				out.Challenges[0].Parameters["resource_metadata"] != wantURL || out.Challenges[0].Parameters["algs"] == "" {
				t.Errorf("challenges as oauth4webapi parsed them: %+v", out.Challenges)
			}
			if out.MetadataURL != wantURL {
				t.Errorf("oauth4webapi fetched %q, want %q", out.MetadataURL, wantURL)
			}
			if m := out.Metadata; m.Resource != resource || !slices.Equal(m.Servers, []string{testIssuer}) || !slices.Equal(m.Scopes, []string{"read", "write"}) {
				t.Errorf("document as oauth4webapi returned it: %+v", m)
			}
		})
	}
}
