package main

// The server as client developers run it, with -freshness: a DPoP client
// whose clock is ten minutes off, and msal-browser's client_claims. The
// test binary runs itself as the server (TestMain), so the flags, the
// startup and the routes are exactly those of `go run ./examples/server`.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popguard/popguard/dpopclient"
	"github.com/popguard/popguard/nonce"
	"github.com/popguard/popguard/poptest"
)

// serverEnv, set to 1, makes the test binary run main instead of the tests.
const serverEnv = "POPGUARD_EXAMPLE_SERVER_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(serverEnv) == "1" {
		main()
		return
	}
	code := m.Run()
	if binDir != "" { // built once for the package (buildServer)
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

const (
	srvIssuer   = "https://issuer.example.test"
	srvAudience = "https://api.example.test"
)

// lockedBuffer collects the server's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// exampleServer is a running examples/server.
type exampleServer struct {
	base   string // http://127.0.0.1:PORT
	log    *lockedBuffer
	secret []byte
	seen   int // rejections logged and checked so far
}

// startServer runs the server with args after -listen, -issuer, -audience
// and -jwks, and waits until /healthz answers.
func startServer(t *testing.T, jwks string, secret []byte, args ...string) *exampleServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{"-listen", addr, "-issuer", srvIssuer,
		"-audience", srvAudience, "-jwks", jwks}, args...)...)
	cmd.Env = append(os.Environ(), serverEnv+"=1",
		"POPGUARD_NONCE_SECRET="+base64.RawURLEncoding.EncodeToString(secret))
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	s := &exampleServer{base: "http://" + addr, log: logs, secret: secret}
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(s.base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (s *exampleServer) do(t *testing.T, method, path string, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: body}
}

// answer is the example API's 200 JSON.
type answer struct {
	Scheme       string         `json:"scheme"`
	Subject      string         `json:"sub"`
	JKT          string         `json:"jkt"`
	ClientClaims map[string]any `json:"client_claims"`
}

func (r reply) accepted(t *testing.T) answer {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d, WWW-Authenticate %q, body %s", r.status, r.header.Values("WWW-Authenticate"), r.body)
	}
	var a answer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("body %s: %v", r.body, err)
	}
	return a
}

// rejected checks a refusal: status, the exact challenge of the route's
// scheme, the JSON error body (the handler, which answers 200 JSON, never
// ran) and the reason in the server's log line.
func (s *exampleServer) rejected(t *testing.T, r reply, challenge, code, reason string) {
	t.Helper()
	if r.status != http.StatusUnauthorized {
		t.Errorf("status = %d, want 401 (body %s)", r.status, r.body)
	}
	// Every challenge points to the resource metadata (RFC 9728 §5.1):
	// before algs on a DPoP challenge, last on the others.
	rm := `, resource_metadata="` + s.base + `/.well-known/oauth-protected-resource"`
	if i := strings.Index(challenge, `, algs="`); i >= 0 {
		challenge = challenge[:i] + rm + challenge[i:]
	} else {
		challenge += rm
	}
	if got := r.header.Values("WWW-Authenticate"); len(got) == 0 || got[0] != challenge {
		t.Errorf("WWW-Authenticate = %q, want first %q", got, challenge)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil || body["error"] != code {
		t.Errorf("body %s, want error %q", r.body, code)
	}
	// The server logs the rejection before it answers, but its log reaches
	// the test through a pipe: wait for the line (and for no other).
	want := func(line string) bool {
		return strings.Contains(line, `msg="popguard: request rejected"`) && strings.Contains(line, " reason="+reason+" ")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var rejections []string
		sc := bufio.NewScanner(strings.NewReader(s.log.String()))
		for sc.Scan() {
			if strings.Contains(sc.Text(), `msg="popguard: request rejected"`) {
				rejections = append(rejections, sc.Text())
			}
		}
		if n := len(rejections); n > s.seen && want(rejections[n-1]) {
			s.seen = n
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("no rejection logged with reason %s:\n%s", reason, s.log)
			return
		}
	}
}

const dpopAlgs = `algs="ES256 PS256 RS256 EdDSA"`

func dpopChallenge(code, desc string) string {
	return `DPoP error="` + code + `", error_description="` + desc + `", ` + dpopAlgs
}

func TestFreshnessFlag(t *testing.T) {
	dir := t.TempDir()
	iss := poptest.NewStaticIssuer(srvIssuer)
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	key := poptest.NewClient()
	tok := iss.Token(poptest.TokenOptions{Subject: "bob", ClientID: "dpop-app", Audience: srvAudience, Scope: "read", DPoP: key})
	dpop := func(t *testing.T, s *exampleServer, iat time.Time, n string) []string {
		t.Helper()
		proof := key.Proof("GET", s.base+"/dpop/transfers", tok, poptest.ProofOptions{Nonce: n, IssuedAt: iat})
		return []string{"Authorization", "DPoP " + tok, "DPoP", proof}
	}
	// A nonce the servers (same secret and scope) issued five minutes ago.
	stale, err := nonce.New(secret, nonce.Scope(srvAudience), nonce.Clock(func() time.Time { return time.Now().Add(-5 * time.Minute) }))
	if err != nil {
		t.Fatal(err)
	}
	skews := []struct {
		name string
		skew time.Duration
		desc string
	}{
		{"client 10 minutes fast", 10 * time.Minute, "The DPoP proof iat is in the future"},
		{"client 10 minutes slow", -10 * time.Minute, "The DPoP proof is too old"},
	}

	t.Run("iat", func(t *testing.T) {
		s := startServer(t, jwks, secret) // the default
		for _, c := range skews {
			t.Run(c.name, func(t *testing.T) {
				r := s.do(t, "GET", "/dpop/transfers", dpop(t, s, time.Now().Add(c.skew), "")...)
				s.rejected(t, r, dpopChallenge("invalid_dpop_proof", c.desc), "invalid_dpop_proof", "proof_iat")
			})
		}
		s.do(t, "GET", "/dpop/transfers", dpop(t, s, time.Now(), "")...).accepted(t)
	})
	for _, mode := range []string{"nonce", "both"} {
		t.Run(mode, func(t *testing.T) {
			s := startServer(t, jwks, secret, "-freshness", mode)
			for _, c := range skews {
				t.Run(c.name, func(t *testing.T) {
					// The first call has no nonce: refused with one to use (under
					// both, for the iat first).
					r := s.do(t, "GET", "/dpop/transfers", dpop(t, s, time.Now().Add(c.skew), "")...)
					if mode == "both" {
						s.rejected(t, r, dpopChallenge("invalid_dpop_proof", c.desc), "invalid_dpop_proof", "proof_iat")
					} else {
						s.rejected(t, r, dpopChallenge("use_dpop_nonce", "Resource server requires nonce in DPoP proof"), "use_dpop_nonce", "nonce_missing")
					}
					fresh := r.header.Get("DPoP-Nonce")
					if fresh == "" {
						t.Fatal("no DPoP-Nonce")
					}
					proof := dpop(t, s, time.Now().Add(c.skew), fresh)
					r = s.do(t, "GET", "/dpop/transfers", proof...)
					if mode == "both" {
						s.rejected(t, r, dpopChallenge("invalid_dpop_proof", c.desc), "invalid_dpop_proof", "proof_iat")
						return
					}
					if a := r.accepted(t); a.Scheme != "DPoP" || a.Subject != "bob" || a.JKT != key.Thumbprint() {
						t.Errorf("answer %+v", a)
					}
					s.rejected(t, s.do(t, "GET", "/dpop/transfers", proof...),
						dpopChallenge("invalid_dpop_proof", "The proof has already been used"), "invalid_dpop_proof", "replay_detected")
					r = s.do(t, "GET", "/dpop/transfers", dpop(t, s, time.Now().Add(c.skew), stale.Issue())...)
					s.rejected(t, r, dpopChallenge("use_dpop_nonce", "The DPoP proof nonce is invalid or expired"), "use_dpop_nonce", "nonce_invalid")
				})
			}
		})
	}
	t.Run("bad flag", func(t *testing.T) {
		cmd := exec.Command(os.Args[0], "-issuer", srvIssuer, "-audience", srvAudience, "-jwks", jwks, "-freshness", "ts")
		cmd.Env = append(os.Environ(), serverEnv+"=1")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), `-freshness must be iat, nonce or both, not "ts"`) {
			t.Fatalf("exit %v, output %s", err, out)
		}
	})
}

// msal-browser's documented shrClaims (lib/msal-browser/docs/shr-client-claims.md).
const msalShrClaims = `{"nonce": "AQAA123456","local_nonce": "AQAA7890"}`

func TestClientClaimsAnswer(t *testing.T) {
	dir := t.TempDir()
	iss := poptest.NewStaticIssuer(srvIssuer)
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, jwks, secret, "-freshness", "nonce")
	rsaKey, err := dpopclient.GenerateKey("RS256") // msal-browser's key
	if err != nil {
		t.Fatal(err)
	}
	k := poptest.NewClientWithKey(rsaKey)
	tok := iss.Token(poptest.TokenOptions{Subject: "carol", ClientID: "spa", Audience: srvAudience, Scope: "read",
		Claims: map[string]any{"cnf": map[string]any{"kid": k.Thumbprint(), "xms_ksl": "sw"}}})
	shr := func(t *testing.T, n string, ts time.Time, claims string) []string {
		t.Helper()
		o := poptest.SHROptions{Format: poptest.MSALBrowser, Nonce: n, Time: ts}
		if claims != "" {
			o.Claims = map[string]any{"client_claims": claims}
		}
		v := k.SHR("POST", s.base+"/pop/transfers", tok, o)
		return []string{"Authorization", "PoP " + v}
	}
	// msal-browser learns the nonce from the PoP challenge (its own random
	// nonce is refused).
	r := s.do(t, "POST", "/pop/transfers", shr(t, "", time.Now(), msalShrClaims)...)
	ch := r.header.Get("WWW-Authenticate")
	n, ok := strings.CutPrefix(ch, `PoP nonce="`)
	if r.status != http.StatusUnauthorized || !ok {
		t.Fatalf("status %d, challenge %q", r.status, ch)
	}
	n = n[:strings.IndexByte(n, '"')]
	s.rejected(t, r, `PoP nonce="`+n+`", realm="api", error="invalid_token", error_description="The PoP signed request nonce is invalid or expired"`,
		"invalid_token", "nonce_invalid")
	// The browser's clock is 10 minutes slow: the nonce vouches for freshness.
	a := s.do(t, "POST", "/pop/transfers", shr(t, n, time.Now().Add(-10*time.Minute), msalShrClaims)...).accepted(t)
	if want := map[string]any{"nonce": "AQAA123456", "local_nonce": "AQAA7890"}; a.Scheme != "PoP" || !reflect.DeepEqual(a.ClientClaims, want) {
		t.Errorf("answer %+v, want client_claims %v", a, want)
	}
	// Without client_claims the answer has none.
	r = s.do(t, "POST", "/pop/transfers", shr(t, n, time.Now(), "")...)
	if r.accepted(t); bytes.Contains(r.body, []byte("client_claims")) {
		t.Errorf("body %s has client_claims", r.body)
	}
	// Invalid client_claims: refused.
	r = s.do(t, "POST", "/pop/transfers", shr(t, n, time.Now(), `{"role":"user","role":"admin"}`)...)
	s.rejected(t, r, `PoP nonce="`+n+`", realm="api", error="invalid_token", error_description="The PoP signed request client_claims is not a JSON object"`,
		"invalid_token", "shr_client_claims")
}
